package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// The per-source limits over real loopback sockets. Loopback is exempt by
// default, so these networks set LimitLoopback: 127.0.0.1 and 127.0.0.2
// are then two sources.

func limitedNetwork(t *testing.T, cfg Config) *Network {
	t.Helper()
	cfg.ListenIP = "127.0.0.1"
	cfg.Limits.LimitLoopback = true
	n, err := NewNetwork(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if !cfg.NoTCP && n.tcp == nil {
		t.Skip("no ICE-TCP listener on the picked port")
	}
	return n
}

func udpFrom(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answers reads STUN answers on c until quiet passes without one.
func answers(c *net.UDPConn, quiet time.Duration) int {
	buf := make([]byte, 1500)
	got := 0
	for {
		_ = c.SetReadDeadline(time.Now().Add(quiet))
		if _, err := c.Read(buf); err != nil {
			return got
		}
		got++
	}
}

// TestSTUNRatePerSource: a flood of checks from one source gets no more
// answers than its bucket holds, while another source, and a tuple of the
// flooding source that ICE validated before, are answered.
func TestSTUNRatePerSource(t *testing.T) {
	n := limitedNetwork(t, Config{NoTCP: true, Limits: SourceLimits{STUNRate: 0.5, STUNBurst: 10}})
	tr, err := n.NewWebRTCTransport(context.Background(), &fuzzListener{}, TransportOptions{UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	ice := tr.ICEParameters()
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.Port()}
	user := ice.UsernameFragment + ":peer"

	validated := udpFrom(t, "127.0.0.1")
	if m := exchange(t, validated, to, bindingRequest(t, user, ice.Password, true)); m == nil || m.Type != stun.BindingSuccess {
		t.Fatalf("first check: %v", m)
	}
	flood := udpFrom(t, "127.0.0.1")
	for range 200 {
		if _, err := flood.WriteToUDP(bindingRequest(t, user, "wrong password", false), to); err != nil {
			t.Fatal(err)
		}
	}
	// The bucket had 9 tokens left; 0.5/s adds at most one meanwhile.
	if got := answers(flood, 300*time.Millisecond); got < 9 || got > 10 {
		t.Fatalf("flood of 200 got %d answers, want the 9 left in the bucket", got)
	}
	if got := n.LimitCounters().STUNRate.Load(); got < 190 {
		t.Fatalf("%d refusals counted", got)
	}
	if m := exchangeWait(t, udpFrom(t, "127.0.0.1"), to, bindingRequest(t, user, ice.Password, true), 300*time.Millisecond); m != nil {
		t.Fatalf("a new tuple of the flooding source was answered: %v", m.Type)
	}
	if m := exchange(t, udpFrom(t, "127.0.0.2"), to, bindingRequest(t, user, ice.Password, true)); m == nil || m.Type != stun.BindingSuccess {
		t.Fatalf("another source's check: %v", m)
	}
	for i := range 20 {
		if m := exchange(t, validated, to, bindingRequest(t, user, ice.Password, false)); m == nil || m.Type != stun.BindingSuccess {
			t.Fatalf("consent check %d on the validated tuple: %v", i, m)
		}
	}
}

// TestDTLSHandshakesPerSource: with one handshake in progress per source,
// a second transport of the same source waits (its DTLS does not start,
// counted) while another source's starts; it starts at its next check
// once the first handshake ended.
func TestDTLSHandshakesPerSource(t *testing.T) {
	n := limitedNetwork(t, Config{NoTCP: true, Limits: SourceLimits{DTLSHandshakes: 1}})
	to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.Port()}
	// Each transport is DTLS server and waits for a ClientHello that never
	// comes: its handshake stays in progress.
	start := func(from *net.UDPConn) (*WebRTCTransport, func()) {
		tr, err := n.NewWebRTCTransport(context.Background(), &fuzzListener{}, TransportOptions{UDP: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		if _, err := tr.SetRemoteDTLSParameters(DTLSParameters{Role: RoleClient, Fingerprints: []Fingerprint{{"sha-256", "AA"}}}); err != nil {
			t.Fatal(err)
		}
		ice := tr.ICEParameters()
		check := func() {
			if m := exchange(t, from, to, bindingRequest(t, ice.UsernameFragment+":peer", ice.Password, true)); m == nil || m.Type != stun.BindingSuccess {
				t.Fatalf("check: %v", m)
			}
		}
		check()
		return tr, check
	}
	a, _ := start(udpFrom(t, "127.0.0.1"))
	// The handshake starts on the transport's own goroutine after the check.
	for deadline := time.Now().Add(2 * time.Second); a.DTLSState() != "connecting" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s := a.DTLSState(); s != "connecting" {
		t.Fatalf("first handshake: %s", s)
	}
	b, checkB := start(udpFrom(t, "127.0.0.1"))
	if s := b.DTLSState(); s != "new" {
		t.Fatalf("second handshake of the source: %s, want it deferred", s)
	}
	// The deferral is counted on b's goroutine, after its check answered.
	for deadline := time.Now().Add(2 * time.Second); n.LimitCounters().DTLSHandshakes.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if got := n.LimitCounters().DTLSHandshakes.Load(); got != 1 {
		t.Fatalf("%d deferrals counted", got)
	}
	c, _ := start(udpFrom(t, "127.0.0.2"))
	for deadline := time.Now().Add(2 * time.Second); c.DTLSState() != "connecting" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if s := c.DTLSState(); s != "connecting" {
		t.Fatalf("another source's handshake: %s", s)
	}
	a.Close()
	for deadline := time.Now().Add(5 * time.Second); b.DTLSState() != "connecting"; {
		if time.Now().After(deadline) {
			t.Fatalf("deferred handshake did not start once the slot was free: %s", b.DTLSState())
		}
		time.Sleep(20 * time.Millisecond)
		checkB()
	}
}

func dialTCPFrom(t *testing.T, ip string, port int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp4", (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}).String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// isOpen reports whether the server keeps c open for d (it sends nothing
// to a connection without a check).
func isOpen(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, os.ErrDeadlineExceeded)
}

// TestTCPConnsPerSource: connections of a source beyond its limit are
// closed at accept (counted); another source still connects, and a
// closed connection frees its slot.
func TestTCPConnsPerSource(t *testing.T) {
	n := limitedNetwork(t, Config{Limits: SourceLimits{TCPConns: 3}})
	var first []net.Conn
	for range 3 {
		first = append(first, dialTCPFrom(t, "127.0.0.1", n.Port()))
	}
	for i, c := range first {
		if !isOpen(c, 200*time.Millisecond) {
			t.Fatalf("connection %d within the limit closed", i)
		}
	}
	for i := range 2 {
		c := dialTCPFrom(t, "127.0.0.1", n.Port())
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("connection %d over the limit: %v, want it closed", 4+i, err)
		}
	}
	if got := n.LimitCounters().TCPConns.Load(); got != 2 {
		t.Fatalf("%d refusals counted, want 2", got)
	}
	if c := dialTCPFrom(t, "127.0.0.2", n.Port()); !isOpen(c, 200*time.Millisecond) {
		t.Fatal("another source's connection closed")
	}
	first[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if isOpen(dialTCPFrom(t, "127.0.0.1", n.Port()), 100*time.Millisecond) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a closed connection did not free its slot")
		}
	}
}

// TestTCPIdleTimeout: a connection that sends nothing is closed at
// Config.TCPBindTimeout after its accept, and counted.
func TestTCPIdleTimeout(t *testing.T) {
	n := limitedNetwork(t, Config{TCPBindTimeout: 300 * time.Millisecond})
	start := time.Now()
	c := dialTCPFrom(t, "127.0.0.1", n.Port())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("idle connection not closed: %v", err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("closed after %v, before the timeout", d)
	}
	for deadline := time.Now().Add(time.Second); n.LimitCounters().TCPIdle.Load() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle closings counted, want 1", n.LimitCounters().TCPIdle.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
