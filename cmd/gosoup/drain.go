package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// Bounds of the shutdown steps.
const (
	drainPoll       = 200 * time.Millisecond
	shutdownTimeout = 5 * time.Second
)

// errInterrupted is returned when a second signal arrives during the
// drain: the process exits at once, with status 1.
var errInterrupted = errors.New("second signal during the drain: exiting at once")

// health serves the health checks: /healthz and /healthz/live always
// answer 200 "ok"; /healthz/ready answers 200 "ok" until the server
// drains, then 503 "draining" (so a load balancer stops sending users).
type health struct {
	draining atomic.Bool
}

func (h *health) register(mux *http.ServeMux) {
	ok := func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") }
	mux.HandleFunc("/healthz", ok)
	mux.HandleFunc("/healthz/live", ok)
	mux.HandleFunc("/healthz/ready", func(w http.ResponseWriter, _ *http.Request) {
		if h.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
}

// drainable is what the shutdown needs of the signaling server.
type drainable interface {
	// Drain refuses new sessions and joins; open sessions go on.
	Drain()
	// Sessions returns the number of open sessions.
	Sessions() int
	// Close notifies every joined peer that it is closed and ends the
	// sessions.
	Close()
}

// shutdown stops a running server gracefully.
type shutdown struct {
	log          *slog.Logger
	health       *health
	sig          drainable
	http         *http.Server
	closeSFU     func()
	drainTimeout time.Duration
}

// wait serves until the HTTP server fails (its error is returned, after
// closing everything) or a signal arrives on signals. Then it drains:
// readiness turns 503, new sessions are refused and open ones go on until
// they end or drainTimeout passes; then the remaining peers are closed,
// the HTTP server shut down and the SFU closed, and wait returns nil. A
// second signal during the drain makes it return errInterrupted at once.
func (s *shutdown) wait(signals <-chan os.Signal, serveErr <-chan error) error {
	select {
	case err := <-serveErr:
		s.log.Error("HTTP server failed", "err", err)
		s.sig.Close()
		s.closeSFU()
		return fmt.Errorf("http server: %w", err)
	case sg := <-signals:
		s.log.Info("signal received: draining (send it again to exit at once)",
			"signal", sg.String(), "sessions", s.sig.Sessions(), "drainTimeout", s.drainTimeout)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case sg := <-signals:
			s.log.Error("second signal during the drain: exiting now", "signal", sg.String(), "sessions", s.sig.Sessions())
			cancel(errInterrupted)
		case <-ctx.Done():
		}
	}()
	return s.drain(ctx)
}

// drain runs the shutdown steps; ctx is cancelled by a second signal.
func (s *shutdown) drain(ctx context.Context) error {
	s.health.draining.Store(true)
	s.sig.Drain()
	if err := s.waitSessions(ctx); err != nil {
		return err
	}
	if n := s.sig.Sessions(); n > 0 {
		s.log.Info("drain timeout: closing the remaining sessions", "sessions", n)
	}
	if err := bounded(ctx, s.log, "closing signaling sessions", s.sig.Close); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	err := s.http.Shutdown(sctx)
	cancel()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err != nil {
		s.log.Warn("HTTP shutdown incomplete; closing connections", "err", err)
		_ = s.http.Close()
	}
	if err := bounded(ctx, s.log, "closing the SFU", s.closeSFU); err != nil {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// waitSessions returns once no session is open or drainTimeout passed; it
// returns the cause when ctx is cancelled first.
func (s *shutdown) waitSessions(ctx context.Context) error {
	deadline := time.NewTimer(s.drainTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for s.sig.Sessions() > 0 {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-deadline.C:
			return nil
		case <-tick.C:
		}
	}
	s.log.Info("drained: no session left")
	return nil
}

// bounded runs f, waiting for it at most shutdownTimeout (then it logs
// and goes on) or until ctx is cancelled (then it returns the cause).
func bounded(ctx context.Context, log *slog.Logger, what string, f func()) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	t := time.NewTimer(shutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		log.Warn("shutdown step still running; going on", "step", what, "after", shutdownTimeout)
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
