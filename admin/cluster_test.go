package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/cluster"
	"github.com/gosoup/gosoup/internal/redistest"
	"github.com/gosoup/gosoup/signaling"
)

// testClusterSecret is the cluster secret of the test nodes.
const testClusterSecret = "admin-test-cluster-secret-0123456789"

// clusterNode is one node of a test cluster: SFU, cluster member,
// signaling and the admin API reading the cluster from Redis.
type clusterNode struct {
	id  string
	url string // ws://127.0.0.1:port/
	h   *Handler
}

func startClusterNode(t *testing.T, redisURL, prefix, id string) *clusterNode {
	t.Helper()
	srv, log := newLoopbackSFU(t)
	hs := httptest.NewUnstartedServer(nil)
	url := "ws://" + hs.Listener.Addr().String() + "/"
	m, err := cluster.Start(context.Background(), srv, cluster.Config{
		RedisURL: redisURL, NodeID: id, SignalingURL: url, Prefix: prefix, Logger: log, Secret: testClusterSecret,
		TTL: 3 * time.Second, Interval: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServerWithOptions(srv, log, signaling.Options{BeforeJoin: m.BeforeJoin})
	hs.Config.Handler = sig
	hs.Start()
	h := New(Options{Server: srv, Rooms: sig, Logger: log, NodeID: id, Cluster: RedisCluster{URL: redisURL, Prefix: prefix, Secret: testClusterSecret}})
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		h.Close()
		sig.Close()
		m.Close()
	})
	return &clusterNode{id: id, url: url, h: h}
}

// TestOperatorRedisCluster: two nodes sharing Redis. Each node's list
// covers both; a node shows the other's peer as remote, with its node;
// pausing a producer or closing a peer on the wrong node answers 409 with
// the right one, and on the right node the peer of the other node is told
// (consumerPaused, peerClosed).
func TestOperatorRedisCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	redis := redistest.Start(t)
	a := startClusterNode(t, redis.URL(), "admintest:", "node-a")
	b := startClusterNode(t, redis.URL(), "admintest:", "node-b")
	joinAt := func(n *clusterNode, name string) *client.Peer {
		p, err := client.Connect(ctx, strings.TrimSuffix(n.url, "/"), "r", name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice := joinAt(a, "alice")
	bob := joinAt(b, "bob")

	// Both nodes list room r with one peer on each, once the directory
	// has both states.
	for _, n := range []*clusterNode{a, b} {
		var list RoomList
		deadline := time.Now().Add(10 * time.Second)
		for {
			list = RoomList{}
			callInto(t, n.h, "GET", "/admin/rooms", "", &list)
			if len(list.Rooms) == 1 && len(list.Rooms[0].Nodes) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the list never showed both nodes: %+v", n.id, list)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := list.Rooms[0]
		if !list.Cluster || list.Node != n.id || r.ID != "r" || r.Peers != 2 || r.Home == "" ||
			r.Nodes[0].Node != "node-a" || r.Nodes[0].Peers != 1 || r.Nodes[1].Node != "node-b" || r.Nodes[1].Peers != 1 {
			t.Fatalf("%s: list %+v", n.id, list)
		}
	}

	var d RoomDetail
	callInto(t, a.h, "GET", "/admin/rooms/r", "", &d)
	if len(d.Peers) != 2 || d.Peers[0].Name != "alice" || d.Peers[0].Remote ||
		d.Peers[1].Name != "bob" || !d.Peers[1].Remote || d.Peers[1].Node != "node-b" {
		t.Fatalf("detail on node-a: %+v", d)
	}

	// alice's producer: node-b has its pipe, which node-b cannot pause;
	// node-a pauses it and bob, on node-b, is told.
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.Produce(ctx, "video", 0, false, nil); err != nil {
		t.Fatal(err)
	}
	nc := waitNote(ctx, t, bob, "newConsumer", func(m map[string]any) bool { return m["peerName"] == "alice" })
	raw, _ := json.Marshal(nc)
	var cd client.ConsumerData
	if err := json.Unmarshal(raw, &cd); err != nil {
		t.Fatal(err)
	}
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recv.Consume(ctx, cd); err != nil { // enabled: it is told of pauses
		t.Fatal(err)
	}
	var prodID uint32
	callInto(t, a.h, "GET", "/admin/rooms/r", "", &d)
	if ps := d.Peers[0].Producers; len(ps) == 1 {
		prodID = ps[0].ID
	}
	path := "/admin/rooms/r/producers/" + itoa(prodID) + "/pause"
	var e Elsewhere
	if code := callInto(t, b.h, "POST", path, "", &e); code != http.StatusConflict || e.Node != "node-a" || e.URL != a.url {
		t.Fatalf("pausing alice's producer on node-b: %d %+v", code, e)
	}
	if code := callInto(t, a.h, "POST", path, "", nil); code != http.StatusOK {
		t.Fatalf("pausing alice's producer on node-a: %d", code)
	}
	waitNote(ctx, t, alice, "producerPaused", nil)
	waitNote(ctx, t, bob, "consumerPaused", func(m map[string]any) bool { return m["id"] == nc["id"] })

	if code := callInto(t, a.h, "DELETE", "/admin/rooms/r/peers/bob", "", &e); code != http.StatusConflict ||
		e.Node != "node-b" || e.URL != b.url {
		t.Fatalf("closing bob on node-a: %d %+v", code, e)
	}
	if code := callInto(t, b.h, "DELETE", "/admin/rooms/r/peers/bob", `{"appData":{"reason":"kicked"}}`, nil); code != http.StatusNoContent {
		t.Fatalf("closing bob on node-b: %d", code)
	}
	// (The cluster carries no appData in a peerClosed between nodes: the
	// origin's sfu.Observer.PeerClosed does not give it.)
	waitNote(ctx, t, alice, "peerClosed", func(m map[string]any) bool { return m["name"] == "bob" })
	callInto(t, a.h, "GET", "/admin/rooms/r", "", &d)
	if len(d.Peers) != 1 || d.Peers[0].Name != "alice" {
		t.Fatalf("detail on node-a after bob left: %+v", d)
	}
}
