//go:build !race

// Package racebuild tells tests whether they run under the race detector.
package racebuild

// Enabled reports whether the binary was built with -race (whose
// sync.Pool drops items at random, so allocation counts differ).
const Enabled = false
