package sfu

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/transport"
)

func TestSendStateResyncContinuesSequence(t *testing.T) {
	var s sendState
	s.clockRate = 90000
	s.resync(nil, 65534, 4294966000, codec.Info{}, zeroTime)
	if out, _ := s.number(65534, 4294966000, codec.Info{}, zeroTime); out.seq != 65534 || out.ts != 4294966000 {
		t.Fatalf("first resync must keep the source numbering: %+v", out)
	}
	s.number(65535, 4294967000, codec.Info{}, zeroTime)
	s.resync(nil, 12, 777, codec.Info{}, zeroTime.Add(100e6))
	out, ok := s.number(12, 777, codec.Info{}, zeroTime.Add(100e6))
	if !ok || out.seq != 0 {
		t.Fatalf("seq after wrap = %d, want 0", out.seq)
	}
	if want := uint32(4294967000 + 9000 - 1<<32); out.ts != want {
		t.Fatalf("ts = %d, want %d (100 ms later)", out.ts, want)
	}
}

var zeroTime = time.Unix(1700000000, 0)

// TestNoSwitchOnARetransmittedKeyFrame: a consumer waiting for a key frame
// to start (or switch streams) does not start on an RTX copy of an old key
// frame (Chromium probes the path with such copies): it would restart its
// numbering in the past. It starts on the next key frame sent as such.
func TestNoSwitchOnARetransmittedKeyFrame(t *testing.T) {
	p, pkt, batch, read := vp8Consumer(t)
	vp8Temporal(pkt, 100, 10, 1, 0, false, true) // an old key frame, retransmitted
	p.fanOut(pkt, p.streams[0], true, time.Now(), batch)
	batch.Flush()
	if q, ok := read(300 * time.Millisecond); ok {
		t.Fatalf("the consumer started on a retransmitted key frame: seq %d", q.SequenceNumber)
	}
	vp8Temporal(pkt, 500, 410, 40, 0, false, true)
	p.fanOut(pkt, p.streams[0], false, time.Now(), batch)
	batch.Flush()
	q, ok := read(2 * time.Second)
	if !ok || q.SequenceNumber != 500 {
		t.Fatalf("key frame sent as such: got %v %d, want seq 500", ok, q.SequenceNumber)
	}
}

// TestKeyFrameReorderedIsReplayed: over a path that reorders, a key
// frame's first packet arrives after one of its others. The consumer waits
// for that first packet to start, and then must also send the one that
// came before it: it was never sent, so no NACK could bring it, and the
// receiver would wait for the next key frame (3 s stalls at every layer
// switch under 100 ms RTT with jitter).
func TestKeyFrameReorderedIsReplayed(t *testing.T) {
	p, pkt, batch, read := vp8Consumer(t)
	send := func(seq uint16, start, key bool) {
		vp8Temporal(pkt, seq, 40, 1, 0, false, key)
		if !start {
			pkt[20] = 0x80 // X, no S: a later packet of the frame
		}
		p.fanOut(pkt, p.streams[0], false, time.Now(), batch)
		batch.Flush()
	}
	send(501, false, false) // the key frame's second packet, first to arrive
	send(500, true, true)   // its first packet
	send(502, true, false)  // the next frame
	var got []uint16
	for range 3 {
		q, ok := read(time.Second)
		if !ok {
			break
		}
		got = append(got, q.SequenceNumber)
	}
	if fmt.Sprint(got) != "[500 501 502]" {
		t.Fatalf("sent %v, want [500 501 502]: the key frame's packet that came first is missing", got)
	}
}

// vp8Consumer is the set-up of the one-consumer VP8 forwarding tests: a
// producer stream without NACK generation, its one consumer, and read for
// what that consumer sends.
func vp8Consumer(t *testing.T) (*Producer, []byte, *transport.Batch, func(time.Duration) (rtp.Packet, bool)) {
	t.Helper()
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done)
	read := consumerSinkWithin(t, p, (*p.consumers.Load())[0])
	p.streams[0].nacks = nil
	return p, pkt, batch, read
}
