package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/gosoup/gosoup/transport"
)

// selfSignedValidity is how long a --tls-self-signed certificate is valid.
const selfSignedValidity = 30 * 24 * time.Hour

// serverTLS returns the TLS configuration of the HTTP server: nil without
// TLS, the --tls-cert/--tls-key pair, or a generated development
// certificate whose fingerprint it logs.
func serverTLS(c *config, log *slog.Logger) (*tls.Config, error) {
	var cert tls.Certificate
	switch {
	case c.tlsCert != "":
		var err error
		if cert, err = tls.LoadX509KeyPair(c.tlsCert, c.tlsKey); err != nil {
			return nil, fmt.Errorf("tls-cert %s / tls-key %s: %w", c.tlsCert, c.tlsKey, err)
		}
		if leaf := cert.Leaf; leaf != nil {
			log.Info("TLS certificate loaded", "subject", leaf.Subject.String(), "dns", leaf.DNSNames,
				"notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
			if time.Now().After(leaf.NotAfter) {
				log.Warn("TLS certificate has expired", "notAfter", leaf.NotAfter.UTC().Format(time.RFC3339))
			}
		}
	case c.tlsSelfSigned:
		var err error
		if cert, err = selfSignedCert(time.Now(), []string{"localhost"}, certIPs()); err != nil {
			return nil, err
		}
		log.Warn("serving with a self-signed development certificate: browsers will warn; compare its fingerprint",
			"sha256", fingerprint(cert.Certificate[0]), "ips", ipStrings(cert.Leaf.IPAddresses),
			"notAfter", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	default:
		return nil, nil
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		// HTTP/1.1 only: the signaling WebSocket is an HTTP/1.1 upgrade,
		// and over HTTP/2 a browser could try RFC 8441 WebSockets instead.
		NextProtos: []string{"http/1.1"},
	}, nil
}

// selfSignedCert generates an ECDSA P-256 certificate for these DNS names
// and IPs, valid from an hour before now for selfSignedValidity.
func selfSignedCert(now time.Time, dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "gosoup development certificate", Organization: []string{"gosoup"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dnsNames,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// fingerprint is the SHA-256 of a DER certificate as colon-separated hex
// pairs, the way browsers show it.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// certIPs returns the IP addresses a development certificate names:
// 127.0.0.1, ::1 and the addresses of the host's interfaces that are up.
func certIPs() []net.IP {
	out := []net.IP{net.IPv4(127, 0, 0, 1).To4(), net.IPv6loopback}
	for _, a := range transport.HostAddrs() {
		if a != netip.MustParseAddr("127.0.0.1") && a != netip.IPv6Loopback() {
			out = append(out, net.IP(a.AsSlice()))
		}
	}
	return out
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}
