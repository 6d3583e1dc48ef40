package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/signaling"
)

// TestTokenGrants joins pion peers with tokens of different grants and
// checks that each request the grant forbids is answered with 403 and its
// reason, and that what it allows works.
func TestTokenGrants(t *testing.T) {
	keys, err := auth.NewKeySet("integration-grants-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	g := startGosoupWith(t, signaling.Options{Authorize: signaling.TokenAuthorizer(keys)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	joinAs := func(name string, grants *auth.Grants) *client.Peer {
		t.Helper()
		tok, err := keys.Mint(auth.Claims{Room: "grants", Peer: name, Grants: grants, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		p, err := client.Connect(ctx, g.URL+"/?token="+tok, "grants", name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		if err := p.Join(ctx, map[string]any{}, false); err != nil {
			t.Fatal(err)
		}
		return p
	}
	refused := func(err error, reason string) {
		t.Helper()
		var re *client.RequestError
		if !errors.As(err, &re) || re.Code != 403 || re.Reason != reason {
			t.Fatalf("error %v, want 403 %q", err, reason)
		}
	}

	viewer := joinAs("viewer", &auth.Grants{Subscribe: true})
	send, err := viewer.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	_, err = send.Produce(ctx, "audio", 0, false, nil)
	refused(err, "token does not allow publishing audio")
	if _, err := viewer.CreateTransport(ctx, "recv"); err != nil {
		t.Fatalf("a subscriber's recv transport: %v", err)
	}

	speaker := joinAs("speaker", &auth.Grants{Publish: []string{"audio"}})
	send, err = speaker.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	_, err = send.Produce(ctx, "video", 0, false, nil)
	refused(err, "token does not allow publishing video")
	if _, err := send.Produce(ctx, "audio", 0, false, nil); err != nil {
		t.Fatalf("audio with an audio grant: %v", err)
	}
	_, err = speaker.CreateTransport(ctx, "recv")
	refused(err, "token does not allow subscribing")

	// A token minted before grants existed (no grants claim) does everything
	// a participant did.
	participant := joinAs("participant", nil)
	send, err = participant.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"audio", "video"} {
		if _, err := send.Produce(ctx, kind, 0, false, nil); err != nil {
			t.Fatalf("participant %s: %v", kind, err)
		}
	}
	if _, err := participant.CreateTransport(ctx, "recv"); err != nil {
		t.Fatal(err)
	}
	room, _ := g.SFU.Room("grants")
	n := 0
	for _, p := range room.Peers() {
		n += len(p.Producers())
	}
	if n != 3 {
		t.Fatalf("room has %d producers, want 3 (speaker's audio, participant's two)", n)
	}
}
