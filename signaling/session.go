package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/time/rate"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu"
)

// session is one protoo WebSocket: it routes mediasoup requests and
// notifications to the room or the peer and writes the answers and the
// peer's notifications, in order. Its reader goroutine is its only one
// that lasts: a writer runs only while messages wait (see outQueue), a
// timer sends the pings, and a goroutine writes the close frame once the
// session closes.
type session struct {
	srv      *Server
	conn     *websocket.Conn
	room     *sfu.Room
	peerName string

	out       *outQueue
	done      chan struct{}
	closeOnce sync.Once
	ending    sync.WaitGroup // finish, started by close
	// shuttingDown: the server is closing; only the peer's own "closed"
	// notification is still queued (see Server.Close).
	shuttingDown atomic.Bool

	// grant is what Options.Authorize allowed; nil without Authorize.
	grant *Grant

	mu       sync.Mutex
	peer     *sfu.Peer
	flushBy  time.Time   // set by shutdown: write the queue until then
	hardStop *time.Timer // set by shutdown: closes the connection late
	pinger   *time.Timer // sends the next ping; nil once closing
	// closeCode and closeReason, set by fail, replace the protoo close
	// frame.
	closeCode   int
	closeReason string

	limiter    *rate.Limiter
	justJoined bool // reader goroutine only
}

func newSession(s *Server, conn *websocket.Conn, room *sfu.Room, peerName string, grant *Grant) *session {
	return &session{
		srv:      s,
		conn:     conn,
		room:     room,
		peerName: peerName,
		grant:    grant,
		out:      newOutQueue(),
		done:     make(chan struct{}),
		limiter:  rate.NewLimiter(requestsPerSecond, requestBurst),
	}
}

// logger returns the session's logger, made when something is logged: a
// logger kept per session would cost every client a handler with its
// attributes, for the few lines a session logs.
func (s *session) logger() *slog.Logger {
	if s.room == nil { // the writer's tests
		return s.srv.log.With("peer", s.peerName)
	}
	return s.srv.log.With("room", s.room.ID(), "peer", s.peerName)
}

// mediaPeer returns the session's open mediasoup peer, or nil before join
// and after the peer closed (so the client may join again).
func (s *session) mediaPeer() *sfu.Peer {
	s.mu.Lock()
	p := s.peer
	s.mu.Unlock()
	if p != nil && p.Closed() {
		return nil
	}
	return p
}

// close ends the session: the reader returns, the writer stops after
// the messages it took, and finish writes the close frame.
func (s *session) close() {
	s.closeOnce.Do(func() {
		close(s.done)
		_ = s.conn.SetReadDeadline(time.Now())
		s.out.stop()
		s.ending.Add(1)
		go s.finish()
	})
}

// finish runs once the session is closed: it stops the pings, waits for
// the writer, writes what is queued when shutdown asked for it, then the
// close frame.
func (s *session) finish() {
	defer s.ending.Done()
	s.mu.Lock()
	if s.pinger != nil {
		s.pinger.Stop()
		s.pinger = nil
	}
	s.mu.Unlock()
	s.out.writers.Wait()
	s.flush()
	s.goodbye()
}

// enqueue queues a message without blocking; a client too slow to drain
// its queue is disconnected.
func (s *session) enqueue(b []byte) {
	select {
	case <-s.done:
		return
	default:
	}
	ok, start := s.out.push(b, sendQueue)
	if !ok {
		s.logger().Warn("signaling queue full, disconnecting slow client")
		s.close()
		return
	}
	if start {
		go s.writeQueued()
	}
}

// writeQueued is the writer goroutine: it writes the queued messages, in
// order, until none waits. A failed write closes the session, and no
// writer starts after it.
func (s *session) writeQueued() {
	defer s.out.writers.Done()
	for msgs := s.out.next(); msgs != nil; msgs = s.out.next() {
		for _, b := range msgs {
			_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				s.close()
				return
			}
		}
	}
}

// ping sends a WebSocket ping and arms the next one (the pinger timer's
// function); a failed ping closes the session.
func (s *session) ping() {
	if err := s.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
		s.close()
		return
	}
	s.mu.Lock()
	if s.pinger != nil {
		s.pinger.Reset(pingInterval)
	}
	s.mu.Unlock()
}

// encodedNotification is a protoo notification of the signaling layer's
// own (the demo's active-speaker, display-name-changed), already encoded,
// on its way through the peer's sfu.Notifier (see send).
type encodedNotification []byte

// send queues a message of the signaling layer's own: the demo's
// notifications. Once the session has a mediasoup peer, the message goes
// through the peer's notifier (sfu.Peer.Notify), in order with the sfu's
// notifications and cut off at the same moment: nothing reaches a peer that
// has left or been closed, even when the broadcast picked its session just
// before. (Nothing sends before join; the writer's tests do.)
func (s *session) send(b []byte) {
	s.mu.Lock()
	p := s.peer
	s.mu.Unlock()
	if p == nil {
		s.enqueue(b)
		return
	}
	p.Notify(encodedNotification(b))
}

