package sfu

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/codec"
)

// Layer selection, for simulcast and SVC alike: which (spatial, temporal)
// layer a consumer forwards. The spatial choice is a simulcast stream, or
// for a single-stream SVC producer (VP9 with SID) the highest spatial
// layer; the temporal choice is the highest temporal layer (TID). This file
// is their one home:
//
//   - levels: the steps of a consumer's ladder, what a preference and a
//     bandwidth limit select on its producer now, the next step down or up,
//     and what each costs (measured per layer from the payload descriptors);
//     the allocator (allocator.go) moves limits along the ladder, the
//     receive transport (layers.go) turns what receivers report into a
//     budget and applies each consumer's selection here (applyTarget);
//   - layerSelect: the media plane's side, per packet: the stream forwarded
//     and switching streams on a key frame (Consumer.forward), and inside the
//     stream the layers dropped, without gaps in the consumer's numbering
//     (consumerSendStream.skip). A lower temporal or spatial layer takes
//     effect at the next picture; a higher temporal layer at a frame that
//     starts it (a key frame, or a layer-sync frame of that layer: VP8 Y,
//     VP9 U); a higher spatial layer at a key frame (requested through the
//     stream's key-frame requests): with L3T3_KEY only key pictures predict
//     across spatial layers.

// A level names one step of a consumer's layer ladder: a spatial part (a
// simulcast stream's profile rank; for an SVC producer the rank its
// spatial layer shows as: SID 0 low, 1 medium, the top one high) and a
// temporal part (the highest TID forwarded; temporalAll: every one).
// Levels compare as (spatial, temporal), the quality a consumer gets
// without a limit; the ladder orders them by measured bitrate (ladder).
// 0 is no level.
const (
	levelTemporalBits = 3
	temporalAll       = 1<<levelTemporalBits - 1 // every temporal layer
	spatialAll        = 7                        // every spatial layer (layerSelect)
	maxMeasuredLayers = 4                        // SIDs and TIDs measured apart (higher ones count as 3)
)

// levelUnlimited is the limit of a consumer the bandwidth does not limit:
// it selects the highest level on its ladder, whatever comes live.
const levelUnlimited = 1 << 16

func makeLevel(rank, tid int) int { return rank<<levelTemporalBits | tid }
func levelRank(level int) int     { return level >> levelTemporalBits }
func levelTemporal(level int) int { return level & temporalAll }

// topLevel is the highest level of a rank: every temporal layer.
func topLevel(rank int) int { return makeLevel(rank, temporalAll) }

// layerRates measures a producer stream's bitrate per (spatial, temporal)
// layer from its packets' payload descriptors, and how many layers of each
// kind the sender uses. The media plane counts (atomics), the report loop
// reads.
type layerRates struct {
	temporal atomic.Uint32 // temporal layers seen (highest TID + 1); 0: no TID
	spatial  atomic.Uint32 // spatial layers seen (highest SID + 1); 0: no SID
	bytes    [maxMeasuredLayers][maxMeasuredLayers]atomic.Uint64
	meters   [maxMeasuredLayers][maxMeasuredLayers]bitrateMeter
}

func (r *layerRates) init() {
	for i := range r.meters {
		for j := range r.meters[i] {
			r.meters[i][j].window = time.Second
		}
	}
}

// onPacket counts one packet of n bytes whose descriptor says d. Media
// plane; no allocation.
func (r *layerRates) onPacket(d codec.Info, n int) {
	if !d.HasTID && !d.HasSID {
		return
	}
	s, t := min(d.SID, maxMeasuredLayers-1), min(d.TID, maxMeasuredLayers-1)
	r.bytes[s][t].Add(uint64(n))
	if d.HasTID && uint32(d.TID) >= r.temporal.Load() {
		r.temporal.Store(uint32(d.TID) + 1)
	}
	if d.HasSID && uint32(d.SID) >= r.spatial.Load() {
		r.spatial.Store(uint32(d.SID) + 1)
	}
}

