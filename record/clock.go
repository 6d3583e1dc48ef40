package record

import (
	"time"
)

// ntpEpochOffset is the number of seconds from 1900 (NTP) to 1970 (Unix).
const ntpEpochOffset = 2208988800

// ntpToTime converts a 64-bit NTP timestamp to a time.
func ntpToTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	frac := int64((ntp & 0xffffffff) * 1e9 >> 32)
	return time.Unix(secs, frac)
}

// A sender report that disagrees with the clock mapping by more than
// reanchorAfter (a discontinuity of the stream) moves the mapping at once;
// a smaller disagreement beyond slewDeadband (the reports' own jitter) is
// followed by at most slewStep per report, so that a drift between the
// sender's media clock and the wall clock is followed without timestamps
// ever going back by more than slewStep (less than a frame).
const (
	reanchorAfter = time.Second
	slewDeadband  = 20 * time.Millisecond
	slewStep      = 5 * time.Millisecond
)

// mediaClock maps one stream's RTP timestamps to wall-clock time. RTP
// timestamps are first extended to 64 bits (wrapping is invisible); the
// mapping is anchored by the first RTCP sender report (NTP time ↔ RTP
// timestamp), which is what puts audio and video, with their different
// clock rates and random starting timestamps, on one timeline. A stream
// whose sender reports do not come is anchored at the arrival of its
// first packet instead. Not safe for concurrent use.
type mediaClock struct {
	rate int64 // Hz

	started bool
	last    uint32 // last RTP timestamp extended
	ext     int64  // its extended value

	anchored   bool
	fromReport bool
	anchorTs   int64
	anchorWall time.Time
}

func newMediaClock(rate int) *mediaClock { return &mediaClock{rate: int64(rate)} }

// extend returns the extended value of ts, the one closest to the last
// one, and makes ts the reference for the next call.
func (c *mediaClock) extend(ts uint32) int64 {
	e := c.peek(ts)
	c.last, c.ext = ts, e
	return e
}

// peek is extend without moving the reference.
func (c *mediaClock) peek(ts uint32) int64 {
	if !c.started {
		c.started = true
		c.last, c.ext = ts, int64(ts)+1<<32 // never below 0
	}
	return c.ext + int64(int32(ts-c.last))
}

// onSenderReport anchors the mapping to a sender report, or follows a
// later one (slewing, or re-anchoring after a discontinuity). It reports
// whether the mapping was re-anchored.
func (c *mediaClock) onSenderReport(ntp uint64, ts uint32) (reanchored bool) {
	wall, ext := ntpToTime(ntp), c.peek(ts)
	if c.anchored && c.fromReport {
		e := wall.Sub(c.wallOf(ext))
		switch {
		case e.Abs() <= slewDeadband:
			return false
		case e.Abs() < reanchorAfter:
			c.anchorWall = c.anchorWall.Add(min(slewStep, max(-slewStep, e)))
			return false
		}
		reanchored = true
	}
	c.anchored, c.fromReport, c.anchorTs, c.anchorWall = true, true, ext, wall
	return reanchored
}

// anchorAtArrival anchors the mapping at a packet's arrival, when no
// sender report came.
func (c *mediaClock) anchorAtArrival(ext int64, at time.Time) {
	if !c.anchored {
		c.anchored, c.anchorTs, c.anchorWall = true, ext, at
	}
}

// wallOf returns the wall-clock time of an extended RTP timestamp; the
// clock must be anchored.
func (c *mediaClock) wallOf(ext int64) time.Time {
	d := ext - c.anchorTs
	return c.anchorWall.Add(time.Duration(d/c.rate)*time.Second + time.Duration(d%c.rate*int64(time.Second)/c.rate))
}
