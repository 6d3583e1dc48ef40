package signaling

import (
	"errors"
	"fmt"

	"github.com/gosoup/gosoup/sfu"
)

// AcquireRoom holds the room with this id open for a session that is not a
// WebSocket (a WHIP or WHEP session of package whip, an ingest peer of
// package admin): it is sfu.Server.AcquireRoom, so the room is created on
// first use and closed when the last hold of any kind (WebSocket or not)
// is released, but it fails once the server drains or is closed. release
// is safe to call twice.
func (s *Server) AcquireRoom(id string) (room *sfu.Room, release func(), err error) {
	if s.Draining() {
		return nil, nil, errors.New("server is draining")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("server is closed")
	}
	room, release, err = s.sfu.AcquireRoom(id)
	if err != nil {
		return nil, nil, fmt.Errorf("open room: %w", err)
	}
	return room, release, nil
}
