package transport

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Default per-source limits of the media port (SourceLimits). Each is
// sized for the busiest legitimate source: a NAT with a hundred users or
// more, each peer with two transports (send and receive), all joining
// within seconds. A limit only has to keep one address from taking the
// port for itself. Loopback and SourceLimits.Trusted are never limited
// (cmd/gosoup-load drives hundreds of peers from 127.0.0.1).
const (
	// DefaultSTUNRate: a peer's two ICE agents need some 10 to 40 Binding
	// requests (a few candidate pairs each, with retransmissions) before
	// their first tuple is valid, after which its checks are not limited.
	// 200 answers/s is 5 to 20 peers joining per second from one address,
	// and the burst of 5 s (DefaultSTUNBurst) 25 to 100 at once; an
	// answer is no larger than its request (no amplification), so what
	// one address gets, 20 KB/s of answers and 200 HMACs/s, costs
	// nothing. A dropped check is retransmitted by the client's ICE.
	DefaultSTUNRate = 200
	// DefaultSTUNBurst is the token bucket size of DefaultSTUNRate.
	DefaultSTUNBurst = 5 * DefaultSTUNRate
	// DefaultDTLSHandshakes: a handshake takes two round trips (a few
	// hundred milliseconds), so 32 at once is over 50 peers per second
	// from one address; each one waiting holds a goroutine and pion/dtls
	// state for up to 30 s. A handshake over the limit is deferred, not
	// failed: the client's next ICE check or DTLS record starts it.
	DefaultDTLSHandshakes = 32
	// DefaultTCPConns: a peer opens one ICE-TCP connection per transport
	// (two), so 256 is a NAT of over a hundred peers that all use ICE-TCP
	// (UDP blocked), while one address can hold only a sixteenth of the
	// tcpMaxConns connections of the server.
	DefaultTCPConns = 256
	// DefaultTCPBindTimeout is how long an ICE-TCP connection may stay
	// open from its accept without a valid ICE check: a client sends its
	// first check within a round trip.
	DefaultTCPBindTimeout = tcpBindTimeout
)

// maxTrackedSources bounds the sources whose STUN rate is tracked (about
// 100 bytes each): the sources beyond it share one bucket.
const maxTrackedSources = 1 << 16

// sweepInterval is how often the STUN buckets that have filled up again
// (as good as new) are dropped.
const sweepInterval = time.Second

// SourceLimits bound what one source address can take of the media port
// before ICE proved it is a client. A source is an IPv4 address or an
// IPv6 /64 (one host's or LAN's addresses). Zero fields take the
// defaults; a negative one turns its limit off.
type SourceLimits struct {
	// STUNRate is how many Binding requests naming one of our transports
	// a source gets processed and answered per second (a token bucket of
	// STUNBurst), counting only requests from a tuple that ICE has not
	// validated for that transport: the consent checks of a connected
	// client are never limited. Requests over it are dropped unanswered.
	STUNRate float64
	// STUNBurst is the bucket size of STUNRate; default 5 s of STUNRate.
	STUNBurst int
	// DTLSHandshakes is how many DTLS handshakes may be in progress with
	// one source; one more is deferred until the client's next ICE check
	// or DTLS record finds a free slot.
	DTLSHandshakes int
	// TCPConns is how many ICE-TCP connections one source may have open;
	// one more is closed at accept.
	TCPConns int
	// Trusted are source ranges no limit applies to (an office NAT that
	// needs more, a TURN server). Loopback is trusted too.
	Trusted []netip.Prefix
	// LimitLoopback applies the limits to loopback sources (for tests).
	LimitLoopback bool
	// Counters receives the refusals; nil: the Network's own. Either way
	// Network.LimitCounters returns them.
	Counters *LimitCounters
}

// LimitCounters count what the per-source limits of the media port
// refused. Read them with Load; they only grow.
type LimitCounters struct {
	// STUNRate counts Binding requests dropped over a source's rate.
	STUNRate atomic.Uint64
	// DTLSHandshakes counts DTLS handshake starts deferred because the
	// source had its limit of handshakes in progress.
	DTLSHandshakes atomic.Uint64
	// TCPConns counts ICE-TCP connections closed at accept because the
	// source had its limit of connections open.
	TCPConns atomic.Uint64
	// TCPIdle counts ICE-TCP connections closed because no valid ICE
	// check came within the bind timeout of their accept.
	TCPIdle atomic.Uint64
}

// LimitCounters returns the counts of refusals by the per-source limits.
func (n *Network) LimitCounters() *LimitCounters { return n.lim.counters }

// bucket is a token bucket: tokens as of at (ns since the limiter began).
type bucket struct {
	tokens float64
	at     int64
}

// sourceLimiter enforces SourceLimits. Its state is bounded: a bucket per
// source seen within the last burst/rate seconds (at most
// maxTrackedSources), a count per source with a handshake in progress or
// a connection open (bounded by those); no goroutine.
type sourceLimiter struct {
	rate           float64 // 0: no STUN limit
	burst          float64
	dtlsMax        int // 0: no limit
	tcpMax         int // 0: no limit
	trusted        []netip.Prefix
	limitLoopback  bool
	counters       *LimitCounters
	start          time.Time
	maxSources     int // maxTrackedSources; tests lower it
	sweepEveryNano int64

	mu        sync.Mutex
	buckets   map[netip.Addr]bucket
	overflow  bucket // shared by the sources beyond maxSources
	nextSweep int64
	dtls      map[netip.Addr]int
	tcp       map[netip.Addr]int
}

