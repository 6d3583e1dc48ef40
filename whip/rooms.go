package whip

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gosoup/gosoup/sfu"
)

// Rooms gives WHIP and WHEP sessions their room and holds it open while
// they live. signaling.Server implements it, so that WebSocket peers and
// WHIP/WHEP sessions share one count of who uses a room: the last
// WebSocket leaving does not close a room a WHIP publisher is in, and the
// last session of either kind closes it.
type Rooms interface {
	// AcquireRoom returns the room with this id (created on first use)
	// and the function that releases the hold; it fails when no session
	// may start (the server drains or is closed).
	AcquireRoom(id string) (room *sfu.Room, release func(), err error)
}

// serverRooms is the Rooms of a Handler given none: it holds rooms of an
// sfu.Server for the WHIP and WHEP sessions alone, and closes a room when
// its last session ends and no peer is left in it (peers that joined by
// other means keep it open; their code closes it).
type serverRooms struct {
	srv *sfu.Server

	mu   sync.Mutex
	refs map[*sfu.Room]int
}

func newServerRooms(srv *sfu.Server) *serverRooms {
	return &serverRooms{srv: srv, refs: map[*sfu.Room]int{}}
}

// AcquireRoom implements Rooms.
func (s *serverRooms) AcquireRoom(id string) (*sfu.Room, func(), error) {
	if s.srv == nil {
		return nil, nil, errors.New("no SFU server")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	room, err := s.srv.Room(id)
	if err != nil {
		return nil, nil, fmt.Errorf("open room: %w", err)
	}
	s.refs[room]++
	var once sync.Once
	return room, func() { once.Do(func() { s.release(room) }) }, nil
}

func (s *serverRooms) release(room *sfu.Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refs[room]--
	if s.refs[room] > 0 {
		return
	}
	delete(s.refs, room)
	if len(room.Peers()) == 0 {
		room.Close()
	}
}
