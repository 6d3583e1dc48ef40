// Package bwe owns receive-side bandwidth estimation: the REMB value a
// send transport reports to its sender, estimated from the abs-send-time
// of the packets it receives. Packets are grouped by send time, the growth
// of the one-way delay between groups feeds a trendline whose slope,
// against an adaptive threshold, tells whether the path is overused; an
// AIMD rate controller turns that into an estimate (the scheme of Google
// congestion control's delay-based part, written from its description).
package bwe

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// DecreaseFactor is the share of the incoming rate the estimate drops to on
// overuse. Chrome's estimator uses the same factor, so a receiver's REMB
// after congestion is about DecreaseFactor times what its path carried.
const DecreaseFactor = 0.85

const (
	groupSpan        = 5 * time.Millisecond // packets sent within it form one group
	burstSpan        = 5 * time.Millisecond // packets read this close, faster than sent, join the group
	trendWindow      = 20                   // groups in the trendline regression
	trendGain        = 4.0
	initialBitrate   = 300_000
	minBitrate       = 30_000
	overuseTimeMs    = 10.0
	rateWindow       = time.Second
	rateBuckets      = 10
	fastGrowthPerS   = 1.25 // before the first overuse
	steadyGrowthPerS = 1.08 // after it
)

// Probe detection: in the first seconds of a stream, a burst of at least
// probeWindow packets sent faster than the estimate and received as
// fast shows the path carries that rate, and the estimate jumps to it (as
// senders probe at start; the slow multiplicative increase would take tens
// of seconds to get there). Bursts count for probePeriod from the first
// packet, and after it until the estimate is established (a probe seen,
// an overuse, or probeWait): Chromium sends its startup probes when its
// video starts, often more than 2 s after the first audio packet, and an
// estimate left at 1.5 × the incoming rate is all its sender may use, so
// that under loss (which only ever lowers a REMB-driven sender's estimate)
// it soon turns its upper simulcast layers off.
const (
	probeWindow  = 6   // packets: a sender's probe cluster has at least 5
	probeMinSize = 200 // bytes; smaller packets are not probes
	probeMinSpan = 2 * time.Millisecond
	probePeriod  = 2 * time.Second // from the first packet
	probeWait    = 5 * time.Second // at most, while no estimate is established
)

// A full drop-tail queue: the delay stays at its top, so its gradient is
// flat and the detector sees no overuse, while the queue drops what does
// not fit (a sudden bitrate cap below what the sender sends, or a sender
// creeping over a cap). Loss above congestedLoss in a report interval with
// the one-way delay
// congestedDelay above its recent minimum is then an overuse; random loss
// on an empty queue (no delay above the minimum) is not.
const (
	congestedLoss    = 0.05
	congestedDelay   = 30.0 // ms
	minLossPackets   = 20   // expected packets in an interval, at least
	delayFloorWindow = 5 * time.Second
)

type probeSample struct {
	send uint32
	at   time.Time
	size int
}

// usage is the overuse detector's verdict.
type usage int

const (
	normal usage = iota
	overusing
	underusing
)

// Estimator estimates what a sender can send to us. OnPacket is called by
// the media plane, Bitrate and Active by the transport's report loop; all
// are safe for concurrent use.
type Estimator struct {
	mu sync.Mutex

	started       bool
	groupFirst    uint32 // abs-send-time (24-bit, 6.18 s) of the group's first packet
	groupLast     uint32
	groupArrival  time.Time
	prevLast      uint32
	prevArrival   time.Time
	havePrevGroup bool

	accDelay     float64
	smoothed     float64
	firstAt      time.Time
	hist         [trendWindow][2]float64 // (arrival ms, smoothed delay ms)
	histN        int
	histI        int
	numDeltas    int
	prevTrend    float64
	threshold    float64
	lastThresh   time.Time
	overuseMs    float64
	overuseN     int
	state        usage
	everOverused bool

	probe  [probeWindow]probeSample
	probeN int
	probed bool // a probe raised the estimate

	buckets    [rateBuckets]uint64
	bucketAt   [rateBuckets]int64
	estimate   float64
	lastUpdate time.Time
	lastCut    time.Time

	// The smoothed one-way delay's minimum over the current and the previous
	// delayFloorWindow (ms, relative to the first group).
	floorCur, floorPrev float64
	floorAt             time.Time

	value    atomic.Uint64 // the estimate, bps
	decrease atomic.Bool   // set when the estimate dropped: send a REMB now
}