// rate is the bitrate of spatial layers up to sid and temporal layers up
// to tid together (the layers a receiver of (sid, tid) gets).
func (r *layerRates) rate(sid, tid int, now time.Time) uint64 {
	var sum uint64
	for s := 0; s <= min(sid, maxMeasuredLayers-1); s++ {
		for t := 0; t <= min(tid, maxMeasuredLayers-1); t++ {
			sum += r.meters[s][t].read(r.bytes[s][t].Load(), now)
		}
	}
	return sum
}

// temporalLayers is how many temporal layers the stream carries (0 or 1:
// none to choose from).
func (st *producerStream) temporalLayers() int { return int(st.layers.temporal.Load()) }

// svcLayers is how many spatial layers a single-stream producer carries
// (0 or 1: not SVC).
func (p *Producer) svcLayers() int {
	if len(p.streams) != 1 {
		return 0
	}
	if n := int(p.streams[0].layers.spatial.Load()); n > 1 {
		return n
	}
	return 0
}

// layered reports whether a consumer of the producer has layers to choose
// from: simulcast streams, or temporal or spatial layers in one stream.
func (p *Producer) layered() bool {
	return len(p.streams) > 1 || p.svcLayers() > 0 || p.streams[0].temporalLayers() > 1
}

// preferenceRank is the highest rank a preferred profile allows ("default":
// as high as possible).
func preferenceRank(preferred string) int {
	if r := profileRank(preferred); r >= rankLow {
		return r
	}
	return rankHigh
}

// initialStream is the stream a new consumer with this preferred profile
// starts on: the highest at or below the preference.
func (p *Producer) initialStream(preferred string) int {
	return p.chooseStream(preferenceRank(preferred), rankHigh, time.Time{})
}

// chooseStream returns the highest active stream whose rank is at most
// min(pref, limit) (ranks); if none is that low, the lowest active one; -1
// when no stream is active. With a zero now, activity is not considered.
func (p *Producer) chooseStream(pref, limit int, now time.Time) int {
	if len(p.streams) == 1 {
		return 0
	}
	ceiling := min(pref, limit)
	best, lowest := -1, -1
	for i, s := range p.streams {
		if !now.IsZero() && !s.active(now) {
			continue
		}
		if lowest < 0 || s.rank < p.streams[lowest].rank {
			lowest = i
		}
		if s.rank <= ceiling && (best < 0 || s.rank > p.streams[best].rank) {
			best = i
		}
	}
	if best < 0 {
		return lowest
	}
	return best
}

// selection is what a level selects on a producer.
type selection struct {
	stream int // -1: none live
	sid    int // highest spatial layer (SVC); spatialAll otherwise
	tid    int // highest temporal layer; temporalAll: every one
	level  int // the level it amounts to; 0 with no stream
}

// maxSteps bounds a ladder: simulcast streams or spatial layers (up to 3
// ranks) times temporal steps (up to maxMeasuredLayers).
const maxSteps = 3 * maxMeasuredLayers

// step is one level of a ladder and what it costs now.
type step struct {
	level int
	rate  uint64
}

// ladder is the levels a consumer preferring rank pref can get now, in the
// order of their bitrates (ties: lower level first). Every live stream or
// spatial layer at or below pref offers its temporal steps (each temporal
// layer, cumulated, and the whole); when every live one is above pref, the
// lowest does (a v2 consumer preferring a profile below every live stream
// gets the lowest). Steps are ordered by bitrate and by level at once
// (see sort): below a stream whole come its lower temporal layers (a
// lower frame rate at its resolution), then the stream below. A bandwidth
// limit is a step of it: under a cap a consumer gets the costliest step
// that fits. Report loop; no allocation.
type ladder struct {
	steps [maxSteps]step
	n     int
}

