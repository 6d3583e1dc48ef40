package relay

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"
)

const testSecret = "test-turn-secret"

// startRelay starts a Server on UDP and TCP (through a Mux) of 127.0.0.1
// that relays only to peer; it returns the server and its UDP and TCP
// addresses.
func startRelay(t testing.TB, peer netip.AddrPort, perSource int) (*Server, string, string) {
	t.Helper()
	return startRelayConfig(t, Config{
		PeerIP:               func(a netip.Addr) bool { return a == peer.Addr() },
		Route:                func(a netip.AddrPort) (netip.AddrPort, bool) { return a, a == peer },
		AllocationsPerSource: perSource,
	})
}

// startRelayConfig starts a Server of cfg (its peer policy, limits and
// Local) on UDP and TCP of 127.0.0.1, relayed addresses on 127.0.0.1.
func startRelayConfig(t testing.TB, cfg Config) (*Server, string, string) {
	t.Helper()
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := newMux(t, nil, time.Second)
	cfg.Secret, cfg.UDP, cfg.Listener, cfg.RelayIP = testSecret, udp, m.TURN(), netip.MustParseAddr("127.0.0.1")
	cfg.LimitLoopback, cfg.Logger = true, slog.New(slog.DiscardHandler)
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, udp.LocalAddr().String(), m.TURN().Addr().String()
}

// echoPeer is a UDP socket (the SFU's place) that answers every datagram
// with "echo:" and it.
func echoPeer(t testing.TB) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP(append([]byte("echo:"), buf[:n]...), from)
		}
	}()
	return c
}

// turnClient connects a pion/turn client over UDP, or over TCP when tcp.
func turnClient(t testing.TB, server string, tcp bool, user, pass string) *turn.Client {
	t.Helper()
	var conn net.PacketConn
	if tcp {
		c, err := net.Dial("tcp", server)
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	cl, err := turn.NewClient(&turn.ClientConfig{
		TURNServerAddr: server, STUNServerAddr: server, Conn: conn, Username: user, Password: pass,
		RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); conn.Close() })
	return cl
}

func TestRelayToPeerOverUDPAndTCP(t *testing.T) {
	peer := echoPeer(t)
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	s, udpAddr, tcpAddr := startRelay(t, peerAddr, 0)
	for _, tc := range []struct {
		name string
		addr string
		tcp  bool
	}{{"udp", udpAddr, false}, {"tcp", tcpAddr, true}} {
		t.Run(tc.name, func(t *testing.T) {
			user, pass := Credentials(testSecret, "alice", time.Minute, time.Now())
			cl := turnClient(t, tc.addr, tc.tcp, user, pass)
			relayed, err := cl.Allocate()
			if err != nil {
				t.Fatalf("Allocate with valid credentials: %v", err)
			}
			defer relayed.Close()
			if _, err := relayed.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			_ = relayed.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 100)
			n, from, err := relayed.ReadFrom(buf)
			if err != nil {
				t.Fatalf("no answer through the relay: %v", err)
			}
			if string(buf[:n]) != "echo:hello" || from.String() != peer.LocalAddr().String() {
				t.Fatalf("got %q from %v", buf[:n], from)
			}
		})
	}
	// 5 bytes out and 10 back over each transport.
	// (The relay counts after its writes return: the echo may be faster.)
	c := s.Counters()
	for end := time.Now().Add(2 * time.Second); c.BytesToPeer.Load() != 10 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if c.AllocationsTotal.Load() != 2 || c.BytesToPeer.Load() != 10 || c.BytesToClient.Load() != 20 || c.BytesOverTCP.Load() != 15 {
		t.Fatalf("counters: allocations %d, to peer %d B, to client %d B, over TCP %d B",
			c.AllocationsTotal.Load(), c.BytesToPeer.Load(), c.BytesToClient.Load(), c.BytesOverTCP.Load())
	}
}

