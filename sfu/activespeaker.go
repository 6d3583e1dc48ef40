package sfu

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// speakerInterval is how often a room's detector reports audio levels and
// applies the active-speaker rule (mediasoup v2's 500 ms).
const speakerInterval = 500 * time.Millisecond

// maxSpeakerBacklog bounds the deliveries waiting for slow subscribers:
// beyond it, level reports are dropped (speaker changes never are).
const maxSpeakerBacklog = 64

// audioLevels accumulates the ssrc-audio-level values (0..127, -dBov) of an
// audio producer between two detector reports. Only the room's one
// detector takes them. The sum (low 40 bits) and the count (high 24
// bits) share one word, so that a take racing an observe never pairs a
// sum with another interval's count (a silent producer would seem to
// speak).
type audioLevels struct {
	v atomic.Uint64
}

const levelCountShift = 40

// observe adds the level a packet carries in the ssrc-audio-level
// extension id (media plane).
func (a *audioLevels) observe(pkt []byte, id uint8) {
	if v := rtpwire.FindExtension(pkt, id); len(v) > 0 {
		a.add(v[0] & 0x7f)
	}
}

// add adds one level (0..127, -dBov).
func (a *audioLevels) add(level byte) {
	a.v.Add(uint64(level) | 1<<levelCountShift)
}

// take returns the sum and the number of the levels observed and resets
// the accumulator.
func (a *audioLevels) take() (sum, count uint64) {
	v := a.v.Swap(0)
	return v & (1<<levelCountShift - 1), v >> levelCountShift
}

// averageLevel is the average of count levels of this sum in dBov (0
// loudest, -127 silent or nothing heard).
func averageLevel(sum, count uint64) int {
	if count == 0 {
		return -127
	}
	return -int(sum / count)
}

// levelSum is what a producer's levels added up to over the samples of a
// report interval.
type levelSum struct{ sum, count uint64 }

// AudioLevel is a producer's average audio level over a report interval,
// in dBov (0 loudest, -127 silence).
type AudioLevel struct {
	Producer *Producer
	Level    int
}

// speakerDetector is a room's one active-speaker detector. Every 500 ms it
// takes the audio levels of the room's producers that send
// ssrc-audio-level and picks the active speaker as mediasoup v2 does: the
// same loudest producer above -80 dBov in 4 consecutive reports (1 when
// there is no speaker). It starts with the room's first subscription and
// ends when the room closes. Subscribers are called on a goroutine of the
// detector's own, so a slow one never delays a report.
type speakerDetector struct {
	room     *Room
	interval time.Duration // between samples
	per      int           // samples per report
	slots    *audioSlots   // fed every sample; nil: no slots

	// The detector's goroutine only.
	samples int
	window  map[*Producer]levelSum

	mu       sync.Mutex
	current  *Producer
	streak   int
	last     *Producer
	lastRep  []AudioLevel      // the last report, loudest first
	speakers []*speakerSub     // copy on write
	levels   []*levelSub       // copy on write
	pending  []speakerDelivery // waiting for the delivery goroutine
	ended    bool
	wake     chan struct{}
	done     chan struct{} // closed when both goroutines ended
}

type speakerSub struct {
	fn        func(*Producer)
	cancelled atomic.Bool
}

type levelSub struct {
	fn        func([]AudioLevel)
	cancelled atomic.Bool
}

// speakerDelivery is one change or report for the subscribers listed when
// it happened.
type speakerDelivery struct {
	speakers []*speakerSub
	speaker  *Producer
	levels   []*levelSub
	report   []AudioLevel
}

// detector returns the room's detector, started on first use, or nil
// once the room is closed.
func (r *Room) detector() *speakerDetector {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.detectorLocked()
}

// detectorLocked is detector for a caller holding the room lock. With
// audio slots, the detector samples every slotInterval and reports every
// report interval's worth of samples.
func (r *Room) detectorLocked() *speakerDetector {
	if r.closed {
		return nil
	}
	if r.speaker == nil {
		every := r.speakerEvery
		if every <= 0 {
			every = speakerInterval
		}
		d := &speakerDetector{room: r, interval: every, per: 1, window: map[*Producer]levelSum{},
			wake: make(chan struct{}, 1), done: make(chan struct{})}
		if r.slots != nil && every > slotInterval {
			d.slots, d.interval, d.per = r.slots, slotInterval, int(every/slotInterval)
		} else if r.slots != nil {
			d.slots = r.slots
		}
		r.speaker = d
		go d.run()
	}
	return r.speaker
}

// SubscribeActiveSpeaker calls fn with the producer of each new active
// speaker of the room (its peer is Producer.Peer), or nil when nobody
// speaks any more. It returns the current speaker (nil: nobody) and the
// function that ends the subscription. Every subscriber sees every change
// after its subscription, in order. fn runs on the detector's delivery
// goroutine, one call at a time for all subscribers: it should return
// quickly (a slow fn delays the others' deliveries, never the detector).
// After cancel returns, fn is not called again (but a call under way may
// still finish). cancel is safe to call twice. The detector starts with
// the room's first subscription and ends when the room closes; on a
// closed room, Subscribe returns nil and a cancel that does nothing.
func (r *Room) SubscribeActiveSpeaker(fn func(speaker *Producer)) (current *Producer, cancel func()) {
	d := r.detector()
	if d == nil {
		return nil, func() {}
	}
	sub := &speakerSub{fn: fn}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.speakers = append(d.speakers[:len(d.speakers):len(d.speakers)], sub)
	return d.current, func() {
		sub.cancelled.Store(true)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.speakers = removeSub(d.speakers, sub)
	}
}

