package whip

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// DefaultPostsPerSecond is how many WHIP and WHEP POSTs (new sessions) one
// source address may make per second by default, with bursts of
// postBurstSeconds of it: a publisher or player posts once per session,
// and each POST sets up a transport, so more is a flood.
const DefaultPostsPerSecond = 2

// postBurstSeconds is the burst of the POST limit, in seconds of its rate.
const postBurstSeconds = 5

// maxPostSources bounds the sources the POST limit tracks at once; beyond
// it, the new sources share one bucket.
const maxPostSources = 16384

// postLimiter is a token bucket of POSTs per source address (an IPv4
// address or an IPv6 /64). Loopback and the trusted ranges are exempt. It
// forgets a source once its bucket is full again; no goroutine.
type postLimiter struct {
	limit         rate.Limit // 0: no limit
	burst         int
	trusted       []netip.Prefix
	limitLoopback bool
	refused       atomic.Uint64

	mu       sync.Mutex
	buckets  map[netip.Addr]*rate.Limiter
	overflow *rate.Limiter
	swept    time.Time
}

func newPostLimiter(opts Options) *postLimiter {
	perSecond := opts.PostsPerSource
	switch {
	case perSecond == 0:
		perSecond = DefaultPostsPerSecond
	case perSecond < 0:
		perSecond = 0
	}
	l := &postLimiter{
		limit:         rate.Limit(perSecond),
		burst:         max(1, int(perSecond*postBurstSeconds)),
		trusted:       append([]netip.Prefix(nil), opts.TrustedSources...),
		limitLoopback: opts.LimitLoopback,
		buckets:       map[netip.Addr]*rate.Limiter{},
	}
	l.overflow = rate.NewLimiter(l.limit, l.burst)
	return l
}

// allow takes a token of remoteAddr's source; false (counted) when its
// bucket is empty.
func (l *postLimiter) allow(remoteAddr string, now time.Time) bool {
	if l.limit == 0 {
		return true
	}
	a, ok := sourceOf(remoteAddr)
	if !ok || a.IsLoopback() && !l.limitLoopback {
		return true
	}
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	if a.Is6() {
		a = netip.PrefixFrom(a, 64).Masked().Addr()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[a]
	if b == nil {
		b = l.overflow
		if len(l.buckets) < maxPostSources {
			b = rate.NewLimiter(l.limit, l.burst)
			l.buckets[a] = b
		}
	}
	if !b.AllowN(now, 1) {
		l.refused.Add(1)
		return false
	}
	return true
}

// sweep forgets, at most once per burst period, the sources whose bucket
// is full again (they are as if never seen).
func (l *postLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < postBurstSeconds*time.Second {
		return
	}
	l.swept = now
	for a, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, a)
		}
	}
}

// sourceOf parses a RemoteAddr ("ip:port").
func sourceOf(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}
