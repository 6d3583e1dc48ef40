package sfu

import (
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/transport"
)

// receiveStats are a producer stream's counters. Written by the media
// plane, read by reports and stats.
type receiveStats struct {
	packets    atomic.Uint64
	bytes      atomic.Uint64
	baseSeq    atomic.Uint32
	cycles     uint32 // media plane only
	maxSeq     atomic.Uint32
	started    bool // media plane only
	lastSRNTP  atomic.Uint32
	lastSRTime atomic.Int64
	// expected/received at the previous receiver report (report goroutine)
	priorExpected uint32
	priorReceived uint64
}

func (s *receiveStats) update(seq uint16, size int) {
	s.packets.Add(1)
	s.bytes.Add(uint64(size))
	if !s.started {
		s.started = true
		s.baseSeq.Store(uint32(seq))
		s.maxSeq.Store(uint32(seq))
		return
	}
	maxSeq := s.maxSeq.Load()
	if d := seq - uint16(maxSeq); d != 0 && d < 0x8000 {
		if seq < uint16(maxSeq) {
			s.cycles += 1 << 16
		}
		s.maxSeq.Store(s.cycles | uint32(seq))
	}
}

// sendState rewrites one consumer's sequence numbers and timestamps so they
// stay continuous across pauses and resumes. Media plane only, except the
// atomics read by sender reports.
type sendState struct {
	clockRate uint32
	started   bool
	seqOffset uint16
	tsOffset  uint32
	lastSeq   uint16
	lastTs    uint32
	lastAt    time.Time

	packets  atomic.Uint64
	bytes    atomic.Uint64
	reportTs atomic.Uint32
	reportAt atomic.Int64
	offsets  atomic.Uint64 // seqOffset<<32 | tsOffset, for retransmissions
}

// resync sets the offsets so that the next packet follows the last one
// sent, with a timestamp advanced by the wall-clock time elapsed.
func (s *sendState) resync(seq uint16, ts uint32, now time.Time) {
	defer func() { s.offsets.Store(uint64(s.seqOffset)<<32 | uint64(s.tsOffset)) }()
	if !s.started {
		s.started = true
		s.seqOffset, s.tsOffset = 0, 0
		s.lastSeq = seq - 1
		return
	}
	s.seqOffset = s.lastSeq + 1 - seq
	step := uint32(1)
	if s.clockRate > 0 {
		if el := now.Sub(s.lastAt); el > 0 {
			step = max(1, uint32(el.Milliseconds())*(s.clockRate/1000))
		}
	}
	s.tsOffset = s.lastTs + step - ts
}

// receiveRTP is the hot path: one producer packet in, one rewritten packet
// out per active consumer. It allocates nothing.
func (p *Producer) receiveRTP(pkt []byte, ssrc uint32, b *transport.Batch) {
	if ssrc == p.rtxSSRC && ssrc != 0 {
		if pkt = p.decodeRTX(pkt); pkt == nil {
			return // padding-only probe or malformed
		}
		ssrc = p.mediaSSRC
	} else if ssrc != p.mediaSSRC {
		return // further simulcast streams are not forwarded yet
	} else {
		p.recv.update(getUint16(pkt[2:]), len(pkt))
	}
	seq := getUint16(pkt[2:])
	if p.levels != nil {
		if v := findExtension(pkt, p.audioLevelID); len(v) > 0 {
			p.levels.sum.Add(uint64(v[0] & 0x7f))
			p.levels.count.Add(1)
		}
	}
	if p.nacks != nil {
		if pairs := p.nacks.onPacket(seq, time.Now().UnixNano()); len(pairs) > 0 {
			p.sendNack(pairs)
		}
	}
	if p.paused.Load() {
		return
	}
	cs := *p.consumers.Load()
	if len(cs) == 0 {
		return
	}
	n, payOff, payLen := rewriteRTP(p.scratch[:], pkt, &p.ptMap, &p.extMap)
	if n < 0 {
		return
	}
	buf := p.scratch[:n]
	if p.rtx != nil {
		p.rtx.store(seq, buf, payOff)
	}
	key := p.keyFrames != nil && p.keyFrames(buf[payOff:payOff+payLen])
	ts := getUint32(pkt[4:])
	var now time.Time
	for _, c := range cs {
		if !c.active.Load() {
			continue
		}
		if now.IsZero() {
			now = time.Now()
		}
		c.forward(buf, seq, ts, key, now, b)
	}
}

// forward sends one rewritten packet to the consumer's transport.
func (c *Consumer) forward(buf []byte, seq uint16, ts uint32, key bool, now time.Time, b *transport.Batch) {
	t := c.transport.Load()
	if t == nil || !t.wt.Connected() {
		return
	}
	s := &c.send
	if c.resync.Load() {
		if c.producer.keyFrames != nil && !key {
			c.producer.requestKeyFrame(false)
			return // wait for a key frame so the receiver can decode at once
		}
		c.resync.Store(false)
		s.resync(seq, ts, now)
	}
	outSeq := seq + s.seqOffset
	outTs := ts + s.tsOffset
	putUint16(buf[2:], outSeq)
	putUint32(buf[4:], outTs)
	putUint32(buf[8:], c.ssrc)
	buf[1] = buf[1]&0x80 | c.payloadType
	if err := t.wt.WriteRTPBatch(buf, b); err != nil {
		return
	}
	if d := outSeq - s.lastSeq; d != 0 && d < 0x8000 {
		s.lastSeq = outSeq
		s.lastTs = outTs
		s.lastAt = now
		s.reportTs.Store(outTs)
		s.reportAt.Store(now.UnixNano())
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(buf)))
	if c.effective.Load() == nil {
		profile := "default"
		if c.effective.CompareAndSwap(nil, &profile) {
			c.peer.notify(protocol.ConsumerEffectiveProfileChanged{ID: c.id, PeerName: c.producer.peer.name, Profile: profile})
		}
	}
}
