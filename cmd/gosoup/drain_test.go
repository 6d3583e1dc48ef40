package main

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeSignaling stands in for the signaling server.
type fakeSignaling struct {
	sessions atomic.Int32
	drained  atomic.Bool
	closed   atomic.Bool
}

func (f *fakeSignaling) Drain()        { f.drained.Store(true) }
func (f *fakeSignaling) Sessions() int { return int(f.sessions.Load()) }
func (f *fakeSignaling) Close()        { f.closed.Store(true); f.sessions.Store(0) }

// running is a shutdown under test, serving the health checks on loopback.
type running struct {
	sig     *fakeSignaling
	url     string
	signals chan os.Signal
	done    chan error
	sfu     atomic.Bool
}

func startShutdown(t *testing.T, sessions int, drainTimeout time.Duration) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{sig: &fakeSignaling{}, url: "http://" + ln.Addr().String(), signals: make(chan os.Signal, 2), done: make(chan error, 1)}
	r.sig.sessions.Store(int32(sessions))
	h := &health{}
	mux := http.NewServeMux()
	h.register(mux)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	sd := &shutdown{log: slog.New(slog.DiscardHandler), health: h, sig: r.sig, http: hs,
		closeSFU: func() { r.sfu.Store(true) }, drainTimeout: drainTimeout}
	go func() { r.done <- sd.wait(r.signals, serveErr) }()
	t.Cleanup(func() { hs.Close() })
	return r
}

func (r *running) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(r.url + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (r *running) result(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(within):
		t.Fatalf("still running after %v", within)
		return nil
	}
}

func TestDrainUntilSessionsEnd(t *testing.T) {
	r := startShutdown(t, 2, time.Minute)
	for _, p := range []string{"/healthz", "/healthz/live", "/healthz/ready"} {
		if code, body := r.get(t, p); code != 200 || body != "ok\n" {
			t.Fatalf("%s before: %d %q", p, code, body)
		}
	}
	r.signals <- syscall.SIGTERM
	deadline := time.Now().Add(2 * time.Second)
	for !r.sig.drained.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !r.sig.drained.Load() {
		t.Fatal("Drain not called")
	}
	if code, body := r.get(t, "/healthz/ready"); code != 503 || body != "draining\n" {
		t.Fatalf("ready while draining: %d %q", code, body)
	}
	for _, p := range []string{"/healthz", "/healthz/live"} {
		if code, _ := r.get(t, p); code != 200 {
			t.Fatalf("%s while draining: %d", p, code)
		}
	}
	time.Sleep(3 * drainPoll)
	select {
	case err := <-r.done:
		t.Fatalf("stopped with open sessions: %v", err)
	default:
	}
	r.sig.sessions.Store(0)
	if err := r.result(t, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if !r.sig.closed.Load() || !r.sfu.Load() {
		t.Fatalf("closed: signaling %v, sfu %v", r.sig.closed.Load(), r.sfu.Load())
	}
	if _, err := http.Get(r.url + "/healthz"); err == nil {
		t.Fatal("HTTP still served after the shutdown")
	}
}

func TestDrainTimeoutClosesSessions(t *testing.T) {
	r := startShutdown(t, 1, 300*time.Millisecond)
	start := time.Now()
	r.signals <- syscall.SIGINT
	if err := r.result(t, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("stopped after %v, before the drain timeout", d)
	}
	if !r.sig.closed.Load() || !r.sfu.Load() {
		t.Fatal("sessions or SFU not closed")
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	r := startShutdown(t, 1, time.Minute)
	r.signals <- syscall.SIGTERM
	time.Sleep(100 * time.Millisecond)
	r.signals <- syscall.SIGTERM
	if err := r.result(t, time.Second); !errors.Is(err, errInterrupted) {
		t.Fatalf("err = %v", err)
	}
	if r.sig.closed.Load() {
		t.Fatal("sessions closed gracefully despite the second signal")
	}
}

func TestServeErrorStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	sig := &fakeSignaling{}
	var sfuClosed sync.WaitGroup
	sfuClosed.Add(1)
	hs := &http.Server{ReadHeaderTimeout: time.Second}
	serveErr := make(chan error, 1)
	serveErr <- hs.Serve(ln) // fails: closed listener
	sd := &shutdown{log: slog.New(slog.DiscardHandler), health: &health{}, sig: sig, http: hs,
		closeSFU: sfuClosed.Done, drainTimeout: time.Minute}
	if err := sd.wait(make(chan os.Signal), serveErr); err == nil {
		t.Fatal("no error")
	}
	sfuClosed.Wait()
	if !sig.closed.Load() {
		t.Fatal("signaling not closed")
	}
}
