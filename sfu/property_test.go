package sfu

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gosoup/gosoup/codec"
)

// Property tests of the per-packet state machines over long random runs
// (those of the NACK generator and the retransmission buffer are in
// internal/rtpbuf).

// TestSendStateContinuity: whatever the source numbering does across
// resyncs (pauses, simulcast switches to streams with unrelated sequence
// numbers, timestamps and picture ids), the consumer's first packet after
// a resync follows its last one: sequence +1, timestamp forward, picture
// id +1, TL0PICIDX +1.
func TestSendStateContinuity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s sendState
	s.clockRate = 90000
	now := zeroTime
	var prev sentNumbers
	for i := 0; i < 5000; i++ {
		seq, ts, pid, tl0 := uint16(rng.IntN(65536)), rng.Uint32(), uint16(rng.IntN(0x8000)), uint8(rng.IntN(256))
		d := codec.Info{PictureIDAt: 1, PictureIDLong: true, PictureID: pid, TL0At: 3, TL0: tl0}
		now = now.Add(time.Duration(rng.IntN(200)) * time.Millisecond)
		s.resync(nil, seq, ts, d, now)
		out, ok := s.number(seq, ts, d, now)
		if !ok {
			t.Fatal("first packet after a resync refused")
		}
		if i > 0 {
			if out.seq != prev.seq+1 {
				t.Fatalf("seq %d after %d", out.seq, prev.seq)
			}
			if delta := out.ts - prev.ts; delta == 0 || delta > 1<<31 {
				t.Fatalf("ts %d after %d", out.ts, prev.ts)
			}
			if out.pid != (prev.pid+1)&0x7fff || out.tl0 != prev.tl0+1 {
				t.Fatalf("picture id %d after %d, TL0PICIDX %d after %d", out.pid, prev.pid, out.tl0, prev.tl0)
			}
		}
		prev = out
		// A run of packets from this source, in order, one picture each.
		for k := 0; k < rng.IntN(50); k++ {
			seq++
			ts += 3000
			d.PictureID = (d.PictureID + 1) & 0x7fff
			if k%3 == 2 {
				d.TL0++
			}
			if prev, ok = s.number(seq, ts, d, now); !ok {
				t.Fatal("in-order packet refused")
			}
		}
	}
}
