package cluster

import (
	"context"
	"testing"
	"time"
)

// TestNodeKilled: the node of a publisher dies without a word; within 5 s
// the peers of the other nodes get consumerClosed and peerClosed for the
// publisher, and the dead node leaves the registry.
func TestNodeKilled(t *testing.T) {
	r := startRedis(t)
	n1, n2, n3 := startNode(t, r, "n1", "kill:"), startNode(t, r, "n2", "kill:"), startNode(t, r, "n3", "kill:")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	publishVideo(ctx, t, n1, "kill", "alice", 20*time.Millisecond, 25)
	var subs []*subscriber
	for _, x := range []struct {
		n    *node
		name string
	}{{n2, "bob"}, {n3, "carol"}} {
		s, err := subscribe(ctx, x.n, "kill", x.name, "alice")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.peer.Close() })
		if err := s.contiguous(20, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}

	home := func() string { return n2.member.home(ctx, "kill") }
	if h := home(); h != "n1" {
		t.Errorf("home of the room: %q, want n1 (first to join)", h)
	}
	killed := time.Now()
	n1.kill()
	for _, s := range subs {
		_, i, err := s.peer.WaitNotification(ctx, 0, "consumerClosed", nil)
		if err != nil {
			t.Fatalf("%s: no consumerClosed: %v", s.peer.Name, err)
		}
		if _, _, err := s.peer.WaitNotification(ctx, i, "peerClosed", matchName("alice")); err != nil {
			t.Fatalf("%s: no peerClosed for alice after its consumerClosed: %v", s.peer.Name, err)
		}
		took := time.Since(killed)
		t.Logf("%s: peerClosed for alice %v after the kill", s.peer.Name, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s: peerClosed %v after the kill, want within 5 s", s.peer.Name, took)
		}
	}
	waitFor(t, 5*time.Second, "the room re-homed", func() bool { h := home(); return h == "n2" || h == "n3" })
	t.Logf("room re-homed on %s %v after the kill", home(), time.Since(killed).Round(time.Millisecond))
	waitFor(t, 5*time.Second, "the survivors to see two nodes", func() bool {
		return n2.member.Stats().Nodes == 2 && n3.member.Stats().Nodes == 2
	})
	// The survivors still see each other: bob and carol are in one room.
	if n := n2.srv.Counts().Peers; n != 2 {
		t.Errorf("node 2 has %d peers, want 2 (bob and remote carol)", n)
	}
}

// TestRedisOutage: Redis stops for 10 s while media flows between two
// nodes: the packets keep arriving, nobody is closed, and once Redis is
// back (empty) the nodes register again, re-publish their rooms and the
// cluster works on (a new peer is seen across nodes).
func TestRedisOutage(t *testing.T) {
	r := startRedis(t)
	n1, n2 := startNode(t, r, "n1", "out:"), startNode(t, r, "n2", "out:")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	alice, _ := publishVideo(ctx, t, n1, "out", "alice", 20*time.Millisecond, 25)
	bob, err := subscribe(ctx, n2, "out", "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.peer.Close() })
	if err := bob.contiguous(20, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	r.stop()
	stopped := time.Now()
	// 10 s without Redis: bob reads on, never waiting more than a second.
	got := 0
	for time.Since(stopped) < 10*time.Second {
		if _, err := bob.cons.ReadRTP(time.Now().Add(time.Second)); err != nil {
			t.Fatalf("Redis down for %v: bob received %d packets, then: %v", time.Since(stopped).Round(time.Millisecond), got, err)
		}
		got++
	}
	t.Logf("Redis down 10 s: bob received %d packets meanwhile", got)
	if got < 300 {
		t.Errorf("bob received %d packets in 10 s, want about 500", got)
	}
	r.start()
	restarted := time.Now()
	waitFor(t, 5*time.Second, "both nodes registered again", func() bool {
		nodes, _, _, err := readNodes(ctx, n1.member.rdb, n1.member.k, n1.member.g)
		return err == nil && len(nodes) == 2
	})
	waitFor(t, 5*time.Second, "both room states re-published", func() bool {
		n, err := n1.member.rdb.Exists(ctx, n1.member.k.roomState("out", "n1"), n1.member.k.roomState("out", "n2")).Result()
		return err == nil && n == 2
	})
	t.Logf("re-registered and re-published %v after Redis came back", time.Since(restarted).Round(time.Millisecond))
	if err := bob.contiguous(50, 5*time.Second); err != nil {
		t.Error(err)
	}
	for _, n := range bob.peer.Notifications() {
		if n.Method == "peerClosed" || n.Method == "consumerClosed" {
			t.Errorf("bob got %s %s during the outage", n.Method, n.Data)
		}
	}
	for _, n := range alice.Notifications() {
		if n.Method == "peerClosed" {
			t.Errorf("alice got %s %s during the outage", n.Method, n.Data)
		}
	}
	// The cluster works on: carol joins on node 1, bob sees her.
	joinPeer(ctx, t, n1, "out", "carol")
	if _, _, err := bob.peer.WaitNotification(ctx, 0, "newPeer", matchName("carol")); err != nil {
		t.Fatalf("bob: no newPeer for carol after the outage: %v", err)
	}
}
