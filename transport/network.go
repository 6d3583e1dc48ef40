package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Config configures a Network.
type Config struct {
	// ListenIP is the IP the UDP socket binds to. Default 0.0.0.0.
	ListenIP string
	// Port is the UDP port shared by all transports; 0 picks a free one.
	Port int
	// AnnouncedIPs are the IPs put in ICE candidates, in order of
	// preference. Default: ListenIP, or, when ListenIP is unspecified
	// (0.0.0.0 or ::), every usable address of the host's interfaces
	// (non-loopback first, then loopback).
	AnnouncedIPs []string
	// AnnouncedIP is one more announced IP, after AnnouncedIPs (kept for
	// embedders of earlier versions).
	AnnouncedIP string
	// Logger receives transport logs. Default slog.Default().
	Logger *slog.Logger
	// AnnouncedPort is the port put in candidates; default the bound port
	// (set it when a relay or NAT forwards another port to this one).
	AnnouncedPort int
	// ReadLoops is how many sockets (SO_REUSEPORT on Linux) and read
	// goroutines serve the port; 0: one per core (GOMAXPROCS).
	ReadLoops int
	// AnnouncedIPv6 adds IPv6 candidates with this address; ListenIP must
	// then be an IPv6 address ("::" serves both families on one socket).
	AnnouncedIPv6 string
	// NoTCP disables passive ICE-TCP (a TCP listener on the same port).
	NoTCP bool
	// ConsentTimeout closes a transport whose client sent no ICE check for
	// that long after connecting (the browser vanished). Default 30 s.
	ConsentTimeout time.Duration
	// Limits bound what one source address can take of the port before
	// ICE proved it a client; the zero value takes the defaults.
	Limits SourceLimits
	// TCPBindTimeout closes an ICE-TCP connection that brought no valid
	// ICE check this long after its accept, whatever else it sent.
	// Default DefaultTCPBindTimeout (10 s).
	TCPBindTimeout time.Duration
}

// Network owns the shared UDP socket, the DTLS certificate and the routing
// of incoming packets to transports (by ICE username for STUN, then by
// remote address).
type Network struct {
	conn      *net.UDPConn   // conns[0]: writes outside the read loops
	conns     []*net.UDPConn // one per read loop, all on the port (SO_REUSEPORT)
	cert      *Certificate
	consent   time.Duration
	announced []netip.Addr // candidate addresses, in order of preference
	dualStack bool         // the socket is IPv6 (v4 peers are v4-mapped)
	pktinfo   bool         // datagrams carry their local address (socket bound to any)
	oobPool   sync.Pool    // *[oobSize]byte for writes outside the read loop
	annPort   int          // announced port, 0: the bound one
	port      int
	log       *slog.Logger

	tcp      net.Listener // nil when ICE-TCP is off
	tcpConns map[*tcpConn]struct{}
	// tcpBindTimeout is how long an ICE-TCP connection may go from its
	// accept to a valid ICE check: Config.TCPBindTimeout, which tests
	// may shorten before any connection.
	tcpBindTimeout time.Duration
	wg             sync.WaitGroup
	lim            *sourceLimiter // per-source limits
	linkBatches    sync.Pool      // *Batch of in-process links, one per packet handled

	mu      sync.RWMutex
	byUfrag map[string]*WebRTCTransport
	byAddr  map[netip.AddrPort]*WebRTCTransport
	closed  bool

	done    chan struct{}
	loops   []loopStats    // per read loop, fixed once started
	readers sync.WaitGroup // the read loops
}

