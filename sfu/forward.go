package sfu

import (
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
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

// sendState rewrites one consumer's sequence numbers, timestamps and VP8
// picture ids so they stay continuous across pauses, resumes and simulcast
// switches. Media plane only, except the atomics.
type sendState struct {
	clockRate uint32
	started   bool
	seqOffset uint16
	tsOffset  uint32
	pidOffset uint16
	tl0Offset uint8
	lastSeq   uint16
	lastTs    uint32
	lastPid   uint16
	lastTl0   uint8
	lastAt    time.Time

	packets  atomic.Uint64
	bytes    atomic.Uint64
	reportTs atomic.Uint32
	reportAt atomic.Int64
	mapping  atomic.Pointer[outMapping] // for retransmissions
}

// outMapping is how a consumer's numbering maps to the producer stream it
// forwards since its last resync. Replaced (not changed) on each resync.
type outMapping struct {
	stream    *producerStream
	seqOffset uint16
	tsOffset  uint32
	pidOffset uint16
	tl0Offset uint8
	firstSeq  uint16 // first consumer sequence number of this mapping
}

// resync sets the offsets so that the next packet follows the last one
// sent, with a timestamp advanced by the wall-clock time elapsed.
func (s *sendState) resync(st *producerStream, seq uint16, ts uint32, d rtpwire.VP8Descriptor, now time.Time) {
	if !s.started {
		s.started = true
		s.seqOffset, s.tsOffset, s.pidOffset, s.tl0Offset = 0, 0, 0, 0
		s.lastSeq = seq - 1
	} else {
		s.seqOffset = s.lastSeq + 1 - seq
		step := uint32(1)
		if s.clockRate > 0 {
			if el := now.Sub(s.lastAt); el > 0 {
				step = max(1, uint32(el.Milliseconds())*(s.clockRate/1000))
			}
		}
		s.tsOffset = s.lastTs + step - ts
		if d.PictureIDAt > 0 {
			s.pidOffset = s.lastPid + 1 - d.PictureID
		}
		if d.TL0At > 0 {
			s.tl0Offset = s.lastTl0 + 1 - d.TL0
		}
	}
	s.mapping.Store(&outMapping{stream: st, seqOffset: s.seqOffset, tsOffset: s.tsOffset,
		pidOffset: s.pidOffset, tl0Offset: s.tl0Offset, firstSeq: seq + s.seqOffset})
}

// receiveRTP is the hot path: route the packet to its stream, let the
// stream account for it, rewrite it once in room terms, fan it out to the
// active consumers. It allocates nothing.
func (p *Producer) receiveRTP(pkt []byte, ssrc uint32, b *transport.Batch) {
	st, isRTX := p.streamFor(ssrc)
	if st == nil {
		return
	}
	now := time.Now()
	p.observeTransportWide(pkt, ssrc, now)
	pkt, nacks := st.onPacket(pkt, isRTX, p.mediaPT, now)
	if len(nacks) > 0 {
		p.sendNack(st, nacks)
	}
	if pkt == nil {
		return
	}
	if p.levels != nil {
		p.levels.observe(pkt, p.audioLevelID)
	}
	if p.paused.Load() {
		return
	}
	p.fanOut(pkt, st, now, b)
}

// observeTransportWide feeds what concerns the whole send transport:
// transport-cc arrival times and the receive-side bandwidth estimator
// (every packet counts, RTX padding included: senders pad to probe).
func (p *Producer) observeTransportWide(pkt []byte, ssrc uint32, now time.Time) {
	if p.srcTCCID != 0 {
		if v := rtpwire.FindExtension(pkt, p.srcTCCID); len(v) == 2 {
			if f := p.transport.snd.tcc.Load(); f != nil {
				f.record(ssrc, rtpwire.Uint16(v), now)
			}
		}
	}
	if e := p.estimator; e != nil && p.srcAbsSendTimeID != 0 {
		if v := rtpwire.FindExtension(pkt, p.srcAbsSendTimeID); len(v) == 3 {
			e.OnPacket(now, uint32(v[0])<<16|uint32(v[1])<<8|uint32(v[2]), len(pkt))
		}
	}
}

// fanOut rewrites a media packet of stream st once into the producer's
// scratch buffer (room payload type and extension ids, fresh
// abs-send-time), keeps it for retransmissions and hands it to every
// active consumer.
func (p *Producer) fanOut(pkt []byte, st *producerStream, now time.Time, b *transport.Batch) {
	cs := *p.consumers.Load()
	if len(cs) == 0 {
		return
	}
	n, payOff, payLen := rtpwire.RewriteRTP(p.scratch[:], pkt, &p.ptMap, &p.extMap)
	if n < 0 {
		return
	}
	buf := p.scratch[:n]
	seq := rtpwire.Uint16(buf[2:])
	if st.rtx != nil {
		st.rtx.Store(seq, buf, payOff)
	}
	payload := buf[payOff : payOff+payLen]
	key := p.keyFrames != nil && p.keyFrames(payload)
	var d rtpwire.VP8Descriptor
	if p.vp8 {
		d = rtpwire.ParseVP8Descriptor(payload, payOff)
	}
	if p.absSendTimeID != 0 {
		if v := rtpwire.FindExtension(buf, p.absSendTimeID); len(v) == 3 {
			rtpwire.PutAbsSendTime(v, now)
		}
	}
	ts := rtpwire.Uint32(pkt[4:])
	for _, c := range cs {
		if c.active.Load() {
			c.forward(buf, st, seq, ts, key, d, now, b)
		}
	}
}

// forward sends one rewritten packet of stream st to the consumer's
// transport if st is the stream the consumer forwards, switching streams
// on a key frame of the target one.
func (c *Consumer) forward(buf []byte, st *producerStream, seq uint16, ts uint32, key bool, d rtpwire.VP8Descriptor, now time.Time, b *transport.Batch) {
	t := c.transport.Load()
	if t == nil || !t.wt.Connected() {
		return
	}
	waitKey := c.producer.keyFrames != nil && !key
	if cur, tgt := c.current.Load(), c.target.Load(); int(tgt) == st.index && cur != tgt {
		if waitKey {
			c.producer.requestStreamKeyFrame(st, false)
			return // switch on a key frame of the target stream only
		}
		c.current.Store(tgt)
		c.resync.Store(true)
		c.setEffective(st.profile)
	} else if int(cur) != st.index {
		return
	}
	s := &c.send
	if c.resync.Load() {
		if waitKey {
			c.producer.requestStreamKeyFrame(st, false)
			return // wait for a key frame so the receiver can decode at once
		}
		c.resync.Store(false)
		s.resync(st, seq, ts, d, now)
	}
	outSeq := seq + s.seqOffset
	outTs := ts + s.tsOffset
	rtpwire.PutUint16(buf[2:], outSeq)
	rtpwire.PutUint32(buf[4:], outTs)
	rtpwire.PutUint32(buf[8:], c.ssrc)
	buf[1] = buf[1]&0x80 | c.payloadType
	pid, tl0 := d.Rewrite(buf, s.pidOffset, s.tl0Offset)
	if err := t.wt.WriteRTPBatch(buf, b); err != nil {
		return
	}
	if delta := outSeq - s.lastSeq; delta != 0 && delta < 0x8000 {
		s.lastSeq = outSeq
		s.lastTs = outTs
		s.lastAt = now
		if d.PictureIDAt > 0 {
			s.lastPid = pid
		}
		if d.TL0At > 0 {
			s.lastTl0 = tl0
		}
		s.reportTs.Store(outTs)
		s.reportAt.Store(now.UnixNano())
	}
	s.packets.Add(1)
	s.bytes.Add(uint64(len(buf)))
}

// setEffective records the profile the consumer now receives and tells its
// client when it changed.
func (c *Consumer) setEffective(profile string) {
	if old := c.effective.Load(); old != nil && *old == profile {
		return
	}
	p := profile
	if old := c.effective.Swap(&p); old != nil && *old == profile {
		return
	}
	c.peer.counters().profileChanges.Add(1)
	c.peer.notify(protocol.ConsumerEffectiveProfileChanged{ID: c.id, PeerName: c.producer.peer.name, Profile: profile})
}
