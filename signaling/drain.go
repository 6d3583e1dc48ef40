package signaling

import (
	"time"

	"github.com/gorilla/websocket"
)

const (
	// closeFlushTimeout bounds how long Close spends writing each
	// session's pending messages (its "closed" notification) before the
	// close frame.
	closeFlushTimeout = time.Second
	// goodbyeGrace is what the close frame may take after that.
	goodbyeGrace = 250 * time.Millisecond
)

// Drain stops admitting: from now on a new WebSocket is refused with HTTP
// 503 "server is draining" (before any room is touched) and a mediasoup
// join on an open socket that has not joined yet is answered with the
// error "server is draining: join refused". Peers already joined go on as
// before, media included; they leave when they want, or at Close. Use it
// before a restart: wait until Sessions reaches 0 (or a deadline), then
// Close. Drain cannot be undone; calling it again does nothing.
func (s *Server) Drain() {
	if s.draining.CompareAndSwap(false, true) {
		s.log.Info("signaling draining: refusing new connections and joins", "sessions", s.Sessions())
	}
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

// Sessions returns the number of open signaling sessions (WebSockets),
// joined or not, counting those being upgraded.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.all) + int(s.upgrading.Load())
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close ends every session from the server side and waits for them:
// each joined peer is closed (its client receives the mediasoup "closed"
// notification, written before the socket closes, within about a second),
// then each WebSocket gets the protoo close frame and is closed, and rooms
// left without sessions close. New connections are refused from the start
// of Close. Close returns within a few seconds even with unresponsive
// clients, leaves no session goroutine behind, and is safe to call twice.
// It does not close the sfu.Server.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return
	}
	s.closed = true
	sessions := make([]*session, 0, len(s.all))
	for sess := range s.all {
		sessions = append(sessions, sess)
	}
	s.mu.Unlock()

	// First stop the flood: a closing peer's notifications about the
	// others (peerClosed, …) are moot, and in a large room they would
	// overflow the queues the "closed" notifications must go through.
	for _, sess := range sessions {
		sess.shuttingDown.Store(true)
	}
	for _, sess := range sessions {
		if p := sess.mediaPeer(); p != nil {
			p.Close(nil) // queues "closed" to the session
		}
	}
	deadline := time.Now().Add(closeFlushTimeout)
	for _, sess := range sessions {
		sess.shutdown(deadline)
	}
	s.cancel()
	s.wg.Wait()
	s.log.Info("signaling closed", "sessions", len(sessions))
}

// shutdown ends the session like close, but its writer first writes the
// messages already queued, until deadline. The connection is closed
// outright goodbyeGrace after deadline if the writer is still blocked (in
// a write begun before shutdown, with the ordinary write timeout).
func (s *session) shutdown(deadline time.Time) {
	s.mu.Lock()
	if s.flushBy.IsZero() {
		s.flushBy = deadline
		s.hardStop = time.AfterFunc(time.Until(deadline)+goodbyeGrace, func() { _ = s.conn.Close() })
	}
	s.mu.Unlock()
	s.close()
}

// stopHardStop disarms shutdown's timer once the session has ended.
func (s *session) stopHardStop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hardStop != nil {
		s.hardStop.Stop()
	}
}

// flushDeadline returns the deadline set by shutdown, or zero.
func (s *session) flushDeadline() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushBy
}

// flush writes the queued messages after shutdown (finish only, once the
// writer has ended). Nothing is queued once done is closed, so the queue
// only shrinks.
func (s *session) flush() {
	deadline := s.flushDeadline()
	if deadline.IsZero() {
		return
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		return
	}
	for _, b := range s.out.take() {
		if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
			return
		}
	}
}
