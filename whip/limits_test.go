package whip

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// serve sends one request from remote to h and returns the recorder.
func serve(h http.Handler, method, path, remote string, header map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader("v=0"))
	req.RemoteAddr = remote
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestPostsPerSource: a source gets its burst of POSTs, then 429 with
// Retry-After, counted; another source and a trusted one are not
// affected.
func TestPostsPerSource(t *testing.T) {
	h := NewHandler(nil, Options{
		PostsPerSource: 1, LimitLoopback: true, TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(h.Close)
	// Bodies of the wrong type: each POST is refused (415) after the
	// limit counted it, without touching a room.
	for i := range postBurstSeconds {
		if w := serve(h, "POST", "/whip/r", "192.0.2.1:1000", nil); w.Code != http.StatusUnsupportedMediaType {
			t.Fatalf("POST %d: %d %s", i, w.Code, w.Body.String())
		}
	}
	w := serve(h, "POST", "/whip/r", "192.0.2.1:1001", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "too many WHIP requests") {
		t.Fatalf("POST over the limit: %d %q %q", w.Code, w.Header().Get("Retry-After"), w.Body.String())
	}
	if w := serve(h, "POST", "/whep/r", "[::1]:5", nil); w.Code == http.StatusTooManyRequests {
		t.Fatal("another source refused")
	}
	for range 2 * postBurstSeconds {
		if w := serve(h, "POST", "/whip/r", "10.1.2.3:5", nil); w.Code == http.StatusTooManyRequests {
			t.Fatal("a trusted source refused")
		}
	}
	if n := h.RefusedPosts(); n != 1 {
		t.Fatalf("RefusedPosts = %d, want 1", n)
	}
}

// TestCORS: without AllowedOrigins every origin gets "*"; with them,
// only those origins are named, and another origin is refused.
func TestCORS(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := NewHandler(nil, Options{Logger: log})
	t.Cleanup(open.Close)
	w := serve(open, "OPTIONS", "/whip/r", "127.0.0.1:1", map[string]string{"Origin": "https://evil.example"})
	if got := w.Header().Get("Access-Control-Allow-Origin"); got != "*" {
		t.Fatalf("open server: Access-Control-Allow-Origin %q", got)
	}
	closed := NewHandler(nil, Options{Logger: log, AllowedOrigins: []string{"https://App.example"}})
	t.Cleanup(closed.Close)
	w = serve(closed, "OPTIONS", "/whip/r", "127.0.0.1:1", map[string]string{"Origin": "https://app.example"})
	if got := w.Header().Get("Access-Control-Allow-Origin"); w.Code >= 300 || got != "https://app.example" || w.Header().Get("Vary") != "Origin" {
		t.Fatalf("allowed origin: %d, Access-Control-Allow-Origin %q, Vary %q", w.Code, got, w.Header().Get("Vary"))
	}
	for _, m := range []string{"OPTIONS", "POST"} {
		w = serve(closed, m, "/whip/r", "127.0.0.1:1", map[string]string{"Origin": "https://evil.example"})
		if w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" || !strings.Contains(w.Body.String(), "origin not allowed") {
			t.Fatalf("%s from another origin: %d %q %q", m, w.Code, w.Header().Get("Access-Control-Allow-Origin"), w.Body.String())
		}
	}
	// No Origin (OBS, ffmpeg): not a browser, not refused by the rule.
	if w := serve(closed, "OPTIONS", "/whip/r", "127.0.0.1:1", nil); w.Code >= 300 {
		t.Fatalf("request without Origin: %d", w.Code)
	}
}
