package record

import (
	"testing"
	"time"
)

// ntpOf is the NTP timestamp of t (as the SFU writes it).
func ntpOf(t time.Time) uint64 {
	secs := uint64(t.Unix()) + ntpEpochOffset
	frac := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return secs<<32 | frac
}

func near(a, b time.Time, tol time.Duration) bool {
	d := a.Sub(b)
	return d <= tol && d >= -tol
}

func TestNTPRoundTrip(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	if got := ntpToTime(ntpOf(at)); !near(got, at, time.Microsecond) {
		t.Fatalf("ntpToTime(ntpOf(%v)) = %v", at, got)
	}
}

func TestMediaClockExtendsAcrossTheWrap(t *testing.T) {
	c := newMediaClock(90000)
	a := c.extend(0xffffff00)
	b := c.extend(0x00000100) // wrapped: 0x200 later
	if b-a != 0x200 {
		t.Fatalf("extended %d then %d: delta %d", a, b, b-a)
	}
	if back := c.extend(0xfffffff0); back >= b || b-back != 0x110 {
		t.Fatalf("a slightly older timestamp extends to %d (last %d)", back, b)
	}
}

// TestSenderReportsSyncAudioAndVideo: audio (48 kHz) and video (90 kHz)
// with random starting timestamps, each anchored by its own sender report
// sent at different times, land on one timeline.
func TestSenderReportsSyncAudioAndVideo(t *testing.T) {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	audioTs0, videoTs0 := uint32(3_000_000_000), uint32(123)
	// A capture at base+d has audio timestamp audioTs0+d*48k, video videoTs0+d*90k.
	audioTs := func(d time.Duration) uint32 { return audioTs0 + uint32(d.Seconds()*48000) }
	videoTs := func(d time.Duration) uint32 { return videoTs0 + uint32(d.Seconds()*90000) }

	audio, video := newMediaClock(48000), newMediaClock(90000)
	audio.extend(audioTs(0))
	video.extend(videoTs(100 * time.Millisecond))
	audio.onSenderReport(ntpOf(base.Add(700*time.Millisecond)), audioTs(700*time.Millisecond))
	video.onSenderReport(ntpOf(base.Add(1300*time.Millisecond)), videoTs(1300*time.Millisecond))
	if !audio.anchored || !video.anchored {
		t.Fatal("the first sender reports did not anchor the clocks")
	}
	for _, d := range []time.Duration{100 * time.Millisecond, 2 * time.Second, 90 * time.Second} {
		wa := audio.wallOf(audio.extend(audioTs(d)))
		wv := video.wallOf(video.extend(videoTs(d)))
		if !near(wa, base.Add(d), time.Millisecond) || !near(wv, base.Add(d), time.Millisecond) {
			t.Fatalf("capture at +%v: audio at %v, video at %v", d, wa.Sub(base), wv.Sub(base))
		}
	}
	// A later report within 20 ms of the mapping changes nothing; one
	// 100 ms off moves the mapping by 5 ms; one a few seconds off (a
	// discontinuity) re-anchors.
	wallAt5s := func() time.Duration { return audio.wallOf(audio.extend(audioTs(5 * time.Second))).Sub(base) }
	if audio.onSenderReport(ntpOf(base.Add(5*time.Second+20*time.Millisecond)), audioTs(5*time.Second)) || (wallAt5s()-5*time.Second).Abs() > time.Millisecond {
		t.Fatalf("a report 20 ms off moved the clock: %v", wallAt5s())
	}
	if audio.onSenderReport(ntpOf(base.Add(5*time.Second+100*time.Millisecond)), audioTs(5*time.Second)) || (wallAt5s()-5*time.Second-slewStep).Abs() > time.Millisecond {
		t.Fatalf("after a report 100 ms off: %v, want a step of %v", wallAt5s(), slewStep)
	}
	if audio.onSenderReport(ntpOf(base.Add(5*time.Second-100*time.Millisecond)), audioTs(5*time.Second)) || (wallAt5s()-5*time.Second).Abs() > time.Millisecond {
		t.Fatalf("after a report 100 ms early: %v", wallAt5s())
	}
	if !audio.onSenderReport(ntpOf(base.Add(9*time.Second)), audioTs(5*time.Second)) {
		t.Fatal("a report 4 s off did not re-anchor the clock")
	}
	if w := audio.wallOf(audio.extend(audioTs(6 * time.Second))); !near(w, base.Add(10*time.Second), time.Millisecond) {
		t.Fatalf("after re-anchoring: %v", w.Sub(base))
	}
}

func TestMediaClockAnchorsAtArrivalWithoutReports(t *testing.T) {
	c := newMediaClock(90000)
	at := time.Now()
	ext := c.extend(5000)
	c.anchorAtArrival(ext, at)
	if w := c.wallOf(c.extend(5000 + 45000)); !near(w, at.Add(500*time.Millisecond), time.Microsecond) {
		t.Fatalf("half a second of video later: %v", w.Sub(at))
	}
	// A sender report takes over from the arrival anchor.
	c.onSenderReport(ntpOf(at.Add(time.Second)), 5000)
	if w := c.wallOf(c.extend(5000)); !c.fromReport || !near(w, at.Add(time.Second), time.Microsecond) {
		t.Fatalf("a sender report did not replace the arrival anchor: %v", w.Sub(at))
	}
}
