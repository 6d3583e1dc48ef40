package record

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
)

// parsedWebM is what a test reads back from a file.
type parsedWebM struct {
	Header  webm.EBMLHeader `ebml:"EBML"`
	Segment webm.Segment    `ebml:"Segment"`
}

// block is one frame of a parsed file, with its absolute time (ms).
type block struct {
	track uint64
	at    int64
	key   bool
	data  []byte
}

func parseWebM(t *testing.T, path string) (parsedWebM, []block) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc parsedWebM
	if err := ebml.Unmarshal(f, &doc); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	var blocks []block
	for _, c := range doc.Segment.Cluster {
		for _, b := range c.SimpleBlock {
			blocks = append(blocks, block{track: b.TrackNumber, at: int64(c.Timecode) + int64(b.Timecode), key: b.Keyframe, data: b.Data[0]})
		}
	}
	return doc, blocks
}

// firstOf returns the time of the first block of a track, -1 without.
func firstOf(blocks []block, track uint64) int64 {
	for _, b := range blocks {
		if b.track == track {
			return b.at
		}
	}
	return -1
}

func newTestFile(t *testing.T, path string) (*fileWriter, chan error) {
	t.Helper()
	errs := make(chan error, 4)
	fw, err := createFile(path, func(err error) { errs <- err })
	if err != nil {
		t.Fatal(err)
	}
	return fw, errs
}

// feed writes 2 s of audio (20 ms frames from t0) and video (33 ms
// frames, a key frame every second, the first at t0+300 ms) the way the
// tracks do: each track in its own order.
func feed(m *muxer, t0 time.Time, videoFrom time.Duration) {
	for ms := 0; ms < 2000; ms += 20 {
		m.write(0, t0.Add(time.Duration(ms)*time.Millisecond), frame{data: []byte{0xfc, byte(ms / 20)}, key: true})
	}
	for i := 0; ; i++ {
		at := videoFrom + time.Duration(i)*33*time.Millisecond
		if at >= 2*time.Second {
			break
		}
		key := i%30 == 0
		m.write(1, t0.Add(at), frame{data: vp8Frame(key, 100, 320, 240, byte(i)), key: key, width: 320, height: 240})
	}
}

// TestMuxerStartsTogetherAndFinalizes: the file starts at the first video
// key frame (earlier audio dropped), both tracks start within a frame,
// and the closed file has its Duration and Cues.
func TestMuxerStartsTogetherAndFinalizes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.webm")
	fw, errs := newTestFile(t, path)
	t0 := time.Now()
	m := newMuxer(slog.New(slog.NewTextHandler(io.Discard, nil)), fw, []codec{opusCodec, vp8Codec}, 5*time.Second, t0)
	feed(m, t0, 300*time.Millisecond)
	d, err := m.close(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		t.Fatalf("write error: %v", err)
	default:
	}
	doc, blocks := parseWebM(t, path)
	if doc.Header.DocType != "webm" || len(doc.Segment.Tracks.TrackEntry) != 2 {
		t.Fatalf("header %+v, tracks %+v", doc.Header, doc.Segment.Tracks)
	}
	a, v := doc.Segment.Tracks.TrackEntry[0], doc.Segment.Tracks.TrackEntry[1]
	if a.CodecID != "A_OPUS" || !strings.HasPrefix(string(a.CodecPrivate), "OpusHead") || v.CodecID != "V_VP8" ||
		v.Video == nil || v.Video.PixelWidth != 320 || v.Video.PixelHeight != 240 {
		t.Fatalf("tracks %+v %+v", a, v)
	}
	// Video 300 ms .. 1983 ms (the last audio frame at 1980 ms).
	wantMs := 1983.0 - 300
	if got := doc.Segment.Info.Duration; got < wantMs-1 || got > wantMs+1 {
		t.Fatalf("Duration %v ms, want %v", got, wantMs)
	}
	if d != time.Duration(wantMs)*time.Millisecond {
		t.Fatalf("close returned %v", d)
	}
	if doc.Segment.Cues == nil || len(doc.Segment.Cues.CuePoint) == 0 {
		t.Fatal("no Cues")
	}
	fa, fv := firstOf(blocks, 1), firstOf(blocks, 2)
	if fv != 0 || fa < 0 || fa > 20 {
		t.Fatalf("first audio at %d ms, first video at %d ms", fa, fv)
	}
	var audio, video int
	last := map[uint64]int64{}
	for _, b := range blocks {
		if b.at < last[b.track] {
			t.Fatalf("track %d goes back in time: %d after %d", b.track, b.at, last[b.track])
		}
		last[b.track] = b.at
		if b.track == 1 {
			audio++
		} else {
			video++
		}
	}
	if audio != 85 || video != 52 { // audio 300..1980 ms, video 300..1983 ms
		t.Fatalf("%d audio and %d video frames, want 85 and 52", audio, video)
	}
}

