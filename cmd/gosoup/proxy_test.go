package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// get sends a GET with headers and returns the status and body.
func get(t *testing.T, u string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForwardedWithoutTrustedProxy: a reverse proxy on this host makes
// every client loopback; without --trusted-proxy the admin API (no keys)
// refuses requests that say they were forwarded, and still answers the
// machine's own.
func TestForwardedWithoutTrustedProxy(t *testing.T) {
	base, _ := runForTest(t, nil)
	code, body := get(t, "http://"+base+"/admin/rooms", http.Header{"X-Forwarded-For": {"203.0.113.9"}})
	if code != http.StatusForbidden || !strings.Contains(body, "trusted-proxy") {
		t.Fatalf("forwarded admin request: %d %s", code, body)
	}
	if code, body := get(t, "http://"+base+"/admin/rooms", nil); code != http.StatusOK {
		t.Fatalf("local admin request: %d %s", code, body)
	}
}

// TestTrustedProxy: from a --trusted-proxy the forwarded client address
// is the one the admin API and the per-source WebSocket limit use.
func TestTrustedProxy(t *testing.T) {
	base, logs := runForTest(t, nil, "--trusted-proxy", "127.0.0.1", "--ws-per-source", "1")
	if !strings.Contains(logs.String(), "trusted-proxy=127.0.0.1") {
		t.Errorf("configuration log lacks trusted-proxy")
	}
	xff := func(a string) http.Header { return http.Header{"X-Forwarded-For": {a}} }
	if code, body := get(t, "http://"+base+"/admin/rooms", xff("203.0.113.9")); code != http.StatusForbidden {
		t.Fatalf("admin request forwarded for a remote client: %d %s", code, body)
	}
	if code, body := get(t, "http://"+base+"/admin/rooms", xff("127.0.0.1")); code != http.StatusOK {
		t.Fatalf("admin request forwarded for a local client: %d %s", code, body)
	}
	dial := func(peer, client string) int {
		t.Helper()
		u := url.URL{Scheme: "ws", Host: base, Path: "/", RawQuery: url.Values{"roomId": {"r"}, "peerName": {peer}}.Encode()}
		d := websocket.Dialer{Subprotocols: []string{"protoo"}}
		ws, resp, err := d.Dial(u.String(), xff(client))
		if err == nil {
			t.Cleanup(func() { ws.Close() })
		}
		if resp == nil {
			t.Fatalf("dial %s: %v", peer, err)
		}
		return resp.StatusCode
	}
	// One socket per source: the second from 203.0.113.9 is refused, one
	// from 203.0.113.10 (the same proxy's connection) is not.
	if c := dial("a", "203.0.113.9"); c != http.StatusSwitchingProtocols {
		t.Fatalf("first socket: %d", c)
	}
	if c := dial("b", "203.0.113.9"); c != http.StatusTooManyRequests {
		t.Fatalf("second socket of one client: %d, want 429", c)
	}
	if c := dial("c", "203.0.113.10"); c != http.StatusSwitchingProtocols {
		t.Fatalf("another client through the proxy: %d", c)
	}
}

// TestICEServersWithoutTURN: with default flags /ice-servers answers an
// empty list (the demo page asks every server for one).
func TestICEServersWithoutTURN(t *testing.T) {
	base, _ := runForTest(t, nil)
	code, body := get(t, "http://"+base+"/ice-servers", nil)
	if code != http.StatusOK || strings.TrimSpace(body) != `{"iceServers":[],"ttl":0}` {
		t.Fatalf("/ice-servers: %d %s", code, body)
	}
}
