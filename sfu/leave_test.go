package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// leaveMark is what the tests record in a peer's inbox once its leave (or
// close) has been processed: every notification after it reached the
// client after the leave.
const leaveMark = "<leave processed>"

// racingInbox records a peer's notifications like inbox. Once armed, the
// next stats notification it is handed is delayed, as if its timer
// goroutine had fired just before the leave and been descheduled before the
// hand-over: it reports on held, waits for release (at most holdFor), and
// only then records.
type racingInbox struct {
	box     *inbox
	holdFor time.Duration

	mu      sync.Mutex
	armed   bool
	held    chan string // the method of the delayed notification
	release chan struct{}
}

func newRacingInbox(holdFor time.Duration) *racingInbox {
	return &racingInbox{box: &inbox{}, holdFor: holdFor, held: make(chan string, 1), release: make(chan struct{})}
}

func (b *racingInbox) arm() {
	b.mu.Lock()
	b.armed = true
	b.mu.Unlock()
}

func (b *racingInbox) notify(n any) {
	method := notificationMethod(n)
	b.mu.Lock()
	hold := b.armed && strings.HasSuffix(method, "Stats")
	if hold {
		b.armed = false
	}
	b.mu.Unlock()
	if hold {
		b.held <- method
		select {
		case <-b.release:
		case <-time.After(b.holdFor):
		}
	}
	b.box.notify(n)
}

func notificationMethod(n any) string {
	raw, err := json.Marshal(n)
	if err != nil {
		return ""
	}
	var m struct{ Method string }
	_ = json.Unmarshal(raw, &m)
	return m.Method
}

// mark records leaveMark in the inbox.
func (b *inbox) mark() {
	b.mu.Lock()
	b.notes = append(b.notes, map[string]any{"method": leaveMark})
	b.mu.Unlock()
}

// afterMark returns the methods recorded after leaveMark; it fails the
// test when the mark is missing.
func afterMark(t *testing.T, who string, b *inbox) []string {
	t.Helper()
	all := b.methods()
	for i, m := range all {
		if m == leaveMark {
			return all[i+1:]
		}
	}
	t.Fatalf("%s: no %q in %v", who, leaveMark, all)
	return nil
}

// joinWith joins name with notify as its Notifier, recording in box.
func joinWith(t *testing.T, room *Room, name string, box *inbox, notify Notifier) *tpeer {
	t.Helper()
	_, p, err := room.ReceiveRequest(msg(t, map[string]any{
		"method": "join", "target": "room", "peerName": name, "rtpCapabilities": peerCaps(room),
		"appData": map[string]any{"displayName": name},
	}), notify)
	if err != nil {
		t.Fatal(err)
	}
	return &tpeer{p, box}
}

