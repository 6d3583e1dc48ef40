package signaling

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/sfu"
)

// Limits of one signaling session.
const (
	// MaxFrameSize bounds a WebSocket message.
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
)

// Server is the protoo WebSocket endpoint (an http.Handler).
type Server struct {
	sfu      *sfu.Server
	log      *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	roomRefs map[string]int // open sessions per room id
	speakers map[string]*sfu.ActiveSpeakerDetector
	sessions map[[2]string]*session // by room id and peer name
	all      map[*session]struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewServer returns the signaling endpoint for s.
func NewServer(s *sfu.Server, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{
		sfu: s,
		log: log,
		upgrader: websocket.Upgrader{
			Subprotocols:    []string{"protoo"},
			CheckOrigin:     func(*http.Request) bool { return true },
			ReadBufferSize:  16 << 10,
			WriteBufferSize: 16 << 10,
		},
		roomRefs: map[string]int{},
		speakers: map[string]*sfu.ActiveSpeakerDetector{},
		sessions: map[[2]string]*session{},
		all:      map[*session]struct{}{},
		ctx:      ctx,
		cancel:   cancel,
	}
}

// IsUpgrade reports whether r asks for a WebSocket.
func IsUpgrade(r *http.Request) bool { return websocket.IsWebSocketUpgrade(r) }

// ServeHTTP accepts a protoo WebSocket: subprotocol "protoo" (403
// otherwise) and the roomId and peerName query parameters (400 otherwise).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "expected a WebSocket upgrade", http.StatusBadRequest)
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
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	room, old, err := s.acquire(roomID, peerName)
	if err != nil {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseTryAgainLater, err.Error()), time.Now().Add(time.Second))
		conn.Close()
		return
	}
	if old != nil {
		old.close() // the demo replaces a previous connection of the same peer
	}
	sess := newSession(s, conn, room, peerName)
	s.mu.Lock()
	s.sessions[[2]string{roomID, peerName}] = sess
	s.all[sess] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		sess.run(s.ctx)
		s.release(sess)
	}()
}

func hasProtoo(r *http.Request) bool {
	for _, p := range websocket.Subprotocols(r) {
		if p == "protoo" {
			return true
		}
	}
	return false
}

// acquire returns the room for a new session and counts the session in it;
// it also returns a previous session of the same peer name, if any.
func (s *Server) acquire(roomID, peerName string) (*sfu.Room, *session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room, err := s.sfu.Room(roomID)
	if err != nil {
		return nil, nil, err
	}
	s.roomRefs[roomID]++
	if s.speakers[roomID] == nil {
		d := room.CreateActiveSpeakerDetector()
		d.OnChange = func(p *sfu.Peer, _ *sfu.Producer) {
			s.broadcast(roomID, nil, activeSpeaker(p))
		}
		d.Start(0)
		s.speakers[roomID] = d
	}
	return room, s.sessions[[2]string{roomID, peerName}], nil
}

// release closes the session's peer and closes the room when its last
// session is gone.
func (s *Server) release(sess *session) {
	if p := sess.mediaPeer(); p != nil {
		p.Close(nil)
	}
	id := sess.room.ID()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.all, sess)
	key := [2]string{id, sess.peerName}
	if s.sessions[key] == sess {
		delete(s.sessions, key)
	}
	s.roomRefs[id]--
	if s.roomRefs[id] <= 0 {
		delete(s.roomRefs, id)
		if d := s.speakers[id]; d != nil {
			d.Close()
			delete(s.speakers, id)
		}
		sess.room.Close()
	}
}

// Close disconnects every session and waits for them to end.
func (s *Server) Close() {
	s.cancel()
	s.mu.Lock()
	for sess := range s.all {
		sess.close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
