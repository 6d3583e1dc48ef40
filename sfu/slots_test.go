package sfu

import (
	"testing"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
)

// slotSourceProducer adds to the room an audio producer of peer that the
// slots can carry (ssrc-audio-level, the slots' codec).
func slotSourceProducer(r speakerRoom, peer *Peer, id uint32) *Producer {
	p := r.audioProducer(peer, id)
	p.consumable = rtpparams.Parameters{Codecs: []rtpparams.CodecParameters{{Name: "opus", MimeType: "audio/opus", PayloadType: r.slots.pt}}}
	return p
}

func wantSlots(t *testing.T, step string, s *audioSlots, want ...*Producer) {
	t.Helper()
	for i, sl := range s.slots {
		sl.mu.Lock()
		got := sl.source
		sl.mu.Unlock()
		if got != want[i] {
			t.Fatalf("%s: slot %d carries %v, want %v", step, i, got, want[i])
		}
		if got != nil && got.slot.Load() != sl {
			t.Fatalf("%s: slot %d's source does not point at it", step, i)
		}
	}
}

// TestAudioSlotsAssign: speakers take free slots at once; a louder new
// speaker waits while every slot's speaker speaks, then takes the slot of
// the one quiet longest (at least slotQuiet); a paused or closed source
// leaves its slot. Each switch tells the slot's listeners whom it carries.
func TestAudioSlotsAssign(t *testing.T) {
	s := newTestServer(t)
	room := newSpeakerRoom(t, s, "r")
	if err := room.EnableAudioSlots(2); err != nil {
		t.Fatal(err)
	}
	slots := room.slots
	listener, jr := joinPeer(t, room.Room, "listener", false)
	if len(jr.Peers) != 1 || jr.Peers[0].Name != AudioSlotsPeerName || len(jr.Peers[0].Consumers) != 2 {
		t.Fatalf("join response %+v, want the audio-slots peer with 2 consumers", jr.Peers)
	}
	alice, _ := joinPeer(t, room.Room, "alice", false)
	bob, _ := joinPeer(t, room.Room, "bob", false)
	carol, _ := joinPeer(t, room.Room, "carol", false)
	a := slotSourceProducer(room, alice.Peer, 1)
	b := slotSourceProducer(room, bob.Peer, 2)
	c := slotSourceProducer(room, carol.Peer, 3)
	listener.box.take()

	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	slots.assign([]AudioLevel{{a, -20}, {b, -127}, {c, -127}}, at(0))
	wantSlots(t, "alice speaks", slots, a, nil)
	slots.assign([]AudioLevel{{a, -20}, {b, -30}, {c, -127}}, at(50))
	wantSlots(t, "bob speaks", slots, a, b)
	slots.assign([]AudioLevel{{a, -20}, {b, -30}, {c, -10}}, at(100))
	wantSlots(t, "carol waits", slots, a, b)
	slots.assign([]AudioLevel{{a, -127}, {b, -30}, {c, -10}}, at(400))
	wantSlots(t, "alice quiet 300 ms", slots, a, b)
	slots.assign([]AudioLevel{{a, -127}, {b, -30}, {c, -10}}, at(600))
	wantSlots(t, "alice quiet 500 ms", slots, c, b)
	if a.slot.Load() != nil {
		t.Fatal("alice's producer still points at a slot")
	}
	b.paused.Store(true)
	slots.assign([]AudioLevel{{a, -127}, {b, -30}, {c, -10}}, at(650))
	wantSlots(t, "bob paused", slots, c, nil)
	slots.assign([]AudioLevel{{a, -127}, {b, -30}}, at(700)) // carol's producer gone
	wantSlots(t, "carol gone", slots, nil, nil)

	var told []string
	listener.box.mu.Lock()
	for _, n := range listener.box.notes {
		if n["method"] == "audioSlot" && n["target"] == "peer" && n["notification"] == true && n["peerName"] == AudioSlotsPeerName {
			name, _ := n["speakerPeerName"].(string) // null: nobody
			told = append(told, name)
		}
	}
	listener.box.mu.Unlock()
	want := []string{"alice", "bob", "carol", "", ""}
	if len(told) != len(want) {
		t.Fatalf("listener told %q, want %q", told, want)
	}
	for i := range want {
		if told[i] != want[i] {
			t.Fatalf("listener told %q, want %q", told, want)
		}
	}
}

// TestAudioSlotsSetting: EnableAudioSlots refuses a bad count and a room
// already in use; a room without slots offers every producer; closing a
// room with slots closes the slots' consumers and stops its detector.
func TestAudioSlotsSetting(t *testing.T) {
	s := newTestServer(t)
	r, _ := s.Room("r")
	if err := r.EnableAudioSlots(-1); err == nil {
		t.Error("-1 slots accepted")
	}
	if err := r.EnableAudioSlots(maxAudioSlots + 1); err == nil {
		t.Error("too many slots accepted")
	}
	joinPeer(t, r, "early", false)
	if err := r.EnableAudioSlots(2); err == nil || r.AudioSlots() != 0 {
		t.Error("slots enabled after a join")
	}

	if _, err := NewServer(Config{AudioSlots: maxAudioSlots + 1}); err == nil {
		t.Error("server with too many slots created")
	}
	r2, _ := s.Room("r2")
	if err := r2.EnableAudioSlots(3); err != nil {
		t.Fatal(err)
	}
	if r2.AudioSlots() != 3 {
		t.Fatalf("AudioSlots %d, want 3", r2.AudioSlots())
	}
	p, jr := joinPeer(t, r2, "listener", false)
	if len(jr.Peers) != 1 || len(jr.Peers[0].Consumers) != 3 || len(p.Consumers()) != 3 {
		t.Fatalf("join response %+v", jr.Peers)
	}
	d := r2.detector()
	if d == nil || d.slots == nil || d.interval != slotInterval {
		t.Fatal("no detector sampling for the slots after the first join")
	}
	r2.Close()
	if n := len(p.Consumers()); n != 0 {
		t.Fatalf("%d slot consumers left after the room closed", n)
	}
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
		t.Fatal("detector still running after the room closed")
	}
}
