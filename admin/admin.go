// Package admin serves gosoup's HTTP administration API: feeding a room
// from a tool over plain RTP (ingest) and recording a peer. Requests are
// authorized by join tokens with the admin grant ("Authorization: Bearer
// ...", minted by gosoup token --admin) for the room in the path or for
// every room ("*"); a participant's token is refused. A server without
// keys accepts requests from loopback addresses only.
package admin

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/forwarded"
	"github.com/gosoup/gosoup/sfu"
)

// Options configure a Handler.
type Options struct {
	// Server is the SFU whose rooms the API acts on.
	Server *sfu.Server
	// Keys verify bearer tokens; nil: no tokens, loopback clients only.
	Keys *auth.KeySet
	// RecordDir is where recordings are written; empty: recording is off.
	RecordDir string
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
	// Rooms, when set, holds a room open while an ingest peer is in it
	// (signaling.Server implements it: the last WebSocket leaving then
	// does not close the tool's room). Default: the Server's rooms.
	Rooms Rooms
	// NodeID names this node in the operator API's answers (the cluster
	// node id with --redis).
	NodeID string
	// Cluster, when set, is the rest of the cluster: the room list and
	// details cover every node (see rooms.go).
	Cluster Cluster
}

// Rooms gives the API its rooms and holds them open.
type Rooms interface {
	// AcquireRoom returns the room (created on first use) and the function
	// that releases the hold.
	AcquireRoom(id string) (room *sfu.Room, release func(), err error)
}

// Handler is the /admin/ API.
type Handler struct {
	opts    Options
	log     *slog.Logger
	mux     *http.ServeMux
	ingests *ingests
	records *recordings
}

// New returns the API handler; mount it on "/admin/".
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	h := &Handler{opts: opts, log: opts.Logger.With("component", "admin"), mux: http.NewServeMux()}
	h.ingests = &ingests{h: h, peers: map[string]*ingest{}}
	h.records = newRecordings(h)
	h.mux.HandleFunc("POST /admin/rooms/{room}/ingest", h.ingests.create)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}/ingest", h.ingests.remove)
	h.mux.HandleFunc("POST /admin/rooms/{room}/recordings", h.records.create)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}/recordings/{id}", h.records.remove)
	h.operatorRoutes()
	return h
}

// Close stops what the API started (recordings are finalized).
func (h *Handler) Close() {
	h.records.closeAll()
	h.ingests.closeAll()
}

// ServeHTTP authorizes the request, then routes it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(w, r) {
		return
	}
	h.mux.ServeHTTP(w, r)
}

// authorized checks the bearer token against the room in the path, or,
// without keys, that the client is on this machine.
func (h *Handler) authorized(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Keys == nil {
		if forwarded.Carries(r) {
			// A reverse proxy on this host makes every client look local:
			// only a proxy named by --trusted-proxy is believed, and its
			// client address is then RemoteAddr (see package forwarded).
			writeError(w, http.StatusForbidden, "the admin API without auth keys refuses forwarded requests (Forwarded, X-Forwarded-For) unless they come from a --trusted-proxy")
			return false
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			writeError(w, http.StatusForbidden, "the admin API is reachable from loopback only when the server has no auth keys")
			return false
		}
		return true
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gosoup"`)
		writeError(w, http.StatusUnauthorized, "missing bearer token")
		return false
	}
	claims, err := h.opts.Keys.Verify(strings.TrimSpace(tok), time.Now())
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gosoup", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "invalid token: "+err.Error())
		return false
	}
	room := roomOf(r.URL.Path)
	switch {
	case !claims.Grant().Admin:
		writeError(w, http.StatusForbidden, "the token has no admin grant (mint one with gosoup token --admin)")
		return false
	case !claims.AdminOf(room):
		if room == "" {
			writeError(w, http.StatusForbidden, `the token is for one room; this needs an admin token for every room (--room '*')`)
		} else {
			writeError(w, http.StatusForbidden, "the token is for another room")
		}
		return false
	}
	return true
}

// roomOf returns the {room} of an /admin/rooms/{room}/... path.
func roomOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/admin/rooms/")
	if !ok {
		return ""
	}
	room, _, _ := strings.Cut(rest, "/")
	return room
}

// writeJSON answers v as JSON with the status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readJSON decodes a small JSON body into v, refusing unknown fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
