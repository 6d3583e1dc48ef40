package relay

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/gosoup/gosoup/internal/racebuild"
	"github.com/gosoup/gosoup/transport"
)

// echoSFU is a transport listener that sends every RTP packet back on its
// transport, through the batch as the SFU's forwarding does.
type echoSFU struct{}

func (echoSFU) OnRTP(t *transport.WebRTCTransport, pkt []byte, b *transport.Batch) {
	_ = t.WriteRTPBatch(pkt, b)
}
func (echoSFU) OnRTCP(*transport.WebRTCTransport, []byte)  {}
func (echoSFU) OnConnected(*transport.WebRTCTransport)     {}
func (echoSFU) OnClosed(*transport.WebRTCTransport, error) {}

// sfuFor returns a media network on 127.0.0.1 (one read loop), its
// address, and an allocation's relay socket of a server relaying only to
// it, in process when local, else through loopback sockets; the network
// has one transport echoing SRTP (NewConnectedForTest's fixed key) with
// the allocation.
func sfuFor(tb testing.TB, local bool) (*transport.Network, netip.AddrPort, *relayConn) {
	tb.Helper()
	n, err := transport.NewNetwork(transport.Config{ListenIP: "127.0.0.1", NoTCP: true, ReadLoops: 1})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	sfu := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.Port()))
	s := &Server{cfg: Config{
		RelayIP: netip.MustParseAddr("127.0.0.1"),
		Route:   func(a netip.AddrPort) (netip.AddrPort, bool) { return a, a == sfu },
	}, relays: map[string]*relayConn{}}
	if local {
		s.cfg.Local = MediaNetwork(n)
	}
	pc, _, err := (&relayGen{s}).AllocatePacketConn(allocUDP4)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	c := pc.(*relayConn)
	// Where the SFU sees the allocation's packets come from, either way.
	from := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(c.LocalAddr().(*net.UDPAddr).Port))
	if _, err := n.NewConnectedForTest(echoSFU{}, from); err != nil {
		tb.Fatal(err)
	}
	return n, sfu, c
}

// srtpClient encrypts 1200-byte RTP packets for sfuEcho's transport.
type srtpClient struct {
	ctx *srtp.Context
	hdr rtp.Header
	pkt []byte
	out []byte
}

func newSRTPClient(tb testing.TB) *srtpClient {
	ctx, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		tb.Fatal(err)
	}
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1234}
	head, _ := h.Marshal()
	return &srtpClient{ctx: ctx, pkt: append(head, make([]byte, 1200-len(head))...), out: make([]byte, 0, 1300)}
}

// next returns the next packet (sequence number seq), valid until the
// following call.
func (c *srtpClient) next(seq int) []byte {
	c.pkt[2], c.pkt[3] = byte(seq>>8), byte(seq)
	out, err := c.ctx.EncryptRTP(c.out[:0], c.pkt, &c.hdr)
	if err != nil {
		panic(err)
	}
	c.out = out[:0]
	return out
}

// BenchmarkAllocationToSFU is one SRTP packet of 1200 bytes relayed by an
// allocation to the SFU's media port and the SFU's answer relayed back,
// one at a time: the allocation's WriteTo (what pion calls for a
// client's ChannelData) to its ReadFrom (what pion's relay loop reads),
// in process or through loopback UDP sockets as before. Each op is one
// packet each way.
func BenchmarkAllocationToSFU(b *testing.B) {
	for _, tc := range []struct {
		name  string
		local bool
	}{{"in-process", true}, {"loopback", false}} {
		b.Run(tc.name, func(b *testing.B) {
			n, sfu, c := sfuFor(b, tc.local)
			cl := newSRTPClient(b)
			to := net.UDPAddrFromAddrPort(sfu)
			buf := make([]byte, 1600)
			b.SetBytes(2 * 1200)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := c.WriteTo(cl.next(i+1), to); err != nil {
					b.Fatal(err)
				}
				if !tc.local {
					_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				}
				if _, _, err := c.ReadFrom(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if got := n.PacketsReceived(); tc.local && got != 0 {
				b.Fatalf("the media socket read %d packets", got)
			}
		})
	}
}

// TestAllocationToSFUAllocatesNothing: in process, a relayed packet and
// the SFU's answer cost no allocation between pion's calls.
func TestAllocationToSFUAllocatesNothing(t *testing.T) {
	if racebuild.Enabled {
		t.Skip("the race detector's sync.Pool drops items: allocations differ")
	}
	_, sfu, c := sfuFor(t, true)
	cl := newSRTPClient(t)
	to := net.UDPAddrFromAddrPort(sfu)
	buf := make([]byte, 1600)
	seq := 0
	roundTrip := func() {
		seq++
		if _, err := c.WriteTo(cl.next(seq), to); err != nil {
			t.Fatal(err)
		}
		nr, from, err := c.ReadFrom(buf)
		if u, ok := from.(*net.UDPAddr); err != nil || nr != 1200+16 || !ok || u.AddrPort() != sfu {
			t.Fatalf("answer of %d bytes from %v: %v", nr, from, err)
		}
	}
	roundTrip()
	if a := testing.AllocsPerRun(200, roundTrip); a != 0 {
		t.Fatalf("%.1f allocations per round trip", a)
	}
	if got := c.s.counters.InProcessToClient.Load(); got != 202 || c.s.counters.SocketToClient.Load() != 0 {
		t.Fatalf("%d answers in process, %d by socket", got, c.s.counters.SocketToClient.Load())
	}
}

// BenchmarkClientToSFU is BenchmarkAllocationToSFU with pion's TURN
// server and a TURN client over UDP around it: what a relayed browser's
// packet costs end to end, each op one packet each way (pion's
// ChannelData handling allocates on its own).
func BenchmarkClientToSFU(b *testing.B) {
	for _, tc := range []struct {
		name  string
		local bool
	}{{"in-process", true}, {"loopback", false}} {
		b.Run(tc.name, func(b *testing.B) {
			n, err := transport.NewNetwork(transport.Config{ListenIP: "127.0.0.1", NoTCP: true, ReadLoops: 1})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { n.Close() })
			sfu := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.Port()))
			cfg := Config{
				PeerIP: func(a netip.Addr) bool { return a == sfu.Addr() },
				Route:  func(a netip.AddrPort) (netip.AddrPort, bool) { return a, a == sfu },
			}
			if tc.local {
				cfg.Local = MediaNetwork(n)
			}
			s, udpAddr, _ := startRelayConfig(b, cfg)
			user, pass := Credentials(testSecret, "bench", time.Minute, time.Now())
			relayed, err := turnClient(b, udpAddr, false, user, pass).Allocate()
			if err != nil {
				b.Fatal(err)
			}
			defer relayed.Close()
			if _, err := n.NewConnectedForTest(echoSFU{}, relayed.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
				b.Fatal(err)
			}
			cl := newSRTPClient(b)
			to := net.UDPAddrFromAddrPort(sfu)
			buf := make([]byte, 1600)
			b.SetBytes(2 * 1200)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := relayed.WriteTo(cl.next(i+1), to); err != nil {
					b.Fatal(err)
				}
				_ = relayed.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, _, err := relayed.ReadFrom(buf); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			c := s.Counters()
			if tc.local && (c.InProcessToClient.Load() < uint64(b.N) || n.PacketsReceived() != 0) {
				b.Fatalf("%d of %d answers in process, %d packets on the media socket", c.InProcessToClient.Load(), b.N, n.PacketsReceived())
			}
		})
	}
}
