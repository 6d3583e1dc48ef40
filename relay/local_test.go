package relay

import (
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

// allocUDP4 asks a relayGen for an IPv4 relay socket.
var allocUDP4 = turn.AllocateListenerConfig{Network: "udp4"}

// echoLocal is an in-process peer on one address: it answers every packet
// with "echo:" and it, from inside Receive.
type echoLocal struct {
	addr netip.AddrPort

	mu     sync.Mutex
	froms  []netip.AddrPort // each path's relayed address
	closed int
}

func (e *echoLocal) Open(from, to netip.AddrPort, reply func([]byte)) (LocalPath, bool) {
	if to != e.addr {
		return nil, false
	}
	e.mu.Lock()
	e.froms = append(e.froms, from)
	e.mu.Unlock()
	return &echoPath{e: e, reply: reply}, true
}

func (e *echoLocal) state() ([]netip.AddrPort, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]netip.AddrPort(nil), e.froms...), e.closed
}

type echoPath struct {
	e     *echoLocal
	reply func([]byte)
	buf   [1600]byte
}

func (p *echoPath) Receive(pkt []byte) {
	n := copy(p.buf[:], "echo:")
	n += copy(p.buf[n:], pkt)
	p.reply(p.buf[:n])
}

func (p *echoPath) Close() error {
	p.e.mu.Lock()
	p.e.closed++
	p.e.mu.Unlock()
	return nil
}

// TestLocalPeerInProcess: with a Local, what a client relays to one of its
// addresses reaches it without a socket and its answer comes back from
// that address; a peer that is not local is still reached through the
// allocation's socket, in the same allocation; the paths close with their
// allocation and every goroutine ends with the server.
func TestLocalPeerInProcess(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() { // after the others: server, sockets, clients closed
		for end := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > base && time.Now().Before(end); {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > base {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines after close, %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
		}
	})
	sock := echoPeer(t)
	sockAddr := sock.LocalAddr().(*net.UDPAddr).AddrPort()
	local := &echoLocal{addr: netip.MustParseAddrPort("127.0.0.1:9")} // no socket there
	s, udpAddr, tcpAddr := startRelayConfig(t, Config{
		PeerIP: func(a netip.Addr) bool { return a.IsLoopback() },
		Route: func(a netip.AddrPort) (netip.AddrPort, bool) {
			return a, a == sockAddr || a == local.addr
		},
		Local: local,
	})
	user, pass := Credentials(testSecret, "alice", time.Minute, time.Now())
	ask := func(t *testing.T, c net.PacketConn, msg string, to netip.AddrPort) {
		t.Helper()
		if _, err := c.WriteTo([]byte(msg), net.UDPAddrFromAddrPort(to)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 100)
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no answer from %v: %v", to, err)
		}
		if string(buf[:n]) != "echo:"+msg || from.String() != to.String() {
			t.Fatalf("asked %v, got %q from %v", to, buf[:n], from)
		}
	}
	var relayedAddrs []netip.AddrPort
	for _, tc := range []struct {
		name, addr string
		tcp        bool
	}{{"udp", udpAddr, false}, {"tcp", tcpAddr, true}} {
		t.Run(tc.name, func(t *testing.T) {
			cl := turnClient(t, tc.addr, tc.tcp, user, pass)
			relayed, err := cl.Allocate()
			if err != nil {
				t.Fatal(err)
			}
			relayedAddrs = append(relayedAddrs, relayed.LocalAddr().(*net.UDPAddr).AddrPort())
			ask(t, relayed, "in process", local.addr)
			ask(t, relayed, "by socket", sockAddr)
			ask(t, relayed, "in process again", local.addr)
			relayed.Close() // deletes the allocation
		})
	}
	c := s.Counters()
	if in, out := c.InProcessToPeer.Load(), c.InProcessToClient.Load(); in != 4 || out != 4 {
		t.Errorf("in process: %d packets to the peer, %d back; want 4 and 4", in, out)
	}
	// The echo socket's answer may still be counted after the client read it.
	for end := time.Now().Add(2 * time.Second); c.SocketToPeer.Load() != 2 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if in, out := c.SocketToPeer.Load(), c.SocketToClient.Load(); in != 2 || out != 2 {
		t.Errorf("by socket: %d packets to the peer, %d back; want 2 and 2", in, out)
	}
	if got := c.BytesToPeer.Load(); got != 2*uint64(len("in process")+len("by socket")+len("in process again")) {
		t.Errorf("bytes to peer: %d", got)
	}
	var froms []netip.AddrPort
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var closed int
		if froms, closed = local.state(); closed == 2 {
			break
		}
	}
	if froms, closed := local.state(); closed != 2 || len(froms) != 2 {
		t.Fatalf("paths opened from %v, %d closed; want 2 and 2", froms, closed)
	}
	for i, f := range froms {
		if f != relayedAddrs[i] {
			t.Errorf("path %d comes from %v, want the relayed address %v", i, f, relayedAddrs[i])
		}
	}
}

// TestLocalQueueFull: what the local peer sends while the allocation's
// queue is full is dropped and counted, not blocked on.
func TestLocalQueueFull(t *testing.T) {
	s := &Server{cfg: Config{Local: &echoLocal{}}, relays: map[string]*relayConn{}}
	pc, _, err := (&relayGen{s}).AllocatePacketConn(allocUDP4)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l := &localLink{c: pc.(*relayConn), named: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}}
	for range queueLen + 10 {
		l.reply([]byte("x"))
	}
	l.reply(make([]byte, 2000))
	if got := s.counters.InProcessDropped.Load(); got != 11 {
		t.Fatalf("%d packets dropped, want 11", got)
	}
	buf := make([]byte, 1600)
	if n, from, err := pc.ReadFrom(buf); err != nil || string(buf[:n]) != "x" || from.String() != "127.0.0.1:9" {
		t.Fatalf("read %q from %v: %v", buf[:n], from, err)
	}
	pc.Close()
	l.reply([]byte("after close")) // dropped silently
	for {
		if _, _, err := pc.ReadFrom(buf); err != nil {
			break // the queued packets may come first
		}
	}
}
