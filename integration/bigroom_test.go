package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
)

// bigRoomPeer is a pion peer of a big room: a microphone sending real
// ssrc-audio-level values (loud or silent) every 20 ms, maybe a camera.
type bigRoomPeer struct {
	p     *client.Peer
	stop  chan struct{}
	wg    sync.WaitGroup
	video *vp8Source
}

func joinBigRoomPeer(ctx context.Context, g *gosoup, room, name string, loud, video bool) (*bigRoomPeer, error) {
	p, err := client.Connect(ctx, g.URL, room, name)
	if err != nil {
		return nil, err
	}
	bp := &bigRoomPeer{p: p, stop: make(chan struct{})}
	fail := func(err error) (*bigRoomPeer, error) {
		bp.leave()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		return fail(err)
	}
	send, err := p.CreateTransport(ctx, "send")
	if err != nil {
		return fail(err)
	}
	mic, err := send.Produce(ctx, "audio", 0, false, map[string]any{"source": "mic"})
	if err != nil {
		return fail(err)
	}
	var levelID uint8
	for _, e := range p.RoomCapabilities.HeaderExtensions {
		if e.Kind == "audio" && e.URI == "urn:ietf:params:rtp-hdrext:ssrc-audio-level" {
			levelID = uint8(e.PreferredID)
		}
	}
	level := byte(127)
	if loud {
		level = 0x80 | 20
	}
	bp.wg.Add(1)
	go func() {
		defer bp.wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: []byte{0xf8, 0, 0, 0}}
		for {
			select {
			case <-bp.stop:
				return
			case <-tk.C:
			}
			_ = pkt.Header.SetExtension(levelID, []byte{level})
			_ = mic.WriteRTP(pkt)
			pkt.SequenceNumber++
			pkt.Timestamp += 960
		}
	}()
	if video {
		cam, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
		if err != nil {
			return fail(err)
		}
		bp.video = startVP8(cam, 33*time.Millisecond, 30)
	}
	return bp, nil
}

func (bp *bigRoomPeer) leave() {
	close(bp.stop)
	bp.wg.Wait()
	if bp.video != nil {
		bp.video.Stop()
	}
	_ = bp.p.Close()
}

// TestBigRoomChurnLeavesNothing: with audio slots and last-N on, hundreds
// of pion peers (real audio levels, a few loud, some cameras) join a room
// and leave while the next wave joins; a listener's consumers stay
// bounded (3 slots and at most 4 videos) whatever the room's size, and
// once everyone left, the room is closed and the goroutines are back to
// their baseline.
func TestBigRoomChurnLeavesNothing(t *testing.T) {
	waves, perWave := 3, 80
	if testing.Short() {
		waves, perWave = 2, 40
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	g := startGosoupConfig(t, sfu.Config{AudioSlots: 3, LastN: 4}, signaling.Options{})
	warm, err := joinBigRoomPeer(ctx, g, "warmup", "w", true, true)
	if err != nil {
		t.Fatal(err)
	}
	warm.leave()
	g0 := serverGoroutines(0)
	const room = "big"
	listener, err := client.Connect(ctx, g.URL, room, "listener")
	if err != nil {
		t.Fatal(err)
	}
	if err := listener.Join(ctx, nil, false); err != nil {
		t.Fatal(err)
	}
	srvRoom, err := g.SFU.Room(room)
	if err != nil {
		t.Fatal(err)
	}
	if srvRoom.AudioSlots() != 3 || srvRoom.LastN() != 4 {
		t.Fatalf("room has %d slots, last-n %d", srvRoom.AudioSlots(), srvRoom.LastN())
	}
	counts := func() (audio, video int) {
		for _, c := range srvRoom.PeerByName("listener").Consumers() {
			if c.Kind() == "audio" {
				audio++
			} else {
				video++
			}
		}
		return audio, video
	}
	var prev []*bigRoomPeer
	maxVideo := 0
	for w := range waves {
		joined := make([]*bigRoomPeer, perWave)
		errs := make(chan error, perWave)
		sem := make(chan struct{}, 16)
		var wg sync.WaitGroup
		for i := range perWave {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				bp, err := joinBigRoomPeer(ctx, g, room, fmt.Sprintf("w%d-%03d", w, i), i%20 == 0, i%10 == 0)
				if err != nil {
					errs <- err
					return
				}
				joined[i] = bp
			}()
		}
		// The previous wave leaves while this one joins.
		for _, bp := range prev {
			wg.Add(1)
			go func() { defer wg.Done(); bp.leave() }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		prev = joined
		time.Sleep(time.Second) // a few level reports: last-N follows the loud ones
		audio, video := counts()
		maxVideo = max(maxVideo, video)
		t.Logf("wave %d: %d peers in the room; listener has %d audio and %d video consumers", w, len(srvRoom.Peers()), audio, video)
		if audio != 3 || video > 4 {
			t.Fatalf("wave %d: listener has %d audio and %d video consumers, want 3 slots and at most 4 videos", w, audio, video)
		}
	}
	if maxVideo == 0 {
		t.Fatal("the listener was never offered a video")
	}
	for _, bp := range prev {
		bp.leave()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, video := counts(); video == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener keeps video consumers of peers that left")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := listener.Leave(); err != nil {
		t.Fatal(err)
	}
	_ = listener.Close()
	for deadline := time.Now().Add(10 * time.Second); len(g.SFU.Rooms()) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d rooms still open after everyone left", len(g.SFU.Rooms()))
		}
	}
	if !srvRoom.Closed() || len(srvRoom.Peers()) != 0 {
		t.Fatal("the big room is not closed")
	}
	g1 := serverGoroutines(g0 + 5)
	t.Logf("%d waves of %d peers: goroutines %d -> %d", waves, perWave, g0, g1)
	if g1 > g0+5 {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines %d -> %d after the churn:\n%s", g0, g1, buf[:runtime.Stack(buf, true)])
	}
}

