package rtpseq

import (
	"math/rand/v2"
	"testing"
)

func TestSpaceDropsWithoutGaps(t *testing.T) {
	s := NewSpace(0xffff)
	s.Resync(65533)
	var got []uint32
	for in := uint32(65533); in < 65533+8; in++ {
		if in%3 == 0 {
			if _, hole := s.Drop(in); hole {
				t.Fatalf("in-order drop of %d left a hole", in)
			}
			continue
		}
		out, ok := s.Map(in)
		if !ok {
			t.Fatalf("%d refused", in)
		}
		got = append(got, out)
	}
	want := []uint32{65533, 65534, 65535, 0, 1, 2} // 65535 and 65538 dropped
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// A retransmission of a forwarded packet keeps its number; one of a
	// dropped packet stays dropped; one from before the Resync is refused.
	if out, ok := s.Map(65534 + 65536); !ok || out != 65534 {
		t.Fatalf("retransmitted 65534 -> %d %v", out, ok)
	}
	if _, ok := s.Map(65535); ok {
		t.Fatal("a dropped value mapped")
	}
	if _, ok := s.Map(65532); ok {
		t.Fatal("a value from before the resync mapped")
	}
	// Continuity across a switch to an unrelated numbering.
	last := s.Last()
	s.Resync(1000)
	if out, _ := s.Map(1000); out != last+1 {
		t.Fatalf("after resync %d, want %d", out, last+1)
	}
}

func TestSpaceLateDropReportsHole(t *testing.T) {
	s := NewSpace(0xffff)
	s.Resync(10)
	s.Map(10)
	s.Map(12) // 11 not here yet: its number (11) is reserved
	out, hole := s.Drop(11)
	if !hole || out != 11 {
		t.Fatalf("late drop: %d %v, want a hole at 11", out, hole)
	}
	if _, hole := s.Drop(11); hole {
		t.Fatal("the same hole reported twice")
	}
}

func TestSpaceSmallWidths(t *testing.T) {
	s := NewSpace(0x7f)
	s.Resync(120)
	for in := uint32(120); in < 140; in++ {
		out, ok := s.Map(in)
		if !ok || out != in&0x7f {
			t.Fatalf("7-bit %d -> %d %v", in, out, ok)
		}
	}
	// 15-bit ids followed by 7-bit ones: continues modulo 128.
	p := NewSpace(0x7fff)
	p.Resync(0x7ffe)
	p.Map(0x7ffe)
	p.ResyncMask(5, 0x7f)
	if out, _ := p.Map(5); out != 0x7f {
		t.Fatalf("after a width change %d", out)
	}
}

// TestSpaceProperties: random runs of packets, some dropped, reordered
// and retransmitted, across resyncs to unrelated numberings. Over each
// run the numbers given to forwarded packets and holes are distinct and
// contiguous, a value gets the same number on every arrival, and a run
// starts right after the previous one.
func TestSpaceProperties(t *testing.T) {
	for seed := uint64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		s := NewSpace(0xffff)
		var prevLast uint32
		for run := 0; run < 20; run++ {
			base := uint32(rng.IntN(65536))
			n := 1 + rng.IntN(600)
			dropRate := rng.IntN(60)
			drop := func(v uint32) bool { return (v*2654435761)>>16%100 < uint32(dropRate) }
			order := arrivals(rng, n)
			s.Resync(base)
			outOf := map[uint32]uint32{} // incoming offset -> outgoing
			used := map[uint32]uint32{}  // outgoing -> incoming offset
			first := true
			for _, k := range order {
				in := base + uint32(k)
				var out uint32
				if drop(in) {
					o, hole := s.Drop(in)
					if !hole {
						continue
					}
					out = o
				} else {
					o, ok := s.Map(in)
					if !ok {
						t.Fatalf("seed %d run %d: %d (offset %d) refused", seed, run, in, k)
					}
					out = o
				}
				if prev, ok := outOf[uint32(k)]; ok && prev != out {
					t.Fatalf("seed %d: offset %d mapped to %d then %d", seed, k, prev, out)
				}
				if other, ok := used[out]; ok && other != uint32(k) {
					t.Fatalf("seed %d: %d given to offsets %d and %d", seed, out, other, k)
				}
				outOf[uint32(k)], used[out] = out, uint32(k)
				if first && run > 0 && k == 0 && out != (prevLast+1)&0xffff {
					t.Fatalf("seed %d run %d: starts at %d after %d", seed, run, out, prevLast)
				}
				first = false
			}
			if len(used) > 0 {
				lo := outOf[minKey(outOf)]
				for i := range uint32(len(used)) {
					if _, ok := used[(lo+i)&0xffff]; !ok {
						t.Fatalf("seed %d run %d: gap at %d (%d numbers from %d)", seed, run, (lo+i)&0xffff, len(used), lo)
					}
				}
			}
			prevLast = s.Last()
		}
	}
}

