package rtpbuf

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func lost(pairs []rtcp.NackPair) []uint16 {
	var out []uint16
	for _, p := range pairs {
		p.Range(func(s uint16) bool { out = append(out, s); return true })
	}
	return out
}

func TestNackGenerator(t *testing.T) {
	var g Generator
	ms := int64(time.Millisecond)
	now := int64(1e12)
	g.OnPacket(1, now)
	g.OnPacket(2, now)
	if got := lost(g.OnPacket(5, now+30*ms)); fmt.Sprint(got) != "[3 4]" {
		t.Fatalf("first NACK %v", got)
	}
	if got := g.OnPacket(6, now+40*ms); len(got) != 0 {
		t.Fatalf("NACKed again too soon: %v", lost(got))
	}
	g.OnPacket(3, now+50*ms) // retransmission arrives
	if got := lost(g.OnPacket(7, now+140*ms)); fmt.Sprint(got) != "[4]" {
		t.Fatalf("retry %v", got)
	}
	// Retries stop after the limit.
	n := 2 // the first NACK and the retry above
	for i := 0; i < 30; i++ {
		if len(g.OnPacket(uint16(8+i), now+int64(200+i*110)*ms)) > 0 {
			n++
		}
	}
	if n != nackMaxRetries {
		t.Fatalf("packet 4 NACKed %d times, want %d", n, nackMaxRetries)
	}
}

func TestNackGeneratorWraparoundAndJumps(t *testing.T) {
	var g Generator
	now := int64(1e12)
	g.OnPacket(65534, now)
	if got := lost(g.OnPacket(1, now+int64(30*time.Millisecond))); fmt.Sprint(got) != "[65535 0]" {
		t.Fatalf("wraparound NACK %v", got)
	}
	// A huge jump resyncs instead of NACKing hundreds of packets.
	if got := g.OnPacket(5000, now+int64(60*time.Millisecond)); len(got) != 0 {
		t.Fatalf("jump NACKed %v", lost(got))
	}
	if g.count != 0 {
		t.Fatalf("missing after resync: %d", g.count)
	}
	// Old and duplicate packets are ignored.
	g.OnPacket(4999, now+int64(90*time.Millisecond))
	g.OnPacket(5000, now+int64(90*time.Millisecond))
	if g.count != 0 || g.highest != 5000 {
		t.Fatalf("count %d highest %d", g.count, g.highest)
	}
}
