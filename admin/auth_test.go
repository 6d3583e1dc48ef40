package admin

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/forwarded"
)

// TestAdminGrant: with keys, only a token with the admin grant for the
// path's room (or for every room) passes; a participant's token, a spy's
// and an admin token of another room are refused with 403 and the reason.
func TestAdminGrant(t *testing.T) {
	keys, err := auth.NewKeySet("admin-test-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	_, srv := newTestHandler(t, "")
	h := New(Options{Server: srv, Keys: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	t.Cleanup(h.Close)
	mint := func(c auth.Claims) string {
		c.ExpiresAt = time.Now().Add(time.Hour)
		tok, err := keys.Mint(c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := &auth.Grants{Admin: true}
	for _, c := range []struct {
		name, tok string
		status    int
		says      string
	}{
		{"no token", "", 401, "missing bearer token"},
		{"participant", mint(auth.Claims{Room: "R", Peer: "bob"}), 403, "no admin grant"},
		{"spy", mint(auth.Claims{Room: "R", Peer: "bob", Spy: true}), 403, "no admin grant"},
		{"admin of another room", mint(auth.Claims{Room: "S", Grants: admin}), 403, "another room"},
		{"admin of the room", mint(auth.Claims{Room: "R", Grants: admin}), 400, ""},
		{"admin of every room", mint(auth.Claims{Room: "*", Grants: admin}), 400, ""},
	} {
		req := httptest.NewRequest("POST", "/admin/rooms/R/ingest", strings.NewReader(`{"peerName": 7}`))
		req.RemoteAddr = "192.0.2.7:4000"
		if c.tok != "" {
			req.Header.Set("Authorization", "Bearer "+c.tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		// 400: authorized, then refused for its body (peerName not a string).
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("%s: %d %q, want %d %q", c.name, w.Code, strings.TrimSpace(w.Body.String()), c.status, c.says)
		}
	}
	if n := len(srv.Rooms()); n != 0 {
		t.Fatalf("refused requests left %d rooms", n)
	}
}

// TestForwardedRefusedWithoutKeys: without keys a request from loopback
// is accepted unless it carries a forwarding header (a reverse proxy on
// this host passing a remote client on); behind forwarded.Handler a
// trusted proxy's client address decides.
func TestForwardedRefusedWithoutKeys(t *testing.T) {
	h, _ := newTestHandler(t, "")
	for _, hdr := range []string{"X-Forwarded-For", "Forwarded"} {
		req := httptest.NewRequest("GET", "/admin/rooms", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		req.Header.Set(hdr, "for=203.0.113.9")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 403 || !strings.Contains(w.Body.String(), "forwarded requests") {
			t.Errorf("%s from loopback: %d %q", hdr, w.Code, w.Body.String())
		}
	}
	proxied := forwarded.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}).Handler(h)
	for _, c := range []struct {
		client string
		status int
	}{{"203.0.113.9", 403}, {"127.0.0.1", 200}} {
		req := httptest.NewRequest("GET", "/admin/rooms", nil)
		req.RemoteAddr = "127.0.0.1:4000"
		req.Header.Set("X-Forwarded-For", c.client)
		w := httptest.NewRecorder()
		proxied.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Errorf("trusted proxy for %s: %d %q, want %d", c.client, w.Code, w.Body.String(), c.status)
		}
	}
}
