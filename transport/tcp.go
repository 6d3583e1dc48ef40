package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ICE-TCP limits.
const (
	tcpMaxFrame     = 4096             // larger RFC 4571 frames close the connection
	tcpBindTimeout  = 10 * time.Second // from accept to a valid ICE check
	tcpIdleTimeout  = 60 * time.Second
	tcpWriteTimeout = 5 * time.Second
	tcpMaxConns     = 4096
)

// tcpConn is one passive ICE-TCP connection (RFC 6544) carrying RFC 4571
// framed STUN, DTLS and SRTP for one transport.
type tcpConn struct {
	n      *Network
	c      net.Conn
	remote netip.AddrPort
	slot   netip.Addr // per-source slot to release (sourceLimiter.acquireTCP)
	t      atomic.Pointer[WebRTCTransport]

	wmu  sync.Mutex
	wbuf []byte
}

func (c *tcpConn) write(b []byte) error {
	if len(b) > 0xffff {
		return errors.New("packet too large for RFC 4571 framing")
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf = append(binary.BigEndian.AppendUint16(c.wbuf[:0], uint16(len(b))), b...)
	_ = c.c.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
	_, err := c.c.Write(c.wbuf)
	return err
}

// bind ties the connection to the transport its first valid check named;
// the connection closes with the transport.
func (c *tcpConn) bind(t *WebRTCTransport) {
	if c.t.CompareAndSwap(nil, t) {
		go func() {
			<-t.Done()
			c.c.Close()
		}()
	}
}

func (n *Network) acceptTCP(l net.Listener) {
	defer n.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		n.startTCP(c)
	}
}

// startTCP serves an accepted ICE-TCP connection on its own goroutine; it
// closes c instead when its source has SourceLimits.TCPConns connections
// open (counted), or the network is closed or has tcpMaxConns connections
// already.
func (n *Network) startTCP(c net.Conn) {
	ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	remote := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	slot, ok := n.lim.acquireTCP(remote.Addr())
	if !ok {
		n.lim.counters.TCPConns.Add(1)
		n.log.Debug("ICE-TCP connection refused: too many from its source", "remote", remote)
		c.Close()
		return
	}
	n.mu.Lock()
	if n.closed || len(n.tcpConns) >= tcpMaxConns {
		n.mu.Unlock()
		n.lim.releaseTCP(slot)
		c.Close()
		return
	}
	tc := &tcpConn{n: n, c: c, remote: remote, slot: slot}
	n.tcpConns[tc] = struct{}{}
	n.wg.Add(1)
	n.mu.Unlock()
	go n.serveTCP(tc)
}

// Why frameReader.next ends a connection.
var (
	errFrameSize = errors.New("RFC 4571 frame empty or over 4096 bytes")
	errFrameKind = errors.New("RFC 4571 frame is neither STUN, DTLS nor RTP/RTCP")
)

// frameReader reads the RFC 4571 frames of an ICE-TCP connection into one
// buffer of tcpMaxFrame bytes, allocated with it: a length prefix of up to
// 64 KiB never makes it read or allocate more.
type frameReader struct {
	r   io.Reader
	hdr [2]byte
	buf [tcpMaxFrame]byte
}

// next returns the next frame, valid until the following call. It fails
// with io.EOF at the end of the stream between frames, io.ErrUnexpectedEOF
// inside one, errFrameSize for an empty frame or one over tcpMaxFrame
// (without reading it), errFrameKind for a frame that none of the RFC 7983
// ranges the network demultiplexes claims (the stream is garbage or out of
// step), and the reader's error otherwise.
func (fr *frameReader) next() ([]byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(fr.hdr[:]))
	if size == 0 || size > len(fr.buf) {
		return nil, errFrameSize
	}
	if _, err := io.ReadFull(fr.r, fr.buf[:size]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if !demuxable(fr.buf[0]) {
		return nil, errFrameKind
	}
	return fr.buf[:size], nil
}

// demuxable reports whether a packet starting with b is one the network
// handles (RFC 7983): STUN, DTLS, or RTP/RTCP.
func demuxable(b byte) bool { return b < 4 || (b >= 20 && b < 64) || (b >= 128 && b < 192) }

// serveTCP reads the frames of one ICE-TCP connection until it ends: at
// the client's close, at a frame the framing refuses (frameReader.next),
// at a first frame that is no STUN message, when no valid ICE check bound
// it the bind timeout after it was accepted (however much else it sent:
// Config.TCPBindTimeout, counted in LimitCounters.TCPIdle), or
// after tcpIdleTimeout of silence once bound.
func (n *Network) serveTCP(tc *tcpConn) {
	defer n.wg.Done()
	defer func() {
		tc.c.Close()
		n.mu.Lock()
		delete(n.tcpConns, tc)
		n.mu.Unlock()
		n.lim.releaseTCP(tc.slot)
		if t := tc.t.Load(); t != nil {
			if cur, ok := t.selectedTuple(); ok && cur.tcp == tc {
				t.closeWith(errors.New("ICE-TCP connection closed by the client"))
			}
		}
	}()
	fr := &frameReader{r: tc.c}
	bindBy := time.Now().Add(n.tcpBindTimeout)
	for {
		deadline := bindBy
		if tc.t.Load() != nil {
			deadline = time.Now().Add(tcpIdleTimeout)
		}
		_ = tc.c.SetReadDeadline(deadline)
		frame, err := fr.next()
		if err != nil {
			if tc.t.Load() == nil && errors.Is(err, os.ErrDeadlineExceeded) {
				n.lim.counters.TCPIdle.Add(1)
			}
			return
		}
		t := tc.t.Load()
		if t == nil && frame[0] >= 4 {
			return // the first frames must be ICE checks
		}
		n.demux(frame, Tuple{Remote: tc.remote, tcp: tc}, t, nil)
	}
}
