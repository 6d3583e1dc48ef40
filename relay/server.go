package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v5"
)

// DefaultAllocationsPerSource is Config.AllocationsPerSource's default: a
// browser in a call makes up to six allocations (two peer connections,
// three TURN URLs each), so 32 leaves room for a few behind one NAT.
const DefaultAllocationsPerSource = 32

// DefaultIdleTimeout is Config.IdleTimeout's default. A browser's consent
// checks cross an allocation every few seconds.
const DefaultIdleTimeout = 60 * time.Second

// Config configures a Server.
type Config struct {
	// Realm is the TURN realm; default "gosoup".
	Realm string
	// Secret is the shared secret of the TURN REST credentials
	// (Credentials); required.
	Secret string
	// UDP, when set, serves TURN over UDP.
	UDP net.PacketConn
	// Listener, when set, serves TURN over TCP or TLS (Mux.TURN()).
	Listener net.Listener
	// RelayIP is the address put in the relayed addresses the clients
	// learn; default the relay socket's own.
	RelayIP netip.Addr
	// PeerIP decides to which peer IPs clients may get permissions;
	// Route maps the peer address a client sends to onto the address the
	// relay sends to (ok false: the packet is dropped). Both are
	// required: the server relays only where they allow.
	PeerIP func(netip.Addr) bool
	Route  func(netip.AddrPort) (to netip.AddrPort, ok bool)
	// Local, when set, is the peer in this process (MediaNetwork of the
	// SFU): packets Route maps to one of its addresses reach it without
	// a socket, and its answers come back the same way. Other peers are
	// reached through the allocation's socket.
	Local Local
	// AllocationsPerSource bounds the allocations of one source address
	// (an IPv4 address, an IPv6 /64); one more is answered 486
	// (Allocation Quota Reached). 0 takes DefaultAllocationsPerSource;
	// negative: no limit. Loopback and Trusted are exempt unless
	// LimitLoopback.
	AllocationsPerSource int
	Trusted              []netip.Prefix
	LimitLoopback        bool
	// IdleTimeout closes a TURN TCP/TLS connection that sends nothing
	// for that long; default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// Logger receives the server's logs (pion's at debug level).
	Logger *slog.Logger
}

// Counters are what a Server did, read with atomic loads.
type Counters struct {
	Allocations      atomic.Int64  // current
	AllocationsTotal atomic.Uint64 // created
	BytesToPeer      atomic.Uint64 // relayed from clients to the SFU
	BytesToClient    atomic.Uint64 // relayed from the SFU to clients
	// BytesOverTCP is the part of BytesToPeer and BytesToClient whose
	// client reached the server over TCP or TLS.
	BytesOverTCP       atomic.Uint64
	AuthFailures       atomic.Uint64 // requests with unknown, expired or wrongly signed credentials
	RefusedAllocations atomic.Uint64 // over AllocationsPerSource
	DroppedToPeer      atomic.Uint64 // packets to a peer address Route refused
	// Packets relayed, by path: handed to and from Config.Local in the
	// process, or through the allocations' sockets.
	InProcessToPeer   atomic.Uint64
	InProcessToClient atomic.Uint64
	SocketToPeer      atomic.Uint64
	SocketToClient    atomic.Uint64
	// InProcessDropped counts packets of the local peer to a client
	// dropped because the allocation's queue was full (or too large).
	InProcessDropped atomic.Uint64
}

// Server is a TURN server relaying only to the peers its Config allows.
type Server struct {
	cfg      Config
	log      *slog.Logger
	turn     *turn.Server
	counters Counters

	mu       sync.Mutex
	bySource map[netip.Addr]int
	relays   map[string]*relayConn // by relayed address, until their allocation is created
}

