package record

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// checkVideoIntact checks that every video block of the file is a whole
// synthetic frame (1200 bytes of its frame number after the header) and
// returns how many there are.
func checkVideoIntact(t *testing.T, blocks []block) int {
	t.Helper()
	n := 0
	for _, b := range blocks {
		if b.track != 2 {
			continue
		}
		n++
		if len(b.data) != 1200 {
			t.Fatalf("video frame at %d ms: %d bytes, want 1200", b.at, len(b.data))
		}
		fill := b.data[len(b.data)-1]
		for i := 10; i < len(b.data); i++ {
			if b.data[i] != fill {
				t.Fatalf("video frame at %d ms: byte %d is %d, the frame is %d", b.at, i, b.data[i], fill)
			}
		}
	}
	return n
}

// TestRecordThroughLossyRelay records a synthetic Opus + VP8 peer for 4 s
// through a relay dropping 5 % of the packets toward the recorder: NACKs
// repair the video, the file has both tracks starting together and
// spanning the wall time, and every video frame in it is whole.
func TestRecordThroughLossyRelay(t *testing.T) {
	room := newRoom(t, "lossy")
	alice := joinPeer(t, room, "alice")
	a := addPlainProducer(t, alice, "audio", "opus", 1111)
	v := addPlainProducer(t, alice, "video", "VP8", 2222)
	startSynth(t, a, v)
	relay := newLossRelay(t, 0.05)
	dir := t.TempDir()

	started := time.Now()
	rec, err := Start(room, "alice", Options{Dir: dir, Via: relay.via, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(rec.File()) != dir || filepath.Ext(rec.File()) != ".webm" {
		t.Fatalf("file %s", rec.File())
	}
	time.Sleep(4 * time.Second)
	stopAt := time.Now()
	res := rec.Stop()
	wall := stopAt.Sub(started)
	if res.Err != nil || res.Reason != "stopped" {
		t.Fatalf("result %+v", res)
	}
	for _, ts := range res.Tracks {
		t.Logf("%s %s: %d packets (%d repaired, %d lost), %d NACKs, %d PLIs, %d frames (%d key, %d dropped), start %v",
			ts.Kind, ts.Codec, ts.Packets, ts.Repaired, ts.Lost, ts.NACKs, ts.PLIs, ts.Frames, ts.KeyFrames, ts.Dropped, ts.StartOffset)
	}
	fwd, dropped := relay.counts("video")
	t.Logf("relay: video %d forwarded, %d dropped; file %v for %v of wall time", fwd, dropped, res.Duration, wall)
	if dropped == 0 {
		t.Fatal("the relay dropped nothing")
	}
	vs := res.Tracks[1]
	if vs.Kind != "video" || vs.NACKs == 0 || vs.Repaired == 0 {
		t.Fatalf("video stats %+v: no NACK/retransmission", vs)
	}

	doc, blocks := parseWebM(t, rec.File())
	t.Logf("file starts %v after Start, ends %v before Stop", doc.Segment.Info.DateUTC.Sub(started),
		started.Add(wall).Sub(doc.Segment.Info.DateUTC.Add(res.Duration)))
	if len(doc.Segment.Tracks.TrackEntry) != 2 || doc.Segment.Cues == nil {
		t.Fatalf("tracks %+v, cues %v", doc.Segment.Tracks.TrackEntry, doc.Segment.Cues)
	}
	if d := time.Duration(doc.Segment.Info.Duration) * time.Millisecond; d != res.Duration || (wall-d).Abs() > 300*time.Millisecond {
		t.Fatalf("Duration %v (result %v), wall %v", d, res.Duration, wall)
	}
	fa, fv := firstOf(blocks, 1), firstOf(blocks, 2)
	if fa < 0 || fv < 0 || math.Abs(float64(fa-fv)) >= 100 {
		t.Fatalf("first audio at %d ms, first video at %d ms", fa, fv)
	}
	frames := checkVideoIntact(t, blocks)
	if want := int(res.Duration.Seconds() * 30); frames < want*9/10 {
		t.Fatalf("%d video frames for %v, want about %d", frames, res.Duration, want)
	}
	if res2 := rec.Stop(); res2.File != res.File || res2.Duration != res.Duration {
		t.Fatalf("second Stop: %+v", res2)
	}
}

// TestRecordEndsWhenThePeerLeaves: the peer closing ends the recording on
// its own, with a finalized file.
func TestRecordEndsWhenThePeerLeaves(t *testing.T) {
	room := newRoom(t, "leaves")
	alice := joinPeer(t, room, "alice")
	startSynth(t, addPlainProducer(t, alice, "audio", "opus", 1111), addPlainProducer(t, alice, "video", "VP8", 2222))
	stopped := make(chan Result, 1)
	rec, err := Start(room, "alice", Options{Dir: t.TempDir(), Logger: testLogger(t), OnStop: func(r Result) { stopped <- r }})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	alice.Close(nil)
	select {
	case <-rec.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the recording did not end after the peer left")
	}
	res := <-stopped
	if res.Reason != "producers closed" || res.Err != nil || res.Duration < time.Second {
		t.Fatalf("result %+v", res)
	}
	doc, blocks := parseWebM(t, rec.File())
	if doc.Segment.Info.Duration < 1000 || doc.Segment.Cues == nil || checkVideoIntact(t, blocks) == 0 {
		t.Fatalf("duration %v, cues %v", doc.Segment.Info.Duration, doc.Segment.Cues)
	}
}

// TestRecordFullDisk: a write error stops the recording with the error,
// through OnError and the result; the room goes on and can be recorded
// again.
func TestRecordFullDisk(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full")
	}
	room := newRoom(t, "full")
	alice := joinPeer(t, room, "alice")
	startSynth(t, addPlainProducer(t, alice, "audio", "opus", 1111), addPlainProducer(t, alice, "video", "VP8", 2222))
	errs := make(chan error, 2)
	time.Sleep(200 * time.Millisecond) // the source's goroutines and transports are up
	before := runtime.NumGoroutine()
	rec, err := Start(room, "alice", Options{Path: "/dev/full", Logger: testLogger(t), OnError: func(err error) { errs <- err }})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errs:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("OnError got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no write error reported")
	}
	select {
	case <-rec.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the recording did not stop after the write error")
	}
	if res := rec.Result(); res.Reason != "write error" || !errors.Is(res.Err, syscall.ENOSPC) {
		t.Fatalf("result %+v", res)
	}
	if room.Closed() || alice.Closed() || len(alice.Producers()) != 2 {
		t.Fatal("the write error harmed the room")
	}
	waitGoroutines(t, before)
	again, err := Start(room, "alice", Options{Dir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if res := again.Stop(); res.Err != nil || res.Duration < 500*time.Millisecond {
		t.Fatalf("second recording %+v", res)
	}
}

// waitGoroutines fails when, after a second, more goroutines run than
// before (the recording's and its streamers' must all have ended).
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before the recording:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestStartErrors(t *testing.T) {
	room := newRoom(t, "errors")
	if _, err := Start(room, "nobody", Options{Dir: t.TempDir()}); !errors.Is(err, ErrPeerNotFound) {
		t.Fatalf("unknown peer: %v", err)
	}
	bob := joinPeer(t, room, "bob")
	if _, err := Start(room, "bob", Options{Dir: t.TempDir()}); !errors.Is(err, ErrNoMedia) {
		t.Fatalf("no producer: %v", err)
	}
	addPlainProducer(t, bob, "video", "H264", 3333)
	addPlainProducer(t, bob, "video", "VP8", 3334)
	if _, err := Start(room, "bob", Options{Dir: t.TempDir()}); !errors.Is(err, ErrUnsupportedCodec) {
		t.Fatalf("H264 with VP8: %v", err)
	}
	carol := joinPeer(t, room, "carol")
	addPlainProducer(t, carol, "audio", "opus", 4444)
	if _, err := Start(room, "carol", Options{Dir: "/nonexistent/dir"}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing directory: %v", err)
	}
}
