package sfu

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// speakerRoom is a room whose detector the test drives: reports happen on
// tick, not on a timer.
type speakerRoom struct {
	*Room
	t *testing.T
}

func newSpeakerRoom(t *testing.T, s *Server, id string) speakerRoom {
	t.Helper()
	room, err := s.Room(id)
	if err != nil {
		t.Fatal(err)
	}
	room.speakerEvery = time.Hour
	return speakerRoom{room, t}
}

// audioProducer adds to the room an audio producer of peer that sends
// ssrc-audio-level (what createProducer makes of a microphone).
func (r speakerRoom) audioProducer(peer *Peer, id uint32) *Producer {
	p := &Producer{id: id, peer: peer, kind: "audio", levels: &audioLevels{}}
	r.mu.Lock()
	r.producers[id] = p
	r.mu.Unlock()
	return p
}

// tick feeds each producer its level (dBov, as 10 packets would) and
// runs one report.
func (r speakerRoom) tick(levels map[*Producer]int) {
	for p, l := range levels {
		for range 10 {
			p.levels.add(byte(-l))
		}
	}
	r.detector().tick()
}

// subscriber records what one subscription receives.
type subscriber struct {
	changes chan *Producer
	reports chan []AudioLevel
	cancel  [2]func()
}

func subscribe(r *Room) (*subscriber, *Producer) {
	s := &subscriber{changes: make(chan *Producer, 100), reports: make(chan []AudioLevel, 100)}
	cur, c1 := r.SubscribeActiveSpeaker(func(p *Producer) { s.changes <- p })
	_, c2 := r.SubscribeAudioLevels(func(l []AudioLevel) { s.reports <- l })
	s.cancel = [2]func(){c1, c2}
	return s, cur
}

