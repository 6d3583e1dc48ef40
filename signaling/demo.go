package signaling

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gosoup/gosoup/sfu"
)

// The mediasoup-demo v2 app methods (docs/protocol.md, "Demo methods"), so that its client works
// unmodified.

type demoError struct {
	code   int
	reason string
}

func (e *demoError) Error() string { return e.reason }

func (s *session) demoRequest(method string, data json.RawMessage) (any, int, error) {
	peer := s.mediaPeer()
	if peer == nil {
		return nil, 400, errors.New("no mediasoup Peer")
	}
	switch method {
	case "change-display-name":
		var req struct {
			DisplayName string `json:"displayName"`
		}
		if err := json.Unmarshal(data, &req); err != nil || req.DisplayName == "" || len(req.DisplayName) > 256 {
			return nil, 400, errors.New("displayName must be a non-empty string")
		}
		app := map[string]any{}
		_ = json.Unmarshal(peer.AppData(), &app)
		if app == nil {
			app = map[string]any{}
		}
		old, _ := app["displayName"].(string)
		app["displayName"] = req.DisplayName
		raw, _ := json.Marshal(app)
		peer.SetAppData(raw)
		b, _ := notification("display-name-changed", map[string]any{
			"peerName": peer.Name(), "displayName": req.DisplayName, "oldDisplayName": old,
		})
		s.srv.broadcast(s.room.ID(), s, b)
		return struct{}{}, 0, nil
	case "change-consumer-preferred-profile", "request-consumer-keyframe":
		var req struct {
			ConsumerID uint32 `json:"consumerId"`
			Profile    string `json:"profile"`
		}
		if err := json.Unmarshal(data, &req); err != nil {
			return nil, 400, fmt.Errorf("invalid request data: %v", err)
		}
		c := peer.ConsumerByID(req.ConsumerID)
		if c == nil {
			return nil, 404, errors.New("consumer not found")
		}
		if method == "request-consumer-keyframe" {
			c.RequestKeyFrame()
			return struct{}{}, 0, nil
		}
		if err := c.SetPreferredProfile(req.Profile); err != nil {
			return nil, 500, err
		}
		return struct{}{}, 0, nil
	}
	return nil, 400, fmt.Errorf("unknown request.method %q", method)
}

// activeSpeaker is the demo's "active-speaker" notification of the
// speaker's peer (null: nobody).
func activeSpeaker(speaker *sfu.Producer) []byte {
	var name any
	if speaker != nil {
		name = speaker.Peer().Name()
	}
	b, _ := notification("active-speaker", map[string]any{"peerName": name})
	return b
}

// sendCurrentSpeaker tells a peer that just joined who is speaking.
func (s *session) sendCurrentSpeaker() {
	if cur := s.room.ActiveSpeaker(); cur != nil {
		s.send(activeSpeaker(cur))
	}
}

// broadcast sends a protoo message to every session of a room but one.
func (s *Server) broadcast(roomID string, except *session, b []byte) {
	s.mu.Lock()
	var targets []*session
	for sess := range s.all {
		if sess != except && sess.room.ID() == roomID && sess.mediaPeer() != nil {
			targets = append(targets, sess)
		}
	}
	s.mu.Unlock()
	for _, t := range targets {
		t.send(b)
	}
}
