package record

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/h264reader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
	"github.com/gosoup/gosoup/whip"
)

// safariAPI is a pion API offering what Safari sends: H264 only
// (packetization-mode 1, profile 42e01f) and Opus.
func safariAPI(t *testing.T) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "goog-remb"}}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		RTCPFeedback: fb,
	}, PayloadType: 98}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
	}, PayloadType: 111}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se))
}

// encode makes the test media with FFmpeg: 8 s of H264 (x264 constrained
// baseline, 640x360 at 30 frames/s, a key frame every second, Annex B) and
// Opus (440 Hz, one 20 ms packet per Ogg page).
func encode(t *testing.T, dir string) (h264, ogg string) {
	t.Helper()
	h264, ogg = filepath.Join(dir, "v.h264"), filepath.Join(dir, "a.ogg")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30:duration=8", "-pix_fmt", "yuv420p", "-c:v", "libx264",
			"-profile:v", "baseline", "-level", "3.1", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30", "-bf", "0",
			"-b:v", "600k", "-f", "h264", h264},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=8", "-c:a", "libopus", "-ac", "2", "-b:a", "64k",
			"-page_duration", "20000", "-f", "ogg", ogg},
	} {
		out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ffmpeg %v: %v: %s", args, err, out)
		}
	}
	return h264, ogg
}

// sendH264 writes the access units of an Annex B file to track at 30
// frames/s until the file ends or stop closes.
func sendH264(t *testing.T, path string, track *webrtc.TrackLocalStaticSample, stop <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := h264reader.NewReader(f)
	if err != nil {
		return err
	}
	tk := time.NewTicker(time.Second / 30)
	defer tk.Stop()
	var au []byte
	for {
		nal, err := r.NextNAL()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		au = append(au, 0, 0, 0, 1)
		au = append(au, nal.Data...)
		if nal.UnitType != h264reader.NalUnitTypeCodedSliceIdr && nal.UnitType != h264reader.NalUnitTypeCodedSliceNonIdr {
			continue // SPS, PPS, SEI: sent with the frame they precede
		}
		select {
		case <-stop:
			return nil
		case <-tk.C:
		}
		if err := track.WriteSample(media.Sample{Data: au, Duration: time.Second / 30}); err != nil {
			return err
		}
		au = nil
	}
}

// sendOpus writes the packets of an Ogg Opus file to track every 20 ms.
func sendOpus(t *testing.T, path string, track *webrtc.TrackLocalStaticSample, stop <-chan struct{}) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return err
	}
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	for {
		page, _, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-tk.C:
		}
		if err := track.WriteSample(media.Sample{Data: page, Duration: 20 * time.Millisecond}); err != nil {
			return err
		}
	}
}

// TestRecordSafariLikeWHIPPublisher: a publisher offering only H264
// (packetization-mode 1, 42e01f) and Opus, as Safari does, joins a room
// over WHIP and is recorded: the file is an MP4 whose H264 and Opus
// tracks ffprobe reads, starting and ending together, and it decodes
// without an error.
func TestRecordSafariLikeWHIPPublisher(t *testing.T) {
	if testing.Short() {
		t.Skip("8 s of media")
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	h264File, oggFile := encode(t, t.TempDir())
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", AnnouncedIPs: []string{"127.0.0.1"}},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	wh := whip.NewHandler(srv, whip.Options{Logger: testLogger(t)})
	hs := httptest.NewServer(wh)
	t.Cleanup(func() {
		hs.Close()
		wh.Close()
		_ = srv.Close()
	})

	pc, err := safariAPI(t).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	video, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}, "video", "safari")
	if err != nil {
		t.Fatal(err)
	}
	audio, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "safari")
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{audio, video} {
		s, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		go func() { // RTCP (PLI, NACK) is read by pion's interceptors
			buf := make([]byte, 1500)
			for {
				if _, _, err := s.Sender().Read(buf); err != nil {
					return
				}
			}
		}()
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if sdp := pc.LocalDescription().SDP; strings.Contains(sdp, "VP8") || !strings.Contains(sdp, "profile-level-id=42e01f") {
		t.Fatalf("not a Safari-like offer:\n%s", sdp)
	}
	res, err := http.Post(hs.URL+"/whip/safari", "application/sdp", strings.NewReader(pc.LocalDescription().SDP))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %d %s", res.StatusCode, body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatalf("answer: %v\n%s", err, body)
	}
	for deadline := time.Now().Add(15 * time.Second); pc.ConnectionState() != webrtc.PeerConnectionStateConnected; {
		if time.Now().After(deadline) {
			t.Fatalf("not connected: %s", pc.ConnectionState())
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, send := range []func() error{
		func() error { return sendH264(t, h264File, video, stop) },
		func() error { return sendOpus(t, oggFile, audio, stop) },
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- send()
		}()
	}
	t.Cleanup(func() { close(stop); wg.Wait() })

	room, err := srv.Room("safari")
	if err != nil {
		t.Fatal(err)
	}
	var name string
	for deadline := time.Now().Add(5 * time.Second); name == ""; {
		for _, p := range room.Peers() {
			if strings.HasPrefix(p.Name(), "whip-") && len(p.Producers()) == 2 {
				name = p.Name()
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no WHIP peer with two producers in the room")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rec, err := Start(room, name, Options{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	r := rec.Stop()
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, ts := range r.Tracks {
		t.Logf("%s %s: %d packets (%d lost), %d PLIs, %d frames written (%d key), %dx%d",
			ts.Kind, ts.Codec, ts.Packets, ts.Lost, ts.PLIs, ts.Frames, ts.KeyFrames, ts.Width, ts.Height)
	}
	if !strings.HasSuffix(rec.File(), ".mp4") {
		t.Errorf("file %s", rec.File())
	}
	p := probeFile(t, rec.File())
	t.Logf("ffprobe: %s", p.summary())
	if len(p.Streams) != 2 || p.Streams[0].CodecName != "opus" || p.Streams[1].CodecName != "h264" ||
		p.Streams[1].Width != 640 || p.Streams[1].Height != 360 {
		t.Fatalf("streams: %s", p.summary())
	}
	offset := math.Abs(p.firstPacket["audio"] - p.firstPacket["video"])
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	t.Logf("file %.3fs, A/V first-packet offset %.0f ms, last packets: audio %.3fs, video %.3fs",
		dur, offset*1000, p.lastPacket[0], p.lastPacket[1])
	if offset >= 0.1 {
		t.Errorf("audio starts at %.3fs, video at %.3fs", p.firstPacket["audio"], p.firstPacket["video"])
	}
	// The file starts at a key frame: this publisher has one a second and
	// does not answer PLIs, so on a loaded machine up to two seconds of
	// the five may go by before it starts.
	if p.lastPacket[0] < 2.5 || math.Abs(p.lastPacket[1]-p.lastPacket[0]) > 0.2 {
		t.Errorf("last packets: audio %.3fs, video %.3fs of 5 s recorded", p.lastPacket[0], p.lastPacket[1])
	}
	if p.decodeErr != "" {
		t.Errorf("ffmpeg decode errors:\n%s", p.decodeErr)
	}
	select {
	case err := <-errs:
		if err != nil {
			t.Errorf("publisher: %v", err)
		}
	default:
	}
}
