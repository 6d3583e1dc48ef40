package whip

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"sync"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
)

// session is one WHIP or WHEP session: an in-process mediasoup-client. It
// joins the room with the same mediasoup messages a browser's client
// sends (room.ReceiveRequest, peer.ReceiveRequest,
// peer.ReceiveNotification), so its transport, producers and consumers
// are those of any peer. Its resource URL answers PATCH (trickle ICE, ICE
// restart) and DELETE (leave).
type session struct {
	h       *Handler
	id      string
	kind    string // "whip" or "whep"
	roomID  string
	room    *sfu.Room
	release func() // the room hold
	name    string
	log     *slog.Logger

	// Set while the session is set up, fixed afterwards.
	peer        *sfu.Peer
	transportID uint32
	wtDone      <-chan struct{} // closed when the transport closes, for any reason
	first       *mediaOffer     // first accepted section: ICE restart fragments
	player      *player         // WHEP only; the session goroutine's

	mu          sync.Mutex
	remoteUfrag string
	remotePwd   string
	local       localTransport
	etag        string
	queue       []any // notifications for the session goroutine
	ended       bool

	wake    chan struct{}
	done    chan struct{}
	endOnce sync.Once
}

// speakerChange is queued when the room's active speaker changes.
type speakerChange struct{ peerName string }