// New returns an estimator starting at 300 kb/s.
func New() *Estimator {
	e := &Estimator{threshold: 12.5, estimate: initialBitrate}
	e.value.Store(initialBitrate)
	return e
}

// absDelta is b-a between two 24-bit abs-send-time values, in seconds,
// across the 64 s wraparound.
func absDelta(a, b uint32) float64 {
	d := int32((b-a)&0xffffff<<8) >> 8
	return float64(d) / (1 << 18)
}

// OnPacket records one arrival at now: sendTime is the packet's
// abs-send-time (24-bit, 6.18 s), size its length in bytes.
func (e *Estimator) OnPacket(now time.Time, sendTime uint32, size int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addBytes(now, size)
	if since := now.Sub(e.firstAt); !e.started || since < probePeriod || (since < probeWait && !e.probed && !e.everOverused) {
		e.detectProbe(now, sendTime, size)
	}
	if !e.started {
		e.started = true
		e.groupFirst, e.groupLast, e.groupArrival = sendTime, sendTime, now
		e.firstAt, e.lastUpdate, e.lastThresh = now, now, now
		return
	}
	if absDelta(e.groupLast, sendTime) < 0 {
		return // reordered: ignored by the delay filter
	}
	if absDelta(e.groupFirst, sendTime) <= groupSpan.Seconds() || e.inBurst(now, sendTime) {
		e.groupLast, e.groupArrival = sendTime, now
		return
	}
	// A new group starts: the finished one is compared with its predecessor.
	if e.havePrevGroup {
		sendDelta := absDelta(e.prevLast, e.groupLast) * 1000
		arrivalDelta := float64(e.groupArrival.Sub(e.prevArrival)) / 1e6
		e.updateTrend(arrivalDelta-sendDelta, e.groupArrival)
	}
	e.prevLast, e.prevArrival, e.havePrevGroup = e.groupLast, e.groupArrival, true
	e.groupFirst, e.groupLast, e.groupArrival = sendTime, sendTime, now
	e.updateRate(now)
}

// inBurst reports whether a packet sent after the current group belongs to
// it anyway: it was read within burstSpan of the group's last packet and
// sooner after it than it was sent. That is a backlog read at once (the
// process stalled, the socket buffer filled, then it read everything),
// not the path: counted as groups of their own, the stall would look like
// a queue building up and the estimate would fall.
func (e *Estimator) inBurst(now time.Time, sendTime uint32) bool {
	arrival := now.Sub(e.groupArrival)
	if arrival > burstSpan {
		return false
	}
	return arrival.Seconds() < absDelta(e.groupLast, sendTime)
}

// detectProbe keeps the last packets and raises the estimate to the rate a
// burst of them was both sent and received at.
func (e *Estimator) detectProbe(now time.Time, sendTime uint32, size int) {
	if size < probeMinSize {
		return // audio and small packets between probe packets: skipped
	}
	copy(e.probe[:], e.probe[1:])
	e.probe[probeWindow-1] = probeSample{send: sendTime, at: now, size: size}
	if e.probeN++; e.probeN < probeWindow {
		return
	}
	first, last := e.probe[0], e.probe[probeWindow-1]
	sendSpan := absDelta(first.send, last.send)
	recvSpan := last.at.Sub(first.at).Seconds()
	if sendSpan < probeMinSpan.Seconds() || recvSpan < probeMinSpan.Seconds() {
		return
	}
	bits := 0.0
	for _, p := range e.probe[1:] {
		bits += float64(p.size * 8)
	}
	rate := min(bits/sendSpan, bits/recvSpan)
	if bits/recvSpan < 0.9*bits/sendSpan {
		return // the path stretched the burst: no evidence
	}
	if rate > e.estimate*1.2 {
		e.estimate = rate
		e.value.Store(uint64(rate))
		e.probeN = 0
		e.probed = true
	}
}

