package signaling

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gosoup/gosoup/sfu"
)

// AcquireRoom holds the room with this id open for a session that is not a
// WebSocket (a WHIP or WHEP session of package whip): the room is created
// on first use, counted like a WebSocket session (so the last WebSocket
// leaving does not close it under a WHIP publisher), and closed when
// release has been called and no session of either kind holds it any
// more. It fails once the server drains or is closed. release is safe to
// call twice.
func (s *Server) AcquireRoom(id string) (room *sfu.Room, release func(), err error) {
	if s.Draining() {
		return nil, nil, errors.New("server is draining")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("server is closed")
	}
	room, err = s.sfu.Room(id)
	if err != nil {
		return nil, nil, fmt.Errorf("open room: %w", err)
	}
	s.roomRefs[id]++
	if s.speakers[id] == nil {
		d := room.CreateActiveSpeakerDetector()
		d.OnChange = func(p *sfu.Peer, _ *sfu.Producer) {
			s.broadcast(id, nil, activeSpeaker(p))
		}
		d.Start(0)
		s.speakers[id] = d
	}
	var once sync.Once
	return room, func() { once.Do(func() { s.releaseRoom(id, room) }) }, nil
}

// releaseRoom drops one hold of AcquireRoom and closes the room when it
// was the last session of either kind.
func (s *Server) releaseRoom(id string, room *sfu.Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roomRefs[id]--
	if s.roomRefs[id] > 0 {
		return
	}
	delete(s.roomRefs, id)
	if d := s.speakers[id]; d != nil {
		d.Close()
		delete(s.speakers, id)
	}
	room.Close()
}
