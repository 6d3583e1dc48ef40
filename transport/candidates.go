package transport

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
)

// announcedAddrs resolves the addresses a network announces: the configured
// ones, else the listen IP, else (listening on any address) every usable
// local address. IPv6 addresses need an IPv6 (dual-stack) socket.
func announcedAddrs(cfg Config, listen netip.Addr) ([]netip.Addr, error) {
	names := slices.Clone(cfg.AnnouncedIPs)
	if cfg.AnnouncedIP != "" {
		names = append(names, cfg.AnnouncedIP)
	}
	var out []netip.Addr
	add := func(a netip.Addr) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, name := range names {
		a, err := netip.ParseAddr(name)
		if err != nil {
			return nil, fmt.Errorf("announced IP %q: %w", name, err)
		}
		if a = a.Unmap(); a.IsUnspecified() || a.IsMulticast() {
			return nil, fmt.Errorf("announced IP %q: not a unicast address", name)
		}
		if a.Is6() && !listen.Is6() {
			return nil, fmt.Errorf("announced IP %s is IPv6: the RTC socket must be IPv6 (rtc listen IP \"::\")", a)
		}
		add(a)
	}
	if len(out) == 0 {
		switch {
		case !listen.IsUnspecified():
			add(listen.Unmap())
		default:
			for _, a := range localAddrs(listen.Is6()) {
				add(a)
			}
			if len(out) == 0 {
				add(netip.MustParseAddr("127.0.0.1"))
			}
		}
	}
	if cfg.AnnouncedIPv6 != "" {
		a, err := netip.ParseAddr(cfg.AnnouncedIPv6)
		if err != nil || !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("announced IPv6 %q: not an IPv6 address", cfg.AnnouncedIPv6)
		}
		if !listen.Is6() {
			return nil, fmt.Errorf("announced IPv6 needs an IPv6 listen IP (e.g. \"::\"), not %s", listen)
		}
		add(a)
	}
	return out, nil
}

// HostAddrs returns the addresses of the host's interfaces that are up,
// each once, in interface order.
func HostAddrs() []netip.Addr {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, ad := range addrs {
			ipn, ok := ad.(*net.IPNet)
			if !ok {
				continue
			}
			if a, ok := netip.AddrFromSlice(ipn.IP); ok && !slices.Contains(out, a.Unmap()) {
				out = append(out, a.Unmap())
			}
		}
	}
	return out
}

// localAddrs lists the host addresses usable as host candidates: IPv4
// (and global IPv6 on an IPv6 socket), non-loopback first in interface
// order, then IPv4 loopback so that a browser on the host itself can reach
// the server as well.
func localAddrs(v6 bool) []netip.Addr {
	var out, loopback []netip.Addr
	for _, a := range HostAddrs() {
		switch {
		case a.Is4() && a.IsLoopback():
			loopback = append(loopback, a)
		case a.Is4() && (a.IsGlobalUnicast() || a.IsPrivate()):
			out = append(out, a)
		case a.Is6() && v6 && a.IsGlobalUnicast():
			out = append(out, a)
		}
	}
	return append(out, loopback...)
}

// candidates returns the host candidates a transport announces: for each
// announced address in order, UDP and/or passive TCP. Earlier addresses get
// a slightly higher priority, so that a client reaching several prefers the
// first.
func (n *Network) candidates(o TransportOptions) []ICECandidate {
	var out []ICECandidate
	port := n.port
	if n.annPort > 0 {
		port = n.annPort
	}
	for i, ip := range n.announced {
		family, famPref := "ipv4", o.PreferIPv4
		if ip.Is6() {
			family, famPref = "ipv6", o.PreferIPv6
		}
		rank := uint32(min(i, 100))
		// One foundation per base address (RFC 8445 5.1.1.3): a client
		// checks pairs of one foundation after another, so a shared one
		// would leave the second address untried while the first fails.
		suffix := ""
		if i > 0 {
			suffix = strconv.Itoa(i)
		}
		if o.UDP {
			out = append(out, ICECandidate{
				Family: family, Foundation: "udpcandidate" + suffix, IP: ip.String(), Port: port,
				Priority: candidatePriority(o.PreferUDP, famPref) - rank<<8, Protocol: "udp", Type: "host",
			})
		}
		if o.TCP {
			out = append(out, ICECandidate{
				Family: family, Foundation: "tcpcandidate" + suffix, IP: ip.String(), Port: n.port,
				Priority: candidatePriority(o.PreferTCP, famPref) - rank<<8, Protocol: "tcp", Type: "host", TCPType: "passive",
			})
		}
	}
	return out
}

// candidatePriority is mediasoup's host priority: 2^24*64 + 2^8*localPref + 255
// with localPref 20000, +5000 for a preferred protocol, +10000 for a
// preferred family.
func candidatePriority(preferredProtocol, preferredFamily bool) uint32 {
	localPref := uint32(20000)
	if preferredProtocol {
		localPref += 5000
	}
	if preferredFamily {
		localPref += 10000
	}
	return 64<<24 + localPref<<8 + 255
}
