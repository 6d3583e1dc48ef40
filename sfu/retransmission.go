package sfu

import (
	"sync"
	"time"
)

// retransmissionSlots is how many recent packets a video stream keeps for
// retransmission (about 1.5 s of 720p video); simulcast's lower layers,
// with fewer packets per second, keep a half or a quarter of that. Powers
// of two, so that slots stay aligned across the 16-bit wraparound.
const retransmissionSlots = 512

// retransmissionSlotsFor sizes a stream's buffer by its profile.
func retransmissionSlotsFor(profile string) int {
	switch profile {
	case "low":
		return retransmissionSlots / 4
	case "medium":
		return retransmissionSlots / 2
	}
	return retransmissionSlots
}

// retransmissionBuffer keeps one shared copy of a producer stream's recent
// packets, already rewritten to room payload type and extension ids, so
// that every consumer can answer its receiver's NACKs from it (as
// mediasoup's RtpRetransmissionBuffer). Slots are indexed by the sequence
// number; a slot is valid only for the sequence number it holds, which
// makes the 16-bit wraparound harmless.
type retransmissionBuffer struct {
	mu    sync.Mutex
	slots []rtxSlot
}

type rtxSlot struct {
	seq   uint16
	valid bool
	len   uint16
	off   uint16 // payload offset
	data  [1500]byte
}

// newRetransmissionBuffer returns a buffer of n slots (a power of two).
func newRetransmissionBuffer(n int) *retransmissionBuffer {
	return &retransmissionBuffer{slots: make([]rtxSlot, n)}
}

// store copies a rewritten packet; packets larger than a slot are skipped.
func (r *retransmissionBuffer) store(seq uint16, pkt []byte, payloadOff int) {
	if len(pkt) > 1500 {
		return
	}
	r.mu.Lock()
	sl := &r.slots[int(seq)&(len(r.slots)-1)]
	sl.seq, sl.valid, sl.len, sl.off = seq, true, uint16(len(pkt)), uint16(payloadOff)
	copy(sl.data[:], pkt)
	r.mu.Unlock()
}

// get copies the packet with this sequence number into dst and returns its
// length and payload offset, or ok=false if it is gone.
func (r *retransmissionBuffer) get(seq uint16, dst []byte) (n, payloadOff int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := &r.slots[int(seq)&(len(r.slots)-1)]
	if !sl.valid || sl.seq != seq || len(dst) < int(sl.len)+2 {
		return 0, 0, false
	}
	return copy(dst, sl.data[:sl.len]), int(sl.off), true
}

// buildRTX turns a stored packet (in dst[:n], payload at off) into the
// consumer's RTX packet (RFC 4588) in place: RTX payload type and SSRC,
// the RTX sequence number, and the original sequence number (osn) before
// the payload. It returns the new length.
func buildRTX(dst []byte, n, off int, pt uint8, ssrc uint32, rtxSeq, osn uint16) int {
	copy(dst[off+2:n+2], dst[off:n])
	putUint16(dst[off:], osn)
	dst[1] = dst[1]&0x80 | pt
	putUint16(dst[2:], rtxSeq)
	putUint32(dst[8:], ssrc)
	return n + 2
}

// retransmit answers a receiver's NACK for seq (consumer numbering) from
// the buffer of the producer stream the consumer forwards: as RTX when the
// consumer has an RTX stream, else as the original packet. Packets sent
// before the last resync (another stream, or before a pause) are not
// retransmitted.
func (c *Consumer) retransmit(seq uint16) {
	t := c.transport.Load()
	m := c.send.mapping.Load()
	if t == nil || m == nil || m.stream.rtx == nil || !c.active.Load() {
		return
	}
	if seq-m.firstSeq >= 0x8000 {
		return // before the current mapping
	}
	c.rtxMu.Lock()
	defer c.rtxMu.Unlock()
	n, off, ok := m.stream.rtx.get(seq-m.seqOffset, c.rtxScratch[:])
	if !ok {
		return
	}
	pkt := c.rtxScratch[:]
	putUint16(pkt[2:], seq)
	putUint32(pkt[4:], getUint32(pkt[4:])+m.tsOffset)
	putUint32(pkt[8:], c.ssrc)
	pkt[1] = pkt[1]&0x80 | c.payloadType
	if id := c.producer.absSendTimeID; id != 0 {
		// Stamped now, like forwarded packets: the stored copy still has the
		// sender's clock, which would confuse the receiver's estimator.
		if v := findExtension(pkt[:n], id); len(v) == 3 {
			putAbsSendTime(v, time.Now())
		}
	}
	if c.producer.vp8 {
		if _, end, ok := rtpPayloadBounds(pkt[:n]); ok {
			parseVP8Descriptor(pkt[off:end], off).rewrite(pkt, m.pidOffset, m.tl0Offset)
		}
	}
	if c.rtxSSRC != 0 {
		c.rtxSeq++
		n = buildRTX(pkt, n, off, c.rtxPayloadType, c.rtxSSRC, c.rtxSeq, seq)
	}
	if t.wt.WriteRTP(pkt[:n]) == nil {
		c.retransmitted.Add(1)
		c.peer.counters().retransmitted.Add(1)
	}
}

// decodeRTX turns a sender's RTX packet (RFC 4588) back into the original
// media packet, in the producer's scratch buffer: media SSRC, media
// payload type, original sequence number. nil for padding-only packets.
func (p *Producer) decodeRTX(pkt []byte, st *producerStream) []byte {
	off, end, ok := rtpPayloadBounds(pkt)
	if !ok || end-off < 2 {
		return nil
	}
	out := p.rtxScratch[:]
	if len(pkt) > len(out) {
		return nil
	}
	osn := getUint16(pkt[off:])
	n := copy(out, pkt[:off])
	n += copy(out[n:], pkt[off+2:end])
	out[0] &^= 0x20 // padding dropped
	out[1] = out[1]&0x80 | p.mediaPT
	putUint16(out[2:], osn)
	putUint32(out[8:], st.ssrc.Load())
	return out[:n]
}

// rtpPayloadBounds returns where the payload of an RTP packet starts and
// ends (padding excluded).
func rtpPayloadBounds(pkt []byte) (off, end int, ok bool) {
	if len(pkt) < 12 {
		return 0, 0, false
	}
	off = 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return 0, 0, false
		}
		off += 4 + 4*int(getUint16(pkt[off+2:]))
	}
	end = len(pkt)
	if pkt[0]&0x20 != 0 && end > 0 {
		end -= int(pkt[end-1])
	}
	if off > end {
		return 0, 0, false
	}
	return off, end, true
}
