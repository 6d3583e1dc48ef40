package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
)

// IngestRequest is the body of POST /admin/rooms/{room}/ingest.
type IngestRequest struct {
	// PeerName is the name the tool's peer gets in the room.
	PeerName string `json:"peerName"`
	// Kinds are the media the tool sends: "audio", "video" or both.
	Kinds []string `json:"kinds"`
	// VideoCodec is the video codec the tool sends (a room codec name:
	// VP8, VP9, H264); default the room's first video codec.
	VideoCodec string `json:"videoCodec,omitempty"`
}

// IngestStream is where and how a tool sends one kind: what an FFmpeg
// "-f rtp" output needs (-payload_type, -ssrc, rtp://ip:port?rtcpport=).
type IngestStream struct {
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	RTCPPort    int    `json:"rtcpPort"`
	PayloadType int    `json:"payloadType"`
	SSRC        uint32 `json:"ssrc"`
	ClockRate   int    `json:"clockRate"`
	Codec       string `json:"codec"`
	Channels    int    `json:"channels,omitempty"`
}

// IngestResponse answers an ingest: the peer and one stream per kind.
type IngestResponse struct {
	PeerName string        `json:"peerName"`
	Audio    *IngestStream `json:"audio,omitempty"`
	Video    *IngestStream `json:"video,omitempty"`
}

// ingests are the running ingest peers, by room and name.
type ingests struct {
	h     *Handler
	mu    sync.Mutex
	peers map[string]*ingest
}

// ingest is one tool's peer and the hold on its room.
type ingest struct {
	peer    *sfu.Peer
	release func()
}

func ingestKey(room, peer string) string { return room + "\x00" + peer }

func (in *ingests) create(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("room")
	var req IngestRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid body: "+err.Error())
		return
	}
	if req.PeerName == "" || len(req.PeerName) > 256 {
		writeError(w, http.StatusBadRequest, "peerName: required, at most 256 bytes")
		return
	}
	if len(req.Kinds) == 0 || len(req.Kinds) > 2 {
		writeError(w, http.StatusBadRequest, `kinds: one or both of "audio", "video"`)
		return
	}
	room, release, err := in.h.acquireRoom(roomID)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	ok := false
	defer func() {
		if !ok {
			release()
		}
	}()
	codecs := map[string]rtpparams.CodecCapability{}
	for _, kind := range req.Kinds {
		if _, dup := codecs[kind]; dup {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("kinds: %q twice", kind))
			return
		}
		c, err := pickCodec(room.Capabilities(), kind, req.VideoCodec)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		codecs[kind] = c
	}
	peer, err := joinPeer(room, req.PeerName, map[string]any{"source": "ingest"})
	if err != nil {
		writeError(w, http.StatusConflict, "join: "+err.Error())
		return
	}
	resp := IngestResponse{PeerName: req.PeerName}
	for _, kind := range req.Kinds {
		st, err := ingestKind(peer, kind, codecs[kind])
		if err != nil {
			peer.Close(nil)
			writeError(w, http.StatusInternalServerError, kind+": "+err.Error())
			return
		}
		if kind == rtpparams.KindAudio {
			resp.Audio = st
		} else {
			resp.Video = st
		}
	}
	in.mu.Lock()
	in.peers[ingestKey(roomID, req.PeerName)] = &ingest{peer: peer, release: release}
	in.mu.Unlock()
	ok = true
	in.h.log.Info("ingest started", "room", roomID, "peer", req.PeerName, "kinds", req.Kinds)
	writeJSON(w, http.StatusCreated, resp)
}

func (in *ingests) remove(w http.ResponseWriter, r *http.Request) {
	roomID, name := r.PathValue("room"), r.URL.Query().Get("peerName")
	in.mu.Lock()
	ing := in.peers[ingestKey(roomID, name)]
	delete(in.peers, ingestKey(roomID, name))
	in.mu.Unlock()
	if ing == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no ingest peer %q in room %q", name, roomID))
		return
	}
	ing.peer.Close(nil)
	ing.release()
	in.h.log.Info("ingest ended", "room", roomID, "peer", name)
	w.WriteHeader(http.StatusNoContent)
}

