package relay

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/gosoup/gosoup/internal/testcert"
)

// testTLS returns a server TLS configuration (a certificate for
// 127.0.0.1, ALPN http/1.1 as gosoup's) and a client configuration
// trusting it.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	certs := testcert.New(t)
	server = &tls.Config{Certificates: []tls.Certificate{certs.Server}, NextProtos: []string{"http/1.1"}}
	return server, &tls.Config{RootCAs: certs.Pool, ServerName: "127.0.0.1"}
}

func newMux(t testing.TB, cfg *tls.Config, timeout time.Duration) *Mux {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(ln, cfg, timeout)
	t.Cleanup(func() { m.Close() })
	return m
}

// accept returns the next connection of l within 5 s.
func accept(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			ch <- c
		}
	}()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection accepted")
		return nil
	}
}

func bindingRequest(t *testing.T) []byte {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

// expectFirst reads len(want) bytes of c and compares them with want.
func expectFirst(t *testing.T, c net.Conn, want []byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func TestIsSTUN(t *testing.T) {
	if !IsSTUN(bindingRequest(t)) {
		t.Error("binding request not recognised")
	}
	for _, b := range [][]byte{[]byte("GET / HTTP/1.1\r\n"), []byte("PRI * HTTP/2.0"), {0x16, 3, 1, 0, 0x20, 1, 0, 0}, {0, 1}, {0x40, 0, 0, 4, 0x21, 0x12, 0xA4, 0x42}} {
		if IsSTUN(b) {
			t.Errorf("%q taken for STUN", b)
		}
	}
}

func TestMuxPlain(t *testing.T) {
	m := newMux(t, nil, time.Second)
	addr := m.HTTP().Addr().String()

	stunMsg := bindingRequest(t)
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c1.Write(stunMsg)
	expectFirst(t, accept(t, m.TURN()), stunMsg)

	req := []byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.Write(req)
	expectFirst(t, accept(t, m.HTTP()), req)
}

func TestMuxTLS(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	m := newMux(t, srvTLS, time.Second)
	addr := m.HTTP().Addr().String()
	dial := func(alpn ...string) *tls.Conn {
		cfg := cliTLS.Clone()
		cfg.NextProtos = alpn
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			t.Fatalf("dial with ALPN %v: %v", alpn, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")

	// A browser: ALPN http/1.1, handed on as *tls.Conn (Request.TLS is set).
	c := dial("h2", "http/1.1")
	c.Write(req)
	got := accept(t, m.HTTP())
	if _, ok := got.(*tls.Conn); !ok {
		t.Fatalf("HTTP connection with ALPN is a %T, want *tls.Conn", got)
	}
	expectFirst(t, got, req)

	// TURN over TLS, without ALPN and with stun.turn.
	stunMsg := bindingRequest(t)
	dial().Write(stunMsg)
	expectFirst(t, accept(t, m.TURN()), stunMsg)
	dial(alpnTURN).Write(stunMsg)
	expectFirst(t, accept(t, m.TURN()), stunMsg)

	// HTTP without ALPN: told by its first decrypted bytes.
	dial().Write(req)
	expectFirst(t, accept(t, m.HTTP()), req)

	// TURN over plain TCP is served on the TLS port too.
	p, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Write(stunMsg)
	expectFirst(t, accept(t, m.TURN()), stunMsg)
}

// A connection that says nothing, or plain HTTP on the TLS port, is
// closed, and reaches neither listener.
func TestMuxClosesSilentAndGarbage(t *testing.T) {
	srvTLS, _ := testTLS(t)
	m := newMux(t, srvTLS, 200*time.Millisecond)
	addr := m.HTTP().Addr().String()
	for _, first := range [][]byte{nil, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(first)
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		buf := make([]byte, 512)
		var rerr error
		for rerr == nil {
			_, rerr = c.Read(buf)
		}
		var ne net.Error
		if errors.As(rerr, &ne) && ne.Timeout() {
			t.Errorf("connection sending %q not closed", first)
		}
		c.Close()
	}
}

func TestMuxClose(t *testing.T) {
	m := newMux(t, nil, time.Second)
	addr := m.HTTP().Addr().String()
	done := make(chan error, 2)
	go func() { _, err := m.HTTP().Accept(); done <- err }()
	go func() { _, err := m.TURN().Accept(); done <- err }()
	m.HTTP().Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after the HTTP listener's Close: %v", err)
	}
	// The TURN side goes on after the HTTP side closed.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(bindingRequest(t))
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("TURN Accept: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("TURN connection not accepted after the HTTP listener closed")
	}
	go func() { _, err := m.TURN().Accept(); done <- err }()
	m.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("the underlying listener still accepts after Close")
	}
}
