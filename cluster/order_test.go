package cluster

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// startPlainNode starts gosoup without a cluster.
func startPlainNode(t *testing.T) *node {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := sfu.NewServer(sfu.Config{RTC: transport.Config{ListenIP: "127.0.0.1", AnnouncedIP: "127.0.0.1"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServer(srv, log)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() {
		hs.Close()
		sig.Close()
		srv.Close()
	})
	return &node{id: "single", srv: srv, URL: "ws://" + strings.TrimPrefix(hs.URL, "http://")}
}

// twoPeerScenario runs the demo's two-peer session with alice and carol
// on a and bob on b, and returns bob's mediasoup notifications (methods)
// and the appData of his consumers.
func twoPeerScenario(ctx context.Context, t *testing.T, a, b *node) ([]string, []string) {
	alice := joinPeer(ctx, t, a, "order", "alice")
	bob := joinPeer(ctx, t, b, "order", "bob")
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	mic, err := send.Produce(ctx, "audio", 0, false, map[string]any{"source": "mic"})
	if err != nil {
		t.Fatal(err)
	}
	cam, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	var appData []string
	from := 0
	for range 2 {
		n, next, err := bob.WaitNotification(ctx, from, "newConsumer", nil)
		if err != nil {
			t.Fatalf("bob: newConsumer: %v", err)
		}
		from = next
		var cd client.ConsumerData
		if err := json.Unmarshal(n.Data, &cd); err != nil {
			t.Fatal(err)
		}
		appData = append(appData, string(cd.AppData))
		if _, err := recv.Consume(ctx, cd); err != nil {
			t.Fatal(err)
		}
	}
	carol := joinPeer(ctx, t, a, "order", "carol")
	if _, _, err := bob.WaitNotification(ctx, 0, "newPeer", matchName("carol")); err != nil {
		t.Fatal(err)
	}
	// Back to back, as fast as the client sends them.
	for _, step := range []func() error{cam.Pause, cam.Resume, cam.Pause, cam.Resume, mic.Close, cam.Close} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// Both closed before the leave: a producer still open when its peer
	// leaves may get a consumerClosed or not, on one server too (the
	// client's DTLS close alert can overtake its leave).
	from = 0
	for range 2 {
		if _, from, err = bob.WaitNotification(ctx, from, "consumerClosed", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Notify("leave", nil); err != nil {
		t.Fatal(err)
	}
	if err := carol.Notify("leave", nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "carol"} {
		if _, _, err := bob.WaitNotification(ctx, 0, "peerClosed", matchName(name)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // anything extra would show
	var methods []string
	for _, n := range bob.Notifications() {
		if n.Method != "active-speaker" && !strings.HasSuffix(n.Method, "Stats") {
			methods = append(methods, n.Method)
		}
	}
	return methods, appData
}

// TestSameNotificationsAsOneNode: bob, on another node than alice and
// carol, gets the same notifications in the same order as on one node.
func TestSameNotificationsAsOneNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	single := startPlainNode(t)
	want, wantApp := twoPeerScenario(ctx, t, single, single)

	r := startRedis(t)
	n1, n2 := startNode(t, r, "n1", "order:"), startNode(t, r, "n2", "order:")
	got, gotApp := twoPeerScenario(ctx, t, n1, n2)
	t.Logf("one node: %v", want)
	if !slices.Equal(got, want) {
		t.Errorf("bob's notifications across nodes:\n got %v\nwant %v", got, want)
	}
	if !slices.Equal(gotApp, wantApp) {
		t.Errorf("consumers' appData across nodes: got %v, want %v", gotApp, wantApp)
	}
}