// NewServer starts a TURN server on cfg's sockets; Close stops it and
// closes them.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Secret == "" {
		return nil, errors.New("turn: no secret")
	}
	if cfg.PeerIP == nil || cfg.Route == nil {
		return nil, errors.New("turn: no peer policy (PeerIP, Route)")
	}
	if cfg.UDP == nil && cfg.Listener == nil {
		return nil, errors.New("turn: neither UDP nor a listener")
	}
	if cfg.Realm == "" {
		cfg.Realm = "gosoup"
	}
	if cfg.AllocationsPerSource == 0 {
		cfg.AllocationsPerSource = DefaultAllocationsPerSource
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, log: cfg.Logger, bySource: map[netip.Addr]int{}, relays: map[string]*relayConn{}}
	gen := &relayGen{s: s}
	perm := func(_ net.Addr, ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		return ok && cfg.PeerIP(a.Unmap())
	}
	sc := turn.ServerConfig{
		Realm:         cfg.Realm,
		AuthHandler:   s.authenticate,
		QuotaHandler:  s.quota,
		LoggerFactory: loggerFactory{cfg.Logger},
		EventHandler: turn.EventHandler{
			OnAuth: func(_, _ net.Addr, _, _, _, _ string, ok bool) {
				if !ok {
					s.counters.AuthFailures.Add(1)
				}
			},
			OnAllocationCreated: func(src, _ net.Addr, _, _, _ string, relayAddr net.Addr, _ int) {
				s.allocated(src, 1)
				s.created(relayAddr, src)
			},
			OnAllocationDeleted: func(src, _ net.Addr, _, _, _ string) { s.allocated(src, -1) },
		},
	}
	if cfg.UDP != nil {
		sc.PacketConnConfigs = []turn.PacketConnConfig{{PacketConn: cfg.UDP, RelayAddressGenerator: gen, PermissionHandler: perm}}
	}
	if cfg.Listener != nil {
		sc.ListenerConfigs = []turn.ListenerConfig{{
			Listener: idleListener{cfg.Listener, cfg.IdleTimeout}, RelayAddressGenerator: gen, PermissionHandler: perm,
		}}
	}
	ts, err := turn.NewServer(sc)
	if err != nil {
		return nil, fmt.Errorf("turn: %w", err)
	}
	s.turn = ts
	return s, nil
}

// Counters returns the server's counters.
func (s *Server) Counters() *Counters { return &s.counters }

// Close stops the server and closes its sockets and allocations.
func (s *Server) Close() error { return s.turn.Close() }

// authenticate is pion's AuthHandler: TURN REST credentials of cfg.Secret.
func (s *Server) authenticate(ra *turn.RequestAttributes) (string, []byte, bool) {
	user, pass, err := CheckUsername(s.cfg.Secret, ra.Username, time.Now())
	if err != nil {
		s.counters.AuthFailures.Add(1)
		s.log.Debug("TURN credentials refused", "src", ra.SrcAddr, "err", err)
		return "", nil, false
	}
	return user, turn.GenerateAuthKey(ra.Username, ra.Realm, pass), true
}

// sourceOf returns the per-source key of addr (an IPv4 address, an IPv6
// /64) and whether the per-source limit applies to it.
func (s *Server) sourceOf(addr net.Addr) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	a := ap.Addr().Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	if s.cfg.AllocationsPerSource < 0 || (a.IsLoopback() && !s.cfg.LimitLoopback) {
		return a, false
	}
	for _, p := range s.cfg.Trusted {
		if p.Contains(ap.Addr().Unmap()) {
			return a, false
		}
	}
	return a, true
}

// quota is pion's QuotaHandler: the per-source allocation limit.
func (s *Server) quota(_, _ string, src net.Addr) bool {
	a, limited := s.sourceOf(src)
	if !limited {
		return true
	}
	s.mu.Lock()
	n := s.bySource[a]
	s.mu.Unlock()
	if n >= s.cfg.AllocationsPerSource {
		s.counters.RefusedAllocations.Add(1)
		s.log.Debug("TURN allocation refused: too many from its source", "src", src)
		return false
	}
	return true
}

// allocated counts an allocation of src created (+1) or deleted (-1).
func (s *Server) allocated(src net.Addr, d int) {
	if d > 0 {
		s.counters.AllocationsTotal.Add(1)
	}
	s.counters.Allocations.Add(int64(d))
	a, _ := s.sourceOf(src)
	s.mu.Lock()
	if n := s.bySource[a] + d; n > 0 {
		s.bySource[a] = n
	} else {
		delete(s.bySource, a)
	}
	s.mu.Unlock()
}

// created marks the relay socket of a new allocation with its client's
// transport (pion reports every allocation as UDP; a TCP or TLS client's
// address is a *net.TCPAddr).
func (s *Server) created(relayAddr, src net.Addr) {
	s.mu.Lock()
	rc := s.relays[relayAddr.String()]
	delete(s.relays, relayAddr.String())
	s.mu.Unlock()
	if _, isTCP := src.(*net.TCPAddr); rc != nil && isTCP {
		rc.tcp.Store(true)
	}
}

// idleListener gives its connections a read deadline of timeout from
// each read.
type idleListener struct {
	net.Listener
	timeout time.Duration
}

func (l idleListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &idleConn{Conn: c, timeout: l.timeout}, nil
}

type idleConn struct {
	net.Conn
	timeout time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.Conn.Read(b)
}
