package sfu

import (
	"testing"

	"github.com/gosoup/gosoup/rtpparams"
)

// TestPeersShareCapabilities: peers that join a room with equal
// capabilities share one decoded copy; other capabilities get their own.
func TestPeersShareCapabilities(t *testing.T) {
	s := newTestServer(t)
	room, _ := audioRoom(t, s, "caps", 2)
	a, b := room.PeerByName("listener-0"), room.PeerByName("listener-1")
	if a.caps != b.caps || a.caps != room.PeerByName("alice").caps {
		t.Fatal("peers that joined with equal capabilities hold separate copies")
	}
	var c capsCache
	x, y := c.intern(room.caps), c.intern(rtpparams.Capabilities{})
	if x == y || c.intern(room.caps) != x || len(x.Codecs) != len(room.caps.Codecs) || len(y.Codecs) != 0 {
		t.Fatal("different capabilities were shared")
	}
}