// acquireRoom holds the room through Options.Rooms, or else on the
// server (sfu.Server.AcquireRoom): the room closes when the last hold of
// any kind is released.
func (h *Handler) acquireRoom(id string) (*sfu.Room, func(), error) {
	if h.opts.Rooms != nil {
		return h.opts.Rooms.AcquireRoom(id)
	}
	return h.opts.Server.AcquireRoom(id)
}

// closeAll ends every ingest peer (the server shuts down).
func (in *ingests) closeAll() {
	in.mu.Lock()
	peers := in.peers
	in.peers = map[string]*ingest{}
	in.mu.Unlock()
	for _, ing := range peers {
		ing.peer.Close(nil)
		ing.release()
	}
}

// pickCodec chooses the room codec a tool sends for kind.
func pickCodec(caps rtpparams.Capabilities, kind, videoCodec string) (rtpparams.CodecCapability, error) {
	if kind != rtpparams.KindAudio && kind != rtpparams.KindVideo {
		return rtpparams.CodecCapability{}, fmt.Errorf("kinds: %q is not audio or video", kind)
	}
	for _, c := range caps.Codecs {
		if c.Kind != kind || strings.EqualFold(c.Name, "rtx") {
			continue
		}
		if kind == rtpparams.KindAudio || videoCodec == "" || strings.EqualFold(c.Name, videoCodec) {
			return c, nil
		}
	}
	if kind == rtpparams.KindVideo && videoCodec != "" {
		return rtpparams.CodecCapability{}, fmt.Errorf("videoCodec: the room has no %s", videoCodec)
	}
	return rtpparams.CodecCapability{}, fmt.Errorf("the room has no %s codec", kind)
}

// joinPeer joins a server-made peer with the room's capabilities, as a
// client would; its notifications go nowhere.
func joinPeer(room *sfu.Room, name string, appData any) (*sfu.Peer, error) {
	m, err := message("join", "room", map[string]any{
		"peerName": name, "rtpCapabilities": room.Capabilities(), "spy": false, "appData": appData,
	})
	if err != nil {
		return nil, err
	}
	_, peer, err := room.ReceiveRequest(m, func(any) {})
	return peer, err
}

// ingestKind creates a comedia plain transport and a producer of codec
// on it, and returns what the tool must send.
func ingestKind(peer *sfu.Peer, kind string, codec rtpparams.CodecCapability) (*IngestStream, error) {
	t, err := peer.CreatePlainRtpTransport(sfu.PlainRtpOptions{Direction: "send", Comedia: true, NoRTCPMux: true})
	if err != nil {
		return nil, err
	}
	ssrc := rtpparams.RandomID()
	cp := map[string]any{
		"name": codec.Name, "mimeType": codec.MimeType, "clockRate": codec.ClockRate,
		"payloadType": codec.PreferredPayloadType, "rtcpFeedback": codec.RTCPFeedback, "parameters": codec.Parameters,
	}
	if codec.RTCPFeedback == nil {
		cp["rtcpFeedback"] = []any{} // the room's feedback (NACK): a retransmission buffer for receivers
	}
	if codec.Parameters == nil {
		cp["parameters"] = map[string]any{}
	}
	if codec.Channels > 0 {
		cp["channels"] = codec.Channels
	}
	m, err := message("createProducer", "peer", map[string]any{
		"id": rtpparams.RandomID(), "kind": kind, "transportId": t.ID(), "paused": false,
		"appData": map[string]any{"source": "ingest"},
		"rtpParameters": map[string]any{
			"codecs": []any{cp}, "headerExtensions": []any{},
			"encodings": []any{map[string]any{"ssrc": ssrc}},
			"rtcp":      map[string]any{"cname": peer.Name(), "reducedSize": false, "mux": false},
		},
	})
	if err != nil {
		return nil, err
	}
	if _, err := peer.ReceiveRequest(m); err != nil {
		return nil, fmt.Errorf("createProducer: %w", err)
	}
	l, _ := t.PlainLocal()
	return &IngestStream{IP: l.IP, Port: l.Port, RTCPPort: l.RTCPPort, PayloadType: codec.PreferredPayloadType,
		SSRC: ssrc, ClockRate: codec.ClockRate, Codec: codec.Name, Channels: codec.Channels}, nil
}

// message builds a mediasoup protocol request as a client would send it.
func message(method, target string, body map[string]any) (*protocol.Message, error) {
	body["method"], body["target"] = method, target
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return protocol.DecodeMessage(b)
}