func (s *subscriber) change(t *testing.T, name string, want *Producer) {
	t.Helper()
	select {
	case got := <-s.changes:
		if got != want {
			t.Fatalf("%s: speaker %v, want %v", name, got, want)
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: no speaker change (want %v)", name, want)
	}
}

func (s *subscriber) noChange(t *testing.T, name string) {
	t.Helper()
	select {
	case got := <-s.changes:
		t.Fatalf("%s: unexpected speaker change to %v", name, got)
	case <-time.After(50 * time.Millisecond):
	}
}

func (s *subscriber) report(t *testing.T, name string, want map[*Producer]int) {
	t.Helper()
	select {
	case got := <-s.reports:
		if len(got) != len(want) {
			t.Fatalf("%s: report of %d producers, want %d", name, len(got), len(want))
		}
		for i, l := range got {
			if l.Level != want[l.Producer] {
				t.Fatalf("%s: level %d of producer %d, want %d", name, l.Level, l.Producer.id, want[l.Producer])
			}
			if i > 0 && got[i-1].Level < l.Level {
				t.Fatalf("%s: report not loudest first: %v", name, got)
			}
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("%s: no level report", name)
	}
}

// TestActiveSpeakerSubscribers: two subscribers of one room both see every
// speaker change and the full levels of every report (one detector takes
// the levels once); a cancelled subscriber gets nothing more; a late
// subscriber gets the current speaker.
func TestActiveSpeakerSubscribers(t *testing.T) {
	s := newTestServer(t)
	room := newSpeakerRoom(t, s, "r")
	alice, _ := joinPeer(t, room.Room, "alice", false)
	bob, _ := joinPeer(t, room.Room, "bob", false)
	a := room.audioProducer(alice.Peer, 1)
	b := room.audioProducer(bob.Peer, 2)

	one, cur := subscribe(room.Room)
	if cur != nil {
		t.Fatalf("current speaker %v before any report", cur)
	}
	two, _ := subscribe(room.Room)

	// alice speaks: she is the speaker at once (nobody was).
	room.tick(map[*Producer]int{a: -30, b: -100})
	for _, sub := range []*subscriber{one, two} {
		sub.change(t, "alice speaks", a)
		sub.report(t, "alice speaks", map[*Producer]int{a: -30, b: -100})
	}
	// bob is louder: he takes over after 4 reports in a row.
	for i := range 4 {
		room.tick(map[*Producer]int{a: -50, b: -20})
		for _, sub := range []*subscriber{one, two} {
			sub.report(t, "bob speaks", map[*Producer]int{a: -50, b: -20})
			if i < 3 {
				sub.noChange(t, "bob speaks")
			}
		}
	}
	one.change(t, "bob speaks", b)
	two.change(t, "bob speaks", b)
	if got := room.ActiveSpeaker(); got != b {
		t.Fatalf("ActiveSpeaker %v, want bob's", got)
	}

	late, cur := subscribe(room.Room)
	if cur != b {
		t.Fatalf("late subscriber: current %v, want bob's", cur)
	}
	two.cancel[0]()
	two.cancel[1]()
	two.cancel[0]() // twice is fine
	// silence: nobody speaks.
	room.tick(map[*Producer]int{})
	one.change(t, "silence", nil)
	late.change(t, "silence", nil)
	one.report(t, "silence", map[*Producer]int{a: -127, b: -127})
	two.noChange(t, "cancelled")
	select {
	case <-two.reports:
		t.Fatal("cancelled subscriber got a report")
	default:
	}
}

// TestActiveSpeakerSlowSubscriber: a subscriber that blocks delays no
// report; what it missed is delivered once it returns (level reports
// beyond the backlog are dropped, speaker changes are not).
func TestActiveSpeakerSlowSubscriber(t *testing.T) {
	s := newTestServer(t)
	room := newSpeakerRoom(t, s, "r")
	alice, _ := joinPeer(t, room.Room, "alice", false)
	a := room.audioProducer(alice.Peer, 1)
	block := make(chan struct{})
	changes := make(chan *Producer, 10)
	_, cancel := room.SubscribeActiveSpeaker(func(p *Producer) {
		<-block
		changes <- p
	})
	defer cancel()
	var reports atomic.Int32
	_, cancelLevels := room.SubscribeAudioLevels(func([]AudioLevel) { reports.Add(1) })
	defer cancelLevels()

	done := make(chan struct{})
	go func() {
		defer close(done)
		room.tick(map[*Producer]int{a: -30}) // alice: a change, blocked in delivery
		for range 3 * maxSpeakerBacklog {
			room.tick(map[*Producer]int{a: -30})
		}
		room.tick(map[*Producer]int{}) // nobody: a second change
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("reports blocked by a slow subscriber")
	}
	close(block)
	for _, want := range []*Producer{a, nil} {
		select {
		case got := <-changes:
			if got != want {
				t.Fatalf("change %v, want %v", got, want)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("change to %v not delivered", want)
		}
	}
	d := room.detector()
	deadline := time.Now().Add(2 * time.Second)
	for {
		d.mu.Lock()
		left := len(d.pending)
		d.mu.Unlock()
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", left)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := reports.Load(); n == 0 || n > maxSpeakerBacklog+2 {
		t.Fatalf("%d level reports delivered, want 1..%d", n, maxSpeakerBacklog+2)
	}
}

// TestActiveSpeakerEndsWithRoom: closing the room ends the detector's
// goroutines; subscribing to a closed room starts nothing.
func TestActiveSpeakerEndsWithRoom(t *testing.T) {
	s := newTestServer(t)
	base := runtime.NumGoroutine()
	room := newSpeakerRoom(t, s, "r")
	_, cancel := room.SubscribeActiveSpeaker(func(*Producer) {})
	defer cancel()
	d := room.detector()
	room.Close()
	select {
	case <-d.done:
	case <-time.After(2 * time.Second):
		t.Fatal("detector still running after the room closed")
	}
	cur, cancel2 := room.SubscribeActiveSpeaker(func(*Producer) { t.Error("called on a closed room") })
	cancel2()
	if cur != nil || room.detector() != nil {
		t.Fatal("a closed room has a detector")
	}
	waitGoroutines(t, base)
}

// waitGoroutines waits until no more than base goroutines run.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAudioLevelsTakeRace: a take racing the media plane's observes never
// pairs a sum with another interval's count: a producer sending only
// silence (127) always averages -127 dBov.
func TestAudioLevelsTakeRace(t *testing.T) {
	var a audioLevels
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200000 {
			a.add(127)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		if sum, n := a.take(); n > 0 && averageLevel(sum, n) != -127 {
			t.Fatalf("silence averaged %d dBov (sum %d of %d levels)", averageLevel(sum, n), sum, n)
		}
	}
}