// statsPair sets up alice and bob each with a send transport and a video
// producer and a receive transport consuming the other's producer (enabled,
// so media would flow), and turns on every stats notification of alice's:
// both transports, her producer and her consumer (1 s, the shortest
// interval). Bob's inbox is emptied.
func statsPair(t *testing.T, room *Room, alice, bob *tpeer) {
	t.Helper()
	alice.transport(t, 1, "send")
	alice.transport(t, 2, "recv")
	bob.transport(t, 3, "send")
	bob.transport(t, 4, "recv")
	if err := alice.produce(t, 10, 1, "video", false); err != nil {
		t.Fatal(err)
	}
	if err := bob.produce(t, 20, 3, "video", false); err != nil {
		t.Fatal(err)
	}
	aliceCons := consumerID(t, alice.box.last("newConsumer"))
	bobCons := consumerID(t, bob.box.last("newConsumer"))
	if _, err := alice.request(t, map[string]any{"method": "enableConsumer", "id": aliceCons, "transportId": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": bobCons, "transportId": 4}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []map[string]any{
		{"method": "enableTransportStats", "id": 1, "interval": 100},
		{"method": "enableTransportStats", "id": 2, "interval": 100},
		{"method": "enableProducerStats", "id": 10, "interval": 100},
		{"method": "enableConsumerStats", "id": aliceCons, "interval": 100},
	} {
		if err := alice.notif(t, n); err != nil {
			t.Fatal(err)
		}
	}
	bob.box.take()
}

// TestLeaveCutsOffEveryNotification: once a peer's leave is processed,
// nothing more reaches its client, although its stats timers were running
// and one of them was handing a notification over as the leave came in;
// the other peer is told as before and goes on.
func TestLeaveCutsOffEveryNotification(t *testing.T) {
	room, rb, alice, bob := statsHandOver(t, "leave")
	if err := alice.notif(t, map[string]any{"method": "leave"}); err != nil {
		t.Fatal(err)
	}
	rb.box.mark()
	close(rb.release)

	time.Sleep(1600 * time.Millisecond) // every stats timer fires at least once more
	wantMethods(t, "alice after her leave", afterMark(t, "alice", rb.box))
	wantMethods(t, "bob", bob.box.take(), "peerClosed")

	// Bob goes on: a server-side pause of his producer reaches him, nothing
	// reaches alice (whose consumer of it is closed), and a new peer sees
	// bob only.
	room.PeerByName("bob").ProducerByID(20).Pause(nil)
	wantMethods(t, "bob", bob.box.take(), "producerPaused")
	_, resp := joinPeer(t, room, "carol", false)
	if len(resp.Peers) != 1 || resp.Peers[0].Name != "bob" || len(resp.Peers[0].Consumers) != 1 {
		t.Fatalf("carol's join = %+v", resp.Peers)
	}
	wantMethods(t, "bob", bob.box.take(), "newPeer")
	wantMethods(t, "alice after her leave", afterMark(t, "alice", rb.box))
	if room.PeerByName("alice") != nil || !alice.Closed() {
		t.Fatal("alice still in the room")
	}
}

// TestServerCloseSendsClosedLast: a peer closed from the server side still
// gets "closed" (after a stats notification being handed over), and
// nothing after it.
func TestServerCloseSendsClosedLast(t *testing.T) {
	_, rb, alice, bob := statsHandOver(t, "close")
	alice.Close(json.RawMessage(`{"reason":"kick"}`))
	rb.box.mark()
	close(rb.release)

	time.Sleep(1600 * time.Millisecond)
	wantMethods(t, "alice after her close", afterMark(t, "alice", rb.box))
	all := rb.box.methods()
	if len(all) < 2 || all[len(all)-2] != "closed" {
		t.Fatalf("alice got %v, want closed last", all)
	}
	if n := rb.box.last("closed"); string(mustMarshal(t, n["appData"])) != `{"reason":"kick"}` {
		t.Fatalf("closed = %v", n)
	}
	wantMethods(t, "bob", bob.box.take(), "peerClosed")
}

// statsHandOver joins alice (through a racing inbox) and bob to a room
// with every stats notification on, and returns once one of alice's stats
// notifications is being handed over (held by the inbox).
func statsHandOver(t *testing.T, name string) (*Room, *racingInbox, *tpeer, *tpeer) {
	t.Helper()
	s := newTestServer(t)
	room, _ := s.Room(name)
	rb := newRacingInbox(300 * time.Millisecond)
	alice := joinWith(t, room, "alice", rb.box, rb.notify)
	bob, _ := joinPeer(t, room, "bob", false)
	statsPair(t, room, alice, bob)
	rb.arm()
	select {
	case m := <-rb.held:
		t.Logf("acting while %s is being handed over", m)
	case <-time.After(5 * time.Second):
		t.Fatal("no stats notification within 5 s")
	}
	return room, rb, alice, bob
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPeerNotifyStopsAtLeave: an application notification (Peer.Notify)
// goes through the peer's Notifier until the peer leaves, not after.
func TestPeerNotifyStopsAtLeave(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("notify")
	alice, _ := joinPeer(t, room, "alice", false)
	if !alice.Notify(map[string]any{"method": "activeSpeaker", "peerName": "bob"}) {
		t.Fatal("Notify before leave not handed over")
	}
	wantMethods(t, "alice", alice.box.take(), "activeSpeaker")
	if err := alice.notif(t, map[string]any{"method": "leave"}); err != nil {
		t.Fatal(err)
	}
	if alice.Notify(map[string]any{"method": "activeSpeaker", "peerName": "bob"}) {
		t.Fatal("Notify after leave handed over")
	}
	wantMethods(t, "alice", alice.box.take())
}

// TestClientDTLSCloseIsNotNotified: a transport whose client ended DTLS
// (the read ended with io.EOF: close_notify) closes without
// "transportClosed", since the client closed it itself, with closeTransport
// or leave sent just before; other network deaths are still notified.
func TestClientDTLSCloseIsNotNotified(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("dtls")
	alice, _ := joinPeer(t, room, "alice", false)
	bob, _ := joinPeer(t, room, "bob", false)
	alice.transport(t, 1, "send")
	alice.transport(t, 2, "recv")
	if err := alice.produce(t, 10, 1, "audio", false); err != nil {
		t.Fatal(err)
	}
	alice.box.take()
	bob.box.take()

	tr := alice.TransportByID(1)
	tr.OnClosed(tr.WebRTC(), fmt.Errorf("dtls closed by remote: %w", io.EOF))
	if alice.TransportByID(1) != nil || alice.ProducerByID(10) != nil {
		t.Fatal("transport or its producer kept")
	}
	wantMethods(t, "alice", alice.box.take())
	wantMethods(t, "bob", bob.box.take(), "consumerClosed")

	tr = alice.TransportByID(2)
	tr.OnClosed(tr.WebRTC(), errors.New("ICE consent expired: no check for 30s"))
	wantMethods(t, "alice", alice.box.take(), "transportClosed")
}