// orDefault resolves a limit: 0 takes def, a negative value means none (0).
func orDefault[T int | float64](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func newSourceLimiter(cfg SourceLimits) *sourceLimiter {
	l := &sourceLimiter{
		rate:           orDefault(cfg.STUNRate, DefaultSTUNRate),
		dtlsMax:        orDefault(cfg.DTLSHandshakes, DefaultDTLSHandshakes),
		tcpMax:         orDefault(cfg.TCPConns, DefaultTCPConns),
		trusted:        append([]netip.Prefix(nil), cfg.Trusted...),
		limitLoopback:  cfg.LimitLoopback,
		counters:       cfg.Counters,
		start:          time.Now(),
		maxSources:     maxTrackedSources,
		sweepEveryNano: int64(sweepInterval),
		buckets:        map[netip.Addr]bucket{},
		dtls:           map[netip.Addr]int{},
		tcp:            map[netip.Addr]int{},
	}
	l.burst = float64(cfg.STUNBurst)
	if cfg.STUNBurst <= 0 {
		l.burst = 5 * l.rate
	}
	l.burst = max(l.burst, 1)
	l.overflow.tokens = l.burst
	if l.counters == nil {
		l.counters = new(LimitCounters)
	}
	return l
}

// sourceKey is the source an address belongs to: itself for IPv4, its
// /64 for IPv6 (a host has a whole /64 to pick addresses from).
func sourceKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

// exempt reports whether no limit applies to a: loopback (unless
// limitLoopback), a trusted range, or no address at all (a test pipe).
func (l *sourceLimiter) exempt(a netip.Addr) bool {
	if !a.IsValid() {
		return true
	}
	a = a.Unmap().WithZone("")
	if a.IsLoopback() && !l.limitLoopback {
		return true
	}
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// allowSTUN takes a token from the bucket of a's source, reporting false
// when it is empty. It allocates only for a source it has not seen (or
// forgot). The caller has checked exempt and the tuple.
func (l *sourceLimiter) allowSTUN(a netip.Addr) bool {
	now := int64(time.Since(l.start))
	k := sourceKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if now >= l.nextSweep {
		l.sweep(now)
	}
	b, ok := l.buckets[k]
	shared := false
	if !ok {
		if len(l.buckets) >= l.maxSources {
			b, shared = l.overflow, true
		} else {
			b = bucket{tokens: l.burst, at: now}
		}
	}
	b.tokens = min(l.burst, b.tokens+float64(now-b.at)*l.rate/1e9)
	b.at = now
	allowed := b.tokens >= 1
	if allowed {
		b.tokens--
	}
	if shared {
		l.overflow = b
	} else {
		l.buckets[k] = b
	}
	return allowed
}

// sweep forgets the buckets that are full again: a fresh one is the same.
func (l *sourceLimiter) sweep(now int64) {
	l.nextSweep = now + l.sweepEveryNano
	for k, b := range l.buckets {
		if b.tokens+float64(now-b.at)*l.rate/1e9 >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// acquire takes one of limit slots of a's source in counts; it returns the
// key to release with, the zero Addr when a is exempt or there is no
// limit, and false when the source has all its slots.
func (l *sourceLimiter) acquire(counts map[netip.Addr]int, limit int, a netip.Addr) (netip.Addr, bool) {
	if limit <= 0 || l.exempt(a) {
		return netip.Addr{}, true
	}
	k := sourceKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if counts[k] >= limit {
		return netip.Addr{}, false
	}
	counts[k]++
	return k, true
}

// release gives back a slot acquire returned (nothing for the zero Addr).
func (l *sourceLimiter) release(counts map[netip.Addr]int, k netip.Addr) {
	if !k.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if counts[k] <= 1 {
		delete(counts, k)
	} else {
		counts[k]--
	}
}

// acquireDTLS takes a DTLS handshake slot of a's source.
func (l *sourceLimiter) acquireDTLS(a netip.Addr) (netip.Addr, bool) {
	return l.acquire(l.dtls, l.dtlsMax, a)
}

// releaseDTLS gives back a slot acquireDTLS returned.
func (l *sourceLimiter) releaseDTLS(k netip.Addr) { l.release(l.dtls, k) }

// acquireTCP takes an ICE-TCP connection slot of a's source.
func (l *sourceLimiter) acquireTCP(a netip.Addr) (netip.Addr, bool) {
	return l.acquire(l.tcp, l.tcpMax, a)
}

// releaseTCP gives back a slot acquireTCP returned.
func (l *sourceLimiter) releaseTCP(k netip.Addr) { l.release(l.tcp, k) }

// stunAllowed reports whether a Binding request naming t, from tp, may be
// processed: always from an exempt source or a tuple ICE validated for t
// (a connected client's consent checks), else when the source's bucket
// has a token. A refusal is counted.
func (n *Network) stunAllowed(t *WebRTCTransport, tp Tuple) bool {
	l := n.lim
	if l.rate == 0 || tp.link != nil || l.exempt(tp.Remote.Addr()) {
		return true // an in-process link's relay limits its own clients
	}
	if tp.tcp != nil {
		if tp.tcp.t.Load() == t {
			return true
		}
	} else if n.transportByAddr(tp.Remote) == t {
		return true
	}
	if l.allowSTUN(tp.Remote.Addr()) {
		return true
	}
	l.counters.STUNRate.Add(1)
	return false
}
