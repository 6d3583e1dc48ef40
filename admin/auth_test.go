package admin

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/auth"
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
