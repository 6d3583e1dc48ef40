package sfu

import (
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// Before a simulcast consumer moves up a layer, gosoup probes the path as
// mediasoup did: it sends RTX padding (with abs-send-time, so the
// receiver's estimator counts it) at the extra bitrate the next layer
// needs, for probeDuration. If the receiver reports no congestion
// meanwhile the consumer switches up; otherwise the probe stops, nothing
// visible happened to the video, and the consumer backs off.
const (
	probeDuration  = 2500 * time.Millisecond
	probeMinBps    = 50_000
	probeMaxBps    = 5_000_000
	paddingPayload = 255 // padding bytes per probe packet (the RTP maximum)
)

// canProbe reports whether the consumer can carry padding: it needs an RTX
// stream and abs-send-time.
func (c *Consumer) canProbe() bool { return c.rtxSSRC != 0 && c.absSendTimeID != 0 }

// sendPadding sends about bytes of RTX padding-only packets. Report loop.
func (c *Consumer) sendPadding(bytes int, now time.Time) {
	t := c.transport.Load()
	if t == nil || !c.active.Load() {
		return
	}
	c.rtxMu.Lock()
	defer c.rtxMu.Unlock()
	pkt := c.rtxScratch[:]
	const hdr = 20 // RTP header + one-byte extension block with abs-send-time
	for sent := 0; sent < bytes; sent += hdr + paddingPayload {
		c.rtxSeq++
		pkt[0], pkt[1] = 0x80|0x20|0x10, c.rtxPayloadType // V=2, padding, extension
		rtpwire.PutUint16(pkt[2:], c.rtxSeq)
		rtpwire.PutUint32(pkt[4:], c.send.reportTs.Load())
		rtpwire.PutUint32(pkt[8:], c.rtxSSRC)
		rtpwire.PutUint16(pkt[12:], 0xBEDE)
		rtpwire.PutUint16(pkt[14:], 1)
		pkt[16] = c.absSendTimeID<<4 | 2
		rtpwire.PutAbsSendTime(pkt[17:20], now)
		clear(pkt[hdr : hdr+paddingPayload])
		pkt[hdr+paddingPayload-1] = paddingPayload
		if t.wt.WriteRTP(pkt[:hdr+paddingPayload]) != nil {
			return
		}
		c.paddingSent.Add(1)
	}
}

// probeTick sends the running probe's share of padding for one report-loop
// tick (interval long).
func (t *Transport) probeTick(interval time.Duration, now time.Time) {
	c, ok := t.rcv.layers.probing.(*Consumer)
	if !ok {
		return
	}
	c.sendPadding(int(float64(c.layers.probeBps)/8*interval.Seconds()), now)
}
