package integration

import (
	"context"
	"testing"
	"time"
)

// TestDemoAppMethods: the mediasoup-demo v2 protoo methods.
func TestDemoAppMethods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "d", "alice")
	bob := join(ctx, t, g, "d", "bob")
	if _, err := alice.RawRequest(ctx, "change-display-name", map[string]any{"displayName": "Alice L."}); err != nil {
		t.Fatal(err)
	}
	n, _, err := bob.WaitNotification(ctx, 0, "display-name-changed", nil)
	if err != nil {
		t.Fatal(err)
	}
	var dn map[string]string
	mustJSON(t, n.Data, &dn)
	if dn["peerName"] != "alice" || dn["displayName"] != "Alice L." || dn["oldDisplayName"] != "alice" {
		t.Fatalf("display-name-changed = %v", dn)
	}
	for _, note := range alice.Notifications() {
		if note.Method == "display-name-changed" {
			t.Fatal("the renamed peer got its own display-name-changed")
		}
	}
	// A later joiner sees the new name.
	carol := join(ctx, t, g, "d", "carol")
	for _, p := range carol.JoinPeers {
		if p.Name == "alice" && string(p.AppData) != `{"displayName":"Alice L."}` {
			t.Fatalf("alice appData = %s", p.AppData)
		}
	}

	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := send.Produce(ctx, "video", 0, false, nil); err != nil {
		t.Fatal(err)
	}
	nc, _, err := bob.WaitNotification(ctx, 0, "newConsumer", nil)
	if err != nil {
		t.Fatal(err)
	}
	var cd struct {
		ID uint32 `json:"id"`
	}
	mustJSON(t, nc.Data, &cd)
	if _, err := bob.RawRequest(ctx, "change-consumer-preferred-profile", map[string]any{"consumerId": cd.ID, "profile": "low"}); err != nil {
		t.Fatal(err)
	}
	n, _, err = bob.WaitNotification(ctx, 0, "consumerPreferredProfileSet", nil)
	if err != nil {
		t.Fatal(err)
	}
	var ps map[string]any
	mustJSON(t, n.Data, &ps)
	if ps["profile"] != "low" || ps["id"] != float64(cd.ID) {
		t.Fatalf("consumerPreferredProfileSet = %v", ps)
	}
	if _, err := bob.RawRequest(ctx, "request-consumer-keyframe", map[string]any{"consumerId": cd.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.RawRequest(ctx, "request-consumer-keyframe", map[string]any{"consumerId": 1}); !isErr(err, 404, "consumer not found") {
		t.Fatalf("unknown consumer: %v", err)
	}
	if _, err := bob.RawRequest(ctx, "change-consumer-preferred-profile", map[string]any{"consumerId": cd.ID, "profile": "ultra"}); !isErr(err, 500, `TypeError: invalid profile "ultra"`) {
		t.Fatalf("bad profile: %v", err)
	}
	if _, err := bob.RawRequest(ctx, "change-display-name", map[string]any{"displayName": 5}); !isErr(err, 400, "displayName must be a non-empty string") {
		t.Fatalf("bad name: %v", err)
	}
}