// notify is the sfu.Notifier of the session's peer. The sfu calls it for
// nothing once the peer has left or been closed.
func (s *session) notify(n any) {
	if b, ok := n.(encodedNotification); ok {
		s.enqueue(b)
		return
	}
	if s.shuttingDown.Load() {
		if _, own := n.(protocol.Closed); !own {
			return // others' peerClosed etc. are moot: this peer closes too
		}
	}
	b, err := notification("mediasoup-notification", n)
	if err != nil {
		s.logger().Error("encode notification", "err", err)
		return
	}
	s.enqueue(b)
}

// run serves the session until its socket ends or it is closed, and
// returns once the close frame is written (or could not be) and the
// socket is closed.
func (s *session) run() {
	s.mu.Lock()
	select {
	case <-s.done: // closed before it ran
	default:
		s.pinger = time.AfterFunc(pingInterval, s.ping)
	}
	s.mu.Unlock()
	s.readLoop()
	s.close()
	s.ending.Wait()
	s.stopHardStop()
	s.conn.Close()
}

// goodbye sends the WebSocket close frame: the protoo one (4000 "closed
// by protoo-server"), or the code and reason set by fail.
func (s *session) goodbye() {
	deadline := time.Now().Add(time.Second)
	if by := s.flushDeadline(); !by.IsZero() {
		deadline = by.Add(goodbyeGrace)
	}
	code, reason := s.closeFrame()
	_ = s.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
}

// closeFrame returns the code and reason of the session's close frame.
func (s *session) closeFrame() (int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeCode != 0 {
		return s.closeCode, s.closeReason
	}
	return closeByServer, "closed by protoo-server"
}

// fail ends the session because of what the client sent: the messages
// already queued (an error response among them) are written, then the
// close frame with code and reason (truncated to what a close frame
// holds). A session already closing keeps its own close frame.
func (s *session) fail(code int, reason string) {
	if len(reason) > maxCloseReason {
		reason = reason[:maxCloseReason]
	}
	s.mu.Lock()
	if s.flushBy.IsZero() && s.closeCode == 0 {
		s.closeCode, s.closeReason = code, reason
	}
	s.mu.Unlock()
	s.logger().Info("closing signaling connection", "code", code, "reason", reason)
	s.shutdown(time.Now().Add(closeFlushTimeout))
}

// linger reads and discards what the client still sends after fail, at
// most lingerBytes and until lingerTimeout, starting with the rest of the
// refused message r (nil when none is left). Closing a TCP connection with
// input unread sends a reset, which can destroy the error response and the
// close frame on their way; lingering lets the client read them and answer
// the close frame, which ends the wait.
func (s *session) linger(r io.Reader) {
	s.conn.SetPongHandler(nil) // a pong must not push the deadline back
	_ = s.conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	budget := int64(lingerBytes)
	if r != nil {
		n, _ := io.Copy(io.Discard, io.LimitReader(r, budget))
		budget -= n
	}
	for budget > 0 {
		_, r, err := s.conn.NextReader()
		if err != nil {
			return // the client's close frame, EOF or the deadline
		}
		n, _ := io.Copy(io.Discard, io.LimitReader(r, budget))
		budget -= n
	}
}

// readLoop reads the client's messages until the socket ends. Every
// request is answered; a message that cannot be answered (not protoo, no
// readable request id, binary) closes the socket with a code and reason,
// and so does a message over MaxFrameSize (1009), after an error response
// when it is a request whose id its first bytes show.
func (s *session) readLoop() {
	// The size is checked here rather than by SetReadLimit, which refuses
	// a message from its frame header, before its first bytes can be read.
	_ = s.conn.SetReadDeadline(time.Now().Add(readTimeout))
	s.conn.SetPongHandler(func(string) error {
		return s.conn.SetReadDeadline(time.Now().Add(readTimeout))
	})
	for {
		typ, r, err := s.conn.NextReader()
		if err != nil {
			return
		}
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(readTimeout))
		b, err := io.ReadAll(io.LimitReader(r, MaxFrameSize+1))
		if err != nil {
			return
		}
		if len(b) > MaxFrameSize {
			var id *uint64
			if typ == websocket.TextMessage {
				id = peekRequestID(b[:idPrefix])
			}
			s.refuse(tooLarge(id), r)
			return
		}
		if typ != websocket.TextMessage {
			s.refuse(&FrameError{CloseCode: closeUnsupportedData, CloseReason: "protoo messages are text"}, r)
			return
		}
		f, err := ParseFrame(b)
		if err != nil {
			fe, ok := errors.AsType[*FrameError](err)
			if !ok {
				fe = malformed(nil, err.Error())
			}
			if fe.ID != nil {
				s.answerRefused(fe)
				continue
			}
			s.refuse(fe, nil)
			return
		}
		switch {
		case f.Request:
			s.handleRequest(f)
		case f.Notification:
			s.handleNotification(f)
		}
	}
}