// ladder builds the producer's ladder for a consumer preferring rank pref.
func (p *Producer) ladder(pref int, now time.Time) ladder {
	var l ladder
	add := func(st *producerStream, rank, sid int) {
		for t := 0; t < min(st.temporalLayers(), maxMeasuredLayers)-1; t++ {
			l.insert(makeLevel(rank, t), p.rate(selection{stream: st.index, sid: sid, tid: t}, now))
		}
		l.insert(topLevel(rank), p.rate(selection{stream: st.index, sid: sid, tid: temporalAll}, now))
	}
	if n := p.svcLayers(); n > 0 {
		if st := p.streams[0]; st.active(now) {
			for r := rankLow; r <= min(max(pref, rankLow), rankLow+min(n, 3)-1); r++ {
				add(st, r, svcLayerOf(r, n))
			}
		}
		l.sort()
		return l
	}
	lowest := -1
	for i, st := range p.streams {
		if !st.active(now) && len(p.streams) > 1 {
			continue
		}
		if lowest < 0 || st.rank < p.streams[lowest].rank {
			lowest = i
		}
		if st.rank <= pref || len(p.streams) == 1 {
			add(st, st.rank, spatialAll)
		}
	}
	if l.n == 0 && lowest >= 0 {
		add(p.streams[lowest], p.streams[lowest].rank, spatialAll)
	}
	l.sort()
	return l
}

// svcLayerOf is the spatial layer an SVC rank selects among n: SID 0 for
// low, 1 for medium, the top one for high.
func svcLayerOf(rank, n int) int {
	if rank >= rankLow+min(n, 3)-1 {
		return n - 1
	}
	return rank - rankLow
}

// insert adds a step (before sort).
func (l *ladder) insert(level int, rate uint64) {
	if l.n < maxSteps {
		l.steps[l.n] = step{level: level, rate: rate}
		l.n++
	}
}

// sort orders the steps by bitrate, ties by level, and leaves out those
// that cost more than a higher level. A step not measured yet
// (a layer that just came live: its meter's first read is 0) sorts by its
// level, right above the costliest step below that level, not at the
// bottom.
func (l *ladder) sort() {
	s := l.steps[:l.n]
	slices.SortFunc(s, func(a, b step) int { return a.level - b.level })
	var keys [maxSteps]uint64
	var top uint64
	for i, st := range s {
		keys[i] = st.rate
		if st.rate == 0 {
			keys[i] = top
		}
		top = max(top, keys[i])
	}
	// Insertion sort by (key, level): s is in level order, so equal keys
	// keep it.
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && keys[j-1] > keys[j]; j-- {
			s[j-1], s[j] = s[j], s[j-1]
			keys[j-1], keys[j] = keys[j], keys[j-1]
		}
	}
	// Keep a step only if it is a higher level than every cheaper one: a
	// stream whole that costs more than the base layers of the stream above
	// (medium whole against high TL0) is left out, so that each step down
	// lowers the frame rate or, at a stream's base layer, the resolution,
	// and moving along the ladder switches streams (a key frame each) only
	// between a stream's base layer and the top of the one below.
	n, highest := 0, -1
	for _, st := range s {
		if st.level > highest {
			s[n], highest = st, st.level
			n++
		}
	}
	l.n = n
}

// index is the position of level in the ladder; -1 when it is not there.
func (l *ladder) index(level int) int {
	for i := range l.n {
		if l.steps[i].level == level {
			return i
		}
	}
	return -1
}

// at is the step a bandwidth limit selects: the limit itself when it is on
// the ladder; the highest level (the highest stream or spatial layer
// whole, even while a layer that just came live still measures less than
// one below it) when there is no limit or it is above every rank on the
// ladder (a preference lowered since); else (the limit's layer went
// silent) the costliest step at or below it; the lowest step when none is.
// -1 for an empty ladder.
func (l *ladder) at(limit int) int {
	if l.n == 0 {
		return -1
	}
	if i := l.index(limit); i >= 0 {
		return i
	}
	best := 0 // the highest level: what a consumer gets without a limit
	for i := range l.n {
		if l.steps[i].level > l.steps[best].level {
			best = i
		}
	}
	if limit == levelUnlimited || levelRank(limit) > levelRank(l.steps[best].level) {
		return best
	}
	for i := l.n - 1; i >= 0; i-- {
		if l.steps[i].level <= limit {
			return i
		}
	}
	return 0
}

// selectLevel is what a consumer preferring rank pref gets at level limit
// now.
func (p *Producer) selectLevel(pref, limit int, now time.Time) selection {
	l := p.ladder(pref, now)
	i := l.at(limit)
	if i < 0 {
		return selection{stream: -1}
	}
	return p.selectionOf(l.steps[i].level, now)
}

