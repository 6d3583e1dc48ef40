package sfu

import (
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

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
	n, off, ok := m.stream.rtx.Get(seq-m.seqOffset, c.rtxScratch[:])
	if !ok {
		return
	}
	pkt := c.rtxScratch[:]
	rtpwire.PutUint16(pkt[2:], seq)
	rtpwire.PutUint32(pkt[4:], rtpwire.Uint32(pkt[4:])+m.tsOffset)
	rtpwire.PutUint32(pkt[8:], c.ssrc)
	pkt[1] = pkt[1]&0x80 | c.payloadType
	if id := c.producer.absSendTimeID; id != 0 {
		// Stamped now, like forwarded packets: the stored copy still has the
		// sender's clock, which would confuse the receiver's estimator.
		if v := rtpwire.FindExtension(pkt[:n], id); len(v) == 3 {
			rtpwire.PutAbsSendTime(v, time.Now())
		}
	}
	if c.producer.vp8 {
		if _, end, ok := rtpwire.PayloadBounds(pkt[:n]); ok {
			rtpwire.ParseVP8Descriptor(pkt[off:end], off).Rewrite(pkt, m.pidOffset, m.tl0Offset)
		}
	}
	if c.rtxSSRC != 0 {
		c.rtxSeq++
		n = rtpwire.BuildRTX(pkt, n, off, c.rtxPayloadType, c.rtxSSRC, c.rtxSeq, seq)
	}
	if t.wt.WriteRTP(pkt[:n]) == nil {
		c.retransmitted.Add(1)
		c.peer.counters().retransmitted.Add(1)
	}
}
