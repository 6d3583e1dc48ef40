package signaling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/origins"
	"github.com/gosoup/gosoup/sfu"
)

// Limits of one signaling session.
const (
	// MaxFrameSize bounds a WebSocket message: a larger one closes the
	// socket with 1009, after an error response when it is a request whose
	// id its first bytes show.
	MaxFrameSize = 512 << 10
	// sendQueue bounds the messages waiting for a slow client; a client
	// that falls this far behind is disconnected.
	sendQueue     = 1024
	writeTimeout  = 10 * time.Second
	pingInterval  = 30 * time.Second
	readTimeout   = 90 * time.Second
	closeByServer = 4000 // protoo-client does not reconnect after this code
	// requestsPerSecond and requestBurst bound the requests of one socket;
	// more are answered with error 429.
	requestsPerSecond = 50
	requestBurst      = 200
	// lingerTimeout and lingerBytes bound what a session reads and
	// discards after it closed the socket because of a message (see
	// session.linger).
	lingerTimeout = time.Second
	lingerBytes   = 1 << 20
	// maxCloseReason is the longest close reason a close frame holds
	// (125 bytes of payload, 2 of them the code).
	maxCloseReason = 123
)

// Server is the protoo WebSocket endpoint (an http.Handler).
type Server struct {
	sfu      *sfu.Server
	log      *slog.Logger
	upgrader websocket.Upgrader
	opts     Options
	origins  *origins.Set // Options.AllowedOrigins; nil: any origin
	draining atomic.Bool

	perSource *socketLimiter // Options.SocketsPerSource

	mu        sync.Mutex
	closed    bool
	upgrading atomic.Int32           // WebSockets answered 101 and not yet admitted
	sessions  map[[2]string]*session // by room id and peer name
	all       map[*session]func()    // each open session and what ends its room hold
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// NewServer returns the signaling endpoint for s with no Options: every
// origin may connect and anyone may join any room under any peer name.
func NewServer(s *sfu.Server, log *slog.Logger) *Server {
	return NewServerWithOptions(s, log, Options{})
}

// NewServerWithOptions returns the signaling endpoint for s, admitting
// connections as opts says (origin restriction, authorization hook).
func NewServerWithOptions(s *sfu.Server, log *slog.Logger, opts Options) *Server {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		sfu:  s,
		log:  log,
		opts: opts,
		upgrader: websocket.Upgrader{
			Subprotocols: []string{"protoo"},
			// ServeHTTP applies Options.AllowedOrigins before upgrading.
			CheckOrigin: func(*http.Request) bool { return true },
			// Buffers cost memory per client for its whole session: reads
			// go through a 1 KiB buffer (bigger messages are read in
			// pieces), writes borrow one from a pool only while writing.
			ReadBufferSize:  1 << 10,
			WriteBufferSize: 16 << 10,
			WriteBufferPool: &sync.Pool{},
		},
		origins:  allowedOrigins(opts.AllowedOrigins, log),
		sessions: map[[2]string]*session{},
		all:      map[*session]func(){},
		ctx:      ctx,
		cancel:   cancel,

		perSource: newSocketLimiter(opts),
	}
}