// selectionOf is the stream and layers of a level on the ladder.
func (p *Producer) selectionOf(level int, now time.Time) selection {
	rank, tid := levelRank(level), levelTemporal(level)
	if n := p.svcLayers(); n > 0 {
		return selection{stream: 0, sid: svcLayerOf(rank, n), tid: tid, level: level}
	}
	for i, st := range p.streams {
		if st.rank == rank && (len(p.streams) == 1 || st.active(now)) {
			return selection{stream: i, sid: spatialAll, tid: tid, level: level}
		}
	}
	return selection{stream: -1}
}

// stepDown returns the level below level on the ladder of a consumer
// preferring rank pref, or 0.
func (p *Producer) stepDown(pref, level int, now time.Time) int {
	l := p.ladder(pref, now)
	if i := l.index(level); i > 0 {
		return l.steps[i-1].level
	}
	return 0
}

// stepUp returns the level above level on the ladder of a consumer
// preferring rank pref, or 0.
func (p *Producer) stepUp(pref, level int, now time.Time) int {
	l := p.ladder(pref, now)
	if i := l.index(level); i >= 0 && i+1 < l.n {
		return l.steps[i+1].level
	}
	return 0
}

// rate is the bitrate a receiver of selection s gets now.
func (p *Producer) rate(s selection, now time.Time) uint64 {
	if s.stream < 0 {
		return 0
	}
	st := p.streams[s.stream]
	if s.sid == spatialAll && st.temporalLayers() <= 1 {
		return st.currentBitrate(now) // nothing measured apart
	}
	return st.layers.rate(s.sid, s.tid, now)
}

// The layerConsumer view of a Consumer (report loop of its transport).

func (c *Consumer) layerID() uint32             { return c.id }
func (c *Consumer) layerState() *consumerLayers { return &c.layers }
func (c *Consumer) preferredRank() int          { return preferenceRank(c.prefProfile()) }
func (c *Consumer) selectAt(limit int, now time.Time) selection {
	return c.producer.selectLevel(c.preferredRank(), limit, now)
}
func (c *Consumer) levelAt(limit int, now time.Time) int { return c.selectAt(limit, now).level }
func (c *Consumer) rateAt(limit int, now time.Time) uint64 {
	return c.producer.rate(c.selectAt(limit, now), now)
}
func (c *Consumer) stepDown(level int, now time.Time) int {
	return c.producer.stepDown(c.preferredRank(), level, now)
}
func (c *Consumer) stepUp(level int, now time.Time) int {
	return c.producer.stepUp(c.preferredRank(), level, now)
}
func (c *Consumer) probeFailed() { c.probesFailed.Add(1) }

// applyTarget points the consumer at what its preference and limit select
// now; "none" is reported when no stream is active.
func (c *Consumer) applyTarget(now time.Time) {
	s := c.selectAt(c.layers.limit, now)
	if c.producer.paused.Load() {
		return // streams are silent because the sender paused
	}
	old := c.target.Swap(int32(s.stream))
	if s.stream < 0 {
		if c.current.Swap(-1) >= 0 {
			c.setEffective(profileNone)
		}
		return
	}
	st := c.producer.streams[s.stream]
	oldSID, oldTID := c.setLayerTargets(s.sid, s.tid)
	if int32(s.stream) != old || s.sid > oldSID {
		c.producer.requestStreamKeyFrame(st) // a switch up waits for one
	}
	if t := c.transport.Load(); t != nil && (int32(s.stream) != old || s.sid != oldSID || s.tid != oldTID) {
		l := c.producer.ladder(c.preferredRank(), now)
		t.debug("layer target", "consumer", c.id, "stream", s.stream, "sid", s.sid, "tid", s.tid, "limit", c.layers.limit, "ladder", l.String())
	}
}

// String lists the steps as level:rate, cheapest first (debug logs).
func (l *ladder) String() string {
	var b strings.Builder
	for i := range l.n {
		fmt.Fprintf(&b, " %d:%d", l.steps[i].level, l.steps[i].rate)
	}
	return strings.TrimSpace(b.String())
}

