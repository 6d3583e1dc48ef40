package transport

import (
	"bytes"
	"net/netip"
	"sync"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"

	"github.com/gosoup/gosoup/internal/racebuild"
)

// echoListener sends every RTP packet back on its transport, through the
// batch as forwarding does.
type echoListener struct {
	recordingListener
	mu  sync.Mutex
	rtp int
}

func (l *echoListener) OnRTP(t *WebRTCTransport, pkt []byte, b *Batch) {
	l.mu.Lock()
	l.rtp++
	l.mu.Unlock()
	_ = t.WriteRTPBatch(pkt, b)
}

func (l *echoListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rtp
}

// linkSink keeps what the network sends through a link, copied into one
// buffer (no allocation).
type linkSink struct {
	mu  sync.Mutex
	n   int
	buf [1600]byte
	len int
}

func (s *linkSink) send(b []byte) {
	s.mu.Lock()
	s.n++
	s.len = copy(s.buf[:], b)
	s.mu.Unlock()
}

func (s *linkSink) last() (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n, append([]byte(nil), s.buf[:s.len]...)
}

// testSRTP is the fixed-key context of NewConnectedForTest's peer.
func testSRTP(t testing.TB) *srtp.Context {
	t.Helper()
	c, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestOpenLinkRefusesOtherAddresses(t *testing.T) {
	n := newTestNetwork(t, 0)
	remote := netip.MustParseAddrPort("192.0.2.7:50000")
	own := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.Port()))
	send := func([]byte) {}
	for _, tc := range []struct {
		name          string
		remote, local netip.AddrPort
		send          func([]byte)
	}{
		{"other port", remote, netip.AddrPortFrom(own.Addr(), own.Port()+1), send},
		{"other address", remote, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), own.Port()), send},
		{"IPv6 on an IPv4 socket", remote, netip.AddrPortFrom(netip.IPv6Loopback(), own.Port()), send},
		{"no remote port", netip.AddrPortFrom(remote.Addr(), 0), own, send},
		{"no send function", remote, own, nil},
	} {
		if _, err := n.OpenLink(tc.remote, tc.local, tc.send); err == nil {
			t.Errorf("%s: link opened", tc.name)
		}
	}
	if _, err := n.OpenLink(remote, own, send); err != nil {
		t.Fatalf("own address refused: %v", err)
	}
	n.Close()
	if _, err := n.OpenLink(remote, own, send); err == nil {
		t.Fatal("link opened on a closed network")
	}
}

// TestLinkCarriesICEAndMedia: an ICE check handed to a link is answered
// through it with the link's remote address, the tuple becomes the
// transport's selected one, SRTP through it reaches the listener and the
// answer comes back through it; nothing touches the UDP socket, and a
// packet costs no allocation.
func TestLinkCarriesICEAndMedia(t *testing.T) {
	n := newTestNetwork(t, 0)
	l := &echoListener{recordingListener: recordingListener{ch: make(chan struct{})}}
	remote := netip.MustParseAddrPort("192.0.2.7:50000")
	tr, err := n.NewConnectedForTest(l, remote)
	if err != nil {
		t.Fatal(err)
	}
	sink := &linkSink{}
	own := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(n.Port()))
	lk, err := n.OpenLink(remote, own, sink.send)
	if err != nil {
		t.Fatal(err)
	}

	ice := tr.ICEParameters()
	lk.Receive(bindingRequest(t, ice.UsernameFragment+":r", ice.Password, true))
	count, raw := sink.last()
	resp := &stun.Message{Raw: raw}
	if err := resp.Decode(); count != 1 || err != nil || resp.Type != stun.BindingSuccess {
		t.Fatalf("ICE check through the link: %d answers, %v %v", count, resp.Type, err)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(resp); err != nil || xor.String() != remote.String() {
		t.Fatalf("mapped address %v (%v), want the link's remote %v", xor, err, remote)
	}
	if tp, ok := tr.SelectedTuple(); !ok || !tp.InProcess() || tp.Remote != remote || tp.Protocol() != "udp" {
		t.Fatalf("selected tuple %+v %v", tp, ok)
	}

	client := testSRTP(t)
	var hdr rtp.Header
	plain := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, SSRC: 7}
	payload := []byte("relayed media")
	head, _ := plain.Marshal()
	enc, err := client.EncryptRTP(nil, append(head, payload...), &hdr)
	if err != nil {
		t.Fatal(err)
	}
	sent := bytes.Clone(enc)
	lk.Receive(enc)
	if !bytes.Equal(enc, sent) {
		t.Fatal("Receive modified the caller's packet")
	}
	count, raw = sink.last()
	if l.count() != 1 || count != 2 {
		t.Fatalf("listener got %d packets, link sent %d", l.count(), count)
	}
	back, err := client.DecryptRTP(nil, raw, &hdr)
	if err != nil || !bytes.HasSuffix(back, payload) {
		t.Fatalf("echo through the link: %q %v", back, err)
	}
	if got := n.PacketsReceived(); got != 0 {
		t.Fatalf("the UDP socket read %d packets", got)
	}

	// Steady state: no allocation per packet, either way.
	pkts := make([][]byte, 200)
	for i := range pkts {
		plain.SequenceNumber = uint16(2 + i)
		head, _ := plain.Marshal()
		pkts[i], _ = client.EncryptRTP(nil, append(head, payload...), &hdr)
	}
	i := 0
	if a := testing.AllocsPerRun(100, func() { lk.Receive(pkts[i]); i++ }); a != 0 && !racebuild.Enabled {
		t.Errorf("%.1f allocations per relayed packet", a)
	}
	if got := l.count(); got != 1+101 {
		t.Fatalf("listener got %d packets", got)
	}

	// Closed: nothing more in or out.
	lk.Close()
	before, _ := sink.last()
	lk.Receive(pkts[150])
	if err := tr.WriteRTP(append(head, payload...)); err == nil {
		t.Error("write through a closed link succeeded")
	}
	if after, _ := sink.last(); after != before || l.count() != 102 {
		t.Fatalf("closed link: %d → %d sent, listener %d", before, after, l.count())
	}
	tr.Close()
}
