package transport

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// ICE-TCP limits.
const (
	tcpMaxFrame     = 4096             // larger RFC 4571 frames close the connection
	tcpBindTimeout  = 10 * time.Second // time to send a valid ICE check
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
		n.mu.Lock()
		if n.closed || len(n.tcpConns) >= tcpMaxConns {
			n.mu.Unlock()
			c.Close()
			continue
		}
		ap, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		tc := &tcpConn{n: n, c: c, remote: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}
		n.tcpConns[tc] = struct{}{}
		n.wg.Add(1)
		n.mu.Unlock()
		go n.serveTCP(tc)
	}
}

func (n *Network) serveTCP(tc *tcpConn) {
	defer n.wg.Done()
	defer func() {
		tc.c.Close()
		n.mu.Lock()
		delete(n.tcpConns, tc)
		n.mu.Unlock()
		if t := tc.t.Load(); t != nil {
			if cur, ok := t.selectedTuple(); ok && cur.tcp == tc {
				t.closeWith(errors.New("ICE-TCP connection closed by the client"))
			}
		}
	}()
	var hdr [2]byte
	buf := make([]byte, tcpMaxFrame)
	for {
		timeout := tcpIdleTimeout
		if tc.t.Load() == nil {
			timeout = tcpBindTimeout
		}
		_ = tc.c.SetReadDeadline(time.Now().Add(timeout))
		if _, err := io.ReadFull(tc.c, hdr[:]); err != nil {
			return
		}
		size := int(binary.BigEndian.Uint16(hdr[:]))
		if size == 0 || size > tcpMaxFrame {
			return
		}
		if _, err := io.ReadFull(tc.c, buf[:size]); err != nil {
			return
		}
		t := tc.t.Load()
		if t == nil && buf[0] >= 4 {
			return // the first frame must be an ICE check
		}
		n.demux(buf[:size], Tuple{Remote: tc.remote, tcp: tc}, t)
	}
}
