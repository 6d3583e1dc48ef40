package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// linkMaxPacket is the largest packet a Link takes: a UDP datagram the
// read loops would read whole.
const linkMaxPacket = 1500 + 64

// errLinkClosed is what the network's writes to a closed Link return.
var errLinkClosed = errors.New("in-process link closed")

// A Link is an in-process path between the Network and a packet relay in
// the same process (the built-in TURN server): a packet the relay hands to
// Receive is handled as if it had arrived on the UDP socket from the
// link's remote address (ICE, consent, DTLS, SRTP alike), and whatever the
// network sends to a tuple of the link goes to the relay's send function
// instead of the socket. Nothing crosses the network stack, and nothing is
// allocated per packet.
//
// A transport whose client comes through a link has the link's tuple as
// its selected tuple, reported as UDP from the relayed address. The
// per-source limits do not apply to it: the relay limits its own clients.
type Link struct {
	n      *Network
	tuple  Tuple
	send   func([]byte)
	closed atomic.Bool

	mu  sync.Mutex // Receive: buf and the demultiplexing of one packet
	buf [linkMaxPacket]byte
}

// OpenLink opens a link whose packets come from remote (the relay's
// address for this client, such as a TURN allocation's relayed address)
// and were sent to local, one of the network's own addresses and its port.
// send receives every packet the network sends back to remote through the
// link: it is called from any goroutine, possibly during Receive, must
// copy the packet before it returns and must not block. It fails when
// local is not one of the network's addresses or the network is closed.
func (n *Network) OpenLink(remote, local netip.AddrPort, send func([]byte)) (*Link, error) {
	if send == nil {
		return nil, errors.New("in-process link: no send function")
	}
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	if !remote.IsValid() || remote.Port() == 0 {
		return nil, fmt.Errorf("in-process link: invalid remote address %v", remote)
	}
	if !n.isOwnAddr(local) {
		return nil, fmt.Errorf("in-process link: %v is not this network's address", local)
	}
	n.mu.RLock()
	closed := n.closed
	n.mu.RUnlock()
	if closed {
		return nil, errors.New("in-process link: network closed")
	}
	l := &Link{n: n, send: send}
	l.tuple = Tuple{Remote: remote, Local: local.Addr().Unmap(), link: l}
	return l, nil
}

// isOwnAddr reports whether packets sent to a reach the network's socket:
// its port, and its bound address, or, bound to any address, loopback, an
// announced address or one of the host's (in the socket's family).
func (n *Network) isOwnAddr(a netip.AddrPort) bool {
	ip := a.Addr().Unmap()
	if int(a.Port()) != n.port || !ip.IsValid() || ip.IsUnspecified() || (ip.Is6() && !n.dualStack) {
		return false
	}
	bound := n.conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	if !bound.IsUnspecified() {
		return ip == bound
	}
	return ip.IsLoopback() || slices.Contains(n.announced, ip) || slices.Contains(HostAddrs(), ip)
}

// Receive handles one packet from the link's remote address as the read
// loops handle a datagram: STUN, DTLS or SRTP (RFC 7983), and what
// forwarding writes in reaction. pkt is copied, not modified; a packet
// over 1564 bytes or empty, or one received after Close, is dropped.
func (l *Link) Receive(pkt []byte) {
	if len(pkt) == 0 || len(pkt) > linkMaxPacket || l.closed.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.buf[:copy(l.buf[:], pkt)]
	b := l.n.linkBatches.Get().(*Batch)
	l.n.demux(p, l.tuple, nil, b)
	b.Flush()
	l.n.linkBatches.Put(b)
}

// write hands one packet to the relay.
func (l *Link) write(b []byte) error {
	if l.closed.Load() {
		return errLinkClosed
	}
	l.send(b)
	return nil
}

// Close ends the link: later packets of either direction are dropped. A
// transport whose selected tuple it was stays open until its client
// moves to another tuple or consent expires. Safe to call twice.
func (l *Link) Close() error {
	l.closed.Store(true)
	return nil
}
