package sfu

import (
	"testing"
	"time"
)

// TestKeyFrameRequestsCoalesce: many consumers asking within the retry
// timeout make one request upstream; a key frame answers it, so the next
// wish is sent at once.
func TestKeyFrameRequestsCoalesce(t *testing.T) {
	var k keyFrameRequests
	at := func(ms int) int64 { return zeroTime.Add(time.Duration(ms) * time.Millisecond).UnixNano() }
	sent := 0
	for i := 0; i < 50; i++ { // 50 consumers' PLIs over 490 ms
		if k.request(at(i * 10)) {
			sent++
		}
	}
	if sent != 1 {
		t.Fatalf("%d requests upstream for 50 consumers within 500 ms", sent)
	}
	if k.onPacket(true, at(495)) {
		t.Fatal("a retry on a key frame")
	}
	if !k.request(at(496)) {
		t.Fatal("a wish after the key frame was not sent")
	}
	if k.request(at(995)) || !k.request(at(996)) {
		t.Fatal("an unanswered request not repeated after 500 ms on demand")
	}
}

// TestKeyFrameRequestsRetry: without a key frame, the stream's packets
// send the request again every 500 ms, three times, then stop; a new wish
// starts again.
func TestKeyFrameRequestsRetry(t *testing.T) {
	var k keyFrameRequests
	now := zeroTime
	if !k.request(now.UnixNano()) {
		t.Fatal("first request not sent")
	}
	var retries []time.Duration
	for ms := 10; ms <= 5000; ms += 10 { // a packet every 10 ms, no key frame
		if k.onPacket(false, now.Add(time.Duration(ms)*time.Millisecond).UnixNano()) {
			retries = append(retries, time.Duration(ms)*time.Millisecond)
		}
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 1500 * time.Millisecond}
	if len(retries) != len(want) {
		t.Fatalf("retries at %v, want %v", retries, want)
	}
	for i := range want {
		if retries[i] != want[i] {
			t.Fatalf("retries at %v, want %v", retries, want)
		}
	}
	if !k.request(now.Add(5 * time.Second).UnixNano()) {
		t.Fatal("a new wish after giving up was not sent")
	}
	k.onPacket(true, now.Add(5100*time.Millisecond).UnixNano())
	for ms := 5110; ms < 7000; ms += 10 {
		if k.onPacket(false, now.Add(time.Duration(ms)*time.Millisecond).UnixNano()) {
			t.Fatal("a retry after the key frame came")
		}
	}
}