// IsUpgrade reports whether r asks for a WebSocket.
func IsUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// ServeHTTP accepts a protoo WebSocket. Before upgrading, and before any
// room is touched, it refuses with an HTTP error and a plain-text reason:
// 400 when r is no WebSocket upgrade; 503 once the server is draining or
// closed; 429 when r's source address has Options.SocketsPerSource
// sockets open; 403 for an Origin not in Options.AllowedOrigins; 403 without
// subprotocol "protoo"; 400 without the roomId and peerName query
// parameters; 401 when Options.Authorize refuses (its error is the body).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
		return
	}
	if s.isClosed() {
		s.refuse(w, r, http.StatusServiceUnavailable, "server is closed")
		return
	}
	if s.Draining() {
		s.refuse(w, r, http.StatusServiceUnavailable, "server is draining")
		return
	}
	slot, ok := s.perSource.acquire(r.RemoteAddr)
	if !ok {
		s.log.Debug("signaling connection refused: too many from its address", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", "30")
		http.Error(w, fmt.Sprintf("too many WebSockets open from your address (limit %d)", s.perSource.max),
			http.StatusTooManyRequests)
		return
	}
	running := false // the session releases the slot when it ends
	defer func() {
		if !running {
			s.perSource.release(slot)
		}
	}()
	if origin := r.Header.Get("Origin"); origin != "" && !s.origins.Allows(origin) {
		s.refuse(w, r, http.StatusForbidden, "origin not allowed: "+truncate(origin, 256))
		return
	}
	if !hasProtoo(r) {
		http.Error(w, "Invalid/missing Sec-WebSocket-Protocol", http.StatusForbidden)
		return
	}
	q := r.URL.Query()
	roomID, peerName := q.Get("roomId"), q.Get("peerName")
	if roomID == "" || peerName == "" {
		http.Error(w, "Connection request without roomId and/or peerName", http.StatusBadRequest)
		return
	}
	if len(roomID) > 256 || len(peerName) > 256 {
		http.Error(w, "roomId or peerName too long", http.StatusBadRequest)
		return
	}
	var grant *Grant
	if s.opts.Authorize != nil {
		g, err := s.authorize(r, roomID, peerName)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gosoup"`)
			s.refuse(w, r, http.StatusUnauthorized, err.Error())
			return
		}
		grant = &g
	}
	// From the 101 answer on the client counts on a session: count it
	// (Sessions) until admit has registered it, so that a drain starting
	// in between waits for it.
	s.upgrading.Add(1)
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.upgrading.Add(-1)
		return // the upgrader answered
	}
	sess, old, err := s.admit(conn, roomID, peerName, grant)
	s.upgrading.Add(-1)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, truncate(err.Error(), 120)), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	if old != nil {
		old.close() // the demo replaces a previous connection of the same peer
	}
	running = true
	go func() {
		defer s.wg.Done()
		defer s.perSource.release(slot)
		sess.run()
		s.release(sess)
	}()
}

// refuse answers a refused connection request with an HTTP error.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, reason string) {
	s.log.Info("signaling connection refused", "status", code, "reason", reason, "remote", r.RemoteAddr)
	http.Error(w, reason, code)
}

func hasProtoo(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == "protoo" {
			return true
		}
	}
	return false
}

// admit registers a new session on conn: it holds its room open (creating
// the room on first use), subscribes it to the room's active-speaker
// changes, and returns it with a previous session of the same peer name,
// if any. It fails once the server is closed, checked under the same lock
// Close takes, so no session starts after Close has collected them. (A
// socket upgraded just before Drain is admitted; Drain refuses its join.)
func (s *Server) admit(conn *websocket.Conn, roomID, peerName string, grant *Grant) (*session, *session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, errors.New("server is closed")
	}
	room, releaseRoom, err := s.sfu.AcquireRoom(roomID)
	if err != nil {
		return nil, nil, fmt.Errorf("open room: %w", err)
	}
	key := [2]string{roomID, peerName}
	old := s.sessions[key]
	sess := newSession(s, conn, room, peerName, grant)
	// The demo's active-speaker notification; send drops it until the
	// session's peer has joined.
	_, unsubscribe := room.SubscribeActiveSpeaker(func(p *sfu.Producer) { sess.send(activeSpeaker(p)) })
	s.sessions[key] = sess
	s.all[sess] = func() {
		unsubscribe()
		releaseRoom()
	}
	s.wg.Add(1)
	return sess, old, nil
}

// release closes the session's peer and drops its hold on the room (the
// last hold of any kind closes the room).
func (s *Server) release(sess *session) {
	if p := sess.mediaPeer(); p != nil {
		p.Close(nil)
	}
	s.mu.Lock()
	end := s.all[sess]
	delete(s.all, sess)
	key := [2]string{sess.room.ID(), sess.peerName}
	if s.sessions[key] == sess {
		delete(s.sessions, key)
	}
	s.mu.Unlock()
	if end != nil {
		end()
	}
}
