package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gosoup/gosoup/sfu"
)

// operatorRoutes adds the operator API: rooms, peers and producers of
// the node (and of the cluster where the directory tells), and a JSON 404
// for any other path under /admin/.
func (h *Handler) operatorRoutes() {
	h.mux.HandleFunc("GET /admin/rooms", h.listRooms)
	h.mux.HandleFunc("GET /admin/rooms/{room}", h.getRoom)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}", h.closeRoom)
	h.mux.HandleFunc("DELETE /admin/rooms/{room}/peers/{peer}", h.closePeer)
	h.mux.HandleFunc("POST /admin/rooms/{room}/producers/{producer}/pause", h.pauseProducer)
	h.mux.HandleFunc("POST /admin/rooms/{room}/producers/{producer}/resume", h.resumeProducer)
	h.mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such admin API path: "+r.Method+" "+r.URL.Path)
	})
}

// ActionRequest is the optional body of DELETE
// /admin/rooms/{room}/peers/{peer} and of a producer's pause and resume:
// the appData the clients are told (in "closed" and "peerClosed", in
// "producerPaused" and "producerResumed").
type ActionRequest struct {
	AppData json.RawMessage `json:"appData,omitempty"`
}

// Elsewhere answers a request about an object of another node (409): the
// node that has it and where it is reached; the request is to be sent to
// that node's admin API.
type Elsewhere struct {
	Error string `json:"error"`
	Node  string `json:"node"`
	URL   string `json:"url,omitempty"`
}

