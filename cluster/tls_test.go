package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/gosoup/gosoup/internal/testcert"
)

// testCA makes a CA and a server certificate for 127.0.0.1 signed by it,
// written as PEM files in dir; it returns the CA's pool.
func testCA(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	certs := testcert.New(t)
	certs.WritePEM(t, dir)
	return certs.Pool
}

// startTLSRedis starts redis-server with TLS only (no plain port) on a
// free port and returns its rediss:// URL and the CA's pool. The test is
// skipped when redis-server lacks TLS.
func startTLSRedis(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		startRedis(t) // skipped, or failed under CI, as every Redis test
	}
	dir := t.TempDir()
	pool := testCA(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--tls-cert-file", filepath.Join(dir, "server.pem"), "--tls-key-file", filepath.Join(dir, "server.key"),
		"--tls-ca-cert-file", filepath.Join(dir, "ca.pem"), "--tls-auth-clients", "no",
		"--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	})
	cfg := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Skipf("redis-server does not run with TLS (built without it?): %s", out.String())
		default:
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 200 * time.Millisecond}, "tcp", l.Addr().String(), cfg)
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		_, _ = c.Write([]byte("PING\r\n"))
		b := make([]byte, 16)
		n, _ := c.Read(b)
		c.Close()
		if bytes.HasPrefix(b[:n], []byte("+PONG")) {
			return fmt.Sprintf("rediss://127.0.0.1:%d", port), pool
		}
	}
	t.Fatalf("redis-server with TLS did not answer: %s", out.String())
	return "", nil
}

// TestRedisTLS: two nodes share a room through a redis-server that only
// speaks TLS (rediss://, the server certificate checked against the
// test's CA); without the CA the member cannot connect.
func TestRedisTLS(t *testing.T) {
	url, pool := startTLSRedis(t)
	cfg := func(id string) Config {
		return Config{RedisURL: url, NodeID: id, Prefix: "tls:", Secret: testSecret, TLS: &tls.Config{RootCAs: pool}}
	}
	n1 := startNodeWith(t, cfg("n1"))
	n2 := startNodeWith(t, cfg("n2"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	joinPeer(ctx, t, n1, "room", "alice")
	bob := joinPeer(ctx, t, n2, "room", "bob")
	if got := peerNames(bob.JoinPeers); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("bob's join response over TLS Redis: %v", got)
	}
	waitFor(t, 3*DefaultInterval, "node 1 to see 2 nodes over TLS", func() bool {
		s := n1.member.Stats()
		return s.RedisUp && s.Nodes == 2
	})
	// The system roots do not know the test CA: the handshake fails, the
	// member reports Redis down.
	n3 := startNodeWith(t, Config{RedisURL: url, NodeID: "n3", Prefix: "tls:", Secret: testSecret})
	if s := n3.member.Stats(); s.RedisUp {
		t.Error("a member without the CA reached the TLS Redis")
	}
	if _, err := redisOptions("redis://127.0.0.1:1", &tls.Config{}); err == nil {
		t.Error("a TLS configuration with a redis:// URL accepted")
	}
}
