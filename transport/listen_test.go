package transport

import (
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
)

// TestPortZeroRetriesForICETCP: with port 0, a UDP port whose number TCP
// has in use (the kernel picks the UDP port alone) does not leave the
// server without ICE-TCP: another port is tried. A fixed port is not
// changed, and after portTries failures the network runs on UDP only.
func TestPortZeroRetriesForICETCP(t *testing.T) {
	real := listenTCP
	t.Cleanup(func() { listenTCP = real })
	fail := 0
	calls := 0
	listenTCP = func(a *net.TCPAddr) (*net.TCPListener, error) {
		calls++
		if calls <= fail {
			return nil, &net.OpError{Op: "listen", Net: "tcp", Err: syscall.EADDRINUSE}
		}
		return real(a)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(port int) *Network {
		t.Helper()
		n, err := NewNetwork(Config{ListenIP: "127.0.0.1", Port: port, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}

	fail, calls = 3, 0
	n := open(0)
	if n.tcp == nil || calls != 4 {
		t.Fatalf("port 0 with 3 taken TCP ports: ICE-TCP %v after %d tries", n.tcp != nil, calls)
	}
	if p := n.tcp.Addr().(*net.TCPAddr).Port; p != n.Port() {
		t.Fatalf("TCP on %d, UDP on %d", p, n.Port())
	}

	fail, calls = 1000, 0
	n = open(0)
	if n.tcp != nil || calls != portTries {
		t.Fatalf("every TCP port taken: ICE-TCP %v after %d tries", n.tcp != nil, calls)
	}

	// A fixed port: one try, UDP kept.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	port := c.LocalAddr().(*net.UDPAddr).Port
	c.Close()
	fail, calls = 1000, 0
	n = open(port)
	if n.tcp != nil || calls != 1 || n.Port() != port {
		t.Fatalf("fixed port %d: ICE-TCP %v after %d tries on port %d", port, n.tcp != nil, calls, n.Port())
	}
}
