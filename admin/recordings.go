package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/gosoup/gosoup/record"
	"github.com/gosoup/gosoup/sfu"
)

// RecordingRequest is the body of POST /admin/rooms/{room}/recordings.
type RecordingRequest struct {
	// PeerName is the peer whose audio and video are recorded.
	PeerName string `json:"peerName"`
}

// RecordingStarted answers POST: the recording's id and its file.
type RecordingStarted struct {
	ID   string `json:"id"`
	File string `json:"file"`
}

// RecordingStopped answers DELETE /admin/rooms/{room}/recordings/{id}:
// the finalized file, its duration, and why it stopped when it stopped
// before (the peer left, a write error).
type RecordingStopped struct {
	File       string `json:"file"`
	DurationMs int64  `json:"durationMs"`
	Reason     string `json:"reason"`
	Error      string `json:"error,omitempty"`
}

// maxFinished bounds the recordings that stopped by themselves and wait
// for their DELETE (the oldest are forgotten first).
const maxFinished = 256

// recordings are the recordings started through the API, by id; one that
// stops by itself stays until its DELETE (bounded by maxFinished).
type recordings struct {
	h *Handler
	// start is record.Start (tests route it through a relay).
	start func(room *sfu.Room, peer string, opts record.Options) (*record.Recording, error)

	mu       sync.Mutex
	byID     map[string]*recordingEntry
	finished []string // ids of recordings that stopped by themselves, oldest first
}

// recordingEntry is one recording and its room. Guarded by
// recordings.mu.
type recordingEntry struct {
	room    string
	rec     *record.Recording // nil until Start returned
	stopped bool              // it stopped by itself
}

func newRecordings(h *Handler) *recordings {
	return &recordings{h: h, start: record.Start, byID: map[string]*recordingEntry{}}
}

// errRecordingOff answers recording requests of a server without a
// recording directory.
const errRecordingOff = "recording is off: start the server with --record-dir"

func (rs *recordings) create(w http.ResponseWriter, r *http.Request) {
	if rs.h.opts.RecordDir == "" {
		writeError(w, http.StatusServiceUnavailable, errRecordingOff)
		return
	}
	roomID := r.PathValue("room")
	var req RecordingRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	if req.PeerName == "" || len(req.PeerName) > 256 {
		writeError(w, http.StatusBadRequest, "peerName: required, at most 256 bytes")
		return
	}
	room := rs.room(roomID)
	if room == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no room %q", roomID))
		return
	}
	log := rs.h.log.With("room", roomID, "peer", req.PeerName)
	e := &recordingEntry{room: roomID}
	rec, err := rs.start(room, req.PeerName, record.Options{
		Dir:    rs.h.opts.RecordDir,
		Logger: rs.h.opts.Logger,
		OnStop: func(res record.Result) {
			if res.Reason != "stopped" {
				rs.stoppedByItself(e)
			}
		},
	})
	if err != nil {
		switch {
		case errors.Is(err, record.ErrPeerNotFound):
			writeError(w, http.StatusNotFound, fmt.Sprintf("no peer %q in room %q", req.PeerName, roomID))
		case errors.Is(err, record.ErrNoMedia):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, record.ErrUnsupportedCodec):
			writeError(w, http.StatusNotImplemented, err.Error())
		default:
			log.Error("recording could not start", "err", err)
			writeError(w, http.StatusInternalServerError, err.Error())
		}
		return
	}
	rs.mu.Lock()
	e.rec = rec
	rs.byID[rec.ID()] = e
	if e.stopped {
		rs.finishedLocked(rec.ID())
	}
	rs.mu.Unlock()
	log.Info("recording started through the admin API", "recording", rec.ID(), "file", rec.File())
	writeJSON(w, http.StatusCreated, RecordingStarted{ID: rec.ID(), File: rec.File()})
}

func (rs *recordings) remove(w http.ResponseWriter, r *http.Request) {
	roomID, id := r.PathValue("room"), r.PathValue("id")
	rs.mu.Lock()
	e := rs.byID[id]
	if e != nil && e.room == roomID {
		delete(rs.byID, id)
		if e.stopped {
			rs.finished = slices.DeleteFunc(rs.finished, func(x string) bool { return x == id })
		}
	} else {
		e = nil
	}
	rs.mu.Unlock()
	if e == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no recording %q in room %q", id, roomID))
		return
	}
	res := e.rec.Stop()
	out := RecordingStopped{File: res.File, DurationMs: res.Duration.Milliseconds(), Reason: res.Reason}
	if res.Err != nil {
		out.Error = res.Err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// room returns the open room of this id without creating one.
func (rs *recordings) room(id string) *sfu.Room {
	for _, r := range rs.h.opts.Server.Rooms() {
		if r.ID() == id && !r.Closed() {
			return r
		}
	}
	return nil
}

// stoppedByItself remembers a recording that stopped without a DELETE.
func (rs *recordings) stoppedByItself(e *recordingEntry) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	e.stopped = true
	if e.rec != nil && rs.byID[e.rec.ID()] == e {
		rs.finishedLocked(e.rec.ID())
	}
}

// finishedLocked queues a stopped recording for forgetting, forgetting
// the oldest ones beyond maxFinished.
func (rs *recordings) finishedLocked(id string) {
	rs.finished = append(rs.finished, id)
	for len(rs.finished) > maxFinished {
		delete(rs.byID, rs.finished[0])
		rs.finished = rs.finished[1:]
	}
}

// closeAll stops every running recording and finalizes its file.
func (rs *recordings) closeAll() {
	rs.mu.Lock()
	recs := make([]*record.Recording, 0, len(rs.byID))
	for _, e := range rs.byID {
		recs = append(recs, e.rec)
	}
	rs.byID = map[string]*recordingEntry{}
	rs.finished = nil
	rs.mu.Unlock()
	var wg sync.WaitGroup
	for _, rec := range recs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec.Stop()
		}()
	}
	wg.Wait()
}
