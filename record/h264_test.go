package record

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// sps640x360 is the SPS x264 writes for a 640x360 baseline stream (the
// height is cropped from 368).
var sps640x360 = []byte{0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x2f, 0xf9, 0x66, 0xa0, 0x20, 0x20, 0x28, 0x00,
	0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x01, 0xe0, 0x78, 0xb1, 0x72, 0x40}

func TestSPSSize(t *testing.T) {
	if w, h := spsSize(sps640x360); w != 640 || h != 360 {
		t.Errorf("640x360 SPS: %dx%d", w, h)
	}
	for _, b := range [][]byte{nil, {0x67}, {0x67, 0x42, 0, 0x1e}, sps640x360[:8]} {
		if w, h := spsSize(b); w != 0 || h != 0 {
			t.Errorf("%x: %dx%d, want 0x0", b, w, h)
		}
	}
}

// avcSample is NAL units in an MP4 sample (4-byte lengths).
func avcSample(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = binary.BigEndian.AppendUint32(b, uint32(len(n)))
		b = append(b, n...)
	}
	return b
}

func TestH264FrameDepacketizes(t *testing.T) {
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	idr := append([]byte{0x65}, bytes.Repeat([]byte{7}, 3000)...)
	stap := []byte{0x78}
	for _, n := range [][]byte{sps640x360, pps} {
		stap = binary.BigEndian.AppendUint16(stap, uint16(len(n)))
		stap = append(stap, n...)
	}
	fu := func(start, end bool, part []byte) []byte {
		h := byte(idr[0] & 0x1f)
		if start {
			h |= 0x80
		}
		if end {
			h |= 0x40
		}
		return append([]byte{idr[0]&0xe0 | 28, h}, part...)
	}
	pkt := func(p []byte) *rtp.Packet { return &rtp.Packet{Payload: p} }
	key := []*rtp.Packet{pkt(stap), pkt(fu(true, false, idr[1:1000])), pkt(fu(false, false, idr[1000:2000])), pkt(fu(false, true, idr[2000:]))}
	data, sps, gotPPS, isKey, err := h264Frame(key)
	if err != nil || !isKey || !bytes.Equal(sps, sps640x360) || !bytes.Equal(gotPPS, pps) ||
		!bytes.Equal(data, avcSample(sps640x360, pps, idr)) {
		t.Fatalf("key frame: key %v, sps %x, pps %x, %d bytes, %v", isKey, sps, gotPPS, len(data), err)
	}
	delta := []byte{0x41, 1, 2, 3}
	if data, _, _, isKey, err := h264Frame([]*rtp.Packet{pkt(delta)}); err != nil || isKey || !bytes.Equal(data, avcSample(delta)) {
		t.Fatalf("single NAL unit: key %v, %x, %v", isKey, data, err)
	}
	for name, bad := range map[string][]*rtp.Packet{
		"FU-A without its end":   key[:3],
		"FU-A without its start": {pkt(fu(false, true, idr[1:]))},
		"STAP-A cut":             {pkt(stap[:len(stap)-2])},
		"FU-B":                   {pkt([]byte{29, 0x80, 1})},
		"empty":                  {pkt(nil)},
	} {
		if _, _, _, _, err := h264Frame(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestRecordH264RealMedia records what a Safari-like publisher sends,
// H264 (x264, a key frame every second, FFmpeg does not answer PLIs) and
// Opus, plus a second H264 track (a screen share), over plain RTP through
// a relay that drops 3 % of the packets toward the recorder: the file is
// an MP4 with the three tracks, ffprobe reads their sizes, the tracks
// start together and the whole file decodes without an error.
func TestRecordH264RealMedia(t *testing.T) {
	if testing.Short() {
		t.Skip("6 s of media")
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	room := newRoom(t, "h264")
	safari := joinPeer(t, room, "safari")
	a := addPlainProducerMux(t, safari, "audio", "opus", 5555, false)
	v := addPlainProducerMux(t, safari, "video", "H264", 6666, false)
	s := addPlainProducerMux(t, safari, "video", "H264", 7777, false)
	rtpOut := func(p plainProducer) []string {
		return []string{"-payload_type", strconv.Itoa(p.PayloadType), "-ssrc", strconv.FormatUint(uint64(p.SSRC), 10),
			"-f", "rtp", fmt.Sprintf("rtp://%s?rtcpport=%d&pkt_size=1200", p.Dst, p.RTCPPort)}
	}
	x264 := []string{"-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", "baseline", "-preset", "ultrafast", "-tune", "zerolatency",
		"-g", "30", "-bf", "0", "-b:v", "600k"}
	args := []string{"-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-f", "lavfi", "-i", "testsrc2=size=320x180:rate=15"}
	args = append(append(append(args, "-map", "0:v"), x264...), rtpOut(v)...)
	args = append(append(args, "-map", "1:a", "-c:a", "libopus", "-ac", "2", "-b:a", "64k"), rtpOut(a)...)
	args = append(append(append(args, "-map", "2:v"), x264...), rtpOut(s)...)
	ctx, cancel := context.WithCancel(context.Background())
	ff := exec.CommandContext(ctx, "ffmpeg", args...)
	var ffErr bytes.Buffer
	ff.Stderr = &ffErr
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = ff.Wait() })
	time.Sleep(time.Second) // FFmpeg is sending

	relay := newLossRelay(t, 0.03)
	rec, err := Start(room, "safari", Options{Dir: t.TempDir(), Via: relay.via, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	res := rec.Stop()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	cancel()
	_ = ff.Wait()
	if ffErr.Len() > 0 {
		t.Logf("FFmpeg: %s", ffErr.String())
	}
	for _, ts := range res.Tracks {
		t.Logf("%s %s (producer %d): %d packets (%d repaired, %d lost), %d NACKs, %d PLIs, %d frames written (%d key, %d dropped), %dx%d",
			ts.Kind, ts.Codec, ts.Producer, ts.Packets, ts.Repaired, ts.Lost, ts.NACKs, ts.PLIs, ts.Frames, ts.KeyFrames, ts.Dropped, ts.Width, ts.Height)
	}
	if ext := rec.File()[len(rec.File())-4:]; ext != ".mp4" {
		t.Errorf("file %s", rec.File())
	}
	p := probeFile(t, rec.File())
	t.Logf("ffprobe: %s", p.summary())
	if len(p.Streams) != 3 || p.Streams[0].CodecName != "opus" || p.Streams[1].CodecName != "h264" || p.Streams[2].CodecName != "h264" ||
		p.Streams[1].Width != 640 || p.Streams[1].Height != 360 || p.Streams[2].Width != 320 || p.Streams[2].Height != 180 {
		t.Fatalf("streams: %s", p.summary())
	}
	if len(res.Tracks) != 3 || res.Tracks[1].Producer != v.Prod.ID() || res.Tracks[2].Producer != s.Prod.ID() {
		t.Errorf("tracks: %+v", res.Tracks)
	}
	offset := math.Abs(p.firstPacket["audio"] - p.firstPacket["video"])
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	t.Logf("3%% loss: file %.3fs, A/V first-packet offset %.0f ms", dur, offset*1000)
	if offset >= 0.1 {
		t.Errorf("audio starts at %.3fs, video at %.3fs", p.firstPacket["audio"], p.firstPacket["video"])
	}
	// The tracks end together (the screen share at 15 frames/s).
	t.Logf("last packets: audio %.3fs, camera %.3fs, screen %.3fs", p.lastPacket[0], p.lastPacket[1], p.lastPacket[2])
	if p.lastPacket[0] < 4.5 || math.Abs(p.lastPacket[1]-p.lastPacket[0]) > 0.2 || math.Abs(p.lastPacket[2]-p.lastPacket[0]) > 0.3 {
		t.Errorf("last packets: audio %.3fs, camera %.3fs, screen %.3fs of 6 s recorded", p.lastPacket[0], p.lastPacket[1], p.lastPacket[2])
	}
	if p.decodeErr != "" {
		t.Errorf("ffmpeg decode errors:\n%s", p.decodeErr)
	}

	// A crash or a full disk cuts the file anywhere: what was written up
	// to the last whole fragment still plays.
	b, err := os.ReadFile(rec.File())
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.mp4")
	if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffprobe", "-v", "quiet", "-show_entries", "packet=stream_index,pts_time", "-of", "csv=p=0", cut).Output()
	if err != nil {
		t.Fatalf("ffprobe of the cut file: %v", err)
	}
	last := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		idx, pts, _ := strings.Cut(line, ",")
		if v, err := strconv.ParseFloat(pts, 64); err == nil {
			last[idx] = max(last[idx], v)
		}
	}
	t.Logf("file cut at 2/3: last packets at %v s", last)
	if len(last) != 3 || last["0"] < 2 || last["1"] < 2 {
		t.Errorf("file cut at 2/3: last packets at %v s", last)
	}
}
