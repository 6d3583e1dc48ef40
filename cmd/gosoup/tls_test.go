package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// serveTLS serves "hello" with cfg on a loopback port and returns its
// address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") }),
		ReadHeaderTimeout: time.Second,
	}
	go func() { _ = hs.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { hs.Close() })
	return ln.Addr().String()
}

// getTLS fetches url trusting only cert.
func getTLS(t *testing.T, cert *x509.Certificate, url string) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestSelfSignedServesHTTPS(t *testing.T) {
	c := &config{tlsSelfSigned: true}
	cfg, err := serverTLS(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	leaf := cfg.Certificates[0].Leaf
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if d := time.Until(leaf.NotAfter); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Fatalf("valid for %v", d)
	}
	ips := ipStrings(leaf.IPAddresses)
	if !slices.Contains(leaf.DNSNames, "localhost") || !slices.Contains(ips, "127.0.0.1") || !slices.Contains(ips, "::1") {
		t.Fatalf("SANs: %v %v", leaf.DNSNames, ips)
	}
	if len(ips) != len(slices.Compact(slices.Sorted(slices.Values(ips)))) {
		t.Fatalf("duplicate IP SANs: %v", ips)
	}
	addr := serveTLS(t, cfg)
	if got := getTLS(t, leaf, "https://"+addr+"/"); got != "hello" {
		t.Fatalf("body %q", got)
	}
	_, port, _ := net.SplitHostPort(addr)
	if got := getTLS(t, leaf, "https://localhost:"+port+"/"); got != "hello" {
		t.Fatalf("body by name %q", got)
	}
}

func TestFingerprint(t *testing.T) {
	fp := fingerprint([]byte("x"))
	if len(fp) != 32*3-1 || strings.Count(fp, ":") != 31 || fp != strings.ToUpper(fp) {
		t.Fatalf("fingerprint %q", fp)
	}
	if !strings.HasPrefix(fp, "2D:71:16:42") { // sha256("x") = 2d711642…
		t.Fatalf("fingerprint %q", fp)
	}
}

func TestTLSCertFiles(t *testing.T) {
	cert, err := selfSignedCert(time.Now(), []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := serverTLS(&config{tlsCert: certFile, tlsKey: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if got := getTLS(t, cert.Leaf, "https://"+serveTLS(t, cfg)+"/"); got != "hello" {
		t.Fatalf("body %q", got)
	}
	if _, err := serverTLS(&config{tlsCert: certFile, tlsKey: certFile}, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "tls-cert") {
		t.Fatalf("bad key file: %v", err)
	}
	if cfg, err := serverTLS(&config{}, nil); cfg != nil || err != nil {
		t.Fatalf("no TLS: %v %v", cfg, err)
	}
}
