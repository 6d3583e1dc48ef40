package sfu

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// consumerSink connects consumer c of a benchFanout producer to a UDP
// socket of the test (closed by t.Cleanup: register the fixture's own
// cleanup with t.Cleanup before) and returns what reads and decrypts the next packet
// c's receiver gets (failing the test after 2 s without one).
func consumerSink(t *testing.T, p *Producer, c *Consumer) func() rtp.Packet {
	t.Helper()
	read := consumerSinkWithin(t, p, c)
	return func() rtp.Packet {
		t.Helper()
		q, ok := read(2 * time.Second)
		if !ok {
			t.Fatal("no packet in 2 s")
		}
		return q
	}
}

// consumerSinkWithin is consumerSink whose reader waits at most d and
// reports whether a packet came.
func consumerSinkWithin(t *testing.T, p *Producer, c *Consumer) func(d time.Duration) (rtp.Packet, bool) {
	t.Helper()
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sink.Close() })
	wt, err := p.peer.room.server.net.NewConnectedForTest(c.transport.Load(), netip.MustParseAddrPort(sink.LocalAddr().String()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wt.Close() })
	tr := c.transport.Load()
	tr.link = wt
	dec, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	return func(d time.Duration) (rtp.Packet, bool) {
		t.Helper()
		b := make([]byte, 2000)
		_ = sink.SetReadDeadline(time.Now().Add(d))
		n, _, err := sink.ReadFromUDP(b)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return rtp.Packet{}, false
			}
			t.Fatal(err)
		}
		var h rtp.Header
		out, err := dec.DecryptRTP(nil, b[:n], &h)
		if err != nil {
			t.Fatal(err)
		}
		var got rtp.Packet
		if err := got.Unmarshal(out); err != nil {
			t.Fatal(err)
		}
		return got, true
	}
}

// TestSkippedPacketsLeaveNoGap: packets a consumer does not get inside a
// stream (a dropped layer) take no sequence number and no picture id; a
// late packet whose number was given away arrives as padding; a NACK of a
// packet sent after a skip is answered with that packet, its picture id as
// first sent.
func TestSkippedPacketsLeaveNoGap(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done) // after consumerSink's cleanups
	c := (*p.consumers.Load())[0]
	c.rtxSSRC, c.rtxPayloadType = 6000, 102
	read := consumerSink(t, p, c)
	tr := c.transport.Load()
	p.streams[0].nacks = nil // the fixture has no sender to NACK
	// VP8 with a 15-bit picture id: X=1 S=1, I=1; one packet per picture.
	send := func(seq uint16, pid uint16, skip bool) {
		rtpwire.PutUint16(pkt[2:], seq)
		rtpwire.PutUint32(pkt[4:], uint32(seq)*3000)
		copy(pkt[20:], []byte{0x90, 0x80, 0x80 | byte(pid>>8), byte(pid), 0x00})
		if seq != 100 {
			pkt[24] = 0x01 // inter frame
		}
		if !skip {
			p.receiveRTP(pkt, 1111, batch)
			batch.Flush()
			return
		}
		// As receiveRTP and fanOut would, for a consumer that does not get
		// this layer.
		p.streams[0].onPacket(pkt, false, 96, time.Now())
		n, off, plen := rtpwire.RewriteRTP(p.scratch[:], pkt, &p.ptMap, &p.extMap)
		d := codec.VP8{}.Parse(p.scratch[off:off+plen], off)
		p.streams[0].rtx.Store(seq, p.scratch[:n], off)
		c.skip(tr, seq, uint32(seq)*3000, d, true)
	}
	pidOf := func(q rtp.Packet) uint16 { return rtpwire.Uint16(q.Payload[2:]) & 0x7fff }
	send(100, 7, false)
	first := read()
	send(101, 8, true)
	send(102, 9, false)
	second := read()
	if second.SequenceNumber != first.SequenceNumber+1 || pidOf(second) != pidOf(first)+1 {
		t.Fatalf("after a skip: seq %d pid %d, then seq %d pid %d", first.SequenceNumber, pidOf(first), second.SequenceNumber, pidOf(second))
	}
	send(104, 10, false) // 103 is late
	third := read()
	send(103, 11, true)
	pad := read()
	if third.SequenceNumber != second.SequenceNumber+2 || pad.SequenceNumber != second.SequenceNumber+1 || !pad.Padding || pad.SSRC != c.ssrc {
		t.Fatalf("late skip: seq %d then padding %v at %d (ssrc %d)", third.SequenceNumber, pad.Padding, pad.SequenceNumber, pad.SSRC)
	}
	c.retransmit(second.SequenceNumber)
	rtx := read()
	if rtx.SSRC != 6000 || rtpwire.Uint16(rtx.Payload) != second.SequenceNumber || rtpwire.Uint16(rtx.Payload[4:])&0x7fff != pidOf(second) {
		t.Fatalf("retransmission: ssrc %d osn %d pid %d, want osn %d pid %d",
			rtx.SSRC, rtpwire.Uint16(rtx.Payload), rtpwire.Uint16(rtx.Payload[4:])&0x7fff, second.SequenceNumber, pidOf(second))
	}
	c.retransmit(pad.SequenceNumber) // a padding packet is not resent
	c.retransmit(third.SequenceNumber)
	if again := read(); rtpwire.Uint16(again.Payload) != third.SequenceNumber {
		t.Fatalf("retransmitted %d after the padding's NACK, want %d", rtpwire.Uint16(again.Payload), third.SequenceNumber)
	}
}

// BenchmarkSendStateNumber is a send stream's share of each forwarded
// packet: sequence number, picture id and TL0PICIDX through the sequence
// manager, and the history entry for retransmissions.
func BenchmarkSendStateNumber(b *testing.B) {
	var s sendState
	s.clockRate = 90000
	st := &producerStream{rtx: newStreams(simulcastEncodings(), true)[0].rtx}
	d := codec.Info{PictureIDAt: 22, PictureIDLong: true, TL0At: 24}
	s.resync(st, 0, 0, d, zeroTime)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		d.PictureID = uint16(i/3) & 0x7fff // three packets a picture
		d.TL0 = uint8(i / 9)
		s.number(uint16(i), uint32(i/3)*3000, d, zeroTime)
	}
}
