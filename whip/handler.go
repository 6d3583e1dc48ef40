// Package whip serves WHIP ingest (RFC 9725) and WHEP playback into
// gosoup rooms: any WebRTC client (OBS, FFmpeg, GStreamer, a browser page
// with a plain RTCPeerConnection) publishes into a mediasoup v2 room, or
// plays it, with one HTTP request carrying an SDP offer.
//
// A session is an in-process mediasoup-client: it joins the room and
// creates its transport, producers and consumers with the same mediasoup
// messages a browser's client sends, so mediasoup-client peers of the room
// see a WHIP publisher as a normal peer (newPeer, newConsumer, pause and
// resume, stats, simulcast) and a WHEP player receives like any consumer
// (layers follow its bandwidth). SDP is read and written with pion's SDP
// package; media goes through gosoup's own transports.
//
// Endpoints: POST /whip/{room} and POST /whep/{room}[?peer=NAME] with an
// application/sdp offer answer 201 with the SDP answer and the session's
// Location; PATCH on the session with application/trickle-ice-sdpfrag
// accepts trickled candidates (204) or restarts ICE (200 with gosoup's new
// credentials); DELETE ends the session (the peer leaves the room).
package whip

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/origins"
	"github.com/gosoup/gosoup/sfu"
)

// Options configure a Handler. The zero value works: sessions hold rooms
// of the sfu.Server themselves and no token is needed.
type Options struct {
	// Rooms gives sessions their rooms; signaling.Server implements it so
	// that WebSocket peers and sessions share a room's lifetime and the
	// drain. Default: holds on the sfu.Server's rooms (Server.AcquireRoom).
	Rooms Rooms
	// Keys, when set, make every request need a join token (the
	// Authorization bearer token, or the "token" query parameter) for the
	// room: the peer joins under the token's peer name, as a spy when the
	// token says so (a spy cannot publish). Without Keys, WHIP peers get a
	// generated name and WHEP players join as spies.
	Keys *auth.KeySet
	// Logger receives logs; default slog.Default().
	Logger *slog.Logger
	// RequestTimeout bounds each request (reading the body, setting the
	// session up, writing the answer); default 10 s.
	RequestTimeout time.Duration
	// AllowedOrigins, when not empty, lists the web origins whose pages
	// may use the endpoints (as signaling.Options.AllowedOrigins): CORS
	// headers name only them, and a request with another Origin is
	// refused with 403. Empty: every origin ("*").
	AllowedOrigins []string
	// PostsPerSource bounds the POSTs (new sessions) per second of one
	// source address (an IPv4 address, an IPv6 /64), with bursts of 5 s
	// of it: one more is answered 429. 0 takes DefaultPostsPerSecond;
	// negative: no limit.
	PostsPerSource float64
	// TrustedSources are source ranges PostsPerSource does not apply to;
	// loopback is always trusted.
	TrustedSources []netip.Prefix
	// LimitLoopback applies PostsPerSource to loopback too (for tests).
	LimitLoopback bool
}

// Handler serves the WHIP and WHEP endpoints (an http.Handler).
type Handler struct {
	rooms   Rooms
	keys    *auth.KeySet
	log     *slog.Logger
	timeout time.Duration
	mux     *http.ServeMux
	origins *origins.Set
	posts   *postLimiter

	mu       sync.Mutex
	sessions map[string]*session
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// NewHandler returns the WHIP and WHEP endpoints of srv.
func NewHandler(srv *sfu.Server, opts Options) *Handler {
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{
		rooms: opts.Rooms, keys: opts.Keys, log: opts.Logger, timeout: opts.RequestTimeout,
		mux: http.NewServeMux(), sessions: map[string]*session{}, ctx: ctx, cancel: cancel,
	}
	if h.rooms == nil {
		h.rooms = serverRooms(srv)
	}
	h.posts = newPostLimiter(opts)
	if h.log == nil {
		h.log = slog.Default()
	}
	var odd []string
	h.origins, odd = origins.New(opts.AllowedOrigins)
	for _, o := range odd {
		h.log.Warn("allowed origin is not scheme://host[:port]; it only matches verbatim", "origin", o)
	}
	if h.timeout <= 0 {
		h.timeout = 10 * time.Second
	}
	for _, kind := range []string{"whip", "whep"} {
		h.mux.HandleFunc("POST /"+kind+"/{room}", h.post(kind))
		h.mux.HandleFunc("OPTIONS /"+kind+"/{room}", h.options("POST, OPTIONS", "Accept-Post"))
		h.mux.HandleFunc("PATCH /"+kind+"/{room}/{id}", h.patch(kind))
		h.mux.HandleFunc("DELETE /"+kind+"/{room}/{id}", h.delete(kind))
		h.mux.HandleFunc("OPTIONS /"+kind+"/{room}/{id}", h.options("PATCH, DELETE, OPTIONS", "Accept-Patch"))
	}
	return h
}

// Wrap returns a handler that serves /whip/ and /whep/ with h and
// everything else with next.
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/whip/") || strings.HasPrefix(r.URL.Path, "/whep/") {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves one WHIP or WHEP request, within the request timeout.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.timeout))
	_ = rc.SetWriteDeadline(time.Now().Add(h.timeout))
	ctx, cancel := context.WithTimeout(r.Context(), h.timeout)
	defer cancel()
	if origin := r.Header.Get("Origin"); origin != "" {
		if !h.origins.Allows(origin) {
			writeError(w, httpErrorf(http.StatusForbidden, "origin not allowed: %s", truncate(origin, 128)))
			return
		}
		allow := "*"
		if h.origins != nil {
			allow = origin
			w.Header().Add("Vary", "Origin")
		}
		w.Header().Set("Access-Control-Allow-Origin", allow)
		w.Header().Set("Access-Control-Expose-Headers", "Location, ETag, Accept-Post, Accept-Patch")
	}
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

// RefusedPosts counts the POSTs answered 429 by Options.PostsPerSource.
func (h *Handler) RefusedPosts() uint64 { return h.posts.refused.Load() }

// Sessions returns the number of open WHIP and WHEP sessions.
func (h *Handler) Sessions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sessions)
}

// Close ends every session (their peers leave) and waits for their
// goroutines. New sessions are refused. Safe to call twice.
func (h *Handler) Close() {
	h.cancel()
	h.mu.Lock()
	all := make([]*session, 0, len(h.sessions))
	for _, s := range h.sessions {
		all = append(all, s)
	}
	h.mu.Unlock()
	for _, s := range all {
		s.end(true, "server closing")
	}
	h.wg.Wait()
}

// register makes s reachable at its Location and starts its goroutine.
func (h *Handler) register(s *session) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return httpErrorf(http.StatusServiceUnavailable, "server is closing")
	}
	h.sessions[s.id] = s
	s.start(h.ctx)
	return nil
}

func (h *Handler) forget(s *session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sessions[s.id] == s {
		delete(h.sessions, s.id)
	}
}

// replace ends a session of the same kind, room and peer name (a client
// publishing again with its token before its old session timed out).
func (h *Handler) replace(kind, roomID, name string) {
	h.mu.Lock()
	var old []*session
	for _, s := range h.sessions {
		if s.kind == kind && s.roomID == roomID && s.name == name {
			old = append(old, s)
		}
	}
	h.mu.Unlock()
	for _, s := range old {
		s.end(true, "replaced by a new session of the same peer")
	}
}

// session returns the session of a resource URL, or a 404.
func (h *Handler) session(kind string, r *http.Request) (*session, error) {
	h.mu.Lock()
	s := h.sessions[r.PathValue("id")]
	h.mu.Unlock()
	if s == nil || s.kind != kind || s.roomID != r.PathValue("room") {
		return nil, httpErrorf(http.StatusNotFound, "no such %s session", strings.ToUpper(kind))
	}
	return s, nil
}

// checkContentType refuses a body of another media type with 415.
func checkContentType(r *http.Request, want string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != want {
		return httpErrorf(http.StatusUnsupportedMediaType, "Content-Type must be %s", want)
	}
	return nil
}

// readBody reads a bounded request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxOfferSize))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, httpErrorf(http.StatusRequestEntityTooLarge, "body too large (limit %d bytes)", maxOfferSize)
		}
		return nil, httpErrorf(http.StatusBadRequest, "read body: %v", err)
	}
	return b, nil
}

// post creates a session: 201 with the SDP answer and its Location.
func (h *Handler) post(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		roomID := r.PathValue("room")
		if !h.posts.allow(r.RemoteAddr, time.Now()) {
			h.log.Debug(kind+" request refused: too many from its address", "remote", r.RemoteAddr)
			w.Header().Set("Retry-After", "1")
			writeError(w, httpErrorf(http.StatusTooManyRequests, "too many %s requests from your address (limit %g per second)",
				strings.ToUpper(kind), float64(h.posts.limit)))
			return
		}
		s, answer, err := h.create(kind, roomID, w, r)
		if err != nil {
			h.log.Info(kind+" request refused", "room", roomID, "status", statusOf(err), "reason", err.Error())
			writeError(w, err)
			return
		}
		_, etag := s.transport()
		w.Header().Set("Location", s.location())
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/sdp")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(answer)
		s.log.Info("session created", "location", s.location())
	}
}

// create checks a POST and sets its session up.
func (h *Handler) create(kind, roomID string, w http.ResponseWriter, r *http.Request) (*session, []byte, error) {
	if roomID == "" || len(roomID) > 256 {
		return nil, nil, httpErrorf(http.StatusBadRequest, "room id must be 1 to 256 bytes")
	}
	id, err := h.identify(r, roomID, kind)
	if err != nil {
		return nil, nil, err
	}
	if err := checkContentType(r, "application/sdp"); err != nil {
		return nil, nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	o, err := parseOffer(body)
	if err != nil {
		return nil, nil, err
	}
	if err := id.allows(kind, o); err != nil {
		return nil, nil, err
	}
	if h.ctx.Err() != nil {
		return nil, nil, httpErrorf(http.StatusServiceUnavailable, "server is closing")
	}
	var s *session
	var answer []byte
	if kind == "whip" {
		s, answer, err = h.publish(roomID, id, o)
	} else {
		s, answer, err = h.play(roomID, id, o, r.URL.Query().Get("peer"))
	}
	if err != nil {
		return nil, nil, err
	}
	if err := h.register(s); err != nil {
		s.end(true, "server closing")
		return nil, nil, err
	}
	return s, answer, nil
}
