package whip

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/client"
)

// v2Sender is a mediasoup v2 peer (the Go client) sending audio with a
// settable ssrc-audio-level and VP8 whose last payload byte is its tag.
type v2Sender struct {
	peer  *client.Peer
	level atomic.Int32 // -dBov in the audio level extension (127: silence)
}

func startV2Sender(ctx context.Context, t *testing.T, ts *testServer, room, name string, tag byte, level int) *v2Sender {
	t.Helper()
	p, err := client.Connect(ctx, ts.ws, room, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		t.Fatal(err)
	}
	send, err := p.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	s := &v2Sender{peer: p}
	s.level.Store(int32(level))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		_ = p.Close()
	})
	for _, kind := range []string{"audio", "video"} {
		pr, err := send.Produce(ctx, kind, 0, false, map[string]any{"source": kind})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := client.NewSource(kind, 200_000)
			tk := time.NewTicker(src.Interval())
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case now := <-tk.C:
					for _, pkt := range src.NextFrame(now) {
						// the room's abs-send-time id (3), as browsers send it
						ast := absSendTime(now)
						_ = pkt.Header.SetExtension(3, []byte{byte(ast >> 16), byte(ast >> 8), byte(ast)})
						if kind == "audio" {
							// the room's ssrc-audio-level id, which the client declares
							_ = pkt.Header.SetExtension(1, []byte{0x80 | byte(s.level.Load())})
						} else {
							pkt.Payload[len(pkt.Payload)-1] = tag
						}
						_ = pr.WriteRTP(pkt)
					}
				}
			}
		}()
	}
	return s
}

// player is a pion WHEP client receiving audio and video; every packet
// of every track it gets goes to pkts.
type pionPlayer struct {
	pc     *webrtc.PeerConnection
	answer string
	pts    map[string]uint8 // the payload type pion negotiated per kind
	pkts   chan playedPacket
}

type playedPacket struct {
	kind string
	pt   uint8
	pkt  *rtp.Packet
}

func startPlayer(t *testing.T, ts *testServer, path string) *pionPlayer {
	t.Helper()
	pc, err := newPionAPI(t, true).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &pionPlayer{pc: pc, pts: map[string]uint8{}, pkts: make(chan playedPacket, 4096)}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		kind := tr.Kind().String()
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			select {
			case p.pkts <- playedPacket{kind: kind, pt: uint8(tr.Codec().PayloadType), pkt: pkt}:
			default:
			}
		}
	})
	res := negotiate(t, pc, ts.http+path)
	p.answer = res.body
	waitConnected(t, pc)
	return p
}

// next returns the next packet of kind within timeout.
func (p *pionPlayer) next(t *testing.T, kind string, timeout time.Duration) playedPacket {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case pp := <-p.pkts:
			if pp.kind == kind {
				return pp
			}
		case <-deadline:
			t.Fatalf("no %s packet within %v", kind, timeout)
		}
	}
}

// TestWHEPPlaysPeer: a pion WHEP player asks for one peer (?peer=alice)
// and receives her audio and VP8 with the payload types of its own offer
// (pion drops packets of payload types it did not offer).
func TestWHEPPlaysPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	startV2Sender(ctx, t, ts, "p1", "alice", 'a', 30)
	startV2Sender(ctx, t, ts, "p1", "carol", 'c', 20)
	pl := startPlayer(t, ts, "/whep/p1?peer=alice")
	// A player of a named peer offering RTX (pion does) gets its video
	// stream named with its RTX stream (TestWHEPRetransmitsWithRTX).
	if !strings.Contains(pl.answer, "a=ssrc-group:FID ") || !strings.Contains(pl.answer, "a=sendonly") {
		t.Errorf("answer:\n%s", pl.answer)
	}
	for i := 0; i < 50; i++ {
		pp := pl.next(t, "video", 10*time.Second)
		if tag := pp.pkt.Payload[len(pp.pkt.Payload)-1]; tag != 'a' {
			t.Fatalf("video packet from %q, want alice", tag)
		}
		if pp.pkt.PayloadType != pp.pt {
			t.Fatalf("video payload type %d, negotiated %d", pp.pkt.PayloadType, pp.pt)
		}
	}
	if pp := pl.next(t, "audio", 10*time.Second); pp.pkt.PayloadType != pp.pt {
		t.Fatalf("audio payload type %d, negotiated %d", pp.pkt.PayloadType, pp.pt)
	}
	// The player is a spy: invisible to the others.
	for _, p := range ts.sfu.Rooms()[0].Peers() {
		if strings.HasPrefix(p.Name(), "whep-") && !p.Spy() {
			t.Errorf("WHEP peer %s is not a spy", p.Name())
		}
	}
}

// TestWHEPFollowsActiveSpeaker: without a peer named, the player gets the
// active speaker's video and switches when another peer speaks.
func TestWHEPFollowsActiveSpeaker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	alice := startV2Sender(ctx, t, ts, "p2", "alice", 'a', 20)
	carol := startV2Sender(ctx, t, ts, "p2", "carol", 'c', 127)
	time.Sleep(time.Second) // alice becomes the active speaker
	pl := startPlayer(t, ts, "/whep/p2")
	waitTag := func(tag byte) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		run := 0
		for run < 30 {
			if time.Now().After(deadline) {
				t.Fatalf("video never came from %q", tag)
			}
			pp := pl.next(t, "video", 10*time.Second)
			if pp.pkt.Payload[len(pp.pkt.Payload)-1] == tag {
				run++
			} else {
				run = 0
			}
		}
	}
	waitTag('a')
	alice.level.Store(127)
	carol.level.Store(10)
	waitTag('c')
	carol.level.Store(127)
	alice.level.Store(10)
	waitTag('a')
}

// TestWHEPPlayedPeerLeaves: the session of a player of one peer ends when
// that peer leaves.
func TestWHEPPlayedPeerLeaves(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	alice := startV2Sender(ctx, t, ts, "p3", "alice", 'a', 30)
	startV2Sender(ctx, t, ts, "p3", "carol", 'c', 30)
	pl := startPlayer(t, ts, "/whep/p3?peer=alice")
	pl.next(t, "video", 10*time.Second)
	if n := ts.whip.Sessions(); n != 1 {
		t.Fatalf("%d sessions", n)
	}
	_ = alice.peer.Leave()
	deadline := time.Now().Add(5 * time.Second)
	for ts.whip.Sessions() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := ts.whip.Sessions(); n != 0 {
		t.Fatalf("%d sessions after alice left", n)
	}
	// The session leaves the count as it ends; its peer leaves the room
	// right after.
	players := func() []string {
		var names []string
		for _, p := range ts.sfu.Rooms()[0].Peers() {
			if strings.HasPrefix(p.Name(), "whep-") {
				names = append(names, p.Name())
			}
		}
		return names
	}
	for deadline := time.Now().Add(2 * time.Second); len(players()) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if left := players(); len(left) > 0 {
		t.Errorf("player peers %v still in the room 2 s after the session ended", left)
	}
}
