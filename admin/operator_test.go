package admin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
)

// operatorRig is an SFU with its WebSocket signaling and the admin API
// over them, as cmd/gosoup mounts them, without keys (loopback only).
type operatorRig struct {
	h   *Handler
	srv *sfu.Server
	url string // ws://127.0.0.1:port
}

func newOperatorRig(t *testing.T, opts Options) *operatorRig {
	t.Helper()
	srv, log := newLoopbackSFU(t)
	sig := signaling.NewServer(srv, log)
	hs := httptest.NewServer(sig)
	opts.Server, opts.Rooms, opts.Logger = srv, sig, log
	if opts.NodeID == "" {
		opts.NodeID = "node-a"
	}
	h := New(opts)
	t.Cleanup(func() {
		hs.Close()
		h.Close()
		sig.Close()
	})
	return &operatorRig{h: h, srv: srv, url: "ws://" + strings.TrimPrefix(hs.URL, "http://")}
}

// join connects a client peer and joins the room with a displayName.
func (g *operatorRig) join(ctx context.Context, t *testing.T, room, name string) *client.Peer {
	t.Helper()
	p, err := client.Connect(ctx, g.url, room, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// callInto sends one request from loopback, checks that any answer is
// JSON, and decodes it into v.
func callInto(t *testing.T, h http.Handler, method, path, body string, v any) int {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:4000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if ct := w.Header().Get("Content-Type"); w.Body.Len() > 0 && ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q: %s", method, path, ct, w.Body.String())
	}
	if v != nil && w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, w.Code, w.Body.String(), err)
		}
	}
	return w.Code
}

// videoCall is alice sending synthetic VP8 and bob receiving it.
type videoCall struct {
	alice, bob *client.Peer
	prodID     uint32
	cons       *client.Consumer
}

func startVideoCall(ctx context.Context, t *testing.T, g *operatorRig, room string) *videoCall {
	t.Helper()
	v := &videoCall{alice: g.join(ctx, t, room, "alice")}
	send, err := v.alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.NewSource("video", 300_000).Run(prod, stop)
	}()
	t.Cleanup(func() { close(stop); <-done })
	v.bob = g.join(ctx, t, room, "bob")
	recv, err := v.bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cd := v.bob.JoinPeers[0].Consumers[0]
	if v.cons, err = recv.Consume(ctx, cd); err != nil {
		t.Fatal(err)
	}
	if _, err := v.cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatalf("bob receives nothing: %v", err)
	}
	var d RoomDetail
	callInto(t, g.h, "GET", "/admin/rooms/"+room, "", &d)
	for _, p := range d.Peers {
		if p.Name == "alice" && len(p.Producers) == 1 {
			v.prodID = p.Producers[0].ID
		}
	}
	if v.prodID == 0 {
		t.Fatalf("alice's producer is not in the room detail: %+v", d)
	}
	return v
}

// flowing reports whether bob receives a packet within d.
func (v *videoCall) flowing(d time.Duration) bool {
	_, err := v.cons.ReadRTP(time.Now().Add(d))
	return err == nil
}

// silent waits until bob's packets stop: nothing for 700 ms within 3 s.
func (v *videoCall) silent() bool {
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if !v.flowing(700 * time.Millisecond) {
			return true
		}
	}
	return false
}

func waitNote(ctx context.Context, t *testing.T, p *client.Peer, method string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	n, _, err := p.WaitNotification(ctx, 0, method, func(raw json.RawMessage) bool {
		var m map[string]any
		return json.Unmarshal(raw, &m) == nil && (match == nil || match(m))
	})
	if err != nil {
		t.Fatalf("%s waits for %s: %v", p.Name, method, err)
	}
	var m map[string]any
	_ = json.Unmarshal(n.Data, &m)
	return m
}