// NewNetwork binds the shared UDP socket and starts its read loop.
func NewNetwork(cfg Config) (*Network, error) {
	if cfg.ListenIP == "" {
		cfg.ListenIP = "0.0.0.0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConsentTimeout <= 0 {
		cfg.ConsentTimeout = 30 * time.Second
	}
	if cfg.TCPBindTimeout <= 0 {
		cfg.TCPBindTimeout = DefaultTCPBindTimeout
	}
	listen, err := netip.ParseAddr(cfg.ListenIP)
	if err != nil {
		return nil, fmt.Errorf("rtc listen IP %q: %w", cfg.ListenIP, err)
	}
	announced, err := announcedAddrs(cfg, listen)
	if err != nil {
		return nil, err
	}
	loops := readLoops(cfg)
	conn, tcpl, tcpErr, err := listenPorts(listen, cfg.Port, !cfg.NoTCP, loops > 1)
	if err != nil {
		return nil, fmt.Errorf("could not open any IP:port: %w", err)
	}
	conns, rerr := openReaders(conn, loops)
	if len(conns) < loops {
		cfg.Logger.Warn("fewer read loops than asked", "asked", loops, "opened", len(conns), "err", rerr)
	}
	for _, c := range conns {
		_ = c.SetReadBuffer(4 << 20)
		_ = c.SetWriteBuffer(4 << 20)
	}
	cert, err := NewCertificate()
	if err != nil {
		for _, c := range conns {
			c.Close()
		}
		if tcpl != nil {
			tcpl.Close()
		}
		return nil, err
	}
	n := &Network{
		conn:      conn,
		conns:     conns,
		cert:      cert,
		consent:   cfg.ConsentTimeout,
		annPort:   cfg.AnnouncedPort,
		announced: announced,
		port:      conn.LocalAddr().(*net.UDPAddr).Port,
		log:       cfg.Logger,
		byUfrag:   map[string]*WebRTCTransport{},
		byAddr:    map[netip.AddrPort]*WebRTCTransport{},
		done:      make(chan struct{}),
		tcpConns:  map[*tcpConn]struct{}{},

		tcpBindTimeout: cfg.TCPBindTimeout,
		lim:            newSourceLimiter(cfg.Limits),
	}
	n.oobPool.New = func() any { return new([oobSize]byte) }
	n.linkBatches.New = func() any { return n.newBatchOn(n.conn) }
	n.dualStack = listen.Is6()
	if listen.IsUnspecified() {
		// Replies must leave from the address the client sent to, not the
		// kernel's choice, or ICE fails on hosts with several addresses.
		n.pktinfo = true
		for _, c := range conns {
			n.pktinfo = enablePktinfo(c, n.dualStack) && n.pktinfo
		}
		if !n.pktinfo {
			cfg.Logger.Warn("cannot learn datagrams' local address; on a host with several addresses bind --rtc-listen-ip to one")
		}
	}
	if !cfg.NoTCP {
		if tcpl == nil {
			cfg.Logger.Warn("ICE-TCP disabled: cannot listen on the RTC port", "port", n.port, "err", tcpErr)
		} else {
			n.tcp = tcpl
			n.wg.Add(1)
			go n.acceptTCP(tcpl)
		}
	}
	n.startReaders()
	n.wg.Add(1)
	go n.sweepConsent()
	return n, nil
}

// listenTCP opens the ICE-TCP listener (a variable for tests).
var listenTCP = func(a *net.TCPAddr) (*net.TCPListener, error) { return net.ListenTCP("tcp", a) }

// portTries is how many free UDP ports listenPorts tries, when it picks
// them, before it gives up on ICE-TCP.
const portTries = 10

// listenPorts binds the (first) UDP socket, with SO_REUSEPORT when
// reusePort, and, when tcp, the ICE-TCP listener on
// the same port number. With port 0 the kernel picks a free UDP port whose
// number TCP may have in use (a client connection's ephemeral port): then
// it tries another port, portTries times, rather than run without ICE-TCP.
// A listener it could not open is nil, with tcpErr saying why; err is only
// for the UDP socket.
func listenPorts(ip netip.Addr, port int, tcp, reusePort bool) (conn *net.UDPConn, l *net.TCPListener, tcpErr, err error) {
	for try := 1; ; try++ {
		if reusePort {
			conn, err = listenUDPReusePort(netip.AddrPortFrom(ip, uint16(port)))
		} else {
			conn, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		}
		if err != nil || !tcp {
			return conn, nil, nil, err
		}
		bound := conn.LocalAddr().(*net.UDPAddr).Port
		l, tcpErr = listenTCP(net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(bound))))
		if tcpErr == nil || port != 0 || try == portTries {
			return conn, l, tcpErr, nil
		}
		conn.Close()
	}
}

// AnnouncedIP returns the first IP announced in candidates.
func (n *Network) AnnouncedIP() string { return n.announced[0].String() }

// AnnouncedIPs returns every IP announced in candidates, in order.
func (n *Network) AnnouncedIPs() []string {
	out := make([]string, len(n.announced))
	for i, a := range n.announced {
		out[i] = a.String()
	}
	return out
}

// NewBatch returns a send batch for this network's socket (one per
// goroutine that forwards).
func (n *Network) NewBatch() *Batch { return n.newBatchOn(n.conn) }

// newBatchOn returns a send batch that sends on conn.
func (n *Network) newBatchOn(conn *net.UDPConn) *Batch {
	b := &Batch{}
	b.init(n, conn, conn.LocalAddr().(*net.UDPAddr).IP.To4() == nil)
	return b
}

// Port returns the bound UDP port.
func (n *Network) Port() int { return n.port }

