// Package rtpbuf owns the per-stream packet bookkeeping behind
// retransmission: the NACK generator that tracks which sequence numbers of
// an incoming stream are missing and when to ask for them again, and the
// retransmission buffer that keeps recent packets to answer receivers'
// NACKs. Neither touches the network: the caller sends the NACKs and the
// retransmitted packets.
package rtpbuf

import (
	"time"

	"github.com/pion/rtcp"
)

// NACK generation toward a sender for packets lost on the way in.
const (
	nackSlots      = 512                    // sequence numbers tracked
	nackMaxRetries = 10                     // NACKs per missing packet
	nackRetryEvery = 100 * time.Millisecond // between NACKs of one packet
	nackScanEvery  = 20 * time.Millisecond  // retry scans, driven by arrivals
)

// Generator tracks missing sequence numbers of one incoming stream and
// says which to NACK when. The zero value is ready to use. Not safe for
// concurrent use: one goroutine (the stream's reader) owns it.
type Generator struct {
	started  bool
	highest  uint16
	seqs     [nackSlots]uint16
	missing  [nackSlots]bool
	lastNack [nackSlots]int64
	retries  [nackSlots]uint8
	count    int
	lastScan int64
	pairs    []rtcp.NackPair // reused
}

// OnPacket records the arrival of seq at now (unix ns) and returns the
// sequence numbers to NACK now. The slice is the generator's own, reused
// by the next call.
func (g *Generator) OnPacket(seq uint16, now int64) []rtcp.NackPair {
	g.pairs = g.pairs[:0]
	if !g.started {
		g.started, g.highest = true, seq
		return nil
	}
	i := int(seq) % nackSlots
	if g.missing[i] && g.seqs[i] == seq { // a retransmission or late packet
		g.missing[i] = false
		g.count--
	}
	d := seq - g.highest
	switch {
	case d == 0 || d >= 0x8000: // duplicate or older
	case d > nackSlots/2: // a jump too large to chase: resync
		g.reset(seq)
	default:
		for s := g.highest + 1; s != seq; s++ {
			j := int(s) % nackSlots
			if g.missing[j] {
				g.count--
			}
			g.seqs[j], g.missing[j], g.lastNack[j], g.retries[j] = s, true, 0, 0
			g.count++
		}
		g.highest = seq
	}
	if g.count == 0 || now-g.lastScan < int64(nackScanEvery) {
		return nil
	}
	g.lastScan = now
	for k := 1; k < nackSlots && g.count > 0; k++ {
		s := g.highest - uint16(k)
		j := int(s) % nackSlots
		if !g.missing[j] || g.seqs[j] != s {
			continue
		}
		if g.retries[j] >= nackMaxRetries {
			g.missing[j] = false
			g.count--
			continue
		}
		if now-g.lastNack[j] < int64(nackRetryEvery) {
			continue
		}
		g.lastNack[j] = now
		g.retries[j]++
		g.add(s)
	}
	return g.pairs
}

// Pending reports whether seq is missing and may still be NACKed.
func (g *Generator) Pending(seq uint16) bool {
	j := int(seq) % nackSlots
	return g.missing[j] && g.seqs[j] == seq
}

func (g *Generator) reset(seq uint16) {
	*g = Generator{started: true, highest: seq, pairs: g.pairs[:0]}
}

// add puts s in the pair list (pairs cover a packet id and 16 followers).
func (g *Generator) add(s uint16) {
	for i := range g.pairs {
		p := &g.pairs[i]
		if d := s - p.PacketID; d >= 1 && d <= 16 {
			p.LostPackets |= 1 << (d - 1)
			return
		}
		if d := p.PacketID - s; d >= 1 && d <= 16 && p.LostPackets>>(16-d) == 0 {
			p.LostPackets = p.LostPackets<<d | 1<<(d-1)
			p.PacketID = s
			return
		}
	}
	g.pairs = append(g.pairs, rtcp.NackPair{PacketID: s})
}
