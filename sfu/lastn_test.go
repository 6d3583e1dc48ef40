package sfu

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// videoOffers lists, in order, the peers whose video the box was offered
// (newConsumer, "+name") or had closed (consumerClosed, "-name") since the
// last call.
func videoOffers(b *inbox) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, n := range b.notes {
		switch {
		case n["method"] == "newConsumer" && n["kind"] == "video":
			out = append(out, fmt.Sprint("+", n["peerName"]))
		case n["method"] == "consumerClosed":
			out = append(out, fmt.Sprint("-", n["peerName"]))
		}
	}
	b.notes = nil
	return out
}

func joinedVideo(t *testing.T, room *Room, name string) (*tpeer, []string) {
	t.Helper()
	p, jr := joinPeer(t, room, name, false)
	var got []string
	for _, pd := range jr.Peers {
		for _, c := range pd.Consumers {
			if c.Kind == "video" {
				got = append(got, pd.Name)
			}
		}
	}
	slices.Sort(got)
	return p, got
}

// TestLastN: with last-N 2, peers are offered the first two videos; a
// speaker's video replaces the one of the least recent speaker after it
// has been offered lastNHold (consumerClosed, then newConsumer), the
// videos of peers that never spoke leaving last-created first, a
// joining peer is offered the current set, audio stays offered to all,
// and a video that was just offered is not replaced before lastNHold.
func TestLastN(t *testing.T) {
	s := newTestServer(t)
	room := newSpeakerRoom(t, s, "r")
	if err := room.EnableLastN(2); err != nil {
		t.Fatal(err)
	}
	listener, _ := joinedVideo(t, room.Room, "listener")
	pubs := map[string]*tpeer{}
	mics := map[string]*Producer{}
	for i, name := range []string{"a", "b", "c", "d"} {
		p, _ := joinPeer(t, room.Room, name, false)
		id := uint32(100 * (i + 1))
		p.transport(t, id, "send")
		if err := p.produce(t, id, id, "video", false); err != nil {
			t.Fatal(err)
		}
		if err := p.produce(t, id+10, id, "audio", false); err != nil {
			t.Fatal(err)
		}
		pubs[name] = p
		mics[name] = room.audioProducer(p.Peer, id+50) // sends levels
	}
	if got := videoOffers(listener.box); !slices.Equal(got, []string{"+a", "+b"}) {
		t.Fatalf("listener offered %q before anyone spoke, want a's and b's video", got)
	}
	audio := 0
	for _, c := range listener.Consumers() {
		if c.Kind() == "audio" {
			audio++
		}
	}
	if audio != 4 {
		t.Fatalf("listener has %d audio consumers, want 4 (last-N leaves audio alone)", audio)
	}
	if _, got := joinedVideo(t, room.Room, "early"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("a joining peer offered %q, want a's and b's video", got)
	}

	t0 := time.Now()
	update := func(at time.Duration, levels ...AudioLevel) {
		room.mu.Lock()
		room.lastN.updateLocked(levels, t0.Add(at))
		room.mu.Unlock()
	}
	speaks := func(name string) AudioLevel { return AudioLevel{mics[name], -20} }
	update(0, speaks("c"))
	if got := videoOffers(listener.box); len(got) != 0 {
		t.Fatalf("c's speaking changed %q within lastNHold of the first offers", got)
	}
	update(lastNHold+time.Second, speaks("c"))
	if got := videoOffers(listener.box); !slices.Equal(got, []string{"-b", "+c"}) {
		t.Fatalf("c speaks: listener got %q, want b's video closed (a came first), c's offered", got)
	}
	if _, got := joinedVideo(t, room.Room, "late"); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("a peer joining after c spoke offered %q, want a's and c's video", got)
	}
	update(lastNHold+2*time.Second, speaks("d"))
	if got := videoOffers(listener.box); !slices.Equal(got, []string{"-a", "+d"}) {
		t.Fatalf("d speaks: listener got %q, want a's video replaced (never spoke)", got)
	}
	update(lastNHold+3*time.Second, speaks("b"))
	if got := videoOffers(listener.box); len(got) != 0 {
		t.Fatalf("b speaks 2 s after c's video came: listener got %q, want nothing (hysteresis)", got)
	}
	update(2*lastNHold+2*time.Second, speaks("b"))
	if got := videoOffers(listener.box); !slices.Equal(got, []string{"-c", "+b"}) {
		t.Fatalf("b still speaks after the hold: listener got %q, want c's video replaced", got)
	}
	if got := videoOffers(pubs["b"].box); slices.Contains(got, "+b") {
		t.Fatalf("b offered its own video: %q", got)
	}
	pubs["d"].Close(nil)
	update(2*lastNHold + 3*time.Second)
	if got := videoOffers(listener.box); !slices.Equal(got, []string{"+c"}) {
		t.Fatalf("d left (peerClosed): listener got %q, want c's video (the next recent speaker) offered", got)
	}
}

// TestLastNSetting: EnableLastN refuses a bad N and a room in use; the
// server refuses a bad LastN; RoomLastN sets it per room; without it,
// every video is offered.
func TestLastNSetting(t *testing.T) {
	s := newTestServer(t)
	r, _ := s.Room("r")
	if err := r.EnableLastN(-1); err == nil {
		t.Error("last-n -1 accepted")
	}
	if err := r.EnableLastN(maxLastN + 1); err == nil {
		t.Error("last-n too large accepted")
	}
	joinPeer(t, r, "early", false)
	if err := r.EnableLastN(2); err == nil || r.LastN() != 0 {
		t.Error("last-n enabled after a join")
	}
	if _, err := NewServer(Config{LastN: -1}); err == nil {
		t.Error("server with last-n -1 created")
	}
	s2, err := NewServer(Config{Logger: s.log, RTC: s.cfg.RTC, RoomLastN: func(id string) int {
		if id == "big" {
			return 1
		}
		return 0
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for id, want := range map[string]int{"big": 1, "small": 0} {
		room, err := s2.Room(id)
		if err != nil {
			t.Fatal(err)
		}
		if room.LastN() != want {
			t.Fatalf("room %s: last-n %d, want %d", id, room.LastN(), want)
		}
		listener, _ := joinPeer(t, room, "listener", false)
		for i, name := range []string{"a", "b", "c"} {
			p, _ := joinPeer(t, room, name, false)
			id := uint32(100 * (i + 1))
			p.transport(t, id, "send")
			if err := p.produce(t, id, id, "video", false); err != nil {
				t.Fatal(err)
			}
		}
		wantOffers := []string{"+a"}
		if want == 0 {
			wantOffers = []string{"+a", "+b", "+c"}
		}
		if got := videoOffers(listener.box); !slices.Equal(got, wantOffers) {
			t.Fatalf("room %s: listener offered %q, want %q", id, got, wantOffers)
		}
	}
}
