package sfu

import (
	"bytes"
	"testing"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// TestSendGroupContinuesNumbering: the member of a send group that
// resumes continues the sequence numbers and timestamps of the member
// that sent last, from its own source's numbers; a member that sent last
// itself keeps its own numbering.
func TestSendGroupContinuesNumbering(t *testing.T) {
	g := NewSendGroup()
	a, b := sendState{clockRate: 90000, group: g}, sendState{clockRate: 90000, group: g}
	a.resync(nil, 100, 5000, codec.Info{}, zeroTime)
	for i := range uint16(3) {
		a.number(100+i, 5000+uint32(i)*3000, codec.Info{}, zeroTime)
	}
	// a sent 100..102 (ts 11000 last); b's source is elsewhere entirely
	now := zeroTime.Add(100e6)
	b.resync(nil, 40000, 777, codec.Info{}, now)
	out, ok := b.number(40000, 777, codec.Info{}, now)
	if !ok || out.seq != 103 {
		t.Fatalf("b's first seq %d (%v), want 103", out.seq, ok)
	}
	if want := uint32(11000 + 9000); out.ts != want {
		t.Fatalf("b's first ts %d, want %d (100 ms after a's last)", out.ts, want)
	}
	// back to a: it continues after b
	a.resync(nil, 103, 20000, codec.Info{}, now.Add(20e6))
	if out, _ := a.number(103, 20000, codec.Info{}, now.Add(20e6)); out.seq != 104 {
		t.Fatalf("a after b: seq %d, want 104", out.seq)
	}
	// a resyncs again without anyone between: its own numbering
	a.resync(nil, 200, 30000, codec.Info{}, now.Add(40e6))
	if out, _ := a.number(200, 30000, codec.Info{}, now.Add(40e6)); out.seq != 105 {
		t.Fatalf("a again: seq %d, want 105", out.seq)
	}
}

// TestRenumberedConsumer: of two consumers of one packet, the one with its
// receiver's extension ids gets abs-send-time at its id (5, not the
// room's 3), in forwarded packets and retransmissions, and the other gets
// the room's id: the shared buffer is restored between them.
func TestRenumberedConsumer(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 2, "127.0.0.1")
	t.Cleanup(done)
	cs := *p.consumers.Load()
	x, err := newExtRenumber(map[int]int{3: 5, 5: 9})
	if err != nil || x == nil {
		t.Fatal(x, err)
	}
	cs[0].extIDs = x
	cs[0].rtxSSRC, cs[0].rtxPayloadType = 6000, 102
	read0, read1 := consumerSink(t, p, cs[0]), consumerSink(t, p, cs[1])
	var seqs []uint16
	for i := range 3 {
		rtpwire.PutUint16(pkt[2:], uint16(100+i))
		p.receiveRTP(pkt, 1111, batch)
		batch.Flush()
		got0, got1 := read0(), read1()
		if got0.GetExtension(5) == nil || got0.GetExtension(3) != nil {
			t.Fatalf("renumbered consumer: abs-send-time at 5 %x, at 3 %x", got0.GetExtension(5), got0.GetExtension(3))
		}
		if got1.GetExtension(3) == nil || got1.GetExtension(5) != nil {
			t.Fatalf("other consumer: abs-send-time at 3 %x, at 5 %x", got1.GetExtension(3), got1.GetExtension(5))
		}
		if !bytes.Equal(got0.Payload, got1.Payload) {
			t.Fatal("payloads differ")
		}
		seqs = append(seqs, got0.SequenceNumber)
	}
	cs[0].retransmit(seqs[1])
	rtx := read0()
	if rtx.SSRC != 6000 || rtx.GetExtension(5) == nil || rtx.GetExtension(3) != nil {
		t.Fatalf("retransmission: ssrc %d, abs-send-time at 5 %x, at 3 %x", rtx.SSRC, rtx.GetExtension(5), rtx.GetExtension(3))
	}
}

func TestNewExtRenumber(t *testing.T) {
	if x, err := newExtRenumber(map[int]int{1: 1, 3: 3}); x != nil || err != nil {
		t.Errorf("identity: %v %v", x, err)
	}
	for _, bad := range []map[int]int{{0: 1}, {1: 15}, {1: 4, 2: 4}} {
		if _, err := newExtRenumber(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	x, _ := newExtRenumber(map[int]int{1: 4, 3: 5})
	for id := uint8(1); id <= 14; id++ {
		if x.back[x.fwd[id]] != id {
			t.Fatalf("not a permutation: %v", x.fwd)
		}
	}
	if x.fwd[1] != 4 || x.fwd[3] != 5 {
		t.Fatalf("fwd %v", x.fwd)
	}
}

// BenchmarkForwardRenumbered is BenchmarkForward's 10 consumers, each
// renumbering the header extensions for its receiver (a WHEP player whose
// ids differ from the room's): the cost of renumbering, and of restoring
// the packet for the next consumer.
func BenchmarkForwardRenumbered(b *testing.B) {
	for _, renumber := range []bool{false, true} {
		b.Run(map[bool]string{false: "room-ids", true: "renumbered"}[renumber], func(b *testing.B) {
			p, pkt, batch, done := benchFanout(b, 10, "127.0.0.1")
			defer done()
			if renumber {
				x, _ := newExtRenumber(map[int]int{3: 5, 5: 9})
				for _, c := range *p.consumers.Load() {
					c.extIDs = x
				}
			}
			forwardLoop(b, p, pkt, batch)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10), "ns/pkt")
		})
	}
}
