package sfu

import (
	"testing"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpbuf"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// TestRetransmissionBufferPerProfile: a simulcast producer's low layer
// keeps a quarter of the packets a full stream keeps.
func TestRetransmissionBufferPerProfile(t *testing.T) {
	if n := newStreams(simulcastEncodings(), true)[0].rtx.Len(); n != rtpbuf.Slots/4 {
		t.Fatalf("low layer keeps %d packets", n)
	}
}

// TestNackIsAnsweredWithRTX: a consumer's receiver NACKs a forwarded
// packet; it comes back as RTX (osn = the NACKed number) on the consumer's
// RTX SSRC.
func TestNackIsAnsweredWithRTX(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done)
	c := (*p.consumers.Load())[0]
	c.rtxSSRC, c.rtxPayloadType = 6000, 102
	read := consumerSink(t, p, c)
	for i := 0; i < 5; i++ {
		rtpwire.PutUint16(pkt[2:], uint16(100+i))
		p.receiveRTP(pkt, 1111, batch)
		batch.Flush()
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
	if got.SSRC != 6000 || got.PayloadType != 102 || rtpwire.Uint16(got.Payload) != nacked || len(got.Payload) != len(pkt)-20+2 {
		t.Fatalf("rtx ssrc=%d pt=%d osn=%d len=%d", got.SSRC, got.PayloadType, rtpwire.Uint16(got.Payload), len(got.Payload))
	}
	if c.retransmitted.Load() != 1 {
		t.Fatal("retransmission not counted")
	}
}

func TestDecodeRTX(t *testing.T) {
	st := &producerStream{}
	st.ssrc.Store(1111)
	rtx := []byte{0x80, 97, 0, 9, 0, 0, 0x23, 0x28, 0, 0, 0x08, 0xae, 0x01, 0xf4, 0xAA, 0xBB}
	out, _ := st.onPacket(rtx, true, 96, time.Now())
	if out == nil || out[1]&0x7f != 96 || rtpwire.Uint16(out[2:]) != 500 || rtpwire.Uint32(out[8:]) != 1111 || len(out) != 14 || out[12] != 0xAA {
		t.Fatalf("decoded %x", out)
	}
	probe := []byte{0xA0, 97, 0, 10, 0, 0, 0, 0, 0, 0, 0x08, 0xae, 0, 0, 0, 4} // padding only
	if out, _ := st.onPacket(probe, true, 96, time.Now()); out != nil {
		t.Fatal("padding-only probe decoded")
	}
}
