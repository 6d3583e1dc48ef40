package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/internal/syncbuf"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// TestShortLoadRun: a small load run against a real gosoup in this
// process: every peer joins, nothing is lost on loopback, and the summary
// (including the server's own /proc figures) is sane.
func TestShortLoadRun(t *testing.T) {
	_, url := startTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sum, err := run(ctx, config{
		url: url, rooms: 2, publishers: 2, subscribers: 3,
		audio: true, video: true, bitrate: 300_000, duration: 3 * time.Second, rampUp: time.Second, pid: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	printTable(io.Discard, sum)
	// Per room: 2 publishers each receive the other's 2 tracks, 3
	// subscribers receive 4 tracks each.
	if sum.Peers != 10 || sum.Errors != 0 || sum.Consumers != 2*(2*2+3*4) {
		t.Fatalf("peers %d errors %d consumers %d: %v", sum.Peers, sum.Errors, sum.Consumers, sum.FirstErrors)
	}
	if sum.PacketsLost != 0 || sum.PacketsReceived == 0 || sum.JoinLatencyMs["p99"] <= 0 {
		t.Fatalf("summary %+v", sum)
	}
	if sum.Server == nil || sum.Server.CPUSeconds <= 0 || sum.Server.ForwardedPacketsPerCPUSec <= 0 || sum.Server.RSSMiB <= 0 {
		t.Fatalf("server figures %+v", sum.Server)
	}
}

// startTestServer runs a gosoup (SFU and signaling) in this process on
// loopback until the test ends, and returns it with its WebSocket URL.
func startTestServer(t *testing.T) (*sfu.Server, string) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := sfu.NewServer(sfu.Config{RTC: transport.Config{ListenIP: "127.0.0.1"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServer(srv, log)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() { hs.Close(); sig.Close(); srv.Close() })
	return srv, "ws://" + strings.TrimPrefix(hs.URL, "http://")
}

// TestMeetingListen: with --meeting-listen every meeting peer receives what
// it is offered, and a sample reports the consumers and what each peer
// received.
func TestMeetingListen(t *testing.T) {
	_, url := startTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in, feed := io.Pipe()
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- runMeeting(ctx, config{url: url, bitrate: 200_000}, &meetingConfig{room: "m", peers: 4, video: 1, concurrency: 4, listen: true}, in, out)
	}()
	waitLine := func(event string) meetingEvent {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			for _, line := range strings.Split(out.String(), "\n") {
				var e meetingEvent
				if json.Unmarshal([]byte(line), &e) == nil && e.Event == event {
					return e
				}
			}
		}
		t.Fatalf("no %q event in %q", event, out.String())
		return meetingEvent{}
	}
	if e := waitLine("ready"); e.Joined != 4 {
		t.Fatalf("ready: %+v", e)
	}
	time.Sleep(2 * time.Second)
	if _, err := io.WriteString(feed, "sample\n"); err != nil {
		t.Fatal(err)
	}
	e := waitLine("sample")
	// Each peer consumes the 3 others' microphones; 3 of them pion-000's camera.
	if e.Consumers != 4*3+3 || e.PerPeerPacketsPerS < 100 || e.PerPeerBitsPerS <= 0 {
		t.Fatalf("sample: %+v", e)
	}
	feed.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