func newSession(h *Handler, kind, roomID string, room *sfu.Room, release func(), name string) *session {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	return &session{
		h: h, id: id, kind: kind, roomID: roomID, room: room, release: release, name: name,
		log:  h.log.With("session", kind, "room", roomID, "peer", name, "id", id[:8]),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

// location is the session's resource URL (path).
func (s *session) location() string {
	return "/" + s.kind + "/" + url.PathEscape(s.roomID) + "/" + s.id
}

// notify is the peer's sfu.Notifier: it queues, never blocks.
func (s *session) notify(n any) {
	s.mu.Lock()
	if !s.ended {
		s.queue = append(s.queue, n)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *session) take() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	s.queue = nil
	return q
}

// message builds a mediasoup message from fields, as a client's.
func message(fields map[string]any) (*protocol.Message, error) {
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("encode %v: %w", fields["method"], err)
	}
	return protocol.DecodeMessage(b)
}

// request sends a mediasoup request of the peer.
func (s *session) request(method string, fields map[string]any) (any, error) {
	fields["method"], fields["target"] = method, "peer"
	m, err := message(fields)
	if err != nil {
		return nil, err
	}
	resp, err := s.peer.ReceiveRequest(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	return resp, nil
}

// notifyPeer sends a mediasoup notification of the peer.
func (s *session) notifyPeer(method string, fields map[string]any) error {
	fields["method"], fields["target"], fields["notification"] = method, "peer", true
	m, err := message(fields)
	if err != nil {
		return err
	}
	if err := s.peer.ReceiveNotification(m); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// join joins the room with receive capabilities caps.
func (s *session) join(caps rtpparams.Capabilities, spy bool) (protocol.JoinResponse, error) {
	m, err := message(map[string]any{
		"method": "join", "target": "room", "peerName": s.name, "rtpCapabilities": caps,
		"spy": spy, "appData": map[string]any{"source": s.kind},
	})
	if err != nil {
		return protocol.JoinResponse{}, err
	}
	resp, peer, err := s.room.ReceiveRequest(m, s.notify)
	if err != nil {
		return protocol.JoinResponse{}, httpErrorf(joinStatus(err), "join room %q as %q: %v", s.roomID, s.name, err)
	}
	s.peer = peer
	jr, _ := resp.(protocol.JoinResponse)
	return jr, nil
}

// createTransport creates the session's one transport with the offer's
// DTLS parameters. gosoup takes the DTLS server role (a=setup:passive)
// unless the client insists on it (a=setup:passive in the offer).
func (s *session) createTransport(direction string, o *offer) error {
	role := "client" // the client is the DTLS client: actpass or active
	if o.setup == "passive" {
		role = "server"
	}
	fps := make([]map[string]string, 0, len(o.fingerprints))
	for _, f := range o.fingerprints {
		fps = append(fps, map[string]string{"algorithm": f.algorithm, "value": f.value})
	}
	s.transportID = rtpparams.RandomID()
	resp, err := s.request("createTransport", map[string]any{
		"id": s.transportID, "direction": direction, "options": map[string]any{"udp": true, "tcp": true},
		"appData": map[string]any{"source": s.kind}, "dtlsParameters": map[string]any{"role": role, "fingerprints": fps},
	})
	if err != nil {
		return err
	}
	ct, ok := resp.(protocol.CreateTransportResponse)
	t := s.peer.TransportByID(s.transportID)
	if !ok || t == nil || t.WebRTC() == nil {
		return fmt.Errorf("createTransport: no WebRTC transport")
	}
	s.wtDone = t.WebRTC().Done()
	s.mu.Lock()
	s.local = localTransport{ice: ct.IceParameters, cands: ct.IceCandidates, dtls: ct.DtlsParameters}
	s.remoteUfrag, s.remotePwd = o.ufrag, o.pwd
	s.etag = `"` + ct.IceParameters.UsernameFragment + `"`
	s.mu.Unlock()
	return nil
}

// transport returns gosoup's current ICE/DTLS parameters and the ETag.
func (s *session) transport() (localTransport, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.local, s.etag
}

// trickle applies a PATCH fragment: nothing for candidates, an ICE restart
// for new credentials. restarted tells whether it restarted.
func (s *session) trickle(f fragment) (restarted bool, err error) {
	s.mu.Lock()
	same := f.ufrag == "" || (f.ufrag == s.remoteUfrag && f.pwd == s.remotePwd)
	s.mu.Unlock()
	if same {
		return false, nil
	}
	resp, err := s.request("restartTransport", map[string]any{"id": s.transportID})
	if err != nil {
		return false, err
	}
	rr, _ := resp.(protocol.RestartTransportResponse)
	s.mu.Lock()
	s.local.ice = rr.IceParameters
	s.remoteUfrag, s.remotePwd = f.ufrag, f.pwd
	s.etag = `"` + rr.IceParameters.UsernameFragment + `"`
	s.mu.Unlock()
	s.log.Info("ICE restarted")
	return true, nil
}

// start runs the session goroutine: it handles the peer's notifications
// and ends the session when its peer is closed, its transport closes (the
// client went away: ICE consent expired, DTLS closed) or the handler
// closes.
func (s *session) start(ctx context.Context) {
	s.h.wg.Add(1)
	go func() {
		defer s.h.wg.Done()
		for {
			select {
			case <-s.done:
				return
			case <-ctx.Done():
				s.end(true, "server closing")
				return
			case <-s.wtDone:
				s.end(true, "transport closed")
				return
			case <-s.wake:
				for _, n := range s.take() {
					if _, closed := n.(protocol.Closed); closed {
						s.end(false, "closed by the server")
						return
					}
					if s.player != nil {
						s.player.handle(n)
					}
					select {
					case <-s.done: // the player ended it (the peer it played left)
						return
					default:
					}
				}
			}
		}
	}()
}

// end ends the session once: the peer leaves (others get peerClosed)
// unless the server closed it, and the room hold is released.
func (s *session) end(leave bool, reason string) {
	s.endOnce.Do(func() {
		s.mu.Lock()
		s.ended = true
		s.queue = nil
		s.mu.Unlock()
		s.h.forget(s) // the resource is gone before the others hear of it
		if s.player != nil {
			s.player.stop()
		}
		if leave && s.peer != nil {
			if err := s.notifyPeer("leave", map[string]any{}); err != nil {
				s.log.Debug("leave", "err", err)
			}
		}
		s.release()
		close(s.done)
		s.log.Info("session ended", "reason", reason)
	})
}
