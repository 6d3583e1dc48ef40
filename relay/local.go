package relay

import (
	"net"
	"net/netip"
	"sync"

	"github.com/gosoup/gosoup/transport"
)

// Local is a peer inside the process (the SFU's media network) that an
// allocation reaches without a socket: what a client relays to one of its
// addresses is handed to it directly, and what it sends back to the
// allocation's relayed address comes back the same way.
type Local interface {
	// Open opens the in-process path of one allocation to the peer
	// address to (where Config.Route maps the address the client named).
	// Packets on it come from the relayed address from; reply is called
	// with each packet the peer sends back (from any goroutine, possibly
	// during LocalPath.Receive; it copies and never blocks). ok false:
	// to is not the peer's, the packet goes through the relay socket.
	Open(from, to netip.AddrPort, reply func([]byte)) (path LocalPath, ok bool)
}

// LocalPath is one allocation's in-process path to a Local peer.
type LocalPath interface {
	// Receive hands the peer one packet (copied, not kept).
	Receive(pkt []byte)
	// Close ends the path.
	Close() error
}

// MediaNetwork is the Local of an SFU media network in this process: the
// packets to its UDP port on one of its addresses (transport.Network.OpenLink).
func MediaNetwork(n *transport.Network) Local { return mediaNetwork{n} }

type mediaNetwork struct{ n *transport.Network }

func (m mediaNetwork) Open(from, to netip.AddrPort, reply func([]byte)) (LocalPath, bool) {
	l, err := m.n.OpenLink(from, to, reply)
	if err != nil {
		return nil, false
	}
	return l, true
}

// maxLinks bounds the in-process paths (and the peer addresses known not
// to be local) of one allocation; beyond them packets take the socket.
const maxLinks = 64

// queueLen is how many packets to the client an allocation in in-process
// mode holds for pion's relay loop before it drops (a UDP socket's buffer).
const queueLen = 256

// packet is one datagram on its way to the allocation's client, from a
// local peer or the relay socket. They are pooled: nothing is allocated
// per packet.
type packet struct {
	b      [1600]byte // pion's relay loop reads into 1600 bytes
	n      int
	from   net.Addr // as ReadFrom reports it: the address the client named
	socket bool     // read from the relay socket
}

var packets = sync.Pool{New: func() any { return new(packet) }}

// localLink is an allocation's path to one peer address of the Local.
type localLink struct {
	c     *relayConn
	path  LocalPath
	named *net.UDPAddr // the address the client named, made once
}

// reply queues a packet of the peer for the allocation's client.
func (l *localLink) reply(b []byte) {
	c := l.c
	if len(b) > len(packet{}.b) {
		c.s.counters.InProcessDropped.Add(1)
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	p := packets.Get().(*packet)
	p.n = copy(p.b[:], b)
	p.from, p.socket = l.named, false
	select {
	case c.queue <- p:
	default:
		p.from = nil
		packets.Put(p)
		c.s.counters.InProcessDropped.Add(1)
	}
}

// link returns the in-process path for the peer address the client named
// (ap), which Route mapped to to, opening it on first use; nil: the packet
// takes the socket.
func (c *relayConn) link(ap, to netip.AddrPort) *localLink {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l, seen := c.links[ap]; seen {
		return l
	}
	if c.links == nil || len(c.links) >= maxLinks { // closed, or full
		return nil
	}
	from := c.relayed
	if from.Addr().IsUnspecified() {
		// The relay socket's own address toward to, as the kernel picks
		// it for a local destination.
		from = netip.AddrPortFrom(to.Addr(), from.Port())
	}
	l := &localLink{c: c, named: net.UDPAddrFromAddrPort(ap)}
	path, ok := c.s.cfg.Local.Open(from, to, l.reply)
	if !ok {
		c.links[ap] = nil
		return nil
	}
	l.path = path
	c.links[ap] = l
	return l
}

// readSocket moves what the relay socket receives into the queue, once
// the allocation has sent through the socket (to a peer that is not
// local); it ends when the socket closes.
func (c *relayConn) readSocket() {
	defer c.reader.Done()
	for {
		p := packets.Get().(*packet)
		n, addr, err := c.PacketConn.ReadFrom(p.b[:])
		if err != nil {
			packets.Put(p)
			return
		}
		p.n, p.from, p.socket = n, c.namedAddr(addr), true
		select {
		case c.queue <- p:
		case <-c.done:
			packets.Put(p)
			return
		}
	}
}

// readQueue is ReadFrom in in-process mode: the next packet from a local
// peer or the socket.
func (c *relayConn) readQueue(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.queue:
		n := copy(b, p.b[:p.n])
		from, socket := p.from, p.socket
		p.from = nil
		packets.Put(p)
		c.count(&c.s.counters.BytesToClient, n)
		if socket {
			c.s.counters.SocketToClient.Add(1)
		} else {
			c.s.counters.InProcessToClient.Add(1)
		}
		return n, from, nil
	case <-c.done:
		return 0, nil, net.ErrClosed
	}
}

// closeLocal ends in-process mode: the queue's reader, the socket reader
// (its socket is closed) and the paths.
func (c *relayConn) closeLocal() {
	c.mu.Lock()
	links := c.links
	c.links = nil // no path opens and no socket reader starts from now on
	c.mu.Unlock()
	c.closeOnce.Do(func() { close(c.done) })
	c.reader.Wait()
	for _, l := range links {
		if l != nil {
			l.path.Close()
		}
	}
}