func TestOperatorListAndDetail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{})
	startVideoCall(ctx, t, g, "r")

	var list RoomList
	if code := callInto(t, g.h, "GET", "/admin/rooms", "", &list); code != 200 {
		t.Fatalf("GET /admin/rooms: %d", code)
	}
	if list.Node != "node-a" || list.Cluster || len(list.Rooms) != 1 {
		t.Fatalf("list %+v", list)
	}
	r := list.Rooms[0]
	if r.ID != "r" || r.Peers != 2 || len(r.Nodes) != 1 {
		t.Fatalf("room %+v", r)
	}
	n := r.Nodes[0]
	if n.Node != "node-a" || n.Peers != 2 || *n.Spies != 0 || *n.Producers != 1 || *n.Consumers != 1 {
		t.Fatalf("node part %+v", n)
	}

	// Stats are counters that move: read them once packets went through.
	time.Sleep(500 * time.Millisecond)
	var d RoomDetail
	if code := callInto(t, g.h, "GET", "/admin/rooms/r", "", &d); code != 200 {
		t.Fatalf("GET /admin/rooms/r: %d", code)
	}
	if d.ID != "r" || d.Node != "node-a" || !d.Local || len(d.Peers) != 2 {
		t.Fatalf("detail %+v", d)
	}
	alice, bob := d.Peers[0], d.Peers[1]
	if alice.Name != "alice" || string(alice.AppData) != `{"displayName":"alice"}` || alice.Remote || alice.Spy {
		t.Fatalf("alice %+v", alice)
	}
	if len(alice.Transports) != 1 || alice.Transports[0].Kind != "webrtc" || alice.Transports[0].Direction != "send" ||
		alice.Transports[0].Stats.DtlsState != "connected" || alice.Transports[0].Stats.BytesReceived == 0 {
		t.Fatalf("alice's transports %+v", alice.Transports)
	}
	if len(alice.Producers) != 1 {
		t.Fatalf("alice's producers %+v", alice.Producers)
	}
	prod := alice.Producers[0]
	if prod.Kind != "video" || prod.Paused || prod.Consumers != 1 || string(prod.AppData) != `{"source":"webcam"}` ||
		len(prod.Stats) != 1 || prod.Stats[0].PacketCount == 0 || prod.Stats[0].MimeType != "video/VP8" {
		t.Fatalf("alice's producer %+v", prod)
	}
	if bob.Name != "bob" || len(bob.Consumers) != 1 || len(bob.Producers) != 0 || len(bob.Transports) != 1 {
		t.Fatalf("bob %+v", bob)
	}
	c := bob.Consumers[0]
	if c.ProducerID != prod.ID || c.ProducerPeer != "alice" || !c.Enabled || !c.Active || c.Paused ||
		c.TransportID != bob.Transports[0].ID || len(c.Stats) != 2 {
		t.Fatalf("bob's consumer %+v", c)
	}
	out, _ := c.Stats[1].(map[string]any)
	if out["type"] != "outbound-rtp" || out["packetCount"].(float64) == 0 {
		t.Fatalf("bob's consumer stats %+v", c.Stats)
	}
}

func TestOperatorClosePeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{})
	v := startVideoCall(ctx, t, g, "r")

	if code := callInto(t, g.h, "DELETE", "/admin/rooms/r/peers/alice", `{"appData":{"reason":"kicked"}}`, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE peer: %d", code)
	}
	closed := waitNote(ctx, t, v.alice, "closed", nil)
	if ad, _ := closed["appData"].(map[string]any); ad["reason"] != "kicked" {
		t.Fatalf("alice's closed: %v", closed)
	}
	pc := waitNote(ctx, t, v.bob, "peerClosed", func(m map[string]any) bool { return m["name"] == "alice" })
	if ad, _ := pc["appData"].(map[string]any); ad["reason"] != "kicked" {
		t.Fatalf("bob's peerClosed: %v", pc)
	}
	if !v.silent() {
		t.Fatal("bob still receives alice's video")
	}
	var d RoomDetail
	callInto(t, g.h, "GET", "/admin/rooms/r", "", &d)
	if len(d.Peers) != 1 || d.Peers[0].Name != "bob" || len(d.Peers[0].Consumers) != 0 {
		t.Fatalf("after the close: %+v", d)
	}
	var e map[string]string
	if code := callInto(t, g.h, "DELETE", "/admin/rooms/r/peers/alice", "", &e); code != 404 || e["error"] != `no peer "alice" in room "r"` {
		t.Fatalf("second DELETE: %d %v", code, e)
	}
}

func TestOperatorPauseResumeProducer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{})
	v := startVideoCall(ctx, t, g, "r")
	path := "/admin/rooms/r/producers/" + itoa(v.prodID)
	ofAlice := func(m map[string]any) bool { return m["peerName"] == "alice" }

	var pd ProducerDetail
	if code := callInto(t, g.h, "POST", path+"/pause", `{"appData":{"by":"moderator"}}`, &pd); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	if !pd.Paused || !pd.PausedByServer || pd.PausedByClient || pd.ID != v.prodID {
		t.Fatalf("pause answer %+v", pd)
	}
	pp := waitNote(ctx, t, v.alice, "producerPaused", nil)
	if pp["id"].(float64) != float64(v.prodID) || pp["peerName"] != "alice" || pp["appData"].(map[string]any)["by"] != "moderator" {
		t.Fatalf("alice's producerPaused: %v", pp)
	}
	cp := waitNote(ctx, t, v.bob, "consumerPaused", ofAlice)
	if cp["id"].(float64) != float64(v.cons.Data.ID) {
		t.Fatalf("bob's consumerPaused: %v", cp)
	}
	if !v.silent() {
		t.Fatal("bob still receives the paused producer")
	}
	var d RoomDetail
	callInto(t, g.h, "GET", "/admin/rooms/r", "", &d)
	if c := d.Peers[1].Consumers[0]; !c.Paused || !c.SourcePaused || c.Active {
		t.Fatalf("bob's consumer while paused: %+v", c)
	}

	if code := callInto(t, g.h, "POST", path+"/resume", "", &pd); code != 200 || pd.Paused || pd.PausedByServer {
		t.Fatalf("resume: %d %+v", code, pd)
	}
	waitNote(ctx, t, v.alice, "producerResumed", nil)
	waitNote(ctx, t, v.bob, "consumerResumed", ofAlice)
	if !v.flowing(5 * time.Second) {
		t.Fatal("bob receives nothing after the resume")
	}
	// A second resume changes nothing and tells no one.
	if code := callInto(t, g.h, "POST", path+"/resume", "", &pd); code != 200 || pd.Paused {
		t.Fatalf("second resume: %d %+v", code, pd)
	}
	time.Sleep(200 * time.Millisecond)
	if n := count(v.bob.Notifications(), "consumerResumed"); n != 1 {
		t.Fatalf("bob got %d consumerResumed", n)
	}
}

func TestOperatorCloseRoom(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{})
	v := startVideoCall(ctx, t, g, "r")
	ingestSynthetic(t, g.h, "r", "tool")

	if code := callInto(t, g.h, "DELETE", "/admin/rooms/r", "", nil); code != http.StatusNoContent {
		t.Fatalf("DELETE room: %d", code)
	}
	waitNote(ctx, t, v.alice, "closed", nil)
	waitNote(ctx, t, v.bob, "closed", nil)
	if !v.silent() {
		t.Fatal("bob still receives media")
	}
	var list RoomList
	callInto(t, g.h, "GET", "/admin/rooms", "", &list)
	if len(list.Rooms) != 0 {
		t.Fatalf("rooms after the close: %+v", list.Rooms)
	}
	var e map[string]string
	if code := callInto(t, g.h, "GET", "/admin/rooms/r", "", &e); code != 404 || e["error"] != `no room "r"` {
		t.Fatalf("GET closed room: %d %v", code, e)
	}
	// The tool's ingest went with the room.
	g.h.ingests.mu.Lock()
	left := len(g.h.ingests.peers)
	g.h.ingests.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d ingest entries left", left)
	}
	// A client connecting later opens a new room of the same id.
	g.join(ctx, t, "r", "carl")
	callInto(t, g.h, "GET", "/admin/rooms", "", &list)
	if len(list.Rooms) != 1 || list.Rooms[0].ID != "r" || list.Rooms[0].Peers != 1 {
		t.Fatalf("rooms after a new join: %+v", list.Rooms)
	}
}

