package transport

import (
	"net"
	"os"
	"sync"
	"time"
)

// dtlsPacketConn is the net.PacketConn pion/dtls runs on: it reads the DTLS
// records the network demultiplexed to one transport and writes to the
// transport's selected ICE tuple on the shared socket.
type dtlsPacketConn struct {
	t    *WebRTCTransport
	in   chan []byte
	done chan struct{}
	once sync.Once

	mu       sync.Mutex
	deadline time.Time
	wake     chan struct{}
}

// dtlsQueue is how many DTLS records wait for the handshake's reader: a
// flight is at most a handful of records, and a record dropped on a full
// queue is retransmitted (the queue's slots cost memory per transport).
const dtlsQueue = 16

func newDTLSPacketConn(t *WebRTCTransport) *dtlsPacketConn {
	return &dtlsPacketConn{t: t, in: make(chan []byte, dtlsQueue), done: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// push queues a copy of a DTLS record; it drops it if the queue is full
// (DTLS retransmits).
func (c *dtlsPacketConn) push(b []byte) {
	select {
	case c.in <- append([]byte(nil), b...):
	default:
	}
}

func (c *dtlsPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		dl := c.deadline
		c.mu.Unlock()
		var timer <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return 0, nil, os.ErrDeadlineExceeded
			}
			tm := time.NewTimer(d)
			defer tm.Stop()
			timer = tm.C
		}
		select {
		case b := <-c.in:
			return copy(p, b), c.t.remoteNetAddr(), nil
		case <-c.done:
			return 0, nil, net.ErrClosed
		case <-c.wake:
		case <-timer:
			return 0, nil, os.ErrDeadlineExceeded
		}
	}
}

func (c *dtlsPacketConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, net.ErrClosed
	default:
	}
	tp, ok := c.t.selectedTuple()
	if !ok {
		return 0, net.ErrClosed
	}
	if err := c.t.net.write(tp, p); err != nil {
		return 0, err
	}
	c.t.bytesSent.Add(uint64(len(p)))
	return len(p), nil
}

func (c *dtlsPacketConn) Close() error {
	c.once.Do(func() { close(c.done) })
	return nil
}

func (c *dtlsPacketConn) LocalAddr() net.Addr { return c.t.net.conn.LocalAddr() }

func (c *dtlsPacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *dtlsPacketConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }
