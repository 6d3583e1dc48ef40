package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
)

// joinPeer connects and joins a Go client peer to room on n.
func joinPeer(ctx context.Context, t *testing.T, n *node, room, name string) *client.Peer {
	t.Helper()
	p, err := client.Connect(ctx, n.URL, room, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// vp8Source sends synthetic VP8 packets (a key frame every keyEvery
// packets) every interval until stopped; it counts what it sent.
// publishVideo joins name to room on n and sends synthetic VP8 from it
// (a packet every interval, a key frame every keyEvery) until the test
// ends.
func publishVideo(ctx context.Context, t *testing.T, n *node, room, name string, interval time.Duration, keyEvery int) (*client.Peer, *client.Producer) {
	t.Helper()
	p := joinPeer(ctx, t, n, room, name)
	send, err := p.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, interval, keyEvery)
	t.Cleanup(src.Stop)
	return p, prod
}

type vp8Source struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent int
}

func startVP8(p *client.Producer, interval time.Duration, keyEvery int) *vp8Source {
	s := &vp8Source{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		seq, ts := uint16(1000), uint32(1000)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			payload := make([]byte, 200)
			payload[0] = 0x10 // S=1, PID=0
			payload[1] = 0x01 // inter frame
			if i%keyEvery == 0 {
				payload[1] = 0x00 // key frame
			}
			if p.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload}) == nil {
				s.mu.Lock()
				s.sent++
				s.mu.Unlock()
			}
			seq++
			ts += 3000
		}
	}()
	return s
}

func (s *vp8Source) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
}

// peerNames returns the names of a join response's peers.
func peerNames(ps []client.PeerData) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func matchName(name string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var n struct {
			Name     string `json:"name"`
			PeerName string `json:"peerName"`
		}
		return json.Unmarshal(raw, &n) == nil && (n.Name == name || n.PeerName == name)
	}
}

// TestTwoNodes: alice sends video on node 1, bob joins on node 2 and
// finds her in his join response and receives her video over one pipe;
// when he leaves, the pipe closes and node 2 leaves the room.
func TestTwoNodes(t *testing.T) {
	r := startRedis(t)
	n1 := startNode(t, r, "n1", "two:")
	n2 := startNode(t, r, "n2", "two:")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := joinPeer(ctx, t, n1, "room", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 10*time.Millisecond, 10)
	defer src.Stop()

	bob := joinPeer(ctx, t, n2, "room", "bob")
	if len(bob.JoinPeers) != 1 || bob.JoinPeers[0].Name != "alice" || len(bob.JoinPeers[0].Consumers) != 1 {
		t.Fatalf("bob's join response: %+v", bob.JoinPeers)
	}
	if _, _, err := alice.WaitNotification(ctx, 0, "newPeer", matchName("bob")); err != nil {
		t.Fatalf("alice: no newPeer for bob: %v", err)
	}
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := recv.Consume(ctx, bob.JoinPeers[0].Consumers[0])
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 50 {
		if _, err := cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatalf("bob received %d packets, then: %v", got, err)
		}
		got++
	}
	if s := n1.member.Stats(); s.PipesOut != 1 {
		t.Errorf("node 1 pipes out: %d, want 1", s.PipesOut)
	}
	// Bob, node 2's only peer, leaves: the pipe closes and node 2 leaves
	// the room.
	if err := bob.Leave(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alice.WaitNotification(ctx, 0, "peerClosed", matchName("bob")); err != nil {
		t.Fatalf("alice: no peerClosed for bob: %v", err)
	}
	waitFor(t, 3*time.Second, "the pipe to node 2 to close", func() bool { return n1.member.Stats().PipesOut == 0 })
	waitFor(t, 3*time.Second, "node 2 out of the room", func() bool {
		st, err := readStatus(ctx, n1.member.rdb, n1.member.k, n1.member.g)
		return err == nil && len(st.Rooms) == 1 && len(st.Rooms[0].Nodes) == 1 && st.Rooms[0].Home == "n1"
	})
}