// arrivals is the order n packets arrive in: mostly in order, some
// swapped with a neighbour, some arriving again later (retransmissions).
// Offset 0 comes first, as the packet a consumer resynchronises on.
func arrivals(rng *rand.Rand, n int) []int {
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	for i := 2; i < n; i++ {
		if rng.IntN(10) == 0 {
			j := i - 1 - rng.IntN(min(i-1, 5))
			order[i], order[j] = order[j], order[i]
		}
	}
	for i := 1; i < len(order); i++ {
		if rng.IntN(20) == 0 {
			again := order[max(0, i-1-rng.IntN(100))]
			order = append(order[:i+1], append([]int{again}, order[i+1:]...)...)
			i++
		}
	}
	return order
}

func minKey(m map[uint32]uint32) uint32 {
	lo := ^uint32(0)
	for k := range m {
		lo = min(lo, k)
	}
	return lo
}

// TestSpacePictureIDsContinuous: frames of three temporal layers, the top
// one dropped; the forwarded frames' picture ids (15- and 7-bit) are
// consecutive, whatever packet of a frame comes first.
func TestSpacePictureIDsContinuous(t *testing.T) {
	for _, mask := range []uint32{0x7fff, 0x7f} {
		rng := rand.New(rand.NewPCG(uint64(mask), 1))
		s := NewSpace(mask)
		pid := uint32(rng.IntN(int(mask)))
		s.Resync(pid)
		var last uint32
		started := false
		for f := 0; f < 5000; f++ {
			pid = (pid + 1) & mask
			if f == 0 {
				pid = s.floor
			}
			tid := []int{0, 2, 1, 2}[f%4]
			for k := 0; k < 1+rng.IntN(4); k++ { // a frame's packets
				if tid == 2 {
					s.Drop(pid)
					continue
				}
				out, ok := s.Map(pid)
				if !ok {
					t.Fatalf("mask %x: frame %d refused", mask, pid)
				}
				if k == 0 {
					if started && out != (last+1)&mask {
						t.Fatalf("mask %x: picture id %d after %d", mask, out, last)
					}
					started = true
				} else if out != last {
					t.Fatalf("mask %x: packets of one frame got %d and %d", mask, last, out)
				}
				last = out
			}
		}
	}
}

// FuzzSpace drives a space with arbitrary maps, drops and resyncs near the
// newest value. Within a run, two values never share a number, and a value
// keeps the number it got.
func FuzzSpace(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 2, 0, 2, 0, 0, 0, 3, 7, 1, 200, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := NewSpace(0xffff)
		cur := uint32(0)
		s.Resync(cur)
		outOf, used := map[uint32]uint32{}, map[uint32]uint32{}
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%4, uint32(ops[i+1])
			var in uint32
			switch op {
			case 0: // forward a newer value
				cur += arg % 8
				in = cur
			default: // an older one
				in = cur - arg%64
			}
			if op == 3 && arg%5 == 0 {
				cur += 1000
				s.Resync(cur)
				clear(outOf)
				clear(used)
				continue
			}
			var out uint32
			if op == 2 {
				o, hole := s.Drop(in)
				if !hole {
					continue
				}
				out = o
			} else {
				o, ok := s.Map(in)
				if !ok {
					continue
				}
				out = o
			}
			in &= 0xffff
			if prev, ok := outOf[in]; ok && prev != out {
				t.Fatalf("%d mapped to %d then %d", in, prev, out)
			}
			if other, ok := used[out]; ok && other != in {
				t.Fatalf("%d given to %d and %d", out, other, in)
			}
			outOf[in], used[out] = out, in
		}
	})
}