// Certificate returns the DTLS certificate of the network.
func (n *Network) Certificate() *Certificate { return n.cert }

// Close closes every transport and the socket, and waits for the read loop
// to end. Safe to call twice.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	ts := make([]*WebRTCTransport, 0, len(n.byUfrag))
	for _, t := range n.byUfrag {
		ts = append(ts, t)
	}
	n.mu.Unlock()
	for _, t := range ts {
		t.closeWith(errors.New("network closed"))
	}
	var err error
	for _, c := range n.conns {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	if n.tcp != nil {
		n.tcp.Close()
	}
	n.mu.Lock()
	for c := range n.tcpConns {
		c.c.Close()
	}
	n.mu.Unlock()
	<-n.done
	n.wg.Wait()
	return err
}

// TransportOptions are mediasoup's createTransport options (docs/protocol.md, "Transport options").
type TransportOptions struct {
	UDP, TCP               bool // candidates to offer; both false means both true
	PreferUDP, PreferTCP   bool // +5000 local preference for that protocol
	PreferIPv4, PreferIPv6 bool // +10000 local preference for that family
}

// NewWebRTCTransport creates a transport with fresh ICE credentials on the
// shared socket. l receives its packets and state changes.
func (n *Network) NewWebRTCTransport(ctx context.Context, l Listener, opts TransportOptions) (*WebRTCTransport, error) {
	if !opts.UDP && !opts.TCP {
		opts.UDP, opts.TCP = true, true
	}
	if n.tcp == nil {
		if !opts.UDP {
			return nil, errors.New("could not open any IP:port (ICE-TCP is disabled on this server)")
		}
		opts.TCP = false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil, errors.New("network closed")
	}
	t := newWebRTCTransport(ctx, n, l)
	t.opts = opts
	for n.byUfrag[t.ice.UsernameFragment] != nil {
		t.ice = newICEParameters()
	}
	n.byUfrag[t.ice.UsernameFragment] = t
	return t, nil
}

func (n *Network) unregister(t *WebRTCTransport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byUfrag[t.ice.UsernameFragment] == t {
		delete(n.byUfrag, t.ice.UsernameFragment)
	}
	for a, tt := range n.byAddr {
		if tt == t {
			delete(n.byAddr, a)
		}
	}
}

func (n *Network) bindAddr(t *WebRTCTransport, addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.closed && !t.isClosed() {
		n.byAddr[addr] = t
	}
}

func (n *Network) transportByAddr(addr netip.AddrPort) *WebRTCTransport {
	n.mu.RLock()
	t := n.byAddr[addr]
	n.mu.RUnlock()
	return t
}

func (n *Network) transportByUfrag(ufrag string) *WebRTCTransport {
	n.mu.RLock()
	t := n.byUfrag[ufrag]
	n.mu.RUnlock()
	return t
}

// write sends one packet on a tuple: a UDP datagram, an RFC 4571
// frame on a TCP connection, or a packet handed to an in-process link.
func (n *Network) write(tp Tuple, b []byte) error {
	if tp.tcp != nil {
		return tp.tcp.write(b)
	}
	if tp.link != nil {
		return tp.link.write(b)
	}
	if n.pktinfo && tp.Local.IsValid() {
		oob := n.oobPool.Get().(*[oobSize]byte)
		_, _, err := n.conn.WriteMsgUDPAddrPort(b, oob[:putPktinfo(oob[:], tp.Local)], tp.Remote)
		n.oobPool.Put(oob)
		return err
	}
	_, err := n.conn.WriteToUDPAddrPort(b, tp.Remote)
	return err
}

// demux hands one packet to its handler (RFC 7983). For UDP the transport
// is found by address; a TCP connection knows its transport. Packets of no
// handler's range, and empty ones, are dropped. batch (the read loop's,
// nil for TCP) collects what forwarding writes in reaction.
func (n *Network) demux(pkt []byte, tp Tuple, t *WebRTCTransport, batch *Batch) {
	if len(pkt) == 0 {
		return
	}
	switch b := pkt[0]; {
	case b < 4:
		n.handleSTUN(pkt, tp)
	case b >= 20 && b < 64:
		if t == nil && tp.tcp == nil {
			t = n.transportByAddr(tp.Remote)
		}
		if t != nil {
			t.handleDTLS(pkt, tp)
		}
	case b >= 128 && b < 192:
		if t == nil && tp.tcp == nil {
			t = n.transportByAddr(tp.Remote)
		}
		if t != nil {
			t.handleSRTP(pkt, tp, batch)
		}
	}
}