// answerRefused answers a request ParseFrame refused with its error (or
// 429, as any request over the rate).
func (s *session) answerRefused(fe *FrameError) {
	if !s.limiter.Allow() {
		s.enqueue(errorResponse(*fe.ID, 429, fmt.Sprintf("too many requests (limit %d per second)", requestsPerSecond)))
		return
	}
	s.logger().Debug("refused protoo request", "id", *fe.ID, "reason", fe.Reason)
	s.enqueue(errorResponse(*fe.ID, fe.Code, fe.Reason))
}

// refuse ends the session because of a message it will not process: a
// request whose id is known is answered first (the oversized case; the
// rate limit does not matter any more), then the socket closes with fe's
// code and reason. r is the unread rest of the message, if any.
func (s *session) refuse(fe *FrameError, r io.Reader) {
	if fe.ID != nil {
		s.enqueue(errorResponse(*fe.ID, fe.Code, fe.Reason))
	}
	s.fail(fe.CloseCode, fe.CloseReason)
	s.linger(r)
}

func (s *session) handleRequest(f *Frame) {
	id := *f.ID
	var (
		data any
		code int
		err  error
	)
	func() {
		defer func() {
			if r := recover(); r != nil {
				s.logger().Error("panic in request handler", "method", f.Method, "panic", r)
				code, err = 500, fmt.Errorf("Error: internal error")
			}
		}()
		data, code, err = s.dispatch(f)
	}()
	if err != nil {
		s.enqueue(errorResponse(id, code, err.Error()))
		return
	}
	b, merr := successResponse(id, data)
	if merr != nil {
		s.enqueue(errorResponse(id, 500, "Error: cannot encode response"))
		return
	}
	s.enqueue(b)
	if s.justJoined { // after the join response, as the demo
		s.justJoined = false
		s.sendCurrentSpeaker()
	}
}

// dispatch runs one protoo request and returns the data or the protoo
// error code and error.
func (s *session) dispatch(f *Frame) (any, int, error) {
	if !s.limiter.Allow() {
		return nil, 429, fmt.Errorf("too many requests (limit %d per second)", requestsPerSecond)
	}
	if f.Method != "mediasoup-request" {
		return s.demoRequest(f.Method, f.Data)
	}
	m, err := protocol.DecodeMessage(f.Data)
	if err != nil {
		return nil, 500, err
	}
	if m.Notification {
		return nil, 500, protocol.NewError("a mediasoup request must not be a notification")
	}
	switch m.Method {
	case "queryRoom", "join":
		if m.Method == "join" {
			if s.mediaPeer() != nil {
				return nil, 500, errors.New("already have a mediasoup Peer")
			}
			var j struct {
				PeerName json.RawMessage `json:"peerName"`
				Spy      json.RawMessage `json:"spy"`
			}
			_ = json.Unmarshal(m.Raw, &j)
			var name string
			if json.Unmarshal(j.PeerName, &name) == nil && name != s.peerName {
				return nil, 403, errors.New("that is not your corresponding mediasoup Peer name")
			}
			var spy bool
			_ = json.Unmarshal(j.Spy, &spy) // the room refuses a spy that is not a boolean
			if code, err := s.joinAllowed(spy); err != nil {
				return nil, code, err
			}
			if err := s.beforeJoin(spy); err != nil {
				return nil, 500, err
			}
		}
		resp, peer, err := s.room.ReceiveRequest(m, s.notify)
		if err != nil {
			return nil, 500, err
		}
		if peer != nil {
			s.mu.Lock()
			s.peer = peer
			s.mu.Unlock()
			s.justJoined = true
		}
		return resp, 0, nil
	}
	peer := s.mediaPeer()
	if peer == nil {
		return nil, 400, errors.New("no mediasoup Peer")
	}
	if code, err := s.requestAllowed(m); err != nil {
		return nil, code, err
	}
	resp, err := peer.ReceiveRequest(m)
	if err != nil {
		return nil, 500, err
	}
	return resp, 0, nil
}

func (s *session) handleNotification(f *Frame) {
	defer func() {
		if r := recover(); r != nil {
			s.logger().Error("panic in notification handler", "method", f.Method, "panic", r)
		}
	}()
	if f.Method != "mediasoup-notification" {
		s.logger().Debug("ignoring protoo notification", "method", f.Method)
		return
	}
	if !s.limiter.Allow() {
		s.logger().Info("notification dropped: too many messages")
		return
	}
	peer := s.mediaPeer()
	if peer == nil {
		s.logger().Debug("notification before join, ignored")
		return
	}
	m, err := protocol.DecodeMessage(f.Data)
	if err != nil {
		s.logger().Info("bad mediasoup notification", "err", err)
		return
	}
	if err := peer.ReceiveNotification(m); err != nil {
		s.logger().Info("mediasoup notification failed", "method", m.Method, "err", err)
	}
}
