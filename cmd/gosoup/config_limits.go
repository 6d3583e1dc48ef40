package main

import (
	"errors"
	"flag"
	"net/netip"
	"strings"
	"time"

	"github.com/gosoup/gosoup/relay"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
	"github.com/gosoup/gosoup/whip"
)

// limitsConfig are the per-source limits of both ports: what one source
// address (an IPv4 address, an IPv6 /64) may take before it is refused.
// Loopback and the trusted ranges are exempt. 0 means unlimited.
type limitsConfig struct {
	trustedCIDRs             []string
	trustedProxies           []string
	whipPostsPerSource       int
	stunRatePerSource        int
	dtlsHandshakesPerSource  int
	tcpConnsPerSource        int
	tcpIdleTimeout           time.Duration
	wsPerSource              int
	turnAllocationsPerSource int
}

// register defines the limit flags on fs, with their defaults (the
// reasons for each are in transport's and signaling's Default* docs).
func (l *limitsConfig) register(fs *flag.FlagSet) {
	fs.Var(list(&l.trustedCIDRs, checkCIDR), "trusted-cidr",
		"source `range` (CIDR or IP) exempt from the per-source limits, as loopback is (an office NAT, a reverse proxy); repeat for several")
	fs.Var(intRange(&l.stunRatePerSource, transport.DefaultSTUNRate, 0, 1_000_000), "stun-rate-per-source",
		"ICE checks per `second` answered to one source address before ICE succeeded for it (bursts of 5 s of it); 0: unlimited")
	fs.Var(intRange(&l.dtlsHandshakesPerSource, transport.DefaultDTLSHandshakes, 0, 1_000_000), "dtls-handshakes-per-source",
		"DTLS `handshakes` in progress per source address (more wait for a free slot); 0: unlimited")
	fs.Var(intRange(&l.tcpConnsPerSource, transport.DefaultTCPConns, 0, 1_000_000), "tcp-conns-per-source",
		"ICE-TCP `connections` open per source address (more are closed at accept); 0: unlimited")
	fs.Var(durationMin(&l.tcpIdleTimeout, transport.DefaultTCPBindTimeout, time.Second), "tcp-idle-timeout",
		"an ICE-TCP connection without a valid ICE check this `long` after its accept is closed")
	fs.Var(intRange(&l.wsPerSource, signaling.DefaultSocketsPerSource, 0, 1_000_000), "ws-per-source",
		"signaling WebSocket `sockets` open per source address (more get HTTP 429); 0: unlimited")
	fs.Var(intRange(&l.whipPostsPerSource, whip.DefaultPostsPerSecond, 0, 1_000_000), "whip-posts-per-source",
		"WHIP and WHEP POSTs (new sessions) per `second` from one source address (bursts of 5 s of it; more get HTTP 429); 0: unlimited")
	fs.Var(intRange(&l.turnAllocationsPerSource, relay.DefaultAllocationsPerSource, 0, 1_000_000), "turn-allocations-per-source",
		"TURN `allocations` open per source address (more are answered 486); 0: unlimited")
	fs.Var(list(&l.trustedProxies, checkCIDR), "trusted-proxy",
		"reverse proxy `range` (CIDR or IP) whose Forwarded / X-Forwarded-For header names the client (for the per-source limits, "+
			"logs and the admin API); others' forwarding headers are not believed; repeat for several")
}

// parseCIDR reads a range: "10.0.0.0/8", or one address ("192.0.2.7").
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR range (e.g. 10.0.0.0/8) nor an IP address")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, errors.New("not a CIDR range (e.g. 10.0.0.0/8) nor an IP address")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func checkCIDR(s string) error {
	_, err := parseCIDR(s)
	return err
}

// trusted returns the trusted ranges (validated when set).
func (l *limitsConfig) trusted() []netip.Prefix { return prefixes(l.trustedCIDRs) }

// proxies returns the trusted proxies' ranges (validated when set).
func (l *limitsConfig) proxies() []netip.Prefix { return prefixes(l.trustedProxies) }

// whip sets the WHIP/WHEP endpoints' limit in opts.
func (l *limitsConfig) whip(opts *whip.Options) {
	opts.PostsPerSource = float64(unlimited(l.whipPostsPerSource))
	opts.TrustedSources = l.trusted()
}

// prefixes parses ranges validated by checkCIDR.
func prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := parseCIDR(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// unlimited maps a flag's 0 (unlimited) to the packages' negative value
// (their 0 takes the default).
func unlimited(v int) int {
	if v == 0 {
		return -1
	}
	return v
}

// media returns the media port's limits, counting refusals in counters.
func (l *limitsConfig) media(counters *transport.LimitCounters) transport.SourceLimits {
	return transport.SourceLimits{
		STUNRate:       float64(unlimited(l.stunRatePerSource)),
		DTLSHandshakes: unlimited(l.dtlsHandshakesPerSource),
		TCPConns:       unlimited(l.tcpConnsPerSource),
		Trusted:        l.trusted(),
		Counters:       counters,
	}
}

// signaling sets the signaling port's limits in opts.
func (l *limitsConfig) signaling(opts *signaling.Options) {
	opts.SocketsPerSource = unlimited(l.wsPerSource)
	opts.TrustedSources = l.trusted()
}
