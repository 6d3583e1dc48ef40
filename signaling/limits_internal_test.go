package signaling

import (
	"net/netip"
	"testing"
)

func TestSocketLimiter(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":              "192.0.2.1",
		"[::ffff:192.0.2.1]:5000":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::",
		"[fe80::1%eth0]:443":          "fe80::",
		"192.0.2.9":                   "192.0.2.9",
		"not an address":              "invalid IP",
		"[2001:db8:1:2::ffff]:1":      "2001:db8:1:2::",
		"[2001:db8:1:3::ffff]:1":      "2001:db8:1:3::",
		"127.0.0.1:1":                 "127.0.0.1",
		"[::1]:1":                     "::",
		"[2001:db8:1:2:ffff::1]:4242": "2001:db8:1:2::",
	} {
		if got := sourceKey(addrOf(in)).String(); got != want {
			t.Errorf("source of %q = %s, want %s", in, got, want)
		}
	}
	l := newSocketLimiter(Options{SocketsPerSource: 2, TrustedSources: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	for _, exempt := range []string{"127.0.0.1:1", "[::1]:1", "10.1.1.1:1", "garbage"} {
		for range 5 {
			if k, ok := l.acquire(exempt); !ok || k.IsValid() {
				t.Fatalf("exempt %s: key %v ok %v", exempt, k, ok)
			}
		}
	}
	k1, ok1 := l.acquire("[2001:db8::1]:1")
	k2, ok2 := l.acquire("[2001:db8::2]:2")
	if _, ok3 := l.acquire("[2001:db8::3]:3"); !ok1 || !ok2 || ok3 {
		t.Fatalf("one /64, limit 2: %v %v %v", ok1, ok2, ok3)
	}
	if l.refused.Load() != 1 || l.sources() != 1 {
		t.Fatalf("refused %d, sources %d", l.refused.Load(), l.sources())
	}
	l.release(k1)
	l.release(k2)
	l.release(netip.Addr{})
	if l.sources() != 0 {
		t.Fatalf("%d sources left after every release", l.sources())
	}
	if newSocketLimiter(Options{}).max != DefaultSocketsPerSource || newSocketLimiter(Options{SocketsPerSource: -1}).max != 0 {
		t.Fatal("default or unlimited SocketsPerSource")
	}
}
