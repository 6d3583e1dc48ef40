package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/sfu/internal/rtpseq"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
	"github.com/gosoup/gosoup/transport"
)

// consumerSendStream is a consumer's outgoing stream: which producer
// stream it forwards, how its numbering continues, its RTX, retransmissions
// and padding, and what its receiver reports about it. It writes every
// packet the consumer's receiver gets.
//
// Locking: the identity fields (ssrc, payload types, extension ids,
// counters) are fixed at creation; atomics are written
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
	counters         *serverCounters
	extIDs           *extRenumber // nil: the receiver reads the room's extension ids (whipapi.go)

	transport   atomic.Pointer[Transport]
	active      atomic.Bool
	resync      atomic.Bool
	effective   atomic.Pointer[string]
	preferred   atomic.Pointer[string] // preferredProfile, for the report loop
	layerSelect                        // which stream and layers are forwarded (layerselect.go)

	send sendState

	consumerFeedback
	rtxMu         sync.Mutex
	rtxSeq        uint16
	rtxBuf        []byte // made on first use (rtxScratch): most consumers, audio ones, never retransmit nor pad
	retransmitted atomic.Uint64
	paddingSent   atomic.Uint64 // probe packets
	probesFailed  atomic.Uint64
	rate          bitrateMeter // stats reports
}

// write sends one packet of stream st, already rewritten in room terms, in
// the consumer's numbering: its sequence number, timestamp, SSRC, payload
// type and picture ids (d: its payload descriptor). A packet the numbering
// refuses (too late, or of a dropped frame) is skipped. Media plane only.
func (s *consumerSendStream) write(t *Transport, buf []byte, seq uint16, ts uint32, d codec.Info, now time.Time, b *transport.Batch) {
	ss := &s.send
	out, ok := ss.number(seq, ts, d, now)
	if !ok {
		s.skip(t, seq, ts, d, false)
		return
	}
	rtpwire.PutUint16(buf[2:], out.seq)
	rtpwire.PutUint32(buf[4:], out.ts)
	rtpwire.PutUint32(buf[8:], s.ssrc)
	buf[1] = buf[1]&0x80 | s.payloadType
	d.Rewrite(buf, out.pid, out.tl0)
	if x := s.extIDs; x != nil {
		rtpwire.RenumberExtensions(buf, &x.fwd)
		defer rtpwire.RenumberExtensions(buf, &x.back) // buf goes on to the next consumer
	}
	if err := t.link.WriteRTPBatch(buf, b); err != nil {
		return
	}
	if m := t.mirror.Load(); m != nil && m.sendRTP {
		_, _ = m.conn.Write(buf)
	}
	ss.packets.Add(1)
	ss.bytes.Add(uint64(len(buf)))
}

// skip leaves a packet of the forwarded stream out of the consumer's
// numbering, so that the next one takes its sequence number; wholePicture
// drops its picture id too (every packet of the picture is skipped, as
// for a temporal layer the receiver does not get). A late packet whose
// number was already given away is replaced by a padding packet, so the
// receiver sees no gap. Media plane only.
func (s *consumerSendStream) skip(t *Transport, seq uint16, ts uint32, d codec.Info, wholePicture bool) {
	ss := &s.send
	if !ss.started {
		return
	}
	if wholePicture && d.PictureIDAt > 0 {
		ss.pid.Drop(uint32(d.PictureID))
	}
	out, hole := ss.seq.Drop(uint32(seq))
	if !hole {
		return
	}
	if h := ss.hist.Load(); h != nil {
		h.Put(uint16(out), rtpseq.Sent{In: seq, Padding: true})
	}
	s.rtxMu.Lock()
	defer s.rtxMu.Unlock()
	pkt := s.rtxScratch()[:16]
	pkt[0], pkt[1] = 0x80|0x20, s.payloadType // V=2, padding
	rtpwire.PutUint16(pkt[2:], uint16(out))
	rtpwire.PutUint32(pkt[4:], ts+ss.tsOffset)
	rtpwire.PutUint32(pkt[8:], s.ssrc)
	clear(pkt[12:15])
	pkt[15] = 4 // the payload is 4 bytes of padding
	if t.link.WriteRTP(pkt) == nil {
		s.paddingSent.Add(1)
	}
}

