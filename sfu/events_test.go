package sfu

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestObserverSeesEventsInOrder(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	var mu sync.Mutex
	var got []string
	add := func(e string) { mu.Lock(); got = append(got, e); mu.Unlock() }
	done := make(chan struct{})
	room.Observe(Observer{
		NewPeer:         func(p *Peer) { add("newpeer " + p.Name()) },
		PeerClosed:      func(p *Peer) { add("peerclosed " + p.Name()) },
		NewTransport:    func(t *Transport) { add(fmt.Sprint("newtransport ", t.ID())) },
		TransportClosed: func(t *Transport) { add(fmt.Sprint("transportclosed ", t.ID())) },
		NewProducer:     func(p *Producer) { add(fmt.Sprint("newproducer ", p.ID())) },
		ProducerClosed:  func(p *Producer) { add(fmt.Sprint("producerclosed ", p.ID())) },
		NewConsumer:     func(c *Consumer) { add("newconsumer of " + c.Producer().Peer().Name()) },
		ConsumerClosed:  func(c *Consumer) { add("consumerclosed") },
		RoomClosed: func(r *Room) {
			// Callbacks may call back into the API without deadlock.
			add(fmt.Sprint("roomclosed ", r.Closed()))
			close(done)
		},
	})
	alice, _ := joinPeer(t, room, "alice", false)
	joinPeer(t, room, "bob", false)
	alice.transport(t, 1, "send")
	if err := alice.produce(t, 10, 1, "audio", false); err != nil {
		t.Fatal(err)
	}
	alice.notif(t, map[string]any{"method": "leave"})
	room.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("room closed event not delivered")
	}
	want := []string{"newpeer alice", "newpeer bob", "newtransport 1", "newproducer 10", "newconsumer of alice",
		"consumerclosed", "producerclosed 10", "transportclosed 1", "peerclosed alice", "peerclosed bob", "roomclosed true"}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
}
