package whip

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// rawRecorder is a pion interceptor that notes the SSRC and payload type
// of every RTP packet a remote stream delivers, RTX streams included
// (before pion unwraps them).
type rawRecorder struct {
	interceptor.NoOp
	mu   sync.Mutex
	seen map[uint32]map[uint8]int // ssrc → payload type → packets
	// ssrc → the first two payload bytes of each packet (an RTX packet's
	// original sequence number)
	heads map[uint32][]uint16
}

func (r *rawRecorder) BindRemoteStream(_ *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err == nil && n >= 12 {
			var h rtp.Header
			if _, err := h.Unmarshal(b[:n]); err == nil {
				r.mu.Lock()
				if r.seen[h.SSRC] == nil {
					r.seen[h.SSRC] = map[uint8]int{}
				}
				r.seen[h.SSRC][h.PayloadType]++
				if off := h.MarshalSize(); n >= off+2 && r.heads != nil {
					r.heads[h.SSRC] = append(r.heads[h.SSRC], uint16(b[off])<<8|uint16(b[off+1]))
				}
				r.mu.Unlock()
			}
		}
		return n, a, err
	})
}

// resent reports whether an RTX packet on ssrc carried sequence number
// osn.
func (r *rawRecorder) resent(ssrc uint32, osn uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, h := range r.heads[ssrc] {
		if h == osn {
			return true
		}
	}
	return false
}

func (r *rawRecorder) count(ssrc uint32, pt uint8) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[ssrc][pt]
}

type rawRecorderFactory struct{ r *rawRecorder }

func (f rawRecorderFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.r, nil }

// answerSSRCs returns the FID group (media, RTX SSRC) of the answer's
// video section, and the RTX payload type it lists for payload type pt.
func answerSSRCs(t *testing.T, answer string, pt uint8) (media, rtx uint32, rtxPT uint8) {
	t.Helper()
	video := answer[strings.Index(answer, "m=video"):]
	for _, line := range strings.Split(video, "\r\n") {
		if _, err := fmt.Sscanf(line, "a=ssrc-group:FID %d %d", &media, &rtx); err == nil {
			continue
		}
		var r, apt uint8
		if _, err := fmt.Sscanf(line, "a=fmtp:%d apt=%d", &r, &apt); err == nil && apt == pt {
			rtxPT = r
		}
	}
	if media == 0 || rtx == 0 || rtxPT == 0 {
		t.Fatalf("no video RTX for payload type %d in the answer:\n%s", pt, answer)
	}
	return media, rtx, rtxPT
}

// TestWHEPRetransmitsWithRTX: a pion WHEP player of a named peer that
// offers RTX gets it: the answer names the video stream and its RTX
// stream (FID) with the offer's RTX payload type, and a NACK from the
// player is answered with an RTX packet on that SSRC and payload type.
func TestWHEPRetransmitsWithRTX(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	startV2Sender(ctx, t, ts, "rtx", "alice", 'a', 30)

	pl := startRTXPlayer(t, ts, "/whep/rtx?peer=alice")
	rec, pc := pl.rec, pl.pc
	nextSeq := func() uint16 {
		t.Helper()
		select {
		case v := <-pl.video:
			return v.seq
		case <-time.After(10 * time.Second):
			t.Fatal("no video")
		}
		return 0
	}
	seq := nextSeq()
	media, rtxSSRC, rtxPT := answerSSRCs(t, pl.answer, uint8(pl.videoPT.Load()))

	// Ask for recent packets again until one comes back as RTX.
	deadline := time.Now().Add(10 * time.Second)
	for rec.count(rtxSSRC, rtxPT) == 0 {
		if time.Now().After(deadline) {
			for _, p := range ts.sfu.Rooms()[0].Peers() {
				for _, c := range p.Consumers() {
					t.Logf("%s consumer %+v: %+v", p.Name(), c.RTPParameters(), c.GetStats())
				}
			}
			t.Fatalf("no RTX packet (ssrc %d, payload type %d) after NACKs for ssrc %d; seen %v", rtxSSRC, rtxPT, media, rec.seen)
		}
		nack := &rtcp.TransportLayerNack{MediaSSRC: media, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}
		if err := pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		seq = nextSeq()
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen[rtxSSRC]) != 1 {
		t.Errorf("payload types on the RTX SSRC: %v, want only %d", rec.seen[rtxSSRC], rtxPT)
	}
}

