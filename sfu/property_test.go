package sfu

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// Property tests of the per-packet state machines over long random runs
// with reordering, loss, duplicates, jumps and 16-bit wraparound. The
// Fuzz* variants take their operations from the fuzzer.

// checkRetransmissionBuffer stores packets in the order given and checks
// that a lookup returns exactly the packet stored under that sequence
// number, or nothing.
func checkRetransmissionBuffer(t *testing.T, seqs []uint16, size int) {
	r := newRetransmissionBuffer(size)
	stored := map[uint16][]byte{}
	last := map[int]uint16{} // slot -> seq that owns it
	pkt := make([]byte, 64)
	dst := make([]byte, 1600)
	for i, s := range seqs {
		putUint16(pkt[2:], s)
		pkt[20] = byte(i)
		r.store(s, pkt, 12)
		stored[s] = append([]byte(nil), pkt...)
		last[int(s)%size] = s
	}
	for s, want := range stored {
		n, off, ok := r.get(s, dst)
		owner := last[int(s)%size]
		if owner != s {
			if ok {
				t.Fatalf("seq %d returned although slot belongs to %d", s, owner)
			}
			continue
		}
		if !ok || off != 12 || !bytes.Equal(dst[:n], want) {
			t.Fatalf("seq %d: ok=%v off=%d", s, ok, off)
		}
	}
}

// randomSeqs is an arrival order: mostly in order from a random start
// (crossing 65535 often), with reordering, loss, duplicates and jumps.
func randomSeqs(rng *rand.Rand, n int) []uint16 {
	out := make([]uint16, 0, n)
	s := uint16(rng.IntN(65536))
	for len(out) < n {
		switch k := rng.IntN(100); {
		case k < 5: // lost
			s++
		case k < 10: // late: an earlier one again
			out = append(out, s-uint16(rng.IntN(40)))
		case k < 12: // duplicate
			out = append(out, s)
		case k < 13: // jump
			s += uint16(rng.IntN(3000))
		default:
			out = append(out, s)
			s++
		}
	}
	return out
}

// seqsFrom reads fuzz input as big-endian sequence numbers.
func seqsFrom(data []byte) []uint16 {
	seqs := make([]uint16, 0, len(data)/2)
	for i := 0; i+1 < len(data); i += 2 {
		seqs = append(seqs, getUint16(data[i:]))
	}
	return seqs
}

func TestRetransmissionBufferProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 200; run++ {
		checkRetransmissionBuffer(t, randomSeqs(rng, 2000), retransmissionSlotsFor([]string{"low", "medium", "high"}[run%3]))
	}
}

func FuzzRetransmissionBuffer(f *testing.F) {
	f.Add([]byte{0xff, 0xfe, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRetransmissionBuffer(t, seqsFrom(data), retransmissionSlots/4)
	})
}

// checkNackGenerator feeds arrivals and checks that a NACK never names a
// packet that already arrived and the missing count stays in bounds.
func checkNackGenerator(t *testing.T, seqs []uint16) {
	var g nackGenerator
	arrived := map[uint16]bool{} // since the generator last resynced
	now := int64(0)
	for i, s := range seqs {
		now += int64(5 * time.Millisecond)
		if d := s - g.highest; i > 0 && d < 0x8000 && d > nackSlots/2 {
			clear(arrived) // a jump: the generator starts over
		}
		arrived[s] = true
		for _, p := range g.onPacket(s, now) {
			p.Range(func(x uint16) bool {
				if arrived[x] {
					t.Fatalf("NACK for %d which arrived", x)
				}
				return true
			})
		}
	}
	if g.count < 0 || g.count > nackSlots {
		t.Fatalf("missing count %d", g.count)
	}
}

func TestNackGeneratorProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for run := 0; run < 200; run++ {
		checkNackGenerator(t, randomSeqs(rng, 3000))
	}
}

func FuzzNackGenerator(f *testing.F) {
	f.Add([]byte{0xff, 0xf0, 0xff, 0xf5, 0x00, 0x02, 0xff, 0xf2})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkNackGenerator(t, seqsFrom(data))
	})
}

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
		d := vp8Descriptor{pidAt: 1, long: true, pid: pid}
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
