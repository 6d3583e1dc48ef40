package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// TestForwardRewritesAndKeepsSequence: alice sends VP8, bob receives it with
// his consumer's SSRC and the room payload type, sequence numbers without
// gaps, also across pause and resume; close and leave reach bob.
func TestForwardRewritesAndKeepsSequence(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "r1", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 10*time.Millisecond, 20)
	defer src.Stop()

	bob := join(ctx, t, g, "r1", "bob")
	if len(bob.JoinPeers) != 1 || bob.JoinPeers[0].Name != "alice" || len(bob.JoinPeers[0].Consumers) != 1 {
		t.Fatalf("join peers = %+v", bob.JoinPeers)
	}
	cd := bob.JoinPeers[0].Consumers[0]
	if cd.Kind != "video" || cd.PeerName != "alice" || cd.RTPParameters.Encodings[0].SSRC == prod.SSRC {
		t.Fatalf("consumer data = %+v", cd)
	}
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	var en struct {
		Paused           bool    `json:"paused"`
		PreferredProfile string  `json:"preferredProfile"`
		EffectiveProfile *string `json:"effectiveProfile"`
	}
	mustJSON(t, cons.Enable, &en)
	if en.Paused || en.PreferredProfile != "default" {
		t.Fatalf("enableConsumer = %s", cons.Enable)
	}
	wantSSRC := cd.RTPParameters.Encodings[0].SSRC
	wantPT := uint8(cd.RTPParameters.Codecs[0].PayloadType)

	var lastSeq uint16
	var lastTs uint32
	readN := func(n int, continuing bool) {
		t.Helper()
		for i := 0; i < n; i++ {
			pkt, err := cons.ReadRTP(time.Now().Add(10 * time.Second))
			if err != nil {
				t.Fatalf("read packet %d: %v", i, err)
			}
			if pkt.SSRC != wantSSRC || pkt.PayloadType != wantPT {
				t.Fatalf("packet ssrc=%d pt=%d, want ssrc=%d pt=%d", pkt.SSRC, pkt.PayloadType, wantSSRC, wantPT)
			}
			if (i > 0 || continuing) && pkt.SequenceNumber != lastSeq+1 {
				t.Fatalf("sequence gap: %d after %d", pkt.SequenceNumber, lastSeq)
			}
			if (i > 0 || continuing) && int32(pkt.Timestamp-lastTs) <= 0 {
				t.Fatalf("timestamp did not advance: %d after %d", pkt.Timestamp, lastTs)
			}
			lastSeq, lastTs = pkt.SequenceNumber, pkt.Timestamp
		}
	}
	readN(100, false)
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerEffectiveProfileChanged", nil); err != nil {
		t.Fatal(err)
	}

	byID := func(id uint32) func(json.RawMessage) bool {
		return func(raw json.RawMessage) bool {
			var n struct {
				ID uint32 `json:"id"`
			}
			return json.Unmarshal(raw, &n) == nil && n.ID == id
		}
	}
	if err := prod.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerPaused", byID(cd.ID)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	drainUntilQuiet(t, cons, &lastSeq, &lastTs)
	if err := prod.Resume(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerResumed", byID(cd.ID)); err != nil {
		t.Fatal(err)
	}
	readN(50, true)

	if err := prod.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerClosed", byID(cd.ID)); err != nil {
		t.Fatal(err)
	}
	if err := alice.Leave(); err != nil {
		t.Fatal(err)
	}
	n, _, err := bob.WaitNotification(ctx, 0, "peerClosed", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		Name string `json:"name"`
	}
	mustJSON(t, n.Data, &pc)
	if pc.Name != "alice" {
		t.Fatalf("peerClosed = %s", n.Data)
	}
}

// drainUntilQuiet reads what was in flight when the producer paused,
// keeping the sequence bookkeeping.
func drainUntilQuiet(t *testing.T, c *client.Consumer, lastSeq *uint16, lastTs *uint32) {
	t.Helper()
	for {
		pkt, err := c.ReadRTP(time.Now().Add(200 * time.Millisecond))
		if err != nil {
			return
		}
		if pkt.SequenceNumber != *lastSeq+1 {
			t.Fatalf("sequence gap while pausing: %d after %d", pkt.SequenceNumber, *lastSeq)
		}
		*lastSeq, *lastTs = pkt.SequenceNumber, pkt.Timestamp
	}
}

// TestNewConsumerForLateProducer: bob is in the room first; alice's new
// producer reaches him as newConsumer and its media flows.
func TestNewConsumerForLateProducer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	bob := join(ctx, t, g, "r2", "bob")
	alice := join(ctx, t, g, "r2", "alice")
	if _, _, err := bob.WaitNotification(ctx, 0, "newPeer", nil); err != nil {
		t.Fatal(err)
	}
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 10*time.Millisecond, 10)
	defer src.Stop()
	n, _, err := bob.WaitNotification(ctx, 0, "newConsumer", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cd client.ConsumerData
	mustJSON(t, n.Data, &cd)
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		pkt, err := cons.ReadRTP(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		if pkt.SSRC != cd.RTPParameters.Encodings[0].SSRC {
			t.Fatalf("ssrc %d", pkt.SSRC)
		}
	}
}

// TestConsumerPauseResume: the receiver pauses its consumer (nothing
// arrives, no notification back), resumes it (media continues with the
// next sequence number).
func TestConsumerPauseResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	v := startVideoPair(ctx, t, g, "cp")
	bob, cd, cons := v.bob, v.cd, v.cons
	var last uint16
	for i := 0; i < 20; i++ {
		pkt, err := cons.ReadRTP(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		last = pkt.SequenceNumber
	}
	if err := bob.Notify("pauseConsumer", map[string]any{"id": cd.ID}); err != nil {
		t.Fatal(err)
	}
	for { // drain what was in flight
		pkt, err := cons.ReadRTP(time.Now().Add(300 * time.Millisecond))
		if err != nil {
			break
		}
		last = pkt.SequenceNumber
	}
	if _, err := cons.ReadRTP(time.Now().Add(500 * time.Millisecond)); err == nil {
		t.Fatal("media still flowing to a paused consumer")
	}
	if err := bob.Notify("resumeConsumer", map[string]any{"id": cd.ID}); err != nil {
		t.Fatal(err)
	}
	pkt, err := cons.ReadRTP(time.Now().Add(10 * time.Second))
	if err != nil {
		t.Fatalf("no media after resumeConsumer: %v", err)
	}
	if pkt.SequenceNumber != last+1 {
		t.Fatalf("sequence after resume %d, want %d", pkt.SequenceNumber, last+1)
	}
	for _, n := range bob.Notifications() {
		if n.Method == "consumerPaused" || n.Method == "consumerResumed" {
			t.Fatalf("client pause echoed back: %s", n.Method)
		}
	}
}
