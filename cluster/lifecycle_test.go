package cluster

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// TestLostMessagesConverge: a node that misses a room's messages (its
// subscription gone) still learns the change from the poll.
func TestLostMessagesConverge(t *testing.T) {
	r := startRedis(t)
	n1, n2 := startNode(t, r, "n1", "lost:"), startNode(t, r, "n2", "lost:")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := joinPeer(ctx, t, n1, "lost", "alice")
	bob := joinPeer(ctx, t, n2, "lost", "bob")
	if len(bob.JoinPeers) != 1 {
		t.Fatalf("bob's join: %v", peerNames(bob.JoinPeers))
	}
	n2.member.bus.unsubscribe(ctx, n2.member.k.roomChannel("lost"))
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := send.Produce(ctx, "video", 0, false, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "newConsumer", nil); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("newConsumer without the room channel after %v", took.Round(time.Millisecond))
	if took > 3*time.Second {
		t.Errorf("newConsumer after %v, want within about one poll", took)
	}
}

// TestGracefulClose: a node that drains and closes is shown draining,
// then its peers leave the others' rooms with peerClosed alone (as a
// leave on one node) and it leaves the registry at once.
func TestGracefulClose(t *testing.T) {
	r := startRedis(t)
	n1, n2 := startNode(t, r, "n1", "bye:"), startNode(t, r, "n2", "bye:")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	publishVideo(ctx, t, n1, "bye", "alice", 20*time.Millisecond, 25)
	bob, err := subscribe(ctx, n2, "bye", "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.peer.Close() })
	if err := bob.contiguous(10, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	n1.member.Drain()
	waitFor(t, 3*time.Second, "node 1 shown draining", func() bool {
		st, err := readStatus(ctx, n2.member.rdb, n2.member.k, n2.member.g)
		return err == nil && len(st.Nodes) == 2 && st.Nodes[0].ID == "n1" && st.Nodes[0].Draining
	})
	start := time.Now()
	n1.close()
	if _, _, err := bob.peer.WaitNotification(ctx, 0, "peerClosed", matchName("alice")); err != nil {
		t.Fatal(err)
	}
	t.Logf("peerClosed %v after the close", time.Since(start).Round(time.Millisecond))
	for _, n := range bob.peer.Notifications() {
		if n.Method == "consumerClosed" {
			t.Errorf("bob got consumerClosed: a graceful leave sends peerClosed alone")
		}
	}
	waitFor(t, 2*time.Second, "node 1 out of the registry", func() bool {
		st, err := readStatus(ctx, n2.member.rdb, n2.member.k, n2.member.g)
		return err == nil && len(st.Nodes) == 1
	})
}

// TestMemberGoroutines: every goroutine of a member ends at Close.
func TestMemberGoroutines(t *testing.T) {
	r := startRedis(t)
	srv, err := sfu.NewServer(sfu.Config{RTC: transport.Config{ListenIP: "127.0.0.1", AnnouncedIP: "127.0.0.1"}, Logger: testLogger(t, "g")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	room, err := srv.Room("g")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()
	cfg := testConfig(r, "g1", "g:")
	cfg.Logger = testLogger(t, "g")
	m, err := Start(context.Background(), srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeforeJoin(context.Background(), room, "alice", false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // a poll or two
	m.Close()
	m.Close()
	room.Close() // ends the room's observer goroutine, started for the member
	waitFor(t, 3*time.Second, "the member's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before
	})
}