// rtxPlayer is a pion WHEP player offering RTX, recording what arrives
// before pion unwraps RTX; its video packets go to video.
type rtxPlayer struct {
	pc      *webrtc.PeerConnection
	rec     *rawRecorder
	answer  string
	video   chan rtxVideo
	videoPT atomic.Uint32
}

type rtxVideo struct {
	ssrc uint32
	seq  uint16
	tag  byte
}

func startRTXPlayer(t *testing.T, ts *testServer, path string) *rtxPlayer {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	pl := &rtxPlayer{rec: &rawRecorder{seen: map[uint32]map[uint8]int{}, heads: map[uint32][]uint16{}}, video: make(chan rtxVideo, 4096)}
	ir := &interceptor.Registry{}
	ir.Add(rawRecorderFactory{pl.rec})
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	pl.pc = pc
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo && len(pkt.Payload) > 0 {
				pl.videoPT.Store(uint32(pkt.PayloadType))
				select {
				case pl.video <- rtxVideo{ssrc: pkt.SSRC, seq: pkt.SequenceNumber, tag: pkt.Payload[len(pkt.Payload)-1]}:
				default:
				}
			}
		}
	})
	pl.answer = negotiate(t, pc, ts.http+path).body
	waitConnected(t, pc)
	return pl
}

// TestWHEPRoomRetransmitsWithRTX: a pion player of the room (active
// speaker) that offers RTX gets it: the answer names one video stream and
// its RTX stream; the stream keeps its SSRC and its sequence numbers run
// on when the speaker changes; and a NACK for a packet of the new
// speaker is answered with that packet as RTX on the named RTX SSRC.
func TestWHEPRoomRetransmitsWithRTX(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	alice := startV2Sender(ctx, t, ts, "rtx2", "alice", 'a', 20)
	carol := startV2Sender(ctx, t, ts, "rtx2", "carol", 'c', 127)
	time.Sleep(time.Second) // alice becomes the active speaker
	pl := startRTXPlayer(t, ts, "/whep/rtx2")
	// follow reads video until n packets in a row come from tag; it
	// returns the last one, and the last one before them.
	follow := func(tag byte, n int) (before, last rtxVideo) {
		t.Helper()
		run := 0
		for deadline := time.Now().Add(20 * time.Second); run < n; {
			select {
			case v := <-pl.video:
				if v.tag == tag {
					run++
				} else {
					run, before = 0, v
				}
				last = v
			case <-time.After(time.Until(deadline)):
				t.Fatalf("video never came from %q", tag)
			}
		}
		return before, last
	}
	_, fromAlice := follow('a', 30)
	media, rtxSSRC, rtxPT := answerSSRCs(t, pl.answer, uint8(pl.videoPT.Load()))
	if fromAlice.ssrc != media {
		t.Fatalf("video on SSRC %d, the answer names %d", fromAlice.ssrc, media)
	}
	alice.level.Store(127)
	carol.level.Store(10)
	lastAlice, fromCarol := follow('c', 30)
	if fromCarol.ssrc != media {
		t.Fatalf("after the switch: video on SSRC %d, the answer names %d", fromCarol.ssrc, media)
	}
	if d := fromCarol.seq - lastAlice.seq; d > 200 {
		t.Errorf("sequence numbers jumped by %d at the switch (%d -> %d after 30 packets)", d, lastAlice.seq, fromCarol.seq)
	}
	seq := fromCarol.seq
	for deadline := time.Now().Add(10 * time.Second); !pl.rec.resent(rtxSSRC, seq); {
		if time.Now().After(deadline) {
			t.Fatalf("no RTX of %d on SSRC %d (payload type %d) after NACKs; seen %v", seq, rtxSSRC, rtxPT, pl.rec.seen)
		}
		nack := &rtcp.TransportLayerNack{MediaSSRC: media, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{seq})}
		if err := pl.pc.WriteRTCP([]rtcp.Packet{nack}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := pl.rec.count(rtxSSRC, rtxPT); n == 0 {
		t.Errorf("RTX of %d came with another payload type than %d: %v", seq, rtxPT, pl.rec.seen[rtxSSRC])
	}
}