// updateTrend feeds one inter-group delay variation (ms) to the trendline
// and the overuse detector.
func (e *Estimator) updateTrend(delta float64, at time.Time) {
	e.numDeltas = min(e.numDeltas+1, 1000)
	e.accDelay += delta
	e.smoothed = 0.9*e.smoothed + 0.1*e.accDelay
	if at.Sub(e.floorAt) > delayFloorWindow {
		e.floorPrev, e.floorCur, e.floorAt = e.floorCur, e.smoothed, at
	}
	e.floorCur = min(e.floorCur, e.smoothed)
	e.hist[e.histI] = [2]float64{float64(at.Sub(e.firstAt)) / 1e6, e.smoothed}
	e.histI = (e.histI + 1) % trendWindow
	e.histN = min(e.histN+1, trendWindow)
	if e.histN < trendWindow {
		return
	}
	trend := slope(e.hist[:])
	mt := float64(min(e.numDeltas, 60)) * trend * trendGain
	switch {
	case mt > e.threshold:
		e.overuseMs += delta
		e.overuseN++
		if e.overuseMs > overuseTimeMs && e.overuseN > 1 && trend >= e.prevTrend {
			e.state, e.overuseMs, e.overuseN = overusing, 0, 0
		}
	case mt < -e.threshold:
		e.state, e.overuseMs, e.overuseN = underusing, 0, 0
	default:
		e.state, e.overuseMs, e.overuseN = normal, 0, 0
	}
	e.prevTrend = trend
	// Adapt the threshold (slowly up, faster down), ignoring spikes.
	if abs := math.Abs(mt); abs <= e.threshold+15 {
		k := 0.0087
		if abs < e.threshold {
			k = 0.039
		}
		dt := min(float64(at.Sub(e.lastThresh))/1e6, 100)
		e.threshold = min(max(e.threshold+k*(abs-e.threshold)*dt, 6), 600)
	}
	e.lastThresh = at
}

// slope is the least-squares slope of the points.
func slope(pts [][2]float64) float64 {
	var sx, sy float64
	for _, p := range pts {
		sx += p[0]
		sy += p[1]
	}
	mx, my := sx/float64(len(pts)), sy/float64(len(pts))
	var num, den float64
	for _, p := range pts {
		num += (p[0] - mx) * (p[1] - my)
		den += (p[0] - mx) * (p[0] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

func (e *Estimator) addBytes(now time.Time, size int) {
	slot := now.UnixNano() / int64(rateWindow/rateBuckets)
	i := int(slot % rateBuckets)
	if e.bucketAt[i] != slot {
		e.bucketAt[i], e.buckets[i] = slot, 0
	}
	e.buckets[i] += uint64(size)
}

// incoming is the received bitrate over the last second.
func (e *Estimator) incoming(now time.Time) float64 {
	slot := now.UnixNano() / int64(rateWindow/rateBuckets)
	var sum uint64
	for i := range e.buckets {
		if slot-e.bucketAt[i] < rateBuckets {
			sum += e.buckets[i]
		}
	}
	return float64(sum) * 8 / rateWindow.Seconds()
}

// updateRate runs the AIMD rate controller on the detector's state.
func (e *Estimator) updateRate(now time.Time) {
	dt := now.Sub(e.lastUpdate).Seconds()
	if dt < 0.005 {
		return
	}
	e.lastUpdate = now
	in := e.incoming(now)
	switch e.state {
	case overusing:
		if now.Sub(e.lastCut) > 200*time.Millisecond && in > 0 {
			e.everOverused = true
			e.lastCut = now
			if cut := DecreaseFactor * in; cut < e.estimate {
				e.estimate = max(cut, minBitrate)
				e.decrease.Store(true)
			}
		}
	case normal:
		growth := fastGrowthPerS
		if e.everOverused {
			growth = steadyGrowthPerS
		}
		if limit := 1.5*in + 10_000; e.estimate < limit {
			e.estimate = min(e.estimate*math.Pow(growth, min(dt, 1)), limit)
		}
	}
	e.value.Store(uint64(e.estimate))
}

// OnLoss reports a receiver report interval of the streams the estimate is
// for at now: expected packets and, of them, lost ones. Loss while
// the delay sits well above its recent minimum means a full queue: the
// estimate is cut as on an overuse (see congestedLoss).
func (e *Estimator) OnLoss(expected, lost int64, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.started || e.histN < trendWindow || expected < minLossPackets || lost <= 0 {
		return
	}
	if float64(lost)/float64(expected) <= congestedLoss || e.smoothed-min(e.floorCur, e.floorPrev) < congestedDelay {
		return
	}
	in := e.incoming(now)
	if now.Sub(e.lastCut) <= 200*time.Millisecond || in <= 0 {
		return
	}
	e.everOverused = true
	e.lastCut = now
	if cut := DecreaseFactor * in; cut < e.estimate {
		e.estimate = max(cut, minBitrate)
		e.value.Store(uint64(e.estimate))
		e.decrease.Store(true)
	}
}

// Bitrate returns the current estimate in bits per second and whether it
// dropped since the last call (a REMB should go out at once).
func (e *Estimator) Bitrate() (bps uint64, dropped bool) {
	return e.value.Load(), e.decrease.Swap(false)
}

// Active reports whether packets with abs-send-time have been seen.
func (e *Estimator) Active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}
