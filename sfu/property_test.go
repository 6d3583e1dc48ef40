package sfu

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// Property tests of the per-packet state machines over long random runs
// (those of the NACK generator and the retransmission buffer are in
// internal/rtpbuf).

// TestSendStateContinuity: whatever the source numbering does across
// resyncs (pauses, simulcast switches to streams with unrelated sequence
// numbers, timestamps and picture ids), the consumer's first packet after
// a resync follows its last one: sequence +1, timestamp forward, picture
// id +1.
func TestSendStateContinuity(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var s sendState
	s.clockRate = 90000
	now := zeroTime
	for i := 0; i < 5000; i++ {
		seq, ts, pid := uint16(rng.IntN(65536)), rng.Uint32(), uint16(rng.IntN(0x8000))
		d := rtpwire.VP8Descriptor{PictureIDAt: 1, Long: true, PictureID: pid}
		prevSeq, prevTs, prevPid, started := s.lastSeq, s.lastTs, s.lastPid, s.started
		now = now.Add(time.Duration(rng.IntN(200)) * time.Millisecond)
		s.resync(nil, seq, ts, d, now)
		outSeq, outTs := seq+s.seqOffset, ts+s.tsOffset
		outPid := (pid + s.pidOffset) & 0x7fff
		if started {
			if outSeq != prevSeq+1 {
				t.Fatalf("seq %d after %d", outSeq, prevSeq)
			}
			if delta := outTs - prevTs; delta == 0 || delta > 1<<31 {
				t.Fatalf("ts %d after %d", outTs, prevTs)
			}
			if outPid != (prevPid+1)&0x7fff {
				t.Fatalf("picture id %d after %d", outPid, prevPid)
			}
		}
		// A run of packets from this source, in order.
		for k := 0; k < rng.IntN(50); k++ {
			outSeq++
			outTs += 3000
			outPid = (outPid + 1) & 0x7fff
		}
		s.lastSeq, s.lastTs, s.lastPid, s.lastAt = outSeq, outTs, outPid, now
	}
}
