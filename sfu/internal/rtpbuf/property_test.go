package rtpbuf

import (
	"bytes"
	"encoding/binary"
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
	r := NewBuffer(size)
	stored := map[uint16][]byte{}
	last := map[int]uint16{} // slot -> seq that owns it
	pkt := make([]byte, 64)
	dst := make([]byte, 1600)
	for i, s := range seqs {
		binary.BigEndian.PutUint16(pkt[2:], s)
		pkt[20] = byte(i)
		r.Store(s, pkt, 12)
		stored[s] = append([]byte(nil), pkt...)
		last[int(s)%size] = s
	}
	for s, want := range stored {
		n, off, ok := r.Get(s, dst)
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
		seqs = append(seqs, binary.BigEndian.Uint16(data[i:]))
	}
	return seqs
}

func TestRetransmissionBufferProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := 0; run < 200; run++ {
		checkRetransmissionBuffer(t, randomSeqs(rng, 2000), SlotsFor([]string{"low", "medium", "high"}[run%3]))
	}
}

func FuzzRetransmissionBuffer(f *testing.F) {
	f.Add([]byte{0xff, 0xfe, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRetransmissionBuffer(t, seqsFrom(data), Slots/4)
	})
}

// checkNackGenerator feeds arrivals and checks that a NACK never names a
// packet that already arrived and the missing count stays in bounds.
func checkNackGenerator(t *testing.T, seqs []uint16) {
	var g Generator
	arrived := map[uint16]bool{} // since the generator last resynced
	now := int64(0)
	for i, s := range seqs {
		now += int64(5 * time.Millisecond)
		if d := s - g.highest; i > 0 && d < 0x8000 && d > nackSlots/2 {
			clear(arrived) // a jump: the generator starts over
		}
		arrived[s] = true
		for _, p := range g.OnPacket(s, now) {
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
