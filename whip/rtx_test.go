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
				r.mu.Unlock()
			}
		}
		return n, a, err
	})
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

	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	rec := &rawRecorder{seen: map[uint32]map[uint8]int{}}
	ir := &interceptor.Registry{}
	ir.Add(rawRecorderFactory{rec})
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := make(chan uint16, 1024)
	var videoPT atomic.Uint32
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			pkt, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			if tr.Kind() == webrtc.RTPCodecTypeVideo {
				videoPT.Store(uint32(pkt.PayloadType))
				select {
				case seqs <- pkt.SequenceNumber:
				default:
				}
			}
		}
	})
	res := negotiate(t, pc, ts.http+"/whep/rtx?peer=alice")
	waitConnected(t, pc)
	var seq uint16
	select {
	case seq = <-seqs:
	case <-time.After(10 * time.Second):
		t.Fatal("no video")
	}
	media, rtxSSRC, rtxPT := answerSSRCs(t, res.body, uint8(videoPT.Load()))

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
		select {
		case seq = <-seqs:
		case <-time.After(5 * time.Second):
			t.Fatal("no video")
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen[rtxSSRC]) != 1 {
		t.Errorf("payload types on the RTX SSRC: %v, want only %d", rec.seen[rtxSSRC], rtxPT)
	}
}
