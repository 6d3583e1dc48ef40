package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
	"github.com/gosoup/gosoup/transport"
)

// consumerSendStream is a consumer's outgoing stream: which producer
// stream it forwards, how its numbering continues, its RTX, retransmissions
// and padding, and what its receiver reports about it. It writes every
// packet the consumer's receiver gets.
//
// Locking: the identity fields (ssrc, payload types, extension ids, the
// source's VP8 flag, counters) are fixed at creation; atomics are written
// by the media plane (or the control plane for transport, active,
// preferred) and read anywhere; send is the media plane's only; rtxMu
// serializes the RTX sequence and scratch buffer (retransmissions and
// padding probes).
type consumerSendStream struct {
	// Fixed at creation.
	ssrc             uint32
	payloadType      uint8
	rtxSSRC          uint32
	rtxPayloadType   uint8
	absSendTimeID    uint8 // in the consumer's parameters; padding probes carry it
	srcAbsSendTimeID uint8 // room id of abs-send-time in the producer's packets
	vp8              bool  // the source is VP8: picture ids are rewritten
	counters         *serverCounters

	transport atomic.Pointer[Transport]
	active    atomic.Bool
	resync    atomic.Bool
	effective atomic.Pointer[string]
	preferred atomic.Pointer[string] // preferredProfile, for the report loop
	current   atomic.Int32           // producer stream forwarded now; -1: none (media plane writes)
	target    atomic.Int32           // producer stream to switch to; -1: none

	send sendState

	consumerFeedback
	rtxMu         sync.Mutex
	rtxSeq        uint16
	rtxScratch    [1600]byte
	retransmitted atomic.Uint64
	paddingSent   atomic.Uint64 // probe packets
	probesFailed  atomic.Uint64
	rate          bitrateMeter // stats reports
}

// write sends one packet of stream st, already rewritten in room terms, in
// the consumer's numbering: its sequence number, timestamp, SSRC, payload
// type and VP8 picture ids. Media plane only.
func (s *consumerSendStream) write(t *Transport, buf []byte, seq uint16, ts uint32, d rtpwire.VP8Descriptor, now time.Time, b *transport.Batch) {
	ss := &s.send
	outSeq := seq + ss.seqOffset
	outTs := ts + ss.tsOffset
	rtpwire.PutUint16(buf[2:], outSeq)
	rtpwire.PutUint32(buf[4:], outTs)
	rtpwire.PutUint32(buf[8:], s.ssrc)
	buf[1] = buf[1]&0x80 | s.payloadType
	pid, tl0 := d.Rewrite(buf, ss.pidOffset, ss.tl0Offset)
	if err := t.link.WriteRTPBatch(buf, b); err != nil {
		return
	}
	if m := t.mirror.Load(); m != nil && m.sendRTP {
		_, _ = m.conn.Write(buf)
	}
	if delta := outSeq - ss.lastSeq; delta != 0 && delta < 0x8000 {
		ss.lastSeq = outSeq
		ss.lastTs = outTs
		ss.lastAt = now
		if d.PictureIDAt > 0 {
			ss.lastPid = pid
		}
		if d.TL0At > 0 {
			ss.lastTl0 = tl0
		}
		ss.reportTs.Store(outTs)
		ss.reportAt.Store(now.UnixNano())
	}
	ss.packets.Add(1)
	ss.bytes.Add(uint64(len(buf)))
}

// retransmit answers a receiver's NACK for seq (consumer numbering) from
// the buffer of the producer stream the consumer forwards: as RTX when the
// consumer has an RTX stream, else as the original packet. Packets sent
// before the last resync (another stream, or before a pause) are not
// retransmitted.
func (s *consumerSendStream) retransmit(seq uint16) {
	t := s.transport.Load()
	m := s.send.mapping.Load()
	if t == nil || m == nil || m.stream.rtx == nil || !s.active.Load() {
		return
	}
	if seq-m.firstSeq >= 0x8000 {
		return // before the current mapping
	}
	s.rtxMu.Lock()
	defer s.rtxMu.Unlock()
	n, off, ok := m.stream.rtx.Get(seq-m.seqOffset, s.rtxScratch[:])
	if !ok {
		return
	}
	pkt := s.rtxScratch[:]
	rtpwire.PutUint16(pkt[2:], seq)
	rtpwire.PutUint32(pkt[4:], rtpwire.Uint32(pkt[4:])+m.tsOffset)
	rtpwire.PutUint32(pkt[8:], s.ssrc)
	pkt[1] = pkt[1]&0x80 | s.payloadType
	if id := s.srcAbsSendTimeID; id != 0 {
		// Stamped now, like forwarded packets: the stored copy still has the
		// sender's clock, which would confuse the receiver's estimator.
		if v := rtpwire.FindExtension(pkt[:n], id); len(v) == 3 {
			rtpwire.PutAbsSendTime(v, time.Now())
		}
	}
	if s.vp8 {
		if _, end, ok := rtpwire.PayloadBounds(pkt[:n]); ok {
			rtpwire.ParseVP8Descriptor(pkt[off:end], off).Rewrite(pkt, m.pidOffset, m.tl0Offset)
		}
	}
	if s.rtxSSRC != 0 {
		s.rtxSeq++
		n = rtpwire.BuildRTX(pkt, n, off, s.rtxPayloadType, s.rtxSSRC, s.rtxSeq, seq)
	}
	if t.link.WriteRTP(pkt[:n]) == nil {
		s.retransmitted.Add(1)
		s.counters.retransmitted.Add(1)
	}
}

// canProbe reports whether the stream can carry padding: it needs an RTX
// stream and abs-send-time.
func (s *consumerSendStream) canProbe() bool { return s.rtxSSRC != 0 && s.absSendTimeID != 0 }

// sendPadding sends about bytes of RTX padding-only packets. Report loop.
func (s *consumerSendStream) sendPadding(bytes int, now time.Time) {
	t := s.transport.Load()
	if t == nil || !s.active.Load() {
		return
	}
	s.rtxMu.Lock()
	defer s.rtxMu.Unlock()
	pkt := s.rtxScratch[:]
	const hdr = 20 // RTP header + one-byte extension block with abs-send-time
	for sent := 0; sent < bytes; sent += hdr + paddingPayload {
		s.rtxSeq++
		pkt[0], pkt[1] = 0x80|0x20|0x10, s.rtxPayloadType // V=2, padding, extension
		rtpwire.PutUint16(pkt[2:], s.rtxSeq)
		rtpwire.PutUint32(pkt[4:], s.send.reportTs.Load())
		rtpwire.PutUint32(pkt[8:], s.rtxSSRC)
		rtpwire.PutUint16(pkt[12:], 0xBEDE)
		rtpwire.PutUint16(pkt[14:], 1)
		pkt[16] = s.absSendTimeID<<4 | 2
		rtpwire.PutAbsSendTime(pkt[17:20], now)
		clear(pkt[hdr : hdr+paddingPayload])
		pkt[hdr+paddingPayload-1] = paddingPayload
		if t.link.WriteRTP(pkt[:hdr+paddingPayload]) != nil {
			return
		}
		s.paddingSent.Add(1)
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
