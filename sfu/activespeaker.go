package sfu

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// audioLevels accumulates the ssrc-audio-level values (0..127, -dBov) of an
// audio producer between two detector reports.
type audioLevels struct {
	sum   atomic.Uint64
	count atomic.Uint64
}

// observe adds the level a packet carries in the ssrc-audio-level
// extension id (media plane).
func (a *audioLevels) observe(pkt []byte, id uint8) {
	if v := rtpwire.FindExtension(pkt, id); len(v) > 0 {
		a.sum.Add(uint64(v[0] & 0x7f))
		a.count.Add(1)
	}
}

// take returns the average level in dBov (0 loudest, -127 silent) and
// resets the accumulator.
func (a *audioLevels) take() int {
	n := a.count.Swap(0)
	s := a.sum.Swap(0)
	if n == 0 {
		return -127
	}
	return -int(s / n)
}

// AudioLevel is a producer's average audio level over a report interval,
// in dBov (0 loudest, -127 silence).
type AudioLevel struct {
	Producer *Producer
	Level    int
}

// ActiveSpeakerDetector reports a room's audio levels every interval and
// picks the active speaker as mediasoup v2 does: the same loudest producer
// above -80 dBov in 4 consecutive reports (1 when there is no speaker).
type ActiveSpeakerDetector struct {
	room *Room
	// OnAudioLevels, if set, gets every report, loudest first.
	OnAudioLevels func([]AudioLevel)
	// OnChange gets the new active speaker's peer and producer, or nils
	// when nobody speaks.
	OnChange func(*Peer, *Producer)

	mu      sync.Mutex
	current *Producer
	streak  int
	last    *Producer
	stop    chan struct{}
	once    sync.Once
}

// CreateActiveSpeakerDetector starts a detector on the room's audio
// producers (those sending ssrc-audio-level). It stops when the room
// closes or on Close. Set the callbacks before calling Start.
func (r *Room) CreateActiveSpeakerDetector() *ActiveSpeakerDetector {
	return &ActiveSpeakerDetector{room: r, stop: make(chan struct{})}
}

// Start runs the detector with reports every interval (500 ms if zero).
func (d *ActiveSpeakerDetector) Start(interval time.Duration) {
	if interval <= 0 {
		interval = 500 * time.Millisecond
	}
	go func() {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				d.report()
			case <-d.stop:
				return
			case <-d.room.done:
				return
			}
		}
	}()
}

// Close stops the detector; safe twice.
func (d *ActiveSpeakerDetector) Close() { d.once.Do(func() { close(d.stop) }) }

// Current returns the active speaker's producer, or nil.
func (d *ActiveSpeakerDetector) Current() *Producer {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.current
}

func (d *ActiveSpeakerDetector) report() {
	r := d.room
	r.mu.Lock()
	var prods []*Producer
	for _, p := range r.producers {
		if p.levels != nil && !p.closed {
			prods = append(prods, p)
		}
	}
	r.mu.Unlock()
	levels := make([]AudioLevel, 0, len(prods))
	for _, p := range prods {
		level := p.levels.take()
		if p.Paused() {
			level = -127
		}
		levels = append(levels, AudioLevel{Producer: p, Level: level})
	}
	sort.SliceStable(levels, func(i, j int) bool { return levels[i].Level > levels[j].Level })
	if d.OnAudioLevels != nil {
		d.OnAudioLevels(levels)
	}
	var loudest *Producer
	if len(levels) > 0 && levels[0].Level > -80 {
		loudest = levels[0].Producer
	}
	d.mu.Lock()
	changed := false
	if loudest == nil {
		d.streak, d.last = 0, nil
		if d.current != nil && (d.current.Paused() || d.current.isClosed() || !containsLevel(levels, d.current, -80)) {
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
	cur := d.current
	d.mu.Unlock()
	if changed && d.OnChange != nil {
		if cur == nil {
			d.OnChange(nil, nil)
		} else {
			d.OnChange(cur.peer, cur)
		}
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
