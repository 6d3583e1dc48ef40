package whip

import (
	"errors"

	"github.com/gosoup/gosoup/sfu"
)

// Rooms gives WHIP and WHEP sessions their room and holds it open while
// they live. signaling.Server implements it, so that WebSocket peers and
// WHIP/WHEP sessions share one count of who uses a room (the last of
// either kind closes it) and WHIP/WHEP sessions are refused while the
// server drains; *sfu.Server implements it too.
type Rooms interface {
	// AcquireRoom returns the room with this id (created on first use)
	// and the function that releases the hold; it fails when no session
	// may start (the server drains or is closed).
	AcquireRoom(id string) (room *sfu.Room, release func(), err error)
}

// serverRooms is the Rooms of a Handler given none: holds on srv's rooms
// (sfu.Server.AcquireRoom), the last of which closes the room.
func serverRooms(srv *sfu.Server) Rooms {
	if srv == nil {
		return noServer{}
	}
	return srv
}

// noServer is the Rooms of a Handler without an SFU server.
type noServer struct{}

func (noServer) AcquireRoom(string) (*sfu.Room, func(), error) {
	return nil, nil, errors.New("no SFU server")
}

// speakerName is the peer name of an active speaker's producer ("" for
// nobody).
func speakerName(speaker *sfu.Producer) string {
	if speaker == nil {
		return ""
	}
	return speaker.Peer().Name()
}