// layerSelect is the media plane's side of layer selection for one
// consumer: the stream forwarded and the one to switch to, and inside the
// stream the highest spatial and temporal layers forwarded and targeted.
type layerSelect struct {
	current atomic.Int32 // producer stream forwarded now; -1: none (media plane writes)
	target  atomic.Int32 // producer stream to switch to; -1: none
	// Targets inside the stream, layer + 1 (0: every layer), set by the
	// report loop.
	sidTarget atomic.Uint32
	tidTarget atomic.Uint32
	sid, tid  uint8 // forwarded now; media plane only
}

// setLayerTargets sets the highest spatial and temporal layers to forward
// (spatialAll, temporalAll: every one) and returns the targets before.
func (s *layerSelect) setLayerTargets(sid, tid int) (oldSID, oldTID int) {
	enc := func(v, all int) uint32 {
		if v >= all {
			return 0
		}
		return uint32(v) + 1
	}
	oldS := s.sidTarget.Swap(enc(sid, spatialAll))
	oldT := s.tidTarget.Swap(enc(tid, temporalAll))
	return int(decodeTarget(oldS, spatialAll)), int(decodeTarget(oldT, temporalAll))
}

func decodeTarget(v uint32, all uint8) uint8 {
	if v == 0 {
		return all
	}
	return uint8(v - 1)
}

// layerVerdict is what becomes of one packet inside the forwarded stream.
type layerVerdict uint8

const (
	layerSkip           layerVerdict = 1 << iota // not sent: a layer the receiver does not get
	layerWholePicture                            // with layerSkip: no packet of the picture is sent (its picture id goes too)
	layerSpatialChanged                          // the spatial layer forwarded changed (SVC)
	layerWantKey                                 // a higher spatial layer waits for a key frame
	layerEndOfPicture                            // the packet ends the picture as forwarded (SVC: set the marker)
)

// restartLayers takes the targets at once: the stream (re)starts on a key frame.
func (s *layerSelect) restartLayers() {
	s.sid, s.tid = decodeTarget(s.sidTarget.Load(), spatialAll), decodeTarget(s.tidTarget.Load(), temporalAll)
}

// admit decides about one packet of the forwarded stream whose descriptor
// says d, moving to the targets where the receiver can follow; hold keeps
// the layers as they are (the targets are another stream's, which the
// consumer waits to switch to). Media plane; no allocation.
func (s *layerSelect) admit(d codec.Info, hold bool) (v layerVerdict) {
	if !d.HasTID && !d.HasSID {
		return 0
	}
	if d.StartOfFrame && d.SID == 0 && !hold { // a new picture
		tgtT := decodeTarget(s.tidTarget.Load(), temporalAll)
		switch {
		case d.KeyFrame || tgtT < s.tid:
			s.tid = tgtT
		case tgtT > s.tid && d.LayerSync && d.TID > s.tid && d.TID <= tgtT:
			s.tid = d.TID // this frame starts its layer
		}
		if d.HasSID {
			tgtS, old := decodeTarget(s.sidTarget.Load(), spatialAll), s.sid
			switch {
			case d.KeyFrame || tgtS < s.sid:
				s.sid = tgtS
			case tgtS > s.sid:
				v |= layerWantKey
			}
			if s.sid != old {
				v |= layerSpatialChanged
			}
		}
	}
	if d.HasTID && d.TID > s.tid {
		return v | layerSkip | layerWholePicture
	}
	if d.HasSID && d.SID > s.sid {
		return v | layerSkip
	}
	if d.HasSID && d.EndOfFrame && d.SID == s.sid {
		v |= layerEndOfPicture
	}
	return v
}

// svcProfile is the profile an SVC consumer forwarding up to spatial layer
// sid shows (the ranks selectLevel maps spatial layers to): SID 0 low, 1
// medium, 2 and above (every layer) high.
func svcProfile(sid uint8) string {
	switch sid {
	case 0:
		return profileLow
	case 1:
		return profileMedium
	}
	return profileHigh
}
