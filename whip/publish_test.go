package whip

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// publisher is a pion WHIP client sending Opus and VP8.
type publisher struct {
	pc           *webrtc.PeerConnection
	audio, video *webrtc.TrackLocalStaticRTP
	location     string
	stop         chan struct{}
	wg           sync.WaitGroup
}

func startPublisher(t *testing.T, ts *testServer, room string, headers ...string) (*publisher, httpResult) {
	t.Helper()
	pc, err := newPionAPI(t, false).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, stop: make(chan struct{})}
	t.Cleanup(func() {
		p.halt()
		_ = pc.Close()
	})
	if p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "whip"); err != nil {
		t.Fatal(err)
	}
	if p.video, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "whip"); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []*webrtc.TrackLocalStaticRTP{p.audio, p.video} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	res := negotiate(t, pc, ts.http+"/whip/"+room, headers...)
	p.location = res.header.Get("Location")
	waitConnected(t, pc)
	pump(p.audio, "audio", p.stop, &p.wg, nil)
	pump(p.video, "video", p.stop, &p.wg, nil)
	return p, res
}

func (p *publisher) halt() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// TestWHIPPublishToV2Consumer: a pion WHIP client publishes Opus and VP8;
// a mediasoup v2 peer (the Go client over the WebSocket) in the room sees
// a normal peer (newPeer with appData source whip, a newConsumer per kind)
// and receives its packets in the room's payload types; DELETE makes the
// peer leave (peerClosed) and the session is gone (404).
func TestWHIPPublishToV2Consumer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	bob, recv := v2Peer(ctx, t, ts, "r1", "bob")

	pub, res := startPublisher(t, ts, "r1")
	if ct := res.header.Get("Content-Type"); ct != "application/sdp" {
		t.Errorf("Content-Type %q", ct)
	}
	if !strings.HasPrefix(pub.location, "/whip/r1/") || res.header.Get("ETag") == "" {
		t.Errorf("Location %q ETag %q", pub.location, res.header.Get("ETag"))
	}
	for _, want := range []string{"a=ice-lite", "a=setup:passive", "a=recvonly", "a=rtcp-mux", "a=candidate:", "VP8/90000", "opus/48000/2"} {
		if !strings.Contains(res.body, want) {
			t.Errorf("answer lacks %q:\n%s", want, res.body)
		}
	}

	n, from, err := bob.WaitNotification(ctx, 0, "newPeer", nil)
	if err != nil {
		t.Fatal(err)
	}
	var np struct {
		Name    string          `json:"name"`
		AppData json.RawMessage `json:"appData"`
	}
	_ = json.Unmarshal(n.Data, &np)
	if !strings.HasPrefix(np.Name, "whip-") || string(np.AppData) != `{"source":"whip"}` {
		t.Fatalf("newPeer %s", n.Data)
	}
	for _, kind := range []string{"audio", "video"} {
		f := from
		cd := waitConsumer(ctx, t, bob, &f, kind, np.Name)
		cons, err := recv.Consume(ctx, cd)
		if err != nil {
			t.Fatal(err)
		}
		pkts := readPackets(t, cons, 30, 10*time.Second)
		if pt := int(pkts[len(pkts)-1].PayloadType); pt != cd.RTPParameters.Codecs[0].PayloadType {
			t.Errorf("%s: payload type %d, consumer says %d", kind, pt, cd.RTPParameters.Codecs[0].PayloadType)
		}
	}
	if got := len(ts.sfu.Rooms()[0].PeerByName(np.Name).Producers()); got != 2 {
		t.Errorf("%d producers", got)
	}

	if r := do(t, http.MethodDelete, ts.http+pub.location, "", nil); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	if _, _, err := bob.WaitNotification(ctx, from, "peerClosed", func(raw json.RawMessage) bool {
		return strings.Contains(string(raw), np.Name)
	}); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodDelete, ts.http+pub.location, "", nil); r.status != http.StatusNotFound {
		t.Errorf("second DELETE: %d %s", r.status, r.body)
	}
	if ts.whip.Sessions() != 0 {
		t.Errorf("%d sessions left", ts.whip.Sessions())
	}
}

// TestWHIPRoomOutlivesWebSockets: a WHIP publisher keeps its room when the
// last WebSocket peer leaves, and a new one still receives it; the room
// closes when the session ends.
func TestWHIPRoomOutlivesWebSockets(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	pub, _ := startPublisher(t, ts, "r2")
	bob, _ := v2Peer(ctx, t, ts, "r2", "bob")
	if len(bob.JoinPeers) != 1 || len(bob.JoinPeers[0].Consumers) != 2 {
		t.Fatalf("bob's join: %+v", bob.JoinPeers)
	}
	_ = bob.Leave()
	deadline := time.Now().Add(5 * time.Second)
	for ts.sig.Sessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	carol, recv := v2Peer(ctx, t, ts, "r2", "carol")
	if len(carol.JoinPeers) != 1 {
		t.Fatalf("carol sees %d peers: the WHIP peer did not survive bob", len(carol.JoinPeers))
	}
	cons, err := recv.Consume(ctx, carol.JoinPeers[0].Consumers[1])
	if err != nil {
		t.Fatal(err)
	}
	readPackets(t, cons, 10, 10*time.Second)
	_ = carol.Leave()
	if r := do(t, http.MethodDelete, ts.http+pub.location, "", nil); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d", r.status)
	}
	for len(ts.sfu.Rooms()) != 0 && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(ts.sfu.Rooms()); n != 0 {
		t.Errorf("%d rooms left open", n)
	}
}

// TestWHIPOwnRooms: a Handler without Rooms (an embedder without the
// signaling server) creates the room for a WHIP session and closes it when
// the session ends and nobody else is in it.
func TestWHIPOwnRooms(t *testing.T) {
	ts := startServerWith(t, nil, false)
	pub, _ := startPublisher(t, ts, "own")
	if rooms := ts.sfu.Rooms(); len(rooms) != 1 || len(rooms[0].Peers()) != 1 {
		t.Fatalf("rooms %v", rooms)
	}
	if r := do(t, http.MethodDelete, ts.http+pub.location, "", nil); r.status != http.StatusOK {
		t.Fatalf("DELETE: %d", r.status)
	}
	nothingLeft(t, ts)
}

// TestWHIPClientGone: a client that closes its peer connection without
// DELETE (its DTLS close) ends the session: the others get peerClosed and
// the resource is gone.
func TestWHIPClientGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	bob, _ := v2Peer(ctx, t, ts, "gone", "bob")
	pub, _ := startPublisher(t, ts, "gone")
	pub.halt()
	_ = pub.pc.Close()
	if _, _, err := bob.WaitNotification(ctx, 0, "peerClosed", nil); err != nil {
		t.Fatal(err)
	}
	if r := do(t, http.MethodDelete, ts.http+pub.location, "", nil); r.status != http.StatusNotFound {
		t.Errorf("DELETE after the client left: %d", r.status)
	}
}
