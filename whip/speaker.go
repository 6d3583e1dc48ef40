package whip

import (
	"sync"

	"github.com/gosoup/gosoup/sfu"
)

// speakers runs one active-speaker detector per room for the WHEP players
// that follow the room (no peer named), shared by all of them: a detector
// takes the audio levels it reports, so one per player would split them.
type speakers struct {
	mu     sync.Mutex
	byRoom map[*sfu.Room]*speakerWatch
}

// speakerWatch is one room's detector and its subscribers.
type speakerWatch struct {
	d    *sfu.ActiveSpeakerDetector
	subs map[int]func(peerName string)
	next int
}

func newSpeakers() *speakers { return &speakers{byRoom: map[*sfu.Room]*speakerWatch{}} }

// subscribe calls fn with the name of each new active speaker of room
// ("" when nobody speaks), from the detector's goroutine; fn must not
// block. It returns the current speaker and the function that stops the
// calls (the detector stops with its last subscriber).
func (s *speakers) subscribe(room *sfu.Room, fn func(peerName string)) (current string, cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.byRoom[room]
	if w == nil {
		w = &speakerWatch{d: room.CreateActiveSpeakerDetector(), subs: map[int]func(string){}}
		w.d.OnChange = func(p *sfu.Peer, _ *sfu.Producer) {
			name := ""
			if p != nil {
				name = p.Name()
			}
			s.mu.Lock()
			fns := make([]func(string), 0, len(w.subs))
			for _, f := range w.subs {
				fns = append(fns, f)
			}
			s.mu.Unlock()
			for _, f := range fns {
				f(name)
			}
		}
		w.d.Start(0)
		s.byRoom[room] = w
	}
	id := w.next
	w.next++
	w.subs[id] = fn
	if p := w.d.Current(); p != nil {
		current = p.Peer().Name()
	}
	var once sync.Once
	return current, func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(w.subs, id)
			if len(w.subs) == 0 {
				w.d.Close()
				if s.byRoom[room] == w {
					delete(s.byRoom, room)
				}
			}
		})
	}
}
