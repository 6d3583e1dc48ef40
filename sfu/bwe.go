package sfu

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Receive-side bandwidth estimation from abs-send-time, sent back to the
// sender as REMB: packets are grouped by send time, the growth of the
// one-way delay between groups feeds a trendline whose slope, against an
// adaptive threshold, tells whether the path is overused; an AIMD rate
// controller turns that into an estimate (the scheme of Google congestion
// control's delay-based part, written from its description).
const (
	bweGroupSpan       = 5 * time.Millisecond // packets sent within it form one group
	bweTrendWindow     = 20                   // groups in the trendline regression
	bweTrendGain       = 4.0
	bweInitialBitrate  = 300_000
	bweMinBitrate      = 30_000
	bweDecreaseFactor  = 0.85
	bweOveruseTimeMs   = 10.0
	bweRateWindow      = time.Second
	bweRateBuckets     = 10
	bweFastGrowthPerS  = 1.25 // before the first overuse
	bweSteadyGrowthPer = 1.08 // after it
)

// Probe detection: in the first seconds of a stream, a burst of at least
// bweProbeWindow packets sent faster than the estimate and received as
// fast shows the path carries that rate, and the estimate jumps to it (as
// senders probe at start; the slow multiplicative increase would take tens
// of seconds to get there).
const (
	bweProbeWindow  = 10
	bweProbeMinSize = 200 // bytes; smaller packets are not probes
	bweProbeMinSpan = 2 * time.Millisecond
	bweProbePeriod  = 2 * time.Second // from the first packet
)

type probeSample struct {
	send uint32
	at   time.Time
	size int
}

// bweState is the overuse detector's verdict.
type bweState int

const (
	bweNormal bweState = iota
	bweOverusing
	bweUnderusing
)

// rembEstimator estimates what a sender can send to us. Packets come from
// the media plane; the estimate is read by the transport's report loop.
type rembEstimator struct {
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
	hist         [bweTrendWindow][2]float64 // (arrival ms, smoothed delay ms)
	histN        int
	histI        int
	numDeltas    int
	prevTrend    float64
	threshold    float64
	lastThresh   time.Time
	overuseMs    float64
	overuseN     int
	state        bweState
	everOverused bool

	probe  [bweProbeWindow]probeSample
	probeN int

	buckets    [bweRateBuckets]uint64
	bucketAt   [bweRateBuckets]int64
	estimate   float64
	lastUpdate time.Time
	lastCut    time.Time

	value    atomic.Uint64 // the estimate, bps
	decrease atomic.Bool   // set when the estimate dropped: send a REMB now
}

func newREMBEstimator() *rembEstimator {
	e := &rembEstimator{threshold: 12.5, estimate: bweInitialBitrate}
	e.value.Store(bweInitialBitrate)
	return e
}

// absDelta is b-a between two 24-bit abs-send-time values, in seconds,
// across the 64 s wraparound.
func absDelta(a, b uint32) float64 {
	d := int32((b-a)&0xffffff<<8) >> 8
	return float64(d) / (1 << 18)
}

// onPacket records one arrival: sendTime is the packet's abs-send-time,
// size its length in bytes.
func (e *rembEstimator) onPacket(now time.Time, sendTime uint32, size int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.addBytes(now, size)
	if !e.started || now.Sub(e.firstAt) < bweProbePeriod {
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
	if absDelta(e.groupFirst, sendTime) <= bweGroupSpan.Seconds() {
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

// detectProbe keeps the last packets and raises the estimate to the rate a
// burst of them was both sent and received at.
func (e *rembEstimator) detectProbe(now time.Time, sendTime uint32, size int) {
	if size < bweProbeMinSize {
		e.probeN = 0
		return
	}
	copy(e.probe[:], e.probe[1:])
	e.probe[bweProbeWindow-1] = probeSample{send: sendTime, at: now, size: size}
	if e.probeN++; e.probeN < bweProbeWindow {
		return
	}
	first, last := e.probe[0], e.probe[bweProbeWindow-1]
	sendSpan := absDelta(first.send, last.send)
	recvSpan := last.at.Sub(first.at).Seconds()
	if sendSpan < bweProbeMinSpan.Seconds() || recvSpan < bweProbeMinSpan.Seconds() {
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
	}
}

// updateTrend feeds one inter-group delay variation (ms) to the trendline
// and the overuse detector.
func (e *rembEstimator) updateTrend(delta float64, at time.Time) {
	e.numDeltas = min(e.numDeltas+1, 1000)
	e.accDelay += delta
	e.smoothed = 0.9*e.smoothed + 0.1*e.accDelay
	e.hist[e.histI] = [2]float64{float64(at.Sub(e.firstAt)) / 1e6, e.smoothed}
	e.histI = (e.histI + 1) % bweTrendWindow
	e.histN = min(e.histN+1, bweTrendWindow)
	if e.histN < bweTrendWindow {
		return
	}
	trend := slope(e.hist[:])
	mt := float64(min(e.numDeltas, 60)) * trend * bweTrendGain
	switch {
	case mt > e.threshold:
		e.overuseMs += delta
		e.overuseN++
		if e.overuseMs > bweOveruseTimeMs && e.overuseN > 1 && trend >= e.prevTrend {
			e.state, e.overuseMs, e.overuseN = bweOverusing, 0, 0
		}
	case mt < -e.threshold:
		e.state, e.overuseMs, e.overuseN = bweUnderusing, 0, 0
	default:
		e.state, e.overuseMs, e.overuseN = bweNormal, 0, 0
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

func (e *rembEstimator) addBytes(now time.Time, size int) {
	slot := now.UnixNano() / int64(bweRateWindow/bweRateBuckets)
	i := int(slot % bweRateBuckets)
	if e.bucketAt[i] != slot {
		e.bucketAt[i], e.buckets[i] = slot, 0
	}
	e.buckets[i] += uint64(size)
}

// incoming is the received bitrate over the last second.
func (e *rembEstimator) incoming(now time.Time) float64 {
	slot := now.UnixNano() / int64(bweRateWindow/bweRateBuckets)
	var sum uint64
	for i := range e.buckets {
		if slot-e.bucketAt[i] < bweRateBuckets {
			sum += e.buckets[i]
		}
	}
	return float64(sum) * 8 / bweRateWindow.Seconds()
}

// updateRate runs the AIMD rate controller on the detector's state.
func (e *rembEstimator) updateRate(now time.Time) {
	dt := now.Sub(e.lastUpdate).Seconds()
	if dt < 0.005 {
		return
	}
	e.lastUpdate = now
	in := e.incoming(now)
	switch e.state {
	case bweOverusing:
		if now.Sub(e.lastCut) > 200*time.Millisecond && in > 0 {
			e.everOverused = true
			e.lastCut = now
			if cut := bweDecreaseFactor * in; cut < e.estimate {
				e.estimate = max(cut, bweMinBitrate)
				e.decrease.Store(true)
			}
		}
	case bweNormal:
		growth := bweFastGrowthPerS
		if e.everOverused {
			growth = bweSteadyGrowthPer
		}
		if limit := 1.5*in + 10_000; e.estimate < limit {
			e.estimate = min(e.estimate*math.Pow(growth, min(dt, 1)), limit)
		}
	}
	e.value.Store(uint64(e.estimate))
}

// bitrate returns the current estimate in bits per second and whether it
// dropped since the last call (a REMB should go out at once).
func (e *rembEstimator) bitrate() (bps uint64, dropped bool) {
	return e.value.Load(), e.decrease.Swap(false)
}

// active reports whether packets with abs-send-time have been seen.
func (e *rembEstimator) active() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.started
}