// readAction decodes the optional body of an action.
func readAction(r *http.Request) (json.RawMessage, error) {
	var req ActionRequest
	if err := readJSON(r, &req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if string(req.AppData) == "null" {
		return nil, nil
	}
	return req.AppData, nil
}

// elsewhere answers 409 when the cluster directory puts the room (and
// the peer, when not empty) on another node, or 503 when the directory
// cannot be read, and reports whether it answered.
func (h *Handler) elsewhere(w http.ResponseWriter, r *http.Request, roomID, peer string) bool {
	crooms, err := h.clusterRooms(r.Context())
	if err != nil {
		h.log.Warn("admin: cannot tell which node has it", "room", roomID, "peer", peer, "err", err)
		writeError(w, http.StatusServiceUnavailable, "not on this node, and "+err.Error())
		return true
	}
	cr := findClusterRoom(crooms, roomID)
	if cr == nil {
		return false
	}
	for _, n := range cr.Nodes {
		if n.Node == h.opts.NodeID {
			continue
		}
		what := fmt.Sprintf("room %q", roomID)
		if peer != "" {
			found := false
			for _, name := range n.Peers {
				found = found || name == peer
			}
			if !found {
				continue
			}
			what = fmt.Sprintf("peer %q of room %q", peer, roomID)
		}
		writeJSON(w, http.StatusConflict, Elsewhere{
			Error: fmt.Sprintf("%s is on node %s: send the request to that node", what, n.Node), Node: n.Node, URL: n.URL,
		})
		return true
	}
	return false
}

// remoteNode answers 409 for a remote peer's object (a mirror of another
// node's): it is changed on its own node only.
func (h *Handler) remoteNode(w http.ResponseWriter, r *http.Request, p *sfu.Peer) {
	if h.elsewhere(w, r, p.Room().ID(), p.Name()) {
		return
	}
	writeJSON(w, http.StatusConflict, Elsewhere{
		Error: fmt.Sprintf("peer %q of room %q is on another node: send the request to that node", p.Name(), p.Room().ID()),
	})
}

// closePeer answers DELETE /admin/rooms/{room}/peers/{peer}: the peer is
// closed from the server side. Its client gets "closed" (with appData),
// the other peers "peerClosed" (with appData; nothing for a spy).
func (h *Handler) closePeer(w http.ResponseWriter, r *http.Request) {
	roomID, name := r.PathValue("room"), r.PathValue("peer")
	appData, err := readAction(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	room := h.records.room(roomID)
	var p *sfu.Peer
	if room != nil {
		p = room.PeerByName(name)
	}
	if p == nil {
		if !h.elsewhere(w, r, roomID, name) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no peer %q in room %q", name, roomID))
		}
		return
	}
	if p.Remote() {
		h.remoteNode(w, r, p)
		return
	}
	p.Close(appData)
	h.ingests.forget(roomID, p)
	h.log.Info("peer closed through the admin API", "room", roomID, "peer", name)
	w.WriteHeader(http.StatusNoContent)
}

// pauseProducer answers POST /admin/rooms/{room}/producers/{producer}/pause.
func (h *Handler) pauseProducer(w http.ResponseWriter, r *http.Request) { h.setPaused(w, r, true) }

// resumeProducer answers POST /admin/rooms/{room}/producers/{producer}/resume.
func (h *Handler) resumeProducer(w http.ResponseWriter, r *http.Request) { h.setPaused(w, r, false) }

// setPaused pauses or resumes a producer from the server side: its owner
// gets "producerPaused" or "producerResumed" (with appData), and the
// consumers that are enabled and not paused by the server
// "consumerPaused" or "consumerResumed". A producer already in that state
// is left as is. The answer is the producer as it is then.
func (h *Handler) setPaused(w http.ResponseWriter, r *http.Request, paused bool) {
	roomID, idText := r.PathValue("room"), r.PathValue("producer")
	appData, err := readAction(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	var prod *sfu.Producer
	if id, err := strconv.ParseUint(idText, 10, 32); err == nil {
		if room := h.records.room(roomID); room != nil {
			prod = findProducer(room, uint32(id))
		}
	}
	if prod == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no producer %q in room %q", idText, roomID))
		return
	}
	if prod.Peer().Remote() {
		h.remoteNode(w, r, prod.Peer())
		return
	}
	if paused {
		prod.Pause(appData)
	} else {
		prod.Resume(appData)
	}
	h.log.Info("producer paused or resumed through the admin API", "room", roomID, "peer", prod.Peer().Name(),
		"producer", prod.ID(), "paused", paused)
	writeJSON(w, http.StatusOK, producerDetail(prod))
}

// findProducer returns the room's producer with this id, or nil.
func findProducer(room *sfu.Room, id uint32) *sfu.Producer {
	for _, p := range room.Peers() {
		if prod := p.ProducerByID(id); prod != nil {
			return prod
		}
	}
	return nil
}

// closeRoom answers DELETE /admin/rooms/{room}: every peer of this node
// gets "closed", and the room closes here. In a cluster, the peers of
// other nodes see this node's peers leave; their own parts stay open.
func (h *Handler) closeRoom(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("room")
	room := h.records.room(roomID)
	if room == nil {
		if !h.elsewhere(w, r, roomID, "") {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no room %q", roomID))
		}
		return
	}
	room.Close()
	h.ingests.forgetRoom(room)
	h.log.Info("room closed through the admin API", "room", roomID)
	w.WriteHeader(http.StatusNoContent)
}

// forget drops the ingest entry of a peer closed through the API and
// releases its hold on the room.
func (in *ingests) forget(roomID string, p *sfu.Peer) {
	key := ingestKey(roomID, p.Name())
	in.mu.Lock()
	ing := in.peers[key]
	if ing != nil && ing.peer == p {
		delete(in.peers, key)
	} else {
		ing = nil
	}
	in.mu.Unlock()
	if ing != nil {
		ing.release()
	}
}

// forgetRoom drops the ingest entries of a room closed through the API
// and releases their holds.
func (in *ingests) forgetRoom(room *sfu.Room) {
	in.mu.Lock()
	var gone []*ingest
	for key, ing := range in.peers {
		if ing.peer.Room() == room {
			gone = append(gone, ing)
			delete(in.peers, key)
		}
	}
	in.mu.Unlock()
	for _, ing := range gone {
		ing.release()
	}
}
