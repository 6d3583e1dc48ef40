package record

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// probe is what ffprobe says of a file.
type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		CodecType string `json:"codec_type"`
		StartTime string `json:"start_time"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
	firstPacket map[string]float64 // codec_type → pts of its first packet (s)
	lastPacket  []float64          // stream index → pts of its last packet (s)
	decodeErr   string             // what "ffmpeg -v error -i FILE -fps_mode vfr -f null -" printed
}

// probeFile runs ffprobe and a full decode with ffmpeg on path.
func probeFile(t *testing.T, path string) probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries",
		"stream=codec_name,codec_type,start_time,width,height:format=duration", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output %s: %v", out, err)
	}
	out, err = exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts_time",
		"-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_packets: %v", err)
	}
	p.firstPacket = map[string]float64{}
	p.lastPacket = make([]float64, len(p.Streams))
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		idx, pts, _ := strings.Cut(line, ",")
		i, err1 := strconv.Atoi(idx)
		v, err2 := strconv.ParseFloat(pts, 64)
		if err1 != nil || err2 != nil || i >= len(p.Streams) {
			continue
		}
		p.lastPacket[i] = max(p.lastPacket[i], v)
		if _, seen := p.firstPacket[p.Streams[i].CodecType]; !seen {
			p.firstPacket[p.Streams[i].CodecType] = v
		}
	}
	// -fps_mode vfr: see e2e/tests/record.test.mjs (FFmpeg's null output
	// otherwise guesses a constant frame rate and complains about frames
	// closer than a frame apart, which a loaded machine produces).
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-fps_mode", "vfr", "-f", "null", "-")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg decode: %v: %s", err, stderr.String())
	}
	p.decodeErr = stderr.String()
	return p
}

// summary is the one-line ffprobe summary printed for the closing note.
func (p probe) summary() string {
	var b strings.Builder
	for _, s := range p.Streams {
		fmt.Fprintf(&b, "%s %s start %ss", s.CodecType, s.CodecName, s.StartTime)
		if s.Width > 0 {
			fmt.Fprintf(&b, " %dx%d", s.Width, s.Height)
		}
		b.WriteString("; ")
	}
	fmt.Fprintf(&b, "duration %ss", p.Format.Duration)
	return b.String()
}

// TestRecordRealMediaWithLoss records 10 s of FFmpeg's test pattern (VP8,
// a key frame every 5 frames: FFmpeg does not answer PLIs, and the file
// starts at a key frame) and tone (Opus), sent over plain RTP like a tool
// would, through a relay
// that drops 5 % of the packets toward the recorder; ffprobe reads both
// streams, the duration is the wall time, the tracks start together and
// the whole file decodes without an error.
func TestRecordRealMediaWithLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of media")
	}
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	room := newRoom(t, "ffmpeg")
	tool := joinPeer(t, room, "tool")
	a := addPlainProducerMux(t, tool, "audio", "opus", 5555, false)
	v := addPlainProducerMux(t, tool, "video", "VP8", 6666, false)
	ctx, cancel := context.WithCancel(context.Background())
	ff := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=640x360:rate=30",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-map", "0:v", "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "800k", "-g", "5",
		"-payload_type", strconv.Itoa(v.PayloadType), "-ssrc", "6666",
		"-f", "rtp", fmt.Sprintf("rtp://%s?rtcpport=%d&pkt_size=1200", v.Dst, v.RTCPPort),
		"-map", "1:a", "-c:a", "libopus", "-ac", "2", "-b:a", "64k",
		"-payload_type", strconv.Itoa(a.PayloadType), "-ssrc", "5555",
		"-f", "rtp", fmt.Sprintf("rtp://%s?rtcpport=%d&pkt_size=1200", a.Dst, a.RTCPPort))
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = ff.Wait() })
	time.Sleep(time.Second) // FFmpeg is sending

	relay := newLossRelay(t, 0.05)
	started := time.Now()
	rec, err := Start(room, "tool", Options{Dir: t.TempDir(), Via: relay.via, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	stopAt := time.Now()
	res := rec.Stop()
	wall := stopAt.Sub(started)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, ts := range res.Tracks {
		fwd, dropped := relay.counts(ts.Kind)
		t.Logf("%s %s: relay dropped %d of %d; %d packets (%d repaired, %d as RTX, %d lost), %d NACKs, %d PLIs, %d frames written (%d key, %d dropped)",
			ts.Kind, ts.Codec, dropped, fwd+dropped, ts.Packets, ts.Repaired, ts.RTX, ts.Lost, ts.NACKs, ts.PLIs, ts.Frames, ts.KeyFrames, ts.Dropped)
	}
	p := probeFile(t, rec.File())
	dur, _ := strconv.ParseFloat(p.Format.Duration, 64)
	offset := math.Abs(p.firstPacket["audio"] - p.firstPacket["video"])
	t.Logf("ffprobe: %s", p.summary())
	t.Logf("5%% loss: wall %.3fs (Start to Stop call), file %.3fs (diff %.3fs), A/V first-packet offset %.0f ms",
		wall.Seconds(), dur, wall.Seconds()-dur, offset*1000)
	if len(p.Streams) != 2 || p.Streams[0].CodecName != "opus" || p.Streams[1].CodecName != "vp8" || p.Streams[1].Width != 640 {
		t.Fatalf("streams: %s", p.summary())
	}
	// FFmpeg on a loaded machine can fall behind real time; the file's
	// timestamps are then the media's, re-anchored to the wall clock when
	// they drift by more than a second, and its duration says little: it
	// is compared with the wall time only when FFmpeg kept up.
	fwd, dropped := relay.counts("audio")
	sent := float64(fwd+dropped) * 0.020
	t.Logf("FFmpeg sent %.3fs of audio in %.3fs (%.0f%% of real time)", sent, wall.Seconds(), 100*sent/wall.Seconds())
	if sent < 0.99*wall.Seconds() {
		t.Logf("FFmpeg fell behind real time (a loaded machine): the duration is not checked")
	} else if math.Abs(wall.Seconds()-dur) > 0.3 {
		t.Errorf("duration %.3fs, wall %.3fs", dur, wall.Seconds())
	}
	if offset >= 0.1 {
		t.Errorf("audio starts at %.3fs, video at %.3fs", p.firstPacket["audio"], p.firstPacket["video"])
	}
	if p.decodeErr != "" {
		t.Errorf("ffmpeg decode errors:\n%s", p.decodeErr)
	}
	if vs := res.Tracks[1]; vs.NACKs == 0 || vs.Repaired == 0 {
		t.Errorf("video: no NACK repaired anything: %+v", vs)
	}
}
