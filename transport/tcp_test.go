package transport

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// pipeTCP serves one end of a pipe as an accepted ICE-TCP connection of n
// and returns the other end and a channel closed when serveTCP closes the
// connection.
func pipeTCP(t *testing.T, n *Network) (net.Conn, <-chan struct{}) {
	t.Helper()
	server, client := net.Pipe()
	sc := &closeNotifyConn{Conn: server, closed: make(chan struct{})}
	n.startTCP(sc)
	t.Cleanup(func() { client.Close() })
	go func() { _, _ = io.Copy(io.Discard, client) }()
	return client, sc.closed
}

// closedWithin reports how long the connection took to close, failing the
// test after limit.
func closedWithin(t *testing.T, closed <-chan struct{}, start time.Time, limit time.Duration) time.Duration {
	t.Helper()
	select {
	case <-closed:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("ICE-TCP connection still open after %v", limit)
		return 0
	}
}

// TestTCPUnboundConnectionEndsAtBindDeadline: a connection that keeps
// sending STUN-looking frames but no valid check is closed when the bind
// timeout after its accept is over; each frame used to push the deadline
// back, so it could hold one of the tcpMaxConns slots forever.
func TestTCPUnboundConnectionEndsAtBindDeadline(t *testing.T) {
	n := fuzzNetwork(t)
	n.tcpBindTimeout = 400 * time.Millisecond
	client, closed := pipeTCP(t, n)
	check := frame(stunSeed(t, stun.NewUsername("nobody:x"), stun.NewShortTermIntegrity("pw"), stun.Fingerprint))
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				_ = client.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := client.Write(check); err != nil {
					return
				}
			}
		}
	}()
	if d := closedWithin(t, closed, start, 3*time.Second); d < 350*time.Millisecond {
		t.Fatalf("closed after %v, before the bind timeout", d)
	}
}

// TestTCPRefusedFramesClose: the frames the framing refuses close the
// connection at once, unread.
func TestTCPRefusedFramesClose(t *testing.T) {
	n := fuzzNetwork(t)
	check := frame(stunSeed(t, stun.NewUsername("nobody:x"), stun.NewShortTermIntegrity("pw"), stun.Fingerprint))
	for name, stream := range map[string][]byte{
		"64 KiB length":      append([]byte{0xff, 0xff}, check...),
		"4097 bytes":         append([]byte{0x10, 0x01}, make([]byte, 10)...),
		"empty frame":        {0, 0},
		"garbage":            append(bytes.Clone(check), frame([]byte{0x42, 0, 0, 0})...),
		"DTLS before ICE":    frame([]byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0}),
		"HTTP on the port":   []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"RTP before any ICE": append(bytes.Clone(check), frame([]byte{0x80, 0x60, 0, 1})...),
	} {
		t.Run(name, func(t *testing.T) {
			client, closed := pipeTCP(t, n)
			start := time.Now()
			_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
			_, _ = client.Write(stream)
			closedWithin(t, closed, start, 2*time.Second)
		})
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.tcpConns) != 0 {
		t.Fatalf("%d ICE-TCP connections left", len(n.tcpConns))
	}
}

// TestFrameReaderAllocs: reading frames allocates nothing, whatever the
// length prefixes say.
func TestFrameReaderAllocs(t *testing.T) {
	stream := bytes.Repeat(frame(bytes.Repeat([]byte{0x80}, 1200)), 4)
	stream = append(stream, frame(bytes.Repeat([]byte{0x01}, tcpMaxFrame))...)
	stream = append(stream, 0xff, 0xff, 0, 0, 0) // 64 KiB: refused
	r := bytes.NewReader(stream)
	fr := &frameReader{r: r}
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(stream)
		for {
			if _, err := fr.next(); err != nil {
				return
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per stream", allocs)
	}
}
