package integration

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/transport"
)

// The server's bind deadline for ICE-TCP connections (transport's
// tcpBindTimeout: from accept to a valid ICE check).
const mpTCPBindTimeout = 10 * time.Second

// mediaPort is the state the hostile media-port suite shares: the server,
// a victim pair whose media is counted as it arrives, and the attacks'
// leftovers that must disappear later.
type mediaPort struct {
	t    *testing.T
	g    *gosoup
	port int
	v    *videoPair

	received atomic.Int64 // RTP packets read at bob's pion receiver

	victimSend, victimRecv *transport.WebRTCTransport
	sendTuple, recvTuple   transport.Tuple
	sendUfrag, recvUfrag   string

	baseGoroutines int

	eve *net.UDPConn // a hostile peer's ICE-bound socket (dtls cases), reused by the media cases

	mu        sync.Mutex
	lingering []lingerer // ICE-TCP connections the server must close at its bind deadline
}

type lingerer struct {
	name   string
	c      net.Conn
	dialed time.Time
}

// TestMediaPortHostile: hostile traffic on the shared media port (UDP and
// ICE-TCP) from addresses that are not the victim's: nothing gets in (no
// answer where none is due, the victim's tuples never move) and nothing
// breaks (the victim's media keeps arriving, goroutines stay bounded,
// lingering ICE-TCP connections close at the bind deadline).
func TestMediaPortHostile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// With port 0 the server picks a free UDP port and then listens for
	// ICE-TCP on the same number, which another socket may hold (the
	// server then runs without ICE-TCP and says so in a warning): take a
	// server whose ICE-TCP listener is up.
	var g *gosoup
	for try := 0; ; try++ {
		g = startGosoup(t)
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", g.SFU.RTCPort()), 5*time.Second)
		if err == nil {
			c.Close()
			break
		}
		if try == 4 {
			t.Fatalf("no server with ICE-TCP: %v", err)
		}
		t.Logf("ICE-TCP off on port %d (%v); starting another server", g.SFU.RTCPort(), err)
	}
	m := &mediaPort{t: t, g: g, port: g.SFU.RTCPort()}
	m.v = startVideoPair(ctx, t, g, "mp")
	m.startMeter()
	m.waitFlow(t, "before any attack")
	room, err := g.SFU.Room("mp")
	if err != nil {
		t.Fatal(err)
	}
	m.victimSend = room.PeerByName("alice").TransportByID(m.v.send.ID).WebRTC()
	m.victimRecv = room.PeerByName("bob").TransportByID(m.v.recv.ID).WebRTC()
	var ok1, ok2 bool
	m.sendTuple, ok1 = m.victimSend.SelectedTuple()
	m.recvTuple, ok2 = m.victimRecv.SelectedTuple()
	if !ok1 || !ok2 || !m.victimSend.Connected() || !m.victimRecv.Connected() {
		t.Fatal("victim transports not connected")
	}
	m.sendUfrag = m.victimSend.ICEParameters().UsernameFragment
	m.recvUfrag = m.victimRecv.ICEParameters().UsernameFragment
	time.Sleep(200 * time.Millisecond)
	m.baseGoroutines = runtime.NumGoroutine()

	cases := m.cases(ctx)
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		if !t.Run(c.name, func(t *testing.T) {
			c.run(t)
			m.healthy(t)
		}) {
			// Keep going: every attack is independent.
			continue
		}
	}
	t.Logf("%d attacks on the media port; victim received %d packets in all", len(cases), m.received.Load())
}

type mpCase struct {
	name string
	run  func(t *testing.T)
}

// startMeter counts bob's packets as they arrive, so that a check after an
// attack sees fresh packets, not ones buffered before it.
func (m *mediaPort) startMeter() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := m.v.cons.ReadRTP(time.Now().Add(200 * time.Millisecond)); err == nil {
				m.received.Add(1)
			}
		}
	}()
	m.t.Cleanup(func() { close(stop); <-done })
}

// waitFlow waits for 20 fresh victim packets within 5 s.
func (m *mediaPort) waitFlow(t *testing.T, when string) {
	t.Helper()
	start := m.received.Load()
	deadline := time.Now().Add(5 * time.Second)
	for m.received.Load() < start+20 {
		if time.Now().After(deadline) {
			t.Fatalf("victim media stopped %s: %d packets in 5 s", when, m.received.Load()-start)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// healthy: the victim's media flows, its transports are connected on the
// tuples they had, and goroutines are bounded (one per ICE-TCP connection
// still lingering, plus slack).
func (m *mediaPort) healthy(t *testing.T) {
	t.Helper()
	m.waitFlow(t, "after the attack")
	for _, x := range []struct {
		name  string
		wt    *transport.WebRTCTransport
		tuple transport.Tuple
	}{{"alice's send transport", m.victimSend, m.sendTuple}, {"bob's recv transport", m.victimRecv, m.recvTuple}} {
		if !x.wt.Connected() || x.wt.DTLSState() != "connected" {
			t.Fatalf("%s: connected=%v dtls=%s", x.name, x.wt.Connected(), x.wt.DTLSState())
		}
		if tp, ok := x.wt.SelectedTuple(); !ok || tp != x.tuple {
			t.Fatalf("%s: selected tuple moved from %v to %v", x.name, x.tuple.Remote, tp.Remote)
		}
	}
	if s := m.v.recv.DTLSState(); s != webrtc.DTLSTransportStateConnected {
		t.Fatalf("bob's client DTLS state %s", s)
	}
	m.mu.Lock()
	bound := m.baseGoroutines + 2*len(m.lingering) + 150
	m.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, bound %d (baseline %d)", n, bound, m.baseGoroutines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- UDP helpers ---

func (m *mediaPort) udpAddr() *net.UDPAddr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: m.port}
}

// dial opens a fresh UDP socket on 127.0.0.1 connected to the media port.
func (m *mediaPort) dial(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, m.udpAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendFresh sends pkts from one fresh socket and returns it.
func (m *mediaPort) sendFresh(t *testing.T, pkts ...[]byte) *net.UDPConn {
	t.Helper()
	c := m.dial(t)
	for i, p := range pkts {
		if _, err := c.Write(p); err != nil && len(p) <= 65507 {
			t.Fatalf("write %d (%d bytes): %v", i, len(p), err)
		}
		if i%200 == 199 {
			time.Sleep(time.Millisecond) // stay under the socket buffers
		}
	}
	return c
}

// cases lists the attacks in the order they run: ICE-TCP first (what
// lingers until the bind deadline overlaps the rest), the check that it was
// closed last.
func (m *mediaPort) cases(ctx context.Context) []mpCase {
	var cs []mpCase
	add := func(name string, run func(t *testing.T)) { cs = append(cs, mpCase{name, run}) }
	m.tcpCases(add)
	m.stunCases(add)
	m.dtlsCases(ctx, add)
	m.mediaCases(add)
	return cs
}

// mpQuiet is how long a case waits for an answer that must not come.
const mpQuiet = 250 * time.Millisecond

// victim is a USERNAME naming the victim's send transport.
func (m *mediaPort) victim() string { return m.sendUfrag + ":atk0" }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
