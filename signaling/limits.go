package signaling

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// DefaultSocketsPerSource is how many WebSockets one source address may
// have open by default (Options.SocketsPerSource). A user has one, so it
// is a NAT of 256 users in calls on this server at once (an office, a
// campus); one session costs some 50 to 100 KB (buffers, goroutines), so
// one address can hold at most about 25 MB. Loopback is exempt (a reverse
// proxy on the same host, cmd/gosoup-load's hundreds of peers); a proxy
// elsewhere must be in Options.TrustedSources.
const DefaultSocketsPerSource = 256

// socketLimiter counts the open WebSockets per source address: an IPv4
// address or an IPv6 /64. It holds an entry per source with a socket
// open, no more (entries go at zero), and no goroutine.
type socketLimiter struct {
	max           int // 0: no limit
	trusted       []netip.Prefix
	limitLoopback bool
	refused       atomic.Uint64

	mu   sync.Mutex
	open map[netip.Addr]int
}

func newSocketLimiter(opts Options) *socketLimiter {
	l := &socketLimiter{
		max:           opts.SocketsPerSource,
		trusted:       append([]netip.Prefix(nil), opts.TrustedSources...),
		limitLoopback: opts.LimitLoopback,
		open:          map[netip.Addr]int{},
	}
	switch {
	case l.max == 0:
		l.max = DefaultSocketsPerSource
	case l.max < 0:
		l.max = 0
	}
	return l
}

// addrOf returns the address of a request's RemoteAddr ("ip:port"),
// unmapped and without zone; the zero Addr when unparsable.
func addrOf(remoteAddr string) netip.Addr {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

// sourceKey is the source of address a: a itself for IPv4, its /64 for
// IPv6 (a host has a whole /64 to pick addresses from).
func sourceKey(a netip.Addr) netip.Addr {
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().Addr()
	}
	return a
}

// exempt reports whether no limit applies to source a: loopback (unless
// limitLoopback), a trusted range, or no address known.
func (l *socketLimiter) exempt(a netip.Addr) bool {
	if !a.IsValid() || (a.IsLoopback() && !l.limitLoopback) {
		return true
	}
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// acquire takes a socket slot of remoteAddr's source; it returns the key
// to release (the zero Addr when exempt or unlimited) and false, counted,
// when the source has all its slots.
func (l *socketLimiter) acquire(remoteAddr string) (netip.Addr, bool) {
	if l.max == 0 {
		return netip.Addr{}, true
	}
	a := addrOf(remoteAddr)
	if l.exempt(a) {
		return netip.Addr{}, true
	}
	a = sourceKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] >= l.max {
		l.refused.Add(1)
		return netip.Addr{}, false
	}
	l.open[a]++
	return a, true
}

// release gives back a slot acquire returned.
func (l *socketLimiter) release(a netip.Addr) {
	if !a.IsValid() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[a] <= 1 {
		delete(l.open, a)
	} else {
		l.open[a]--
	}
}

// sources returns how many sources have a counted socket open.
func (l *socketLimiter) sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open)
}

// RefusedSockets counts the WebSocket requests refused with HTTP 429
// because their source address had Options.SocketsPerSource open.
func (s *Server) RefusedSockets() uint64 { return s.perSource.refused.Load() }
