package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// subscriber is a Go client peer consuming one producer.
type subscriber struct {
	peer *client.Peer
	cons *client.Consumer
}

// subscribe joins name to room on n and consumes the first consumer of
// from listed in its join response, or offered just after it.
func subscribe(ctx context.Context, n *node, room, name, from string) (*subscriber, error) {
	p, err := client.Connect(ctx, n.URL, room, name)
	if err != nil {
		return nil, err
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		p.Close()
		return nil, err
	}
	s := &subscriber{peer: p}
	var cd *client.ConsumerData
	for _, pd := range p.JoinPeers {
		if pd.Name == from && len(pd.Consumers) > 0 {
			cd = &pd.Consumers[0]
		}
	}
	if cd == nil {
		// The producer may reach this node's view of the room just after
		// the join (another node's delta over Redis): it comes as a
		// newConsumer then.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		nt, _, err := p.WaitNotification(wctx, 0, "newConsumer", func(d json.RawMessage) bool {
			var c client.ConsumerData
			return json.Unmarshal(d, &c) == nil && c.PeerName == from
		})
		cancel()
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("%s on %s: no consumer of %s in the join response (peers %v) nor within 10 s: %w", name, n.id, from, peerNames(p.JoinPeers), err)
		}
		cd = new(client.ConsumerData)
		if err := json.Unmarshal(nt.Data, cd); err != nil {
			p.Close()
			return nil, fmt.Errorf("%s: newConsumer: %w", name, err)
		}
	}
	recv, err := p.CreateTransport(ctx, "recv")
	if err != nil {
		p.Close()
		return nil, err
	}
	if s.cons, err = recv.Consume(ctx, *cd); err != nil {
		p.Close()
		return nil, err
	}
	return s, nil
}

// contiguous reads n packets and reports an error at the first gap in
// their sequence numbers.
func (s *subscriber) contiguous(n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last uint16
	for i := 0; i < n; i++ {
		pkt, err := s.cons.ReadRTP(deadline)
		if err != nil {
			return fmt.Errorf("%s: %d packets, then %w", s.peer.Name, i, err)
		}
		if i > 0 && pkt.SequenceNumber != last+1 {
			return fmt.Errorf("%s: packet %d has sequence number %d after %d (lost %d)", s.peer.Name, i, pkt.SequenceNumber, last, pkt.SequenceNumber-last-1)
		}
		last = pkt.SequenceNumber
	}
	return nil
}

// TestFanOutThreeNodes: one publisher on node 1, 30 subscribers spread
// over nodes 1–3: every subscriber receives the video without loss, and
// each other node receives the producer exactly once (one pipe each).
func TestFanOutThreeNodes(t *testing.T) {
	r := startRedis(t)
	nodes := []*node{startNode(t, r, "n1", "fan:"), startNode(t, r, "n2", "fan:"), startNode(t, r, "n3", "fan:")}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	alice := joinPeer(ctx, t, nodes[0], "fan", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 20*time.Millisecond, 25)
	defer src.Stop()

	const count = 30
	subs := make([]*subscriber, count)
	errs := make([]error, count)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 5)
	for i := range count {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			subs[i], errs[i] = subscribe(ctx, nodes[i%3], "fan", fmt.Sprintf("sub%02d", i), "alice")
		}()
	}
	wg.Wait()
	for i, s := range subs {
		if s != nil {
			t.Cleanup(func() { _ = s.peer.Close() })
		}
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
	}
	// Every subscriber receives 100 packets in a row, all at once.
	for i, s := range subs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.contiguous(100, 20*time.Second)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// One pipe per other node: node 1 sends two, nodes 2 and 3 receive one.
	waitFor(t, 5*time.Second, "the pipe counts", func() bool {
		return nodes[0].member.Stats().PipesOut == 2 && nodes[1].member.Stats().PipesIn == 1 && nodes[2].member.Stats().PipesIn == 1
	})
	for _, n := range nodes {
		s := n.member.Stats()
		t.Logf("%s: %+v", n.id, s)
		if s.Nodes != 3 {
			t.Errorf("%s sees %d nodes, want 3", n.id, s.Nodes)
		}
	}
	if got := nodes[0].member.Stats().PipesOut; got != 2 {
		t.Errorf("node 1 sends %d pipes, want 2", got)
	}
	if got := nodes[0].member.Stats().PipesIn; got != 0 {
		t.Errorf("node 1 receives %d pipes, want 0", got)
	}
}