// retransmit answers a receiver's NACK for seq (consumer numbering) from
// the buffer of the producer stream the consumer forwards: as RTX when the
// consumer has an RTX stream, else as the original packet, with the
// picture ids it was first sent with. Packets sent before the last resync
// (another stream, or before a pause) are not retransmitted.
func (s *consumerSendStream) retransmit(seq uint16) {
	t := s.transport.Load()
	m := s.send.mapping.Load()
	h := s.send.hist.Load()
	if t == nil || m == nil || h == nil || m.stream.rtx == nil || !s.active.Load() {
		return
	}
	if seq-m.firstSeq >= 0x8000 {
		return // before the current mapping
	}
	sent, ok := h.Get(seq)
	if !ok || sent.Padding || s.send.mapping.Load() != m {
		return // forgotten, a padding packet, or sent after a resync since m was read
	}
	s.rtxMu.Lock()
	defer s.rtxMu.Unlock()
	pkt := s.rtxScratch()
	n, off, ok := m.stream.rtx.Get(sent.In, pkt)
	if !ok {
		return
	}
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
	if desc := m.stream.desc; desc != nil {
		if _, end, ok := rtpwire.PayloadBounds(pkt[:n]); ok {
			desc.Parse(pkt[off:end], off).Rewrite(pkt, sent.PictureID, sent.TL0)
		}
	}
	if x := s.extIDs; x != nil {
		rtpwire.RenumberExtensions(pkt[:n], &x.fwd)
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

// rtxScratch returns the buffer retransmissions and padding are built in,
// made on first use. rtxMu held.
func (s *consumerSendStream) rtxScratch() []byte {
	if s.rtxBuf == nil {
		s.rtxBuf = make([]byte, 1600)
	}
	return s.rtxBuf
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
	pkt := s.rtxScratch()
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

// sendState numbers one consumer's packets: sequence numbers, timestamps,
// picture ids and TL0PICIDX continue across pauses, resumes and source
// switches (resync), and packets skipped inside a stream leave no gap
// (rtpseq.Space). Media plane only, except the atomics and hist.
type sendState struct {
	clockRate uint32
	started   bool
	seq       rtpseq.Space
	pid       rtpseq.Space
	tl0       rtpseq.Space
	tsOffset  uint32
	lastTs    uint32 // timestamp of the newest packet sent
	lastAt    time.Time
	hist      atomic.Pointer[rtpseq.History] // what each sequence number carried; nil: nothing to retransmit
	group     *SendGroup                     // nil: the consumer's own stream (sendgroup.go)

	packets  atomic.Uint64
	bytes    atomic.Uint64
	reportTs atomic.Uint32
	reportAt atomic.Int64
	mapping  atomic.Pointer[outMapping] // for retransmissions
}

// outMapping is which producer stream a consumer forwards since its last
// resync, and how timestamps map. Replaced (not changed) on each resync.
type outMapping struct {
	stream   *producerStream
	tsOffset uint32
	firstSeq uint16 // first consumer sequence number of this mapping
}

// sentNumbers is a packet's numbers in the consumer's terms.
type sentNumbers struct {
	seq uint16
	ts  uint32
	pid uint16
	tl0 uint8
}

// resync starts a new run at the packet (seq, ts, d) of stream st: it
// follows the last one sent, with a timestamp advanced by the wall-clock
// time elapsed. The first run keeps the source's numbering.
func (s *sendState) resync(st *producerStream, seq uint16, ts uint32, d codec.Info, now time.Time) {
	if s.seq.Mask() == 0 {
		s.seq, s.pid, s.tl0 = rtpseq.NewSpace(0xffff), rtpseq.NewSpace(0x7fff), rtpseq.NewSpace(0xff)
	}
	if s.group != nil {
		s.group.seed(s)
	}
	if st != nil && st.rtx != nil && s.hist.Load() == nil {
		s.hist.Store(new(rtpseq.History)) // once: the stream's packets can be resent
	}
	if !s.started {
		s.started = true
		s.tsOffset = 0
	} else {
		step := uint32(1)
		if s.clockRate > 0 {
			if el := now.Sub(s.lastAt); el > 0 {
				step = max(1, uint32(el.Milliseconds())*(s.clockRate/1000))
			}
		}
		s.tsOffset = s.lastTs + step - ts
	}
	s.seq.Resync(uint32(seq))
	if d.PictureIDAt > 0 {
		s.pid.ResyncMask(uint32(d.PictureID), uint32(d.PictureIDMask()))
	}
	if d.TL0At > 0 {
		s.tl0.Resync(uint32(d.TL0))
	}
	s.mapping.Store(&outMapping{stream: st, tsOffset: s.tsOffset, firstSeq: uint16(s.seq.Last() + 1)})
}

// number gives the packet (seq, ts, d) of the current run its numbers in
// the consumer's terms and records them for retransmissions; false when
// the packet is not to be sent (too late, or of a skipped picture).
func (s *sendState) number(seq uint16, ts uint32, d codec.Info, now time.Time) (sentNumbers, bool) {
	var out sentNumbers
	if d.PictureIDAt > 0 {
		if mask := uint32(d.PictureIDMask()); mask != s.pid.Mask() {
			s.pid.ResyncMask(uint32(d.PictureID), mask)
		}
		pid, ok := s.pid.Map(uint32(d.PictureID))
		if !ok {
			return out, false
		}
		out.pid = uint16(pid)
	}
	if d.TL0At > 0 {
		tl0, ok := s.tl0.Map(uint32(d.TL0))
		if !ok {
			return out, false
		}
		out.tl0 = uint8(tl0)
	}
	o, ok := s.seq.Map(uint32(seq))
	if !ok {
		return out, false
	}
	out.seq, out.ts = uint16(o), ts+s.tsOffset
	if h := s.hist.Load(); h != nil {
		h.Put(out.seq, rtpseq.Sent{In: seq, PictureID: out.pid, TL0: out.tl0})
	}
	if o == s.seq.Last() { // the newest packet
		s.lastTs, s.lastAt = out.ts, now
		s.reportTs.Store(out.ts)
		s.reportAt.Store(now.UnixNano())
		if s.group != nil {
			s.group.note(s, out, now)
		}
	}
	return out, true
}
