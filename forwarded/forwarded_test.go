package forwarded

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestHandler(t *testing.T) {
	p := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")})
	for _, c := range []struct {
		name, remote string
		header       map[string]string
		status       int
		wantRemote   string
		wantCarries  bool
	}{
		{"direct client", "192.0.2.1:5000", nil, 200, "192.0.2.1:5000", false},
		{"untrusted sender's header kept", "192.0.2.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1"}, 200, "192.0.2.1:5000", true},
		{"trusted proxy without header", "127.0.0.1:5000", nil, 200, "127.0.0.1:5000", false},
		{"trusted proxy, XFF", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 200, "203.0.113.9:0", false},
		{"spoofed left part ignored", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}, 200, "203.0.113.9:0", false},
		{"chain of trusted proxies", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.4, 10.1.2.3"}, 200, "198.51.100.4:0", false},
		{"all trusted: left-most", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "10.0.0.1, 10.1.2.3"}, 200, "10.0.0.1:0", false},
		{"Forwarded wins", "127.0.0.1:5000", map[string]string{"Forwarded": `for="[2001:db8::7]:4711";proto=https`, "X-Forwarded-For": "203.0.113.9"}, 200, "[2001:db8::7]:0", false},
		{"Forwarded with port", "127.0.0.1:5000", map[string]string{"Forwarded": "for=192.0.2.60:80, for=10.0.0.2"}, 200, "192.0.2.60:0", false},
		{"garbage from a trusted proxy", "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "not-an-ip"}, 400, "", false},
		{"Forwarded unknown", "127.0.0.1:5000", map[string]string{"Forwarded": "for=unknown"}, 400, "", false},
		{"Forwarded without for", "127.0.0.1:5000", map[string]string{"Forwarded": "proto=https"}, 400, "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var gotRemote string
			var gotCarries bool
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotRemote, gotCarries = r.RemoteAddr, Carries(r)
			}))
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = c.remote
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d %q, want %d", w.Code, w.Body.String(), c.status)
			}
			if c.status == 200 && (gotRemote != c.wantRemote || gotCarries != c.wantCarries) {
				t.Fatalf("RemoteAddr %q Carries %v, want %q %v", gotRemote, gotCarries, c.wantRemote, c.wantCarries)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	h := New(nil).Handler(next)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1"
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if req.RemoteAddr != "127.0.0.1:1" || !Carries(req) {
		t.Fatal("a server without trusted proxies changed the request")
	}
}

// FuzzClient: any header from a trusted proxy gives an address or an
// error, never a panic.
func FuzzClient(f *testing.F) {
	f.Add("for=192.0.2.60;proto=http, for=\"[2001:db8::1]:4711\"", "1.2.3.4, 5.6.7.8")
	f.Add("", "")
	p := New([]netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")})
	f.Fuzz(func(t *testing.T, fw, xff string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Forwarded", fw)
		req.Header.Set("X-Forwarded-For", xff)
		a, err := p.Client(req)
		if err == nil && !a.IsValid() {
			t.Fatal("no error and no address")
		}
	})
}
