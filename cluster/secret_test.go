package cluster

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/internal/syncbuf"
)

// roomPeerNames returns the names of the peers (local and remote) of the
// node's room, sorted; nil without the room.
func roomPeerNames(n *node, room string) []string {
	for _, r := range n.srv.Rooms() {
		if r.ID() == room {
			var out []string
			for _, p := range r.Peers() {
				out = append(out, p.Name())
			}
			slices.Sort(out)
			return out
		}
	}
	return nil
}

// rogueClient is a Redis client that knows no cluster secret.
func rogueClient(t *testing.T, r *redisServer) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRogueRedisClient: a client that can write to Redis but has no
// cluster secret forges node entries, room state, deltas and pipe
// requests, unsealed, sealed with another secret, with a bad MAC, or
// moved from another key or channel: nothing changes in the nodes (their
// rooms keep their peers, no pipe opens, no packet is sent) and every
// forgery is counted.
func TestRogueRedisClient(t *testing.T) {
	r := startRedis(t)
	const prefix = "rogue:"
	n1 := startNode(t, r, "n1", prefix)
	n2 := startNode(t, r, "n2", prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice := joinPeer(ctx, t, n1, "room", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob := joinPeer(ctx, t, n2, "room", "bob")
	want := []string{"alice", "bob"}
	waitFor(t, 5*time.Second, "both nodes to see alice and bob", func() bool {
		return slices.Equal(roomPeerNames(n1, "room"), want) && slices.Equal(roomPeerNames(n2, "room"), want)
	})
	pipesBefore := n1.member.Stats().PipesOut

	// A UDP socket a forged pipe request points to: nothing may arrive.
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()

	rogue := rogueClient(t, r)
	k := n1.member.k
	other, err := newSealer("another-secret-of-the-forger-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	ours := n1.member.g.sealer
	badMAC := func(name string, payload []byte) string { // our key id (public), a MAC made up
		return sealVersion + "." + ours.kid + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA." + string(payload)
	}
	forgeries := map[string]func(name string, payload []byte) string{
		"unsealed":       func(_ string, p []byte) string { return string(p) },
		"another secret": other.seal,
		"bad MAC":        badMAC,
	}
	mustJSON := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mallory := roomState{Node: "n9", Epoch: "evil", Seq: 1, Peers: []peerState{{Name: "mallory"}}}
	info := NodeInfo{ID: "n9", Epoch: "evil", Started: time.Now(), Updated: time.Now()}
	// n1's real epoch and seq of the room, so that forged deltas would
	// apply if they were believed.
	cr := n1.member.roomByID("room")
	cr.mu.Lock()
	epoch, seq := cr.epoch, cr.seq
	cr.mu.Unlock()
	producerID := n1.srv.Rooms()[0].Peers()[0].Producers()[0].ID()
	if p := n1.srv.Rooms()[0].Peers()[0]; p.Name() != "alice" {
		producerID = n1.srv.Rooms()[0].Peers()[1].Producers()[0].ID()
	}
	for how, forge := range forgeries {
		t.Logf("forging: %s", how)
		// A node n9 with a state in the room holding mallory.
		nodeKey, stateKey := k.node("n9"), k.roomState("room", "n9")
		rogue.Set(ctx, nodeKey, forge(nodeKey, mustJSON(info)), time.Minute)
		rogue.SAdd(ctx, k.nodes(), "n9")
		rogue.HSet(ctx, stateKey, "v", forge(stateField(stateKey, "v"), []byte("evil/1")),
			"s", forge(stateField(stateKey, "s"), mustJSON(mallory)))
		rogue.SAdd(ctx, k.roomNodes("room"), "n9")
		// n1's state replaced by one with mallory instead of alice.
		n1Key := k.roomState("room", "n1")
		fake := roomState{Node: "n1", Epoch: epoch, Seq: seq + 100, Peers: []peerState{{Name: "mallory"}}}
		rogue.HSet(ctx, n1Key, "v", forge(stateField(n1Key, "v"), []byte(version(epoch, seq+100))),
			"s", forge(stateField(n1Key, "s"), mustJSON(fake)))
		// Deltas as n1: mallory joins, alice leaves.
		ch := k.roomChannel("room")
		rogue.Publish(ctx, ch, forge(ch, encode(&message{Type: msgPeer, From: "n1", Room: "room", Epoch: epoch, Seq: seq + 1,
			Peer: &peerState{Name: "mallory"}})))
		rogue.Publish(ctx, ch, forge(ch, encode(&message{Type: msgPeerClosed, From: "n1", Room: "room", Epoch: epoch, Seq: seq + 2,
			PeerName: "alice"})))
		// A pipe request as n2: alice's producer to the sink.
		to := k.nodeChannel("n1")
		rogue.Publish(ctx, to, forge(to, encode(&message{Type: msgPipe, From: "n2", Room: "room", PeerName: "alice",
			ProducerID: producerID, At: time.Now().UnixMilli(),
			Pipe: &pipeRequest{Addr: sink.LocalAddr().String(), Nonce: make([]byte, pipeNonceLen)}})))
	}
	// Genuine values moved elsewhere: n1's registry entry as n9's, n1's
	// sealed state as n9's, a delta of room "room" on room "other".
	if v, err := rogue.Get(ctx, k.node("n1")).Result(); err == nil {
		rogue.Set(ctx, k.node("n9"), v, time.Minute)
	} else {
		t.Fatal(err)
	}
	if s, err := rogue.HGetAll(ctx, k.roomState("room", "n2")).Result(); err == nil && s["s"] != "" {
		rogue.HSet(ctx, k.roomState("room", "n9"), "v", s["v"], "s", s["s"])
	} else {
		t.Fatalf("n2's state: %v %v", s, err)
	}
	moved := ours.seal(k.nodeChannel("n2"), encode(&message{Type: msgPipe, From: "n2", Room: "room", PeerName: "alice",
		ProducerID: producerID, At: time.Now().UnixMilli(), Pipe: &pipeRequest{Addr: sink.LocalAddr().String(), Nonce: make([]byte, pipeNonceLen)}}))
	rogue.Publish(ctx, k.nodeChannel("n1"), moved) // sealed for n2's channel, published on n1's

	// Three polls later nothing changed.
	time.Sleep(3 * DefaultInterval)
	for _, n := range []*node{n1, n2} {
		if got := roomPeerNames(n, "room"); !slices.Equal(got, want) {
			t.Errorf("%s: room peers %v, want %v", n.id, got, want)
		}
		if s := n.member.Stats(); s.Nodes != 2 {
			t.Errorf("%s sees %d nodes, want 2", n.id, s.Nodes)
		}
	}
	if got := n1.member.Stats().PipesOut; got != pipesBefore {
		t.Errorf("node 1 pipes out: %d, was %d", got, pipesBefore)
	}
	_ = sink.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := sink.ReadFrom(make([]byte, 1500)); err == nil {
		t.Errorf("the forged pipe's address received %d bytes", n)
	}
	for _, p := range []*client.Peer{alice, bob} {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if _, _, err := p.WaitNotification(wctx, 0, "newPeer", matchName("mallory")); err == nil {
			t.Errorf("%s was told of mallory", p.Name)
		}
		if _, _, err := p.WaitNotification(wctx, 0, "peerClosed", nil); err == nil {
			t.Errorf("%s was told a peer left", p.Name)
		}
		wcancel()
	}
	refused := n1.member.Stats().Refused
	t.Logf("node 1 refused: %v", refused)
	for _, kind := range []string{kindNode, kindState, kindMessage} {
		if refused[kind] == 0 {
			t.Errorf("node 1 refused no %s", kind)
		}
	}
	// n1 wrote its garbled state again: it verifies.
	waitFor(t, 3*time.Second, "node 1's state to verify again", func() bool {
		st, err := n2.member.readState("room", "n1")
		return err == nil && st != nil && len(st.Peers) == 1 && st.Peers[0].Name == "alice"
	})
	_ = prod
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer = syncbuf.Buffer

// TestWrongSecretKeptOut: a node started with another secret on the same
// Redis and prefix shares nothing with the cluster: its peer is not seen
// by the others' peers, theirs are not seen by its, no pipe opens either
// way, and both sides log why.
func TestWrongSecretKeptOut(t *testing.T) {
	r := startRedis(t)
	const prefix = "wrong:"
	var logs1, logs3 syncBuffer
	cfg := testConfig(r, "n1", prefix)
	cfg.Logger = slog.New(slog.NewTextHandler(&logs1, nil))
	n1 := startNodeWith(t, cfg)
	n2 := startNode(t, r, "n2", prefix)
	cfg = testConfig(r, "n3", prefix)
	cfg.Secret = "a-different-cluster-secret-0123456789"
	cfg.Logger = slog.New(slog.NewTextHandler(&logs3, nil))
	n3 := startNodeWith(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	alice, _ := publishVideo(ctx, t, n1, "room", "alice", 10*time.Millisecond, 10)
	bob := joinPeer(ctx, t, n2, "room", "bob")
	eve := joinPeer(ctx, t, n3, "room", "eve")
	if got := peerNames(eve.JoinPeers); len(got) != 0 {
		t.Errorf("eve's join response lists %v", got)
	}
	waitFor(t, 5*time.Second, "n1 and n2 to share the room", func() bool {
		return slices.Equal(roomPeerNames(n1, "room"), []string{"alice", "bob"}) &&
			slices.Equal(roomPeerNames(n2, "room"), []string{"alice", "bob"})
	})
	time.Sleep(3 * DefaultInterval)
	for _, n := range []*node{n1, n2} {
		if got := roomPeerNames(n, "room"); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("%s: room peers %v, want alice and bob", n.id, got)
		}
		if s := n.member.Stats(); s.Nodes != 2 || s.Refused[kindNode] == 0 {
			t.Errorf("%s: sees %d nodes (want 2), refused %v", n.id, s.Nodes, s.Refused)
		}
	}
	if got := roomPeerNames(n3, "room"); !slices.Equal(got, []string{"eve"}) {
		t.Errorf("n3: room peers %v, want eve alone", got)
	}
	if s := n3.member.Stats(); s.Nodes != 1 || s.PipesIn != 0 || s.PipesOut != 0 {
		t.Errorf("n3: %+v", s)
	}
	if s := n1.member.Stats(); s.PipesOut != 1 { // to n2 (bob mirrors alice's producer), none to n3
		t.Errorf("n1 pipes out: %d, want 1 (to n2)", s.PipesOut)
	}
	for _, p := range []*client.Peer{alice, bob} {
		wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		if _, _, err := p.WaitNotification(wctx, 0, "newPeer", matchName("eve")); err == nil {
			t.Errorf("%s was told of eve", p.Name)
		}
		wcancel()
	}
	wctx, wcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, _, err := eve.WaitNotification(wctx, 0, "newPeer", nil); err == nil {
		t.Error("eve was told of a peer")
	}
	wcancel()
	const why = "another --cluster-secret"
	if !strings.Contains(logs3.String(), why) {
		t.Errorf("n3 does not log why it is alone:\n%s", logs3.String())
	}
	if !strings.Contains(logs1.String(), why) {
		t.Errorf("n1 does not log why n3 is ignored:\n%s", logs1.String())
	}
}

// TestPipeKeysNotInRedis: while alice's video is piped from node 1 to
// node 2, nothing written to Redis (every command MONITOR shows, every
// key read back at the end) holds the pipe's SRTP keys, raw, hex or
// base64.
func TestPipeKeysNotInRedis(t *testing.T) {
	r := startRedis(t)
	mon, err := net.Dial("tcp", strings.TrimPrefix(r.URL(), "redis://"))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	var seen syncBuffer
	monDone := make(chan struct{})
	go func() {
		defer close(monDone)
		buf := make([]byte, 64<<10)
		for {
			n, err := mon.Read(buf)
			seen.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	n1 := startNode(t, r, "n1", "keys:")
	n2 := startNode(t, r, "n2", "keys:")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publishVideo(ctx, t, n1, "room", "alice", 10*time.Millisecond, 10)
	bob := joinPeer(ctx, t, n2, "room", "bob")
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := recv.Consume(ctx, bob.JoinPeers[0].Consumers[0])
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ { // the pipe works: its keys are the ones both ends derived
		if _, err := cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatalf("bob received %d packets, then: %v", i, err)
		}
	}
	// The keys, as node 1 sends with them.
	n1.member.pipesMu.Lock()
	var nonces [][]byte
	for _, po := range n1.member.pipes {
		nonces = append(nonces, po.nonce)
	}
	n1.member.pipesMu.Unlock()
	if len(nonces) != 1 {
		t.Fatalf("node 1 has %d pipes, want 1", len(nonces))
	}
	keys, err := n1.member.g.pipeKeys(nonces[0])
	if err != nil {
		t.Fatal(err)
	}
	// Everything in Redis now, read back.
	rdb := rogueClient(t, r)
	var stored strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 0).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		stored.WriteString(key + "\n")
		switch rdb.Type(ctx, key).Val() {
		case "string":
			stored.WriteString(rdb.Get(ctx, key).Val())
		case "hash":
			for f, v := range rdb.HGetAll(ctx, key).Val() {
				stored.WriteString(f + "=" + v + "\n")
			}
		case "set":
			stored.WriteString(strings.Join(rdb.SMembers(ctx, key).Val(), "\n"))
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the monitor's last lines
	mon.Close()
	<-monDone
	if !strings.Contains(seen.String(), `"publish"`) || !strings.Contains(seen.String(), `\"t\":\"pipe\"`) {
		t.Fatalf("MONITOR saw no pipe request:\n%.2000s", seen.String())
	}
	for _, k := range [][]byte{keys.Media, keys.Feedback} {
		forms := map[string]string{
			"raw": string(k), "monitor-escaped": redisRepr(k), "hex": hex.EncodeToString(k),
			"base64": base64.StdEncoding.EncodeToString(k), "base64url": base64.RawURLEncoding.EncodeToString(k),
		}
		for form, s := range forms {
			if strings.Contains(seen.String(), s) {
				t.Errorf("MONITOR shows a pipe key (%s)", form)
			}
			if strings.Contains(stored.String(), s) {
				t.Errorf("Redis holds a pipe key (%s)", form)
			}
		}
	}
}

// redisRepr escapes b as MONITOR prints arguments (sdscatrepr).
func redisRepr(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		switch {
		case c == '\\' || c == '"':
			s.WriteByte('\\')
			s.WriteByte(c)
		case c == '\n':
			s.WriteString(`\n`)
		case c == '\r':
			s.WriteString(`\r`)
		case c == '\t':
			s.WriteString(`\t`)
		case c == '\a':
			s.WriteString(`\a`)
		case c == '\b':
			s.WriteString(`\b`)
		case c >= 0x20 && c < 0x7f:
			s.WriteByte(c)
		default:
			fmt.Fprintf(&s, `\x%02x`, c)
		}
	}
	return s.String()
}