func TestOperatorNotFound(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{})
	g.join(ctx, t, "r", "alice")
	for _, tc := range []struct {
		method, path, body string
		code               int
		text               string
	}{
		{"GET", "/admin/rooms/nope", "", 404, `no room "nope"`},
		{"DELETE", "/admin/rooms/nope", "", 404, `no room "nope"`},
		{"DELETE", "/admin/rooms/r/peers/bob", "", 404, `no peer "bob" in room "r"`},
		{"DELETE", "/admin/rooms/nope/peers/alice", "", 404, `no peer "alice" in room "nope"`},
		{"POST", "/admin/rooms/r/producers/123/pause", "", 404, `no producer "123" in room "r"`},
		{"POST", "/admin/rooms/r/producers/x1/resume", "", 404, `no producer "x1" in room "r"`},
		{"POST", "/admin/rooms/r/producers/99999999999/pause", "", 404, `no producer "99999999999"`},
		{"GET", "/admin/nothing", "", 404, "no such admin API path: GET /admin/nothing"},
		{"POST", "/admin/rooms/r", "", 404, "no such admin API path"},
		{"DELETE", "/admin/rooms/r/peers/alice", `{"appData":`, 400, "invalid body"},
		{"DELETE", "/admin/rooms/r/peers/alice", `{"x":1}`, 400, "unknown field"},
	} {
		var e map[string]string
		if code := callInto(t, g.h, tc.method, tc.path, tc.body, &e); code != tc.code || !strings.Contains(e["error"], tc.text) {
			t.Errorf("%s %s %s: %d %v, want %d %q", tc.method, tc.path, tc.body, code, e, tc.code, tc.text)
		}
	}
}

func itoa(id uint32) string { b, _ := json.Marshal(id); return string(b) }

func count(notes []client.Notification, method string) int {
	n := 0
	for _, x := range notes {
		if x.Method == method {
			n++
		}
	}
	return n
}

// directory is a cluster directory as Redis would give it.
type directory []ClusterRoom

func (d directory) Rooms(context.Context) ([]ClusterRoom, error) { return d, nil }

// TestOperatorClusterDirectory: with a cluster, the list merges the other
// nodes' parts with this node's live counts, a room of other nodes only is
// described from the directory, and actions on another node's objects
// answer 409 with that node.
func TestOperatorClusterDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := directory{
		{ID: "r", Home: "node-b", Nodes: []ClusterNode{
			{Node: "node-a", URL: "ws://a:3000/", Peers: []string{"stale"}}, // this node: counted live instead
			{Node: "node-b", URL: "ws://b:3000/", Peers: []string{"carol", "dave"}},
		}},
		{ID: "far", Home: "node-b", Nodes: []ClusterNode{{Node: "node-b", URL: "ws://b:3000/", Peers: []string{"erin"}}}},
		// This node's state of a room it closed, not expired yet.
		{ID: "gone", Nodes: []ClusterNode{{Node: "node-a", Peers: []string{"x"}}}},
	}
	g := newOperatorRig(t, Options{Cluster: dir})
	g.join(ctx, t, "r", "alice")
	spy, err := client.Connect(ctx, g.url, "r", "eve")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = spy.Close() })
	if err := spy.Join(ctx, nil, true); err != nil {
		t.Fatal(err)
	}
	// carol of node-b, as the cluster mirrors her into this node's room.
	if _, err := g.h.records.room("r").JoinRemotePeer("carol", json.RawMessage(`{"displayName":"carol"}`)); err != nil {
		t.Fatal(err)
	}

	var list RoomList
	callInto(t, g.h, "GET", "/admin/rooms", "", &list)
	if !list.Cluster || list.ClusterError != "" || len(list.Rooms) != 2 {
		t.Fatalf("list %+v", list)
	}
	far, r := list.Rooms[0], list.Rooms[1]
	if far.ID != "far" || far.Peers != 1 || len(far.Nodes) != 1 || far.Nodes[0].Node != "node-b" || far.Nodes[0].Producers != nil {
		t.Fatalf("room far %+v", far)
	}
	if r.ID != "r" || r.Home != "node-b" || r.Peers != 3 || len(r.Nodes) != 2 ||
		r.Nodes[0].Node != "node-a" || r.Nodes[0].Peers != 1 || *r.Nodes[0].Spies != 1 ||
		r.Nodes[1].Node != "node-b" || r.Nodes[1].Peers != 2 || r.Nodes[1].URL != "ws://b:3000/" {
		t.Fatalf("room r %+v", r)
	}

	var d RoomDetail
	callInto(t, g.h, "GET", "/admin/rooms/r", "", &d)
	if len(d.Peers) != 3 || d.Peers[0].Node != "node-a" || d.Peers[0].Remote || !d.Peers[1].Spy ||
		d.Peers[2].Name != "carol" || !d.Peers[2].Remote || d.Peers[2].Node != "node-b" {
		t.Fatalf("GET r: %+v", d)
	}
	if code := callInto(t, g.h, "GET", "/admin/rooms/far", "", &d); code != 200 || d.Local || len(d.Peers) != 1 ||
		d.Peers[0].Name != "erin" || d.Peers[0].Node != "node-b" || !d.Peers[0].Remote {
		t.Fatalf("GET far: %d %+v", code, d)
	}
	for _, tc := range []struct{ method, path, node string }{
		{"DELETE", "/admin/rooms/far", "node-b"},
		{"DELETE", "/admin/rooms/far/peers/erin", "node-b"},
		{"DELETE", "/admin/rooms/r/peers/carol", "node-b"},
	} {
		var e Elsewhere
		if code := callInto(t, g.h, tc.method, tc.path, "", &e); code != http.StatusConflict || e.Node != tc.node ||
			e.URL != "ws://b:3000/" || !strings.Contains(e.Error, "is on node node-b") {
			t.Errorf("%s %s: %d %+v", tc.method, tc.path, code, e)
		}
	}
	var e map[string]string
	if code := callInto(t, g.h, "DELETE", "/admin/rooms/far/peers/zed", "", &e); code != 404 {
		t.Errorf("unknown peer of a far room: %d %v", code, e)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if code := callInto(t, g.h, m, "/admin/rooms/gone", "", &e); code != 404 {
			t.Errorf("%s a room of this node's stale state: %d %v", m, code, e)
		}
	}
}

