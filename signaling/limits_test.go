package signaling_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/signaling"
)

// dialFrom opens a protoo WebSocket from the local address ip.
func (s *testServer) dialFrom(t *testing.T, ip, room, peer string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	d := websocket.Dialer{
		Subprotocols: []string{"protoo"}, HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		},
	}
	ws, resp, err := d.Dial(s.URL+"?roomId="+room+"&peerName="+peer, nil)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

// TestSocketsPerSource: the 65th WebSocket of one address (loopback
// limited here) is refused with 429 and counted, another address still
// connects, and a closed socket frees its slot.
func TestSocketsPerSource(t *testing.T) {
	s := startServer(t, signaling.Options{SocketsPerSource: 64, LimitLoopback: true})
	var open []*websocket.Conn
	for i := range 64 {
		ws, resp, err := s.dialFrom(t, "127.0.0.1", "r", fmt.Sprintf("p%d", i))
		if err != nil {
			t.Fatalf("socket %d: %v (%s)", i+1, err, describe(resp))
		}
		open = append(open, ws)
	}
	_, resp, err := s.dialFrom(t, "127.0.0.1", "r", "p64")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("65th socket: %v (%s), want HTTP 429", err, describe(resp))
	}
	if body := readBody(resp); !strings.Contains(body, "too many WebSockets open from your address (limit 64)") {
		t.Fatalf("429 body %q", body)
	}
	if got := s.Sig.RefusedSockets(); got != 1 {
		t.Fatalf("RefusedSockets = %d, want 1", got)
	}
	if _, resp, err := s.dialFrom(t, "127.0.0.2", "r", "other"); err != nil {
		t.Fatalf("another address: %v (%s)", err, describe(resp))
	}
	open[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		_, resp, err := s.dialFrom(t, "127.0.0.1", "r", "again")
		if err == nil {
			break
		}
		if resp == nil || resp.StatusCode != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("after a close: %v (%s)", err, describe(resp))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSocketsPerSourceExempt: by default loopback is not limited (200
// sockets from 127.0.0.1), nor is a trusted range.
func TestSocketsPerSourceExempt(t *testing.T) {
	s := startServer(t, signaling.Options{})
	for i := range 200 {
		if _, resp, err := s.dialFrom(t, "127.0.0.1", "r", fmt.Sprintf("p%d", i)); err != nil {
			t.Fatalf("loopback socket %d: %v (%s)", i+1, err, describe(resp))
		}
	}
	trusted := startServer(t, signaling.Options{SocketsPerSource: 1, LimitLoopback: true,
		TrustedSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}})
	for i := range 3 {
		if _, resp, err := trusted.dialFrom(t, "127.0.0.2", "r", fmt.Sprintf("p%d", i)); err != nil {
			t.Fatalf("trusted socket %d: %v (%s)", i+1, err, describe(resp))
		}
	}
	if _, _, err := trusted.dialFrom(t, "127.0.0.1", "r", "a"); err != nil {
		t.Fatal(err)
	}
	if _, resp, err := trusted.dialFrom(t, "127.0.0.1", "r", "b"); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second socket of an untrusted address: %v (%s)", err, describe(resp))
	}
	if got := s.Sig.RefusedSockets(); got != 0 {
		t.Fatalf("exempt refusals counted: %d", got)
	}
}