func TestAllocationWithoutValidCredentialsRefused(t *testing.T) {
	peer := echoPeer(t)
	s, udpAddr, tcpAddr := startRelay(t, peer.LocalAddr().(*net.UDPAddr).AddrPort(), 0)
	now := time.Now()
	goodUser, _ := Credentials(testSecret, "bob", time.Minute, now)
	expUser, expPass := Credentials(testSecret, "bob", -time.Minute, now)
	otherUser, otherPass := Credentials("another-secret", "bob", time.Minute, now)
	for _, tc := range []struct{ name, addr, user, pass string }{
		{"wrong password", udpAddr, goodUser, "not-the-password"},
		{"expired", udpAddr, expUser, expPass},
		{"other secret", udpAddr, otherUser, otherPass},
		{"not REST", udpAddr, "bob", "x"},
		{"wrong password over TCP", tcpAddr, goodUser, "not-the-password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := turnClient(t, tc.addr, strings.HasSuffix(tc.name, "TCP"), tc.user, tc.pass)
			if relayed, err := cl.Allocate(); err == nil {
				relayed.Close()
				t.Fatal("allocation granted")
			} else if !strings.Contains(err.Error(), "401") && !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
				t.Fatalf("refused with %v, want 401", err)
			}
		})
	}
	if n := s.Counters().AuthFailures.Load(); n < 5 {
		t.Fatalf("auth failures counted: %d, want ≥ 5", n)
	}
	if n := s.Counters().AllocationsTotal.Load(); n != 0 {
		t.Fatalf("%d allocations made", n)
	}
}

func TestPeerOutsidePolicyRefused(t *testing.T) {
	peer := echoPeer(t)
	other := echoPeer(t)
	_, udpAddr, _ := startRelay(t, peer.LocalAddr().(*net.UDPAddr).AddrPort(), 0)
	user, pass := Credentials(testSecret, "eve", time.Minute, time.Now())
	cl := turnClient(t, udpAddr, false, user, pass)
	relayed, err := cl.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relayed.Close()
	// Same IP, another port: permitted IP, but Route drops it.
	relayed.WriteTo([]byte("hi"), other.LocalAddr())
	_ = relayed.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, from, err := relayed.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("%d bytes came back from %v, a peer outside the policy", n, from)
	}
	// Another IP: no permission.
	if err := cl.CreatePermission(&net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9}); err == nil {
		t.Fatal("permission for a peer outside the policy granted")
	}
}

func TestAllocationsPerSource(t *testing.T) {
	peer := echoPeer(t)
	s, udpAddr, _ := startRelay(t, peer.LocalAddr().(*net.UDPAddr).AddrPort(), 2)
	user, pass := Credentials(testSecret, "carol", time.Minute, time.Now())
	for i := range 2 {
		if _, err := turnClient(t, udpAddr, false, user, pass).Allocate(); err != nil {
			t.Fatalf("allocation %d: %v", i+1, err)
		}
	}
	_, err := turnClient(t, udpAddr, false, user, pass).Allocate()
	if err == nil || !strings.Contains(err.Error(), "486") {
		t.Fatalf("third allocation: %v, want 486", err)
	}
	if n := s.Counters().RefusedAllocations.Load(); n != 1 {
		t.Fatalf("refused allocations counted: %d", n)
	}
}

// BenchmarkRelayRoundTrip sends 1200-byte packets through a UDP allocation
// to an echo peer and back (the loopback path media takes through the
// built-in TURN server), one at a time; BenchmarkDirectRoundTrip is the
// same exchange without the relay.
func BenchmarkRelayRoundTrip(b *testing.B) {
	peer := echoPeer(b)
	_, udpAddr, _ := startRelay(b, peer.LocalAddr().(*net.UDPAddr).AddrPort(), 0)
	user, pass := Credentials(testSecret, "bench", time.Minute, time.Now())
	relayed, err := turnClient(b, udpAddr, false, user, pass).Allocate()
	if err != nil {
		b.Fatal(err)
	}
	defer relayed.Close()
	roundTrips(b, relayed, peer.LocalAddr())
}

func BenchmarkDirectRoundTrip(b *testing.B) {
	peer := echoPeer(b)
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	roundTrips(b, c, peer.LocalAddr())
}

func roundTrips(b *testing.B, c net.PacketConn, to net.Addr) {
	pkt := make([]byte, 1200)
	buf := make([]byte, 1500)
	b.SetBytes(int64(2 * len(pkt)))
	b.ResetTimer()
	for range b.N {
		if _, err := c.WriteTo(pkt, to); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := c.ReadFrom(buf); err != nil {
			b.Fatal(err)
		}
	}
}
