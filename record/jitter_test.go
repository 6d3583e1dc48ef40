package record

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func pkt(seq uint16) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{SequenceNumber: seq}, Payload: []byte{byte(seq)}}
}

// popAll pops every packet ready at now: their sequence numbers, and the
// sequence numbers that came right after a gap.
func popAll(j *jitterBuffer, now time.Time) (seqs, afterGap []uint16) {
	for {
		p, gap := j.pop(now)
		if p == nil {
			return seqs, afterGap
		}
		seqs = append(seqs, p.SequenceNumber)
		if gap {
			afterGap = append(afterGap, p.SequenceNumber)
		}
	}
}

func TestJitterReordersAndDropsDuplicatesAndLatePackets(t *testing.T) {
	j := newJitterBuffer(videoJitter)
	now := time.Unix(1000, 0)
	for _, s := range []uint16{10, 12, 11, 11, 13} {
		j.push(pkt(s), now)
	}
	seqs, gaps := popAll(j, now)
	if !slices.Equal(seqs, []uint16{10, 11, 12, 13}) || len(gaps) != 0 {
		t.Fatalf("released %v (gaps before %v)", seqs, gaps)
	}
	j.push(pkt(9), now)  // before the start: late
	j.push(pkt(12), now) // already released: late
	if seqs, _ := popAll(j, now); len(seqs) != 0 || j.late != 2 || j.duplicates != 1 {
		t.Fatalf("released %v, late %d, duplicates %d", seqs, j.late, j.duplicates)
	}
	if len(j.nacks(now)) != 0 {
		t.Fatal("NACKs without a gap")
	}
}

func TestJitterNacksAGapThenGivesUp(t *testing.T) {
	j := newJitterBuffer(videoJitter)
	t0 := time.Unix(1000, 0)
	j.push(pkt(100), t0)
	j.push(pkt(103), t0)
	if seqs, _ := popAll(j, t0); !slices.Equal(seqs, []uint16{100}) {
		t.Fatalf("released %v, want only 100 before the gap", seqs)
	}
	if got := j.nacks(t0); !slices.Equal(got, []uint16{101, 102}) {
		t.Fatalf("first NACKs %v", got)
	}
	if got := j.nacks(t0.Add(10 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("NACKed again after 10 ms: %v", got)
	}
	// 102 is retransmitted; 101 is asked for maxNacks times in all.
	j.push(pkt(102), t0.Add(15*time.Millisecond))
	n := 1
	for at := t0.Add(40 * time.Millisecond); at.Before(t0.Add(videoJitter.giveUp)); at = at.Add(40 * time.Millisecond) {
		got := j.nacks(at)
		if len(got) > 0 {
			if !slices.Equal(got, []uint16{101}) {
				t.Fatalf("NACKs at %v: %v", at.Sub(t0), got)
			}
			n++
		}
		if seqs, _ := popAll(j, at); len(seqs) != 0 {
			t.Fatalf("released %v while 101 is awaited", seqs)
		}
	}
	if n != videoJitter.maxNacks {
		t.Fatalf("101 NACKed %d times, want %d", n, videoJitter.maxNacks)
	}
	seqs, gaps := popAll(j, t0.Add(videoJitter.giveUp))
	if !slices.Equal(seqs, []uint16{102, 103}) || !slices.Equal(gaps, []uint16{102}) || j.lost != 1 {
		t.Fatalf("after giving up: released %v, gap before %v, lost %d", seqs, gaps, j.lost)
	}
	j.push(pkt(101), t0.Add(time.Second)) // too late now
	if seqs, _ := popAll(j, t0.Add(time.Second)); len(seqs) != 0 {
		t.Fatalf("a packet given up was released: %v", seqs)
	}
}

func TestJitterWrapsAround(t *testing.T) {
	j := newJitterBuffer(videoJitter)
	now := time.Unix(1000, 0)
	var want []uint16
	for s := uint16(65530); s != 6; s++ {
		want = append(want, s)
	}
	// The first packet, then the others in reverse order across the wrap.
	j.push(pkt(65530), now)
	for i := len(want) - 1; i >= 1; i-- {
		j.push(pkt(want[i]), now)
	}
	if got := j.nacks(now); len(got) != 0 {
		t.Fatalf("NACKs across the wrap: %v", got)
	}
	seqs, gaps := popAll(j, now)
	if !slices.Equal(seqs, want) || len(gaps) != 0 {
		t.Fatalf("released %v, want %v", seqs, want)
	}
}

func TestJitterAudioOnlyReorders(t *testing.T) {
	j := newJitterBuffer(audioJitter)
	t0 := time.Unix(1000, 0)
	j.push(pkt(1), t0)
	j.push(pkt(3), t0)
	if got := j.nacks(t0); got != nil {
		t.Fatalf("audio NACKs %v", got)
	}
	if seqs, _ := popAll(j, t0.Add(30*time.Millisecond)); !slices.Equal(seqs, []uint16{1}) {
		t.Fatalf("released %v within the reordering window", seqs)
	}
	if seqs, gaps := popAll(j, t0.Add(audioJitter.giveUp)); !slices.Equal(seqs, []uint16{3}) || !slices.Equal(gaps, []uint16{3}) {
		t.Fatalf("released %v (gaps %v) after the window", seqs, gaps)
	}
}

func TestJitterBigJumpRestarts(t *testing.T) {
	j := newJitterBuffer(videoJitter)
	now := time.Unix(1000, 0)
	j.push(pkt(1), now)
	j.push(pkt(3), now) // 2 missing
	j.push(pkt(20000), now)
	j.push(pkt(20001), now)
	seqs, gaps := popAll(j, now)
	if !slices.Equal(seqs, []uint16{1, 3, 20000, 20001}) || !slices.Equal(gaps, []uint16{3, 20000}) {
		t.Fatalf("released %v, gaps before %v", seqs, gaps)
	}
}

func TestJitterDrainGivesEverythingUp(t *testing.T) {
	j := newJitterBuffer(videoJitter)
	now := time.Now()
	for _, s := range []uint16{5, 7, 9} {
		j.push(pkt(s), now)
	}
	var seqs, gaps []uint16
	j.drain(func(p *rtp.Packet, gap bool) {
		seqs = append(seqs, p.SequenceNumber)
		if gap {
			gaps = append(gaps, p.SequenceNumber)
		}
	})
	if !slices.Equal(seqs, []uint16{5, 7, 9}) || !slices.Equal(gaps, []uint16{7, 9}) || j.lost != 2 {
		t.Fatalf("drained %v, gaps before %v, lost %d", seqs, gaps, j.lost)
	}
}
