package sfu

import (
	"errors"
	"fmt"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// Video last-N (docs/protocol.md, "Video last-N"): with N, a room offers
// its peers the video of at most N producers, those of the N most
// recently active speakers (before anyone spoke, the first N video
// producers). As speakers change, the room offers the new speaker's video
// to every peer (newConsumer) and closes the consumers of the video that
// leaves the set (consumerClosed): real consumers, so forwarding is
// unchanged and an unmodified client needs nothing new.

const (
	// lastNHold is the hysteresis: a video stays offered at least this
	// long before a more recent speaker's video replaces it.
	lastNHold = 3 * time.Second
	// lastNThreshold is the level (dBov) above which a peer speaks, as
	// the active-speaker rule's.
	lastNThreshold = -80
	// maxLastN bounds N.
	maxLastN = 64
)

// lastN is a room's video set. Its fields are guarded by the room lock;
// it follows the room detector's audio-level reports.
type lastN struct {
	room *Room
	n    int

	order   []*Producer             // video producers in creation order
	set     map[*Producer]time.Time // the offered ones, with when they entered
	recent  []*Peer                 // peers that spoke, most recent first
	started bool                    // subscribed to the room's audio levels
}

// EnableLastN turns video last-N on for the room with n videos offered to
// each peer (n = 0 leaves it off). Like EnableAudioSlots, it must be
// called before the first peer joins (for rooms of the signaling server,
// use Config.RoomLastN).
func (r *Room) EnableLastN(n int) error {
	if n < 0 || n > maxLastN {
		return fmt.Errorf("last-n: %d is not in 0..%d", n, maxLastN)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("last-n: room closed")
	}
	if len(r.peers) > 0 || len(r.producers) > 0 || r.lastN != nil {
		return errors.New("last-n: set before the room is used, once")
	}
	if n > 0 {
		r.lastN = newLastN(r, n)
	}
	return nil
}

// LastN returns the room's last-N setting (0: off).
func (r *Room) LastN() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastN == nil {
		return 0
	}
	return r.lastN.n
}

func newLastN(r *Room, n int) *lastN {
	return &lastN{room: r, n: n, set: map[*Producer]time.Time{}}
}

// offerLocked reports whether prod, a new producer, is offered to the
// room's peers: audio carried by the slots is not, and with last-N a
// video is while the set has room (the first N video producers).
func (r *Room) offerLocked(prod *Producer) bool {
	if r.slots.slotSource(prod) {
		return false
	}
	l := r.lastN
	if l == nil || prod.kind != rtpparams.KindVideo {
		return true
	}
	l.order = append(l.order, prod)
	if len(l.set) < l.n {
		l.set[prod] = time.Now()
		return true
	}
	return false
}

// offeredLocked reports whether an existing producer is offered to a
// joining peer.
func (r *Room) offeredLocked(prod *Producer) bool {
	if r.slots.slotSource(prod) {
		return false
	}
	if r.lastN == nil || prod.kind != rtpparams.KindVideo {
		return true
	}
	_, ok := r.lastN.set[prod]
	return ok
}

// startLocked subscribes the set to the room's audio levels (first join).
func (l *lastN) startLocked() {
	if l.started {
		return
	}
	d := l.room.detectorLocked()
	if d == nil {
		return
	}
	l.started = true
	sub := &levelSub{fn: l.update} // ends with the detector, when the room closes
	d.mu.Lock()
	d.levels = append(d.levels[:len(d.levels):len(d.levels)], sub)
	d.mu.Unlock()
}

// update follows one audio-level report (the detector's delivery
// goroutine): speakers move to the front of the recent list, and the set
// takes the video of the most recent ones, each video staying at least
// lastNHold.
func (l *lastN) update(report []AudioLevel) {
	r := l.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	l.updateLocked(report, time.Now())
}

func (l *lastN) updateLocked(report []AudioLevel, now time.Time) {
	// Speakers, loudest first (the report's order), to the front.
	var spoke []*Peer
	seen := map[*Peer]bool{}
	for _, lv := range report {
		p := lv.Producer.peer
		if lv.Level > lastNThreshold && !lv.Producer.Paused() && !seen[p] {
			seen[p] = true
			spoke = append(spoke, p)
		}
	}
	recent := spoke
	for _, p := range l.recent {
		if !seen[p] && !p.closed {
			recent = append(recent, p)
		}
	}
	l.recent = recent
	// Forget closed videos.
	order := l.order[:0]
	for _, prod := range l.order {
		if !prod.closed {
			order = append(order, prod)
		}
	}
	clear(l.order[len(order):])
	l.order = order
	for prod := range l.set {
		if prod.closed {
			delete(l.set, prod)
		}
	}
	// The wanted videos: the recent speakers', then creation order.
	var want []*Producer
	wanted := map[*Producer]bool{}
	add := func(prod *Producer) {
		if len(want) < l.n && !wanted[prod] && !prod.closed && prod.kind == rtpparams.KindVideo {
			wanted[prod] = true
			want = append(want, prod)
		}
	}
	for _, p := range l.recent {
		for _, prod := range p.producers {
			add(prod)
		}
	}
	for _, prod := range l.order {
		add(prod)
	}
	for _, prod := range want {
		if _, ok := l.set[prod]; ok {
			continue
		}
		if len(l.set) >= l.n {
			out := l.evictableLocked(wanted, now)
			if out == nil {
				break // every offered video is wanted or held
			}
			l.withdrawLocked(out)
		}
		l.set[prod] = now
		l.offerAllLocked(prod)
	}
}

// evictableLocked picks the offered video that leaves for a wanted one:
// not wanted, held at least lastNHold, its peer the least recent speaker.
func (l *lastN) evictableLocked(wanted map[*Producer]bool, now time.Time) *Producer {
	rank := make(map[*Peer]int, len(l.recent))
	for i, p := range l.recent {
		rank[p] = i
	}
	var out *Producer
	outRank := -1
	for prod, since := range l.set {
		if wanted[prod] || now.Sub(since) < lastNHold {
			continue
		}
		rk, ok := rank[prod.peer]
		if !ok {
			rk = len(l.recent) // never spoke: leaves first
		}
		if rk > outRank || (rk == outRank && out != nil && prod.id < out.id) {
			out, outRank = prod, rk
		}
	}
	return out
}

// offerAllLocked offers prod to every peer of the room but its own.
func (l *lastN) offerAllLocked(prod *Producer) {
	for _, other := range l.room.peers {
		if other == prod.peer || other.closed {
			continue
		}
		if c := other.newConsumerLocked(prod); c != nil {
			other.notify(protocol.NewConsumer(c.data()))
		}
	}
}

// withdrawLocked takes prod out of the set and closes the room peers'
// consumers of it (each client gets consumerClosed); consumers of other
// owners (pipes, the server's streamers) stay.
func (l *lastN) withdrawLocked(prod *Producer) {
	delete(l.set, prod)
	for _, c := range *prod.consumers.Load() {
		if !c.peer.hidden && !c.peer.closed {
			c.closeLocked(true)
		}
	}
}
