package transport

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
)

// A Network reads its UDP port with one or more sockets bound to the same
// port (SO_REUSEPORT on Linux), each with its own read goroutine and send
// batch, so that receiving, decrypting, forwarding and encrypting spread
// over the machine's cores. The kernel picks a socket by hashing a
// datagram's 4-tuple, so one client's packets always reach the same loop
// and stay in order; a transport's packets are still decrypted one at a
// time (its receive lock), and what a producer forwards is written by the
// loop that received it. Any socket can send for any transport: they share
// the port.

// readLoops is how many read sockets cfg asks for: ReadLoops, else one per
// core (GOMAXPROCS).
func readLoops(cfg Config) int {
	if cfg.ReadLoops > 0 {
		return cfg.ReadLoops
	}
	return runtime.GOMAXPROCS(0)
}

// openReaders binds want-1 more sockets on the port of first (which was
// bound with SO_REUSEPORT) and returns all of them; when the platform or
// the kernel refuses, fewer (at least first).
func openReaders(first *net.UDPConn, want int) ([]*net.UDPConn, error) {
	conns := []*net.UDPConn{first}
	addr := first.LocalAddr().(*net.UDPAddr).AddrPort()
	var err error
	for len(conns) < want {
		var c *net.UDPConn
		if c, err = listenUDPReusePort(addr); err != nil {
			break
		}
		conns = append(conns, c)
	}
	return conns, err
}

// startReaders starts one read loop per socket; n.done closes when all
// have ended (their sockets closed).
func (n *Network) startReaders() {
	n.loops = make([]loopStats, len(n.conns))
	n.readers.Add(len(n.conns))
	for i, c := range n.conns {
		go n.readLoop(c, n.newBatchOn(c), &n.loops[i])
	}
	go func() {
		n.readers.Wait()
		close(n.done)
	}()
}

// readLoop reads every datagram of one socket and demultiplexes it
// (RFC 7983): STUN to the ICE responder, DTLS to the transport's DTLS
// connection, SRTP/SRTCP to the transport's decrypt path; what forwarding
// writes in reaction goes out in one sendmmsg after each datagram.
func (n *Network) readLoop(conn *net.UDPConn, batch *Batch, st *loopStats) {
	defer n.readers.Done()
	buf := make([]byte, 1500+64)
	oob := make([]byte, oobSize)
	for {
		var (
			nr, noob int
			addr     netip.AddrPort
			local    netip.Addr
			err      error
		)
		if n.pktinfo {
			nr, noob, _, addr, err = conn.ReadMsgUDPAddrPort(buf, oob)
			if err == nil {
				local = parsePktinfo(oob[:noob])
			}
		} else {
			nr, addr, err = conn.ReadFromUDPAddrPort(buf)
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		st.packets.Add(1)
		if nr == 0 {
			continue
		}
		pkt := buf[:nr]
		addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
		n.demux(pkt, Tuple{Remote: addr, Local: local}, nil, batch)
		batch.Flush()
	}
}

// loopStats are one read loop's counters, padded to a cache line of their
// own so that loops on different cores do not contend.
type loopStats struct {
	packets atomic.Uint64
	_       [56]byte
}

// ReadLoops returns how many sockets and read goroutines serve the port.
func (n *Network) ReadLoops() int { return len(n.conns) }

// PacketsPerLoop returns how many datagrams each read loop has read.
func (n *Network) PacketsPerLoop() []uint64 {
	out := make([]uint64, len(n.loops))
	for i := range n.loops {
		out[i] = n.loops[i].packets.Load()
	}
	return out
}

// PacketsReceived counts the datagrams read from the port.
func (n *Network) PacketsReceived() uint64 {
	var sum uint64
	for i := range n.loops {
		sum += n.loops[i].packets.Load()
	}
	return sum
}
