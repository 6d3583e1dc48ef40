package record

import (
	"slices"
	"time"

	"github.com/pion/rtp"
)

// jitterConfig tunes a jitterBuffer.
type jitterConfig struct {
	// nack: gaps are asked for again (RTCP NACK); without it a gap is
	// only a reordering window.
	nack bool
	// retryInterval is the time between two NACKs of one sequence number.
	retryInterval time.Duration
	// maxNacks is how many times a missing sequence number is asked for.
	maxNacks int
	// giveUp is how long a gap holds later packets back before it is
	// declared lost.
	giveUp time.Duration
	// maxHeld is how many packets may wait behind gaps; beyond it the
	// oldest gap is declared lost at once.
	maxHeld int
}

// videoJitter waits for retransmissions: five NACKs 40 ms apart, a gap
// lost after 300 ms. audioJitter (no retransmission for audio in the SFU)
// only reorders within 60 ms.
var (
	videoJitter = jitterConfig{nack: true, retryInterval: 40 * time.Millisecond, maxNacks: 5, giveUp: 300 * time.Millisecond, maxHeld: 2000}
	audioJitter = jitterConfig{giveUp: 60 * time.Millisecond, maxHeld: 200}
)

// maxJump is the largest forward jump of sequence numbers treated as a
// gap; a larger one restarts the numbering (everything before is lost).
const maxJump = 3000

// missing is the NACK state of one missing sequence number.
type missing struct {
	since    time.Time // when the gap was seen
	lastNack time.Time
	nacks    int
}

// jitterBuffer reorders one RTP stream: packets are released in sequence
// order; a missing packet holds later ones back until it arrives (a
// retransmission) or is given up. Sequence numbers are extended to 64
// bits so that wrapping is invisible. Not safe for concurrent use.
type jitterBuffer struct {
	cfg     jitterConfig
	started bool
	base    uint64 // extended sequence number of the first packet
	next    uint64 // extended sequence number released next
	highest uint64 // highest extended sequence number received
	held    map[uint64]*rtp.Packet
	missing map[uint64]*missing
	// restarted are packets from before a restart of the numbering, to
	// be released first.
	restarted  []released
	gapPending bool // the next packet released follows a gap

	// Counters.
	received, duplicates, late, lost, nacked uint64
	repaired                                 uint64 // missing packets that came after a NACK
}

func newJitterBuffer(cfg jitterConfig) *jitterBuffer {
	return &jitterBuffer{cfg: cfg, held: map[uint64]*rtp.Packet{}, missing: map[uint64]*missing{}}
}

// extend returns the extended sequence number of seq, the one closest to
// the highest received (which starts at 2^16, so it never goes below 0).
func (j *jitterBuffer) extend(seq uint16) uint64 {
	return uint64(int64(j.highest) + int64(int16(seq-uint16(j.highest))))
}

// push adds a packet received at now.
func (j *jitterBuffer) push(p *rtp.Packet, now time.Time) {
	if !j.started {
		j.started = true
		j.next = uint64(p.SequenceNumber) + 1<<16
		j.highest, j.base = j.next, j.next
		j.held[j.next] = p
		j.received++
		return
	}
	ext := j.extend(p.SequenceNumber)
	switch {
	case ext < j.next:
		j.late++
		return
	case ext > j.highest+maxJump:
		far := now.Add(time.Hour)
		for {
			q, gap := j.popHeld(far)
			if q == nil {
				break
			}
			j.restarted = append(j.restarted, released{q, gap})
		}
		j.next, j.highest, j.gapPending = ext, ext, true
	case ext > j.highest:
		for s := j.highest + 1; s < ext; s++ {
			j.missing[s] = &missing{since: now}
		}
		j.highest = ext
	}
	if j.held[ext] != nil {
		j.duplicates++
		return
	}
	if m := j.missing[ext]; m != nil && m.nacks > 0 {
		j.repaired++
	}
	delete(j.missing, ext)
	j.held[ext] = p
	j.received++
}

// pop returns the next packet in order, or nil when the next one is still
// awaited. gap reports that packets before it were given up.
func (j *jitterBuffer) pop(now time.Time) (p *rtp.Packet, gap bool) {
	if len(j.restarted) > 0 {
		r := j.restarted[0]
		j.restarted = j.restarted[1:]
		return r.p, r.gap
	}
	return j.popHeld(now)
}

// released is a packet popped before a restart of the numbering.
type released struct {
	p   *rtp.Packet
	gap bool
}

// popHeld is pop of the packets of the current numbering.
func (j *jitterBuffer) popHeld(now time.Time) (p *rtp.Packet, gap bool) {
	gap = j.gapPending
	for j.started && j.next <= j.highest {
		if p := j.held[j.next]; p != nil {
			delete(j.held, j.next)
			j.next++
			j.gapPending = false
			return p, gap
		}
		m := j.missing[j.next]
		if m != nil && now.Sub(m.since) < j.cfg.giveUp && len(j.held) <= j.cfg.maxHeld {
			j.gapPending = j.gapPending || gap
			return nil, false
		}
		delete(j.missing, j.next)
		j.next++
		j.lost++
		gap = true
	}
	j.gapPending = gap
	return nil, false
}

// drain pops every packet held, giving every gap up (the stream ends).
func (j *jitterBuffer) drain(f func(p *rtp.Packet, gap bool)) {
	far := time.Now().Add(24 * time.Hour)
	for {
		p, gap := j.pop(far)
		if p == nil {
			return
		}
		f(p, gap)
	}
}

// nacks returns the sequence numbers to ask for now, in order: each
// missing one at once, then every retryInterval, at most maxNacks times.
func (j *jitterBuffer) nacks(now time.Time) []uint16 {
	if !j.cfg.nack {
		return nil
	}
	var due []uint64
	for s, m := range j.missing {
		if m.nacks < j.cfg.maxNacks && (m.nacks == 0 || now.Sub(m.lastNack) >= j.cfg.retryInterval) {
			m.nacks++
			m.lastNack = now
			due = append(due, s)
		}
	}
	slices.Sort(due)
	out := make([]uint16, len(due))
	for i, s := range due {
		out[i] = uint16(s)
	}
	j.nacked += uint64(len(out))
	return out
}