func TestHistory(t *testing.T) {
	var h History
	h.Put(700, Sent{In: 9, PictureID: 0x7fff, TL0: 3})
	if got, ok := h.Get(700); !ok || got != (Sent{In: 9, PictureID: 0x7fff, TL0: 3}) {
		t.Fatalf("got %+v %v", got, ok)
	}
	if _, ok := h.Get(700 + HistorySize); ok {
		t.Fatal("an entry answered for another number")
	}
	h.Put(700+HistorySize, Sent{In: 10, Padding: true})
	if _, ok := h.Get(700); ok {
		t.Fatal("an overwritten entry answered")
	}
	if got, _ := h.Get(700 + HistorySize); !got.Padding {
		t.Fatal("padding flag lost")
	}
	h.Reset()
	if _, ok := h.Get(700 + HistorySize); ok {
		t.Fatal("entry survived Reset")
	}
}

func TestSpaceAllocatesNothing(t *testing.T) {
	s := NewSpace(0xffff)
	in := uint32(0)
	if n := testing.AllocsPerRun(1000, func() {
		in++
		s.Map(in)
		s.Map(in - 3)
	}); n != 0 {
		t.Fatalf("%.1f allocations", n)
	}
}

// TestSpaceSourceRestart: a source whose numbering jumps by more than
// half the range is refused for staleRestart packets, then numbered right
// after the last value sent.
func TestSpaceSourceRestart(t *testing.T) {
	s := NewSpace(0xffff)
	s.Resync(100)
	s.Map(100)
	last := s.Last()
	in := uint32(100 + 40000)
	for i := 1; i < staleRestart; i++ {
		if _, ok := s.Map(in); ok {
			t.Fatalf("value %d of the jump mapped", i)
		}
		in++
	}
	out, ok := s.Map(in)
	if !ok || out != last+1 {
		t.Fatalf("after the restart %d %v, want %d", out, ok, last+1)
	}
	if out, _ := s.Map(in + 1); out != last+2 {
		t.Fatalf("next %d, want %d", out, last+2)
	}
	if out, ok := s.Map(in - 1); ok {
		t.Fatalf("a value before the restart mapped to %d", out)
	}
}

func TestContinueAfter(t *testing.T) {
	s := NewSpace(0xffff)
	s.Resync(500)
	s.ContinueAfter(0xfffe)
	s.Resync(7)
	for _, c := range [][2]uint32{{7, 0xffff}, {8, 0}, {9, 1}} {
		if out, ok := s.Map(c[0]); !ok || out != c[1] {
			t.Errorf("Map(%d) = %d %v, want %d", c[0], out, ok, c[1])
		}
	}
	fresh := NewSpace(0x7fff)
	fresh.ContinueAfter(100)
	fresh.Resync(9000)
	if out, ok := fresh.Map(9000); !ok || out != 101 {
		t.Errorf("unstarted space: Map = %d %v, want 101", out, ok)
	}
}

func TestNewer(t *testing.T) {
	s := NewSpace(0xffff)
	if !s.Newer(5) {
		t.Fatal("nothing seen: not newer")
	}
	s.Map(0xfffe)
	if !s.Newer(0xffff) || !s.Newer(3) || s.Newer(0xfffe) || s.Newer(0xfff0) {
		t.Fatal("newer across the wrap")
	}
	s.Drop(0xffff)
	if s.Newer(0xffff) || !s.Newer(0) {
		t.Fatal("a dropped value counts as seen")
	}
}
