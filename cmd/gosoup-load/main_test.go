package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

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