// SubscribeAudioLevels calls fn with each of the room's audio-level
// reports (every 500 ms: every audio producer sending ssrc-audio-level,
// loudest first; fn must not modify the slice, which other subscribers
// get too). It returns the last report (nil before the first) and the
// function that ends the subscription, with the guarantees of
// SubscribeActiveSpeaker.
func (r *Room) SubscribeAudioLevels(fn func(report []AudioLevel)) (last []AudioLevel, cancel func()) {
	d := r.detector()
	if d == nil {
		return nil, func() {}
	}
	sub := &levelSub{fn: fn}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.levels = append(d.levels[:len(d.levels):len(d.levels)], sub)
	return d.lastRep, func() {
		sub.cancelled.Store(true)
		d.mu.Lock()
		defer d.mu.Unlock()
		d.levels = removeSub(d.levels, sub)
	}
}

// ActiveSpeaker returns the producer of the room's active speaker, or nil
// (also while nothing subscribes: the detector runs only then).
func (r *Room) ActiveSpeaker() *Producer {
	r.mu.Lock()
	d := r.speaker
	r.mu.Unlock()
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

// removeSub returns subs without s, as a new slice (the old one may be
// held by a pending delivery).
func removeSub[T comparable](subs []T, s T) []T {
	out := make([]T, 0, len(subs))
	for _, x := range subs {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// run reports every interval until the room closes, then lets the
// delivery goroutine finish what is queued.
func (d *speakerDetector) run() {
	delivered := make(chan struct{})
	go d.deliver(delivered)
	tk := time.NewTicker(d.interval)
	defer func() {
		tk.Stop()
		d.mu.Lock()
		d.ended = true
		d.mu.Unlock()
		d.poke()
		<-delivered
		close(d.done)
	}()
	for {
		select {
		case now := <-tk.C:
			d.sample(now)
		case <-d.room.done:
			return
		}
	}
}

func (d *speakerDetector) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// deliver calls the subscribers, in order, until the detector ended and
// nothing is left.
func (d *speakerDetector) deliver(delivered chan<- struct{}) {
	defer close(delivered)
	for range d.wake {
		for {
			d.mu.Lock()
			if len(d.pending) == 0 {
				ended := d.ended
				d.mu.Unlock()
				if ended {
					return
				}
				break
			}
			x := d.pending[0]
			d.pending[0] = speakerDelivery{}
			d.pending = d.pending[1:]
			d.mu.Unlock()
			for _, s := range x.speakers {
				if !s.cancelled.Load() {
					s.fn(x.speaker)
				}
			}
			for _, s := range x.levels {
				if !s.cancelled.Load() {
					s.fn(x.report)
				}
			}
		}
	}
}

// sample takes the levels of the room's audio producers, feeds the
// slots, and every d.per samples reports.
func (d *speakerDetector) sample(now time.Time) {
	r := d.room
	r.mu.Lock()
	var prods []*Producer
	for _, p := range r.producers {
		if p.levels != nil && !p.closed {
			prods = append(prods, p)
		}
	}
	r.mu.Unlock()
	var fast []AudioLevel
	if d.slots != nil {
		fast = make([]AudioLevel, 0, len(prods))
	}
	for _, p := range prods {
		sum, n := p.levels.take()
		w := d.window[p]
		w.sum, w.count = w.sum+sum, w.count+n
		d.window[p] = w
		if d.slots != nil {
			level := averageLevel(sum, n)
			if p.Paused() {
				level = -127
			}
			fast = append(fast, AudioLevel{Producer: p, Level: level})
		}
	}
	if d.slots != nil {
		d.slots.assign(fast, now)
	}
	d.samples++
	if d.samples < d.per {
		return
	}
	d.samples = 0
	levels := make([]AudioLevel, 0, len(prods))
	for _, p := range prods {
		w := d.window[p]
		level := averageLevel(w.sum, w.count)
		if p.Paused() {
			level = -127
		}
		levels = append(levels, AudioLevel{Producer: p, Level: level})
	}
	clear(d.window)
	d.report(levels)
}

// tick runs one report interval's samples at once (tests).
func (d *speakerDetector) tick() {
	for range d.per {
		d.sample(time.Now())
	}
}

// report applies the active-speaker rule to one report's levels and
// queues the deliveries.
func (d *speakerDetector) report(levels []AudioLevel) {
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].Level > levels[j].Level })
	var loudest *Producer
	if len(levels) > 0 && levels[0].Level > -80 {
		loudest = levels[0].Producer
	}
	// Whether the current speaker went away, asked before taking d.mu
	// (isClosed takes the room lock).
	var current *Producer
	d.mu.Lock()
	current = d.current
	d.mu.Unlock()
	gone := current != nil && (current.Paused() || current.isClosed() || !containsLevel(levels, current, -80))

	d.mu.Lock()
	defer d.mu.Unlock()
	changed := false
	if loudest == nil {
		d.streak, d.last = 0, nil
		if d.current != nil && gone {
			d.current, changed = nil, true
		}
	} else {
		if loudest == d.last {
			d.streak++
		} else {
			d.last, d.streak = loudest, 1
		}
		need := 4
		if d.current == nil {
			need = 1
		}
		if loudest != d.current && d.streak >= need {
			d.current, changed = loudest, true
		}
	}
	d.lastRep = levels
	x := speakerDelivery{report: levels}
	if len(d.pending) < maxSpeakerBacklog {
		x.levels = d.levels
	}
	if changed {
		x.speakers, x.speaker = d.speakers, d.current
	}
	if len(x.levels) > 0 || len(x.speakers) > 0 {
		d.pending = append(d.pending, x)
		d.poke()
	}
}

func containsLevel(levels []AudioLevel, p *Producer, above int) bool {
	for _, l := range levels {
		if l.Producer == p {
			return l.Level > above
		}
	}
	return false
}
