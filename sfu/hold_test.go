package sfu

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestAcquireRoom: holds of one id share a room; it stays open until the
// last hold is released (a release twice counts once), then it is closed,
// its peers got "closed", the server forgets it, and its detector's
// goroutines end. The next hold opens a new room.
func TestAcquireRoom(t *testing.T) {
	s := newTestServer(t)
	base := waitStable()
	r1, release1, err := s.AcquireRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	r2, release2, err := s.AcquireRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	if r1 != r2 {
		t.Fatal("two holds of one id got two rooms")
	}
	if got, _ := s.Room("r"); got != r1 {
		t.Fatal("Server.Room does not return the held room")
	}
	alice, _ := joinPeer(t, r1, "alice", false)
	_, cancel := r1.SubscribeActiveSpeaker(func(*Producer) {})
	defer cancel()

	release1()
	release1()
	if r1.Closed() {
		t.Fatal("room closed while a hold remains")
	}
	release2()
	if !r1.Closed() || len(s.Rooms()) != 0 {
		t.Fatalf("room closed %v, %d rooms left after the last release", r1.Closed(), len(s.Rooms()))
	}
	wantMethods(t, "alice", alice.box.take(), "closed")
	release2()

	r3, release3, err := s.AcquireRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	if r3 == r1 || r3.Closed() {
		t.Fatal("a hold after the close got the closed room")
	}
	release3()
	waitGoroutines(t, base)
}

// TestAcquireRoomClosedElsewhere: a room closed by Room.Close while held
// stays closed; a new hold gets a new room, and the old holds' releases do
// not close it. Once the server is closed, AcquireRoom fails.
func TestAcquireRoomClosedElsewhere(t *testing.T) {
	s := newTestServer(t)
	r1, release1, err := s.AcquireRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	r1.Close()
	r2, release2, err := s.AcquireRoom("r")
	if err != nil {
		t.Fatal(err)
	}
	if r2 == r1 {
		t.Fatal("got the closed room")
	}
	release1()
	if r2.Closed() {
		t.Fatal("releasing the old room's hold closed the new room")
	}
	release2()
	if !r2.Closed() {
		t.Fatal("new room open after its last release")
	}
	s.Close()
	if _, _, err := s.AcquireRoom("r"); err == nil {
		t.Fatal("AcquireRoom on a closed server succeeded")
	}
}

// TestAcquireRoomConcurrent: holds taken and released concurrently on a
// few ids leave no room open and no goroutine behind; a hold never gets a
// closed room.
func TestAcquireRoomConcurrent(t *testing.T) {
	s := newTestServer(t)
	base := waitStable()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				r, release, err := s.AcquireRoom(fmt.Sprint("r", (g+i)%3))
				if err != nil {
					t.Error(err)
					return
				}
				if r.Closed() {
					t.Error("AcquireRoom returned a closed room")
				}
				if i%10 == 0 {
					_, cancel := r.SubscribeAudioLevels(func([]AudioLevel) {})
					cancel()
				}
				release()
			}
		}()
	}
	wg.Wait()
	if n := len(s.Rooms()); n != 0 {
		t.Fatalf("%d rooms open after every hold was released", n)
	}
	waitGoroutines(t, base)
}

// waitStable lets goroutines of earlier tests end and returns how many
// are left.
func waitStable() int {
	time.Sleep(20 * time.Millisecond)
	return runtime.NumGoroutine()
}