// brokenDirectory is a cluster whose Redis cannot be reached.
type brokenDirectory struct{}

func (brokenDirectory) Rooms(context.Context) ([]ClusterRoom, error) {
	return nil, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

// TestOperatorClusterUnreadable: without the directory the list is this
// node's (saying why), and what is not here answers 503, not 404.
func TestOperatorClusterUnreadable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := newOperatorRig(t, Options{Cluster: brokenDirectory{}})
	g.join(ctx, t, "r", "alice")
	var list RoomList
	callInto(t, g.h, "GET", "/admin/rooms", "", &list)
	if list.Cluster || !strings.Contains(list.ClusterError, "connection refused") || len(list.Rooms) != 1 || list.Rooms[0].Peers != 1 {
		t.Fatalf("list %+v", list)
	}
	var d RoomDetail
	if code := callInto(t, g.h, "GET", "/admin/rooms/r", "", &d); code != 200 || len(d.Peers) != 1 {
		t.Fatalf("GET r: %d %+v", code, d)
	}
	for _, path := range []string{"/admin/rooms/far", "/admin/rooms/r/peers/bob"} {
		var e map[string]string
		if code := callInto(t, g.h, "DELETE", path, "", &e); code != http.StatusServiceUnavailable ||
			!strings.Contains(e["error"], "not on this node, and read the cluster's rooms: dial tcp") {
			t.Errorf("DELETE %s: %d %v", path, code, e)
		}
	}
}

// TestOperatorAdminTokens: with keys, the room list needs an admin token
// for every room; a room's admin token opens that room's paths only.
func TestOperatorAdminTokens(t *testing.T) {
	keys, err := auth.NewKeySet("operator-test-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	g := newOperatorRig(t, Options{Keys: keys})
	mint := func(room string) string {
		tok, err := keys.Mint(auth.Claims{Room: room, Grants: &auth.Grants{Admin: true}, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		room, path string
		code       int
		says       string
	}{
		{"R", "/admin/rooms", 403, "every room"},
		{"*", "/admin/rooms", 200, `"rooms":[]`},
		{"R", "/admin/rooms/R", 404, `no room \"R\"`},
		{"R", "/admin/rooms/S", 403, "another room"},
		{"*", "/admin/rooms/S", 404, `no room \"S\"`},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.RemoteAddr = "192.0.2.7:4000"
		req.Header.Set("Authorization", "Bearer "+mint(c.room))
		w := httptest.NewRecorder()
		g.h.ServeHTTP(w, req)
		if w.Code != c.code || !strings.Contains(w.Body.String(), c.says) {
			t.Errorf("GET %s with an admin token of %q: %d %q, want %d %q", c.path, c.room, w.Code, strings.TrimSpace(w.Body.String()), c.code, c.says)
		}
	}
}
