package sfu

import (
	"errors"
	"sync"
)

// AcquireRoom returns the open room with this id, created with the
// server's codecs if there is none, and holds it open for the caller: the
// room closes when the last hold on it is released (closing its peers, as
// Room.Close). Everything that keeps a room alive while it serves someone
// (a signaling socket, a WHIP or WHEP session, an ingest peer) takes a
// hold, so the last of them, whatever its kind, closes the room. A room
// closed by other means (Room.Close, Server.Close) stays closed; its
// holds then only need releasing. release is safe to call twice. It fails
// once the server is closed.
func (s *Server) AcquireRoom(id string) (room *Room, release func(), err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("server closed")
	}
	r := s.rooms[id]
	if r != nil && r.isDone() {
		r = nil // closing, not forgotten yet: a new room takes the id
	}
	if r == nil {
		if r, err = s.newRoom(id, s.cfg.MediaCodecs); err != nil {
			return nil, nil, err
		}
		s.rooms[id] = r
	}
	r.holds++
	var once sync.Once
	return r, func() { once.Do(func() { s.releaseRoom(r) }) }, nil
}

// releaseRoom drops one hold and closes the room when it was the last.
// The room leaves the server's map at once, under the lock AcquireRoom
// takes, so a concurrent AcquireRoom of the same id gets a new room, not
// the closing one.
func (s *Server) releaseRoom(r *Room) {
	s.mu.Lock()
	r.holds--
	last := r.holds == 0
	if last && s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
	s.mu.Unlock()
	if last {
		r.Close()
	}
}

// isDone reports whether the room has closed, without its lock.
func (r *Room) isDone() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}
