// Package integration holds Go integration tests: a real gosoup (sfu +
// signaling) on loopback and pion clients from package client, checking on
// the wire what a consumer receives.
package integration
