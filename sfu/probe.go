package sfu

import (
	"time"
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

// probeTick sends the running probe's share of padding for one report-loop
// tick (interval long).
func (t *Transport) probeTick(interval time.Duration, now time.Time) {
	c, ok := t.rcv.layers.probing.(*Consumer)
	if !ok {
		return
	}
	c.sendPadding(int(float64(c.layers.probeBps)/8*interval.Seconds()), now)
}
