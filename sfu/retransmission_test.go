package sfu

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

func TestRetransmissionBufferWraparound(t *testing.T) {
	r := newRetransmissionBuffer(retransmissionSlots)
	dst := make([]byte, 1600)
	for i := 0; i < 3*retransmissionSlots; i++ {
		seq := uint16(65000 + i) // wraps through 0
		pkt := []byte{0x80, 101, byte(seq >> 8), byte(seq), 0, 0, 0, 0, 0, 0, 0, 1, byte(i)}
		r.store(seq, pkt, 12)
	}
	count := 3 * retransmissionSlots
	last := uint16(65000 + count - 1)
	if n, off, ok := r.get(last, dst); !ok || n != 13 || off != 12 || dst[12] != byte(count-1) {
		t.Fatalf("newest: %d %d %v", n, off, ok)
	}
	if _, _, ok := r.get(last-retransmissionSlots, dst); ok {
		t.Fatal("a packet older than the buffer was returned")
	}
	if _, _, ok := r.get(last-retransmissionSlots+1, dst); !ok {
		t.Fatal("the oldest kept packet is missing")
	}
	if _, _, ok := r.get(last+1, dst); ok {
		t.Fatal("a future packet was returned")
	}
	if n := len(newStreams(simulcastEncodings(), true)[0].rtx.slots); n != retransmissionSlots/4 {
		t.Fatalf("low layer keeps %d packets", n)
	}
}

func TestBuildRTX(t *testing.T) {
	orig := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 500, Timestamp: 9000, SSRC: 77, Marker: true}, Payload: []byte{1, 2, 3, 4}}
	_ = orig.Header.SetExtension(3, []byte{7, 7, 7})
	raw, _ := orig.Marshal()
	buf := make([]byte, 1600)
	n := copy(buf, raw)
	off := n - len(orig.Payload)
	n = buildRTX(buf, n, off, 102, 4242, 9, 500)
	var got rtp.Packet
	if err := got.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if got.PayloadType != 102 || got.SSRC != 4242 || got.SequenceNumber != 9 || got.Timestamp != 9000 || !got.Marker {
		t.Fatalf("header %+v", got.Header)
	}
	if string(got.Payload) != string([]byte{0x01, 0xf4, 1, 2, 3, 4}) || string(got.GetExtension(3)) != string([]byte{7, 7, 7}) {
		t.Fatalf("payload %v ext %v", got.Payload, got.GetExtension(3))
	}
}

// TestNackIsAnsweredWithRTX: a consumer's receiver NACKs a forwarded
// packet; it comes back as RTX (osn = the NACKed number) on the consumer's
// RTX SSRC.
func TestNackIsAnsweredWithRTX(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	defer done()
	c := (*p.consumers.Load())[0]
	c.rtxSSRC, c.rtxPayloadType = 6000, 102
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	wt, err := p.peer.room.server.net.NewConnectedForTest(c.transport.Load(), netip.MustParseAddrPort(sink.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	defer wt.Close()
	c.transport.Load().wt = wt
	for i := 0; i < 5; i++ {
		putUint16(pkt[2:], uint16(100+i))
		p.receiveRTP(pkt, 1111, batch)
		batch.Flush()
	}
	dec, _ := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	read := func() rtp.Packet {
		t.Helper()
		b := make([]byte, 2000)
		_ = sink.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := sink.ReadFromUDP(b)
		if err != nil {
			t.Fatal(err)
		}
		var h rtp.Header
		out, err := dec.DecryptRTP(nil, b[:n], &h)
		if err != nil {
			t.Fatal(err)
		}
		var got rtp.Packet
		_ = got.Unmarshal(out)
		return got
	}
	var nacked uint16
	for i := 0; i < 5; i++ {
		got := read()
		if i == 2 {
			nacked = got.SequenceNumber
		}
	}
	c.retransmit(nacked)
	got := read()
	if got.SSRC != 6000 || got.PayloadType != 102 || getUint16(got.Payload) != nacked || len(got.Payload) != len(pkt)-20+2 {
		t.Fatalf("rtx ssrc=%d pt=%d osn=%d len=%d", got.SSRC, got.PayloadType, getUint16(got.Payload), len(got.Payload))
	}
	if c.retransmitted.Load() != 1 {
		t.Fatal("retransmission not counted")
	}
}
