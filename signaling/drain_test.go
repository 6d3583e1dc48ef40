package signaling_test

import (
	"errors"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/signaling"
)

func TestDrain(t *testing.T) {
	s := startServer(t, signaling.Options{})
	alice := s.mustDial(t, "r1", "alice", nil, nil)
	alice.mustJoin(false)
	late := s.mustDial(t, "r1", "late", nil, nil) // open, not joined
	waitFor(t, func() bool { return s.Sig.Sessions() == 2 }, "the late session to be admitted")

	if s.Sig.Draining() {
		t.Fatal("Draining before Drain")
	}
	s.Sig.Drain()
	s.Sig.Drain() // twice is fine
	if !s.Sig.Draining() {
		t.Fatal("not Draining after Drain")
	}

	s.expectRefused(t, "r2", "carol", nil, nil, http.StatusServiceUnavailable, "server is draining")
	s.expectRefused(t, "r1", "carol", nil, nil, http.StatusServiceUnavailable, "server is draining")
	if ids := s.roomIDs(); len(ids) != 1 || ids[0] != "r1" {
		t.Fatalf("rooms = %v, want only r1", ids)
	}

	r := late.join(false)
	if r.OK || r.ErrorReason != "server is draining: join refused" {
		t.Fatalf("join while draining: ok=%v %d %q", r.OK, r.ErrorCode, r.ErrorReason)
	}

	// The joined peer carries on.
	r = alice.mediasoup(map[string]any{"method": "createTransport", "target": "peer", "id": 1111, "direction": "send"})
	if !r.OK {
		t.Fatalf("createTransport while draining: %d %s", r.ErrorCode, r.ErrorReason)
	}
	if n := s.Sig.Sessions(); n != 2 {
		t.Fatalf("Sessions = %d, want 2", n)
	}

	// Sessions leaving bring the count down.
	_ = late.ws.Close()
	waitFor(t, func() bool { return s.Sig.Sessions() == 1 }, "Sessions to reach 1")
}

func TestCloseSendsClosedToJoinedPeers(t *testing.T) {
	s := startServer(t, signaling.Options{})
	alice := s.mustDial(t, "r1", "alice", nil, nil)
	alice.mustJoin(false)
	bob := s.mustDial(t, "r1", "bob", nil, nil)
	bob.mustJoin(false)
	idle := s.mustDial(t, "r2", "idle", nil, nil) // not joined
	waitFor(t, func() bool { return s.Sig.Sessions() == 3 }, "the idle session to be admitted")

	start := time.Now()
	done := make(chan struct{})
	go func() {
		s.Sig.Close()
		close(done)
	}()

	for _, c := range []*protooConn{alice, bob} {
		closed, closeCode := readUntilClose(t, c)
		if !closed {
			t.Errorf("%s: no mediasoup closed notification before the socket closed", c.peer)
		}
		if closeCode != 4000 {
			t.Errorf("%s: close code %d, want 4000", c.peer, closeCode)
		}
	}
	if closed, code := readUntilClose(t, idle); closed || code != 4000 {
		t.Errorf("idle: closed notification %v, close code %d; want none and 4000", closed, code)
	}

	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	if n := s.Sig.Sessions(); n != 0 {
		t.Errorf("Sessions = %d after Close", n)
	}
	if ids := s.roomIDs(); len(ids) != 0 {
		t.Errorf("rooms %v still open after Close", ids)
	}
	s.expectRefused(t, "r1", "alice", nil, nil, http.StatusServiceUnavailable, "server is closed")
	s.Sig.Close() // twice is fine
}

// readUntilClose reads a connection until the server closes it and
// reports whether a mediasoup "closed" notification came first, and the
// WebSocket close code.
func readUntilClose(t *testing.T, c *protooConn) (sawClosed bool, code int) {
	t.Helper()
	for {
		f, err := c.read(5 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return sawClosed, ce.Code
			}
			t.Errorf("%s: read: %v", c.peer, err)
			return sawClosed, 0
		}
		if mediasoupNotification(f) == "closed" {
			sawClosed = true
		}
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	s := startServer(t, signaling.Options{})
	base := runtime.NumGoroutine()

	var conns []*protooConn
	for i, peer := range []string{"a", "b", "c"} {
		c := s.mustDial(t, "r1", peer, nil, nil)
		if i < 2 {
			c.mustJoin(false)
		}
		conns = append(conns, c)
	}
	s.Sig.Close()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	waitFor(t, func() bool { return runtime.NumGoroutine() <= base }, "goroutines to return to the baseline")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("timed out waiting for %s\n%s", what, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
