package integration

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// TestActiveSpeaker: audio levels from ssrc-audio-level make alice the
// active speaker (the demo's "active-speaker" notification, also sent to
// a peer joining later); pausing her microphone makes nobody the speaker.
func TestActiveSpeaker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	bob := join(ctx, t, g, "as", "bob")
	alice := join(ctx, t, g, "as", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	mic, err := send.Produce(ctx, "audio", 0, false, map[string]any{"source": "mic"})
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go client.NewSource("audio", 0).Run(mic, stop) // -30 dBov
	speaker := func(raw json.RawMessage) bool {
		var n struct {
			PeerName *string `json:"peerName"`
		}
		return json.Unmarshal(raw, &n) == nil && n.PeerName != nil && *n.PeerName == "alice"
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "active-speaker", speaker); err != nil {
		t.Fatal(err)
	}
	carol := join(ctx, t, g, "as", "carol")
	if _, _, err := carol.WaitNotification(ctx, 0, "active-speaker", speaker); err != nil {
		t.Fatalf("late joiner not told: %v", err)
	}
	if err := mic.Pause(); err != nil {
		t.Fatal(err)
	}
	nobody := func(raw json.RawMessage) bool {
		var n map[string]any
		return json.Unmarshal(raw, &n) == nil && n["peerName"] == nil
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "active-speaker", nobody); err != nil {
		t.Fatal(err)
	}
}
