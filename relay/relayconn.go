package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/pion/turn/v5"
)

// errTCPRelay refuses TCP allocations (RFC 6062): media reaches the SFU
// over UDP.
var errTCPRelay = errors.New("TCP relay allocations are not offered")

// relayGen is the server's turn.RelayAddressGenerator: one UDP socket per
// allocation, on any address, whose writes go only where Config.Route
// allows.
type relayGen struct{ s *Server }

func (g *relayGen) Validate() error { return nil }

func (g *relayGen) AllocatePacketConn(conf turn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	bind := "0.0.0.0:0"
	if conf.Network == "udp6" {
		bind = "[::]:0"
	}
	pc, err := net.ListenPacket(conf.Network, bind)
	if err != nil {
		return nil, nil, fmt.Errorf("relay socket: %w", err)
	}
	local := pc.LocalAddr().(*net.UDPAddr)
	addr := &net.UDPAddr{IP: local.IP, Port: local.Port}
	if ip := g.s.cfg.RelayIP; ip.IsValid() && ip.Is4() == (conf.Network != "udp6") {
		addr.IP = net.IP(ip.AsSlice())
	}
	rc := &relayConn{PacketConn: pc, s: g.s}
	if g.s.cfg.Local != nil {
		ap := addr.AddrPort()
		rc.relayed = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		rc.links = map[netip.AddrPort]*localLink{}
		rc.queue = make(chan *packet, queueLen)
		rc.done = make(chan struct{})
	}
	g.s.mu.Lock()
	if len(g.s.relays) < 4096 { // allocations being created
		g.s.relays[addr.String()] = rc
	}
	g.s.mu.Unlock()
	return rc, addr, nil
}

func (g *relayGen) AllocateListener(turn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, errTCPRelay
}

func (g *relayGen) AllocateConn(turn.AllocateConnConfig) (net.Conn, error) { return nil, errTCPRelay }

// relayConn is an allocation's relay socket. Writes go through
// Config.Route (dropped where it refuses, sent to the address it maps
// to); reads from a mapped address are reported as from the address the
// client named, so that pion's permissions and channels match.
//
// With Config.Local it is in in-process mode: a write to one of the local
// peer's addresses is handed to it (localLink), and reads come from a
// queue its replies go to; the socket is read (readSocket, into the same
// queue) only once something was sent through it.
type relayConn struct {
	net.PacketConn
	s   *Server
	tcp atomic.Bool // the client reached the server over TCP or TLS

	mu     sync.Mutex
	named  map[netip.AddrPort]netip.AddrPort // address sent to → address the client named
	links  map[netip.AddrPort]*localLink     // by address the client named; nil: not local
	socket bool                              // readSocket started

	// In-process mode only.
	relayed   netip.AddrPort // the allocation's relayed address
	queue     chan *packet
	done      chan struct{}
	closeOnce sync.Once
	reader    sync.WaitGroup // readSocket
}

func addrPortOf(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	return netip.AddrPort{}, false
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ap, ok := addrPortOf(addr)
	if !ok {
		return 0, fmt.Errorf("relay: not a UDP address: %v", addr)
	}
	to, ok := c.s.cfg.Route(ap)
	if !ok {
		c.s.counters.DroppedToPeer.Add(1)
		return len(p), nil
	}
	if c.queue != nil {
		if l := c.link(ap, to); l != nil {
			// Counted first: the peer may answer, and the client read
			// the answer, before Receive returns.
			c.s.counters.InProcessToPeer.Add(1)
			c.count(&c.s.counters.BytesToPeer, len(p))
			l.path.Receive(p)
			return len(p), nil
		}
		c.startSocketReader()
	}
	if to != ap {
		c.mu.Lock()
		if c.named == nil {
			c.named = map[netip.AddrPort]netip.AddrPort{}
		}
		if len(c.named) < 64 {
			c.named[to] = ap
		}
		c.mu.Unlock()
	}
	n, err := c.PacketConn.WriteTo(p, net.UDPAddrFromAddrPort(to))
	c.count(&c.s.counters.BytesToPeer, n)
	if err == nil {
		c.s.counters.SocketToPeer.Add(1)
	}
	return n, err
}

// startSocketReader starts readSocket once (in-process mode), unless the
// allocation is closed.
func (c *relayConn) startSocketReader() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.socket || c.links == nil {
		return
	}
	c.socket = true
	c.reader.Add(1)
	go c.readSocket()
}

// Close closes the relay socket and, in in-process mode, ends its paths
// and goroutine.
func (c *relayConn) Close() error {
	err := c.PacketConn.Close()
	if c.queue != nil {
		c.closeLocal()
	}
	return err
}

func (c *relayConn) count(dir *atomic.Uint64, n int) {
	dir.Add(uint64(n))
	if c.tcp.Load() {
		c.s.counters.BytesOverTCP.Add(uint64(n))
	}
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	if c.queue != nil {
		return c.readQueue(p)
	}
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		return n, addr, err
	}
	c.count(&c.s.counters.BytesToClient, n)
	c.s.counters.SocketToClient.Add(1)
	return n, c.namedAddr(addr), nil
}

// namedAddr returns the address the client named for a packet the socket
// received from addr.
func (c *relayConn) namedAddr(addr net.Addr) net.Addr {
	if ap, ok := addrPortOf(addr); ok {
		c.mu.Lock()
		named, found := c.named[ap]
		c.mu.Unlock()
		if found {
			return net.UDPAddrFromAddrPort(named)
		}
	}
	return addr
}