// TestMuxerStartsWithAudioWhenNoVideoComes: without a video frame within
// the start timeout, the file starts with the audio.
func TestMuxerStartsWithAudioWhenNoVideoComes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.webm")
	fw, _ := newTestFile(t, path)
	t0 := time.Now()
	m := newMuxer(slog.New(slog.NewTextHandler(io.Discard, nil)), fw, []codec{opusCodec, vp8Codec}, 5*time.Second, t0.Add(-6*time.Second))
	for ms := 0; ms < 1000; ms += 20 {
		m.write(0, t0.Add(time.Duration(ms)*time.Millisecond), frame{data: []byte{0xfc}, key: true})
	}
	if _, err := m.close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	doc, blocks := parseWebM(t, path)
	if len(blocks) != 50 || doc.Segment.Info.Duration != 980 {
		t.Fatalf("%d blocks, duration %v", len(blocks), doc.Segment.Info.Duration)
	}
	if v := doc.Segment.Tracks.TrackEntry[1].Video; v == nil || v.PixelWidth != defaultVideoWidth {
		t.Fatalf("video entry %+v", v)
	}
}

// TestMuxerFullDisk: writing to /dev/full reports ENOSPC once, close
// returns the error without hanging, and ebml-go's goroutines end.
func TestMuxerFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	before := runtime.NumGoroutine()
	fw, errs := newTestFile(t, "/dev/full")
	t0 := time.Now()
	m := newMuxer(slog.New(slog.NewTextHandler(io.Discard, nil)), fw, []codec{opusCodec, vp8Codec}, 5*time.Second, t0)
	feed(m, t0, 0)
	var err error
	select {
	case err = <-errs:
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("reported %v, want ENOSPC", err)
	}
	if _, cerr := m.close(5 * time.Second); !errors.Is(cerr, syscall.ENOSPC) {
		t.Fatalf("close returned %v", cerr)
	}
	select {
	case err := <-errs:
		t.Fatalf("a second error was reported: %v", err)
	default:
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines left, %d before", n, before)
	}
}

// TestMuxerKeepsTracksOrderedWhenTheClockStepsBack: a clock correction
// backwards never makes audio frames overlap (they are delayed by less
// than a frame, or dropped until the timeline caught up) nor video
// timestamps repeat.
func TestMuxerKeepsTracksOrderedWhenTheClockStepsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.webm")
	fw, _ := newTestFile(t, path)
	t0 := time.Now()
	m := newMuxer(slog.New(slog.NewTextHandler(io.Discard, nil)), fw, []codec{opusCodec, vp8Codec}, 5*time.Second, t0)
	m.write(1, t0, frame{data: vp8Frame(true, 50, 320, 240, 0), key: true})
	shift := time.Duration(0)
	for i := 0; i < 100; i++ {
		switch i {
		case 30:
			shift -= 5 * time.Millisecond // a slew step back
		case 60:
			shift -= 70 * time.Millisecond // a re-anchoring back
		}
		at := t0.Add(time.Duration(i)*20*time.Millisecond + shift)
		m.write(0, at, frame{data: []byte{0xfc, byte(i)}, key: true, span: 20 * time.Millisecond})
		if i%2 == 1 {
			m.write(1, at, frame{data: vp8Frame(false, 50, 0, 0, byte(i)), span: 40 * time.Millisecond})
		}
	}
	if _, err := m.close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	_, blocks := parseWebM(t, path)
	last := map[uint64]int64{1: -20, 2: -1}
	audio := 0
	for _, b := range blocks {
		switch {
		case b.track == 1 && b.at < last[1]+20:
			t.Fatalf("audio frame at %d ms overlaps the one at %d ms", b.at, last[1])
		case b.track == 2 && b.at <= last[2]:
			t.Fatalf("video frame at %d ms after one at %d ms", b.at, last[2])
		}
		last[b.track] = b.at
		if b.track == 1 {
			audio++
		}
	}
	if audio < 95 || audio > 97 { // the 70 ms step costs 3 frames (or 4)
		t.Fatalf("%d audio frames of 100", audio)
	}
}
