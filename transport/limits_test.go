package transport

import (
	"net/netip"
	"testing"
	"time"
)

// advance moves the limiter's clock d forward.
func (l *sourceLimiter) advance(d time.Duration) { l.start = l.start.Add(-d) }

func TestSourceLimiterDefaults(t *testing.T) {
	l := newSourceLimiter(SourceLimits{})
	if l.rate != DefaultSTUNRate || l.burst != DefaultSTUNBurst || l.dtlsMax != DefaultDTLSHandshakes || l.tcpMax != DefaultTCPConns {
		t.Fatalf("defaults: rate %v burst %v dtls %d tcp %d", l.rate, l.burst, l.dtlsMax, l.tcpMax)
	}
	off := newSourceLimiter(SourceLimits{STUNRate: -1, DTLSHandshakes: -1, TCPConns: -1})
	if off.rate != 0 || off.dtlsMax != 0 || off.tcpMax != 0 {
		t.Fatalf("negative limits not off: %+v", off)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for range 1000 {
		if _, ok := off.acquireTCP(a); !ok {
			t.Fatal("unlimited TCP refused")
		}
	}
	if len(off.tcp) != 0 {
		t.Fatalf("unlimited source tracked: %d entries", len(off.tcp))
	}
	if got := newSourceLimiter(SourceLimits{STUNRate: 10}).burst; got != 50 {
		t.Fatalf("burst of rate 10 = %v, want 5 s of it", got)
	}
}

func TestSourceLimiterExempt(t *testing.T) {
	l := newSourceLimiter(SourceLimits{Trusted: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}})
	for a, want := range map[string]bool{
		"127.0.0.1":            true,
		"127.0.0.2":            true,
		"::1":                  true,
		"::ffff:127.0.0.1":     true,
		"10.1.2.3":             true,
		"::ffff:10.1.2.3":      true,
		"2001:db8::7":          true,
		"192.0.2.1":            false,
		"11.0.0.1":             false,
		"2001:db9::1":          false,
		"::ffff:192.0.2.1":     false,
		"fe80::1%eth0":         false,
		"2001:db8:ffff::1%eth": true,
	} {
		if got := l.exempt(netip.MustParseAddr(a)); got != want {
			t.Errorf("exempt(%s) = %v, want %v", a, got, want)
		}
	}
	if !l.exempt(netip.Addr{}) {
		t.Error("no address (a pipe) is limited")
	}
	strict := newSourceLimiter(SourceLimits{LimitLoopback: true})
	if strict.exempt(netip.MustParseAddr("127.0.0.1")) || strict.exempt(netip.MustParseAddr("::1")) {
		t.Error("LimitLoopback: loopback still exempt")
	}
	if k, ok := l.acquireDTLS(netip.MustParseAddr("10.9.9.9")); !ok || k.IsValid() || len(l.dtls) != 0 {
		t.Errorf("trusted source tracked: key %v ok %v", k, ok)
	}
}

func TestSourceLimiterSTUNBucket(t *testing.T) {
	l := newSourceLimiter(SourceLimits{STUNRate: 10, STUNBurst: 5})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	take := func(a netip.Addr, n int) (got int) {
		for range n {
			if l.allowSTUN(a) {
				got++
			}
		}
		return got
	}
	if got := take(a, 20); got != 5 {
		t.Fatalf("burst: %d allowed, want 5", got)
	}
	if got := take(b, 20); got != 5 {
		t.Fatalf("another source: %d allowed, want its own 5", got)
	}
	l.advance(300 * time.Millisecond)
	if got := take(a, 20); got != 3 {
		t.Fatalf("after 300 ms at 10/s: %d allowed, want 3", got)
	}
	l.advance(time.Hour)
	if got := take(a, 20); got != 5 {
		t.Fatalf("after an hour: %d allowed, want the burst (5)", got)
	}
	// IPv6: one /64 is one source.
	v6a, v6b, v6c := netip.MustParseAddr("2001:db8:1:2::1"), netip.MustParseAddr("2001:db8:1:2:ffff::9"), netip.MustParseAddr("2001:db8:1:3::1")
	if got := take(v6a, 3) + take(v6b, 20); got != 5 {
		t.Fatalf("one /64: %d allowed, want 5 in all", got)
	}
	if got := take(v6c, 20); got != 5 {
		t.Fatalf("another /64: %d allowed, want 5", got)
	}
}

// TestSourceLimiterBounded: the STUN table never holds more than
// maxSources sources (the others share one bucket), and sources whose
// bucket filled up again are forgotten.
func TestSourceLimiterBounded(t *testing.T) {
	l := newSourceLimiter(SourceLimits{STUNRate: 10, STUNBurst: 2})
	l.maxSources = 100
	allowed := 0
	for i := range 1000 {
		a := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		if l.allowSTUN(a) {
			allowed++
		}
	}
	if len(l.buckets) != 100 {
		t.Fatalf("%d sources tracked, cap 100", len(l.buckets))
	}
	// 100 tracked sources get 1 each; the 900 others share 2 tokens.
	if allowed != 102 {
		t.Fatalf("%d requests allowed, want 100 + the shared burst 2", allowed)
	}
	// Now sweep at every request: a bucket is forgotten once full again
	// (the 100 tracked ones have 1 token of 2; 10/s refills them in 0.1 s).
	l.sweepEveryNano, l.nextSweep = 0, 0
	l.advance(50 * time.Millisecond)
	l.allowSTUN(netip.MustParseAddr("192.0.2.200"))
	if len(l.buckets) != 100 {
		t.Fatalf("sources not full again were forgotten: %d left", len(l.buckets))
	}
	l.advance(100 * time.Millisecond)
	l.allowSTUN(netip.MustParseAddr("192.0.2.201"))
	if len(l.buckets) != 1 {
		t.Fatalf("after the sweep %d sources tracked, want the new one only", len(l.buckets))
	}
}

func TestSourceLimiterSlots(t *testing.T) {
	l := newSourceLimiter(SourceLimits{TCPConns: 2, DTLSHandshakes: 1})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	k1, ok1 := l.acquireTCP(a)
	k2, ok2 := l.acquireTCP(netip.MustParseAddr("::ffff:192.0.2.1"))
	if !ok1 || !ok2 || k1 != k2 {
		t.Fatalf("two slots: %v %v keys %v %v", ok1, ok2, k1, k2)
	}
	if _, ok := l.acquireTCP(a); ok {
		t.Fatal("third connection of a source allowed")
	}
	if _, ok := l.acquireTCP(b); !ok {
		t.Fatal("another source refused")
	}
	if _, ok := l.acquireDTLS(a); !ok {
		t.Fatal("DTLS slots share TCP's count")
	}
	l.releaseTCP(k1)
	if k, ok := l.acquireTCP(a); !ok || k != k1 {
		t.Fatal("released slot not reusable")
	}
	l.releaseTCP(k1)
	l.releaseTCP(k2)
	l.releaseTCP(netip.Addr{}) // an exempt slot: nothing
	if l.tcp[sourceKey(a)] != 0 || len(l.tcp) != 1 {
		t.Fatalf("released sources still tracked: %v", l.tcp)
	}
}

// TestSourceLimiterAllocs: a known source's request allocates nothing,
// nor does an exempt one's.
func TestSourceLimiterAllocs(t *testing.T) {
	l := newSourceLimiter(SourceLimits{STUNRate: 1e9})
	a, lo := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("127.0.0.1")
	l.allowSTUN(a)
	if n := testing.AllocsPerRun(1000, func() { l.allowSTUN(a); l.exempt(lo) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