// TestStalledClientDoesNotDelayOthers: a client that joins and then stops
// reading its WebSocket (its socket buffers fill with large newPeer
// notifications: 60 joiners with 200 KB of appData each) delays nobody: another peer gets each newPeer promptly
// while the stalled one is behind, and the stalled client is disconnected
// in the end (the write timeout), leaving the room to the others.
func TestStalledClientDoesNotDelayOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	g := startGosoupConfig(t, sfu.Config{AudioSlots: 2, LastN: 2}, signaling.Options{})
	const room = "stall"
	stalled, _, err := websocket.DefaultDialer.DialContext(ctx, g.URL+"/?roomId="+room+"&peerName=stalled",
		http.Header{"Sec-WebSocket-Protocol": {"protoo"}})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	caps := queryCaps(ctx, t, g, room)
	joinReq, _ := json.Marshal(map[string]any{"request": true, "id": 1, "method": "mediasoup-request", "data": map[string]any{
		"method": "join", "target": "room", "peerName": "stalled", "rtpCapabilities": caps, "appData": map[string]any{}}})
	if err := stalled.WriteMessage(websocket.TextMessage, joinReq); err != nil {
		t.Fatal(err)
	}
	_ = stalled.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := stalled.ReadMessage(); err != nil || !strings.Contains(string(msg), `"ok":true`) {
		t.Fatalf("stalled client's join: %s %v", msg, err)
	}
	// From now on it reads nothing.
	watcher := join(ctx, t, g, room, "watcher")
	big := strings.Repeat("x", 200<<10) // each newPeer carries it: megabytes for the stalled socket
	const joiners = 60
	var slowest atomic.Int64
	delays := make([]time.Duration, 0, joiners)
	for i := range joiners {
		name := fmt.Sprintf("j%02d", i)
		p, err := client.Connect(ctx, g.URL, room, name)
		if err != nil {
			t.Fatal(err)
		}
		from := len(watcher.Notifications())
		start := time.Now()
		if err := p.Join(ctx, map[string]any{"displayName": name, "blob": big}, false); err != nil {
			t.Fatal(err)
		}
		if _, _, err := watcher.WaitNotification(ctx, from, "newPeer", matchName(name)); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		_ = p.Leave() // later joiners' join responses stay small
		_ = p.Close()
		delays = append(delays, d)
		if int64(d) > slowest.Load() {
			slowest.Store(int64(d))
		}
	}
	slices.Sort(delays)
	t.Logf("join → the watcher's newPeer, %d joins while a client stalls: median %v, max %v", joiners, delays[len(delays)/2], delays[len(delays)-1])
	if max := time.Duration(slowest.Load()); max > time.Second {
		t.Fatalf("a join reached the watcher after %v while a client stalled", max)
	}
	// The stalled client is cut off (write timeout) and leaves the room.
	if _, _, err := watcher.WaitNotification(ctx, 0, "peerClosed", matchName("stalled")); err != nil {
		t.Fatalf("the stalled client was never disconnected: %v", err)
	}
}

// queryCaps returns the room's capabilities as a client would send them
// at join (the client package's receive capabilities).
func queryCaps(ctx context.Context, t *testing.T, g *gosoup, room string) any {
	t.Helper()
	p := join(ctx, t, g, room, "caps-probe")
	raw, err := p.Request(ctx, "queryRoom", nil)
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}
	mustJSON(t, raw, &q)
	_ = p.Leave()
	return q.RTPCapabilities
}

// serverGoroutines returns, once it is at most want (0: at once) or after
// 10 s, the number of goroutines that are not the test's pion clients'
// (the client package, pion/webrtc, pion/srtp sessions: the server uses
// none of them), so that a client still closing is not counted as a
// server leak.
func serverGoroutines(want int) int {
	var n int
	buf := make([]byte, 4<<20)
	for i := 0; i < 50; i++ {
		runtime.GC()
		n = 0
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if !strings.Contains(g, "gosoup/gosoup/client.") && !strings.Contains(g, "pion/webrtc") &&
				!strings.Contains(g, "pion/srtp/v3.(*session") {
				n++
			}
		}
		if want == 0 || n <= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return n
}
