package sfu

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// Notifier delivers a server notification (a protocol notification struct,
// or what the application passes to Peer.Notify) to one client. It must
// not block (the signaling layer queues) nor call back into the sfu: it
// runs under the peer's notification lock, often under the room lock too.
// It is never called once the peer has left or been closed (after its
// "closed", for a close by the server).
type Notifier func(notification any)

// Room is a mediasoup Room: peers that see each other and consume each
// other's producers. Every control-plane change of a room runs under its
// lock, so joins, leaves and closes have one order.
type Room struct {
	id     string
	server *Server
	caps   rtpparams.Capabilities
	log    *slog.Logger

	mu         sync.Mutex
	peers      []*Peer
	serverPeer *Peer // hidden owner of server-side transports (RtpStreamer); nil until needed
	transports map[uint32]*Transport
	producers  map[uint32]*Producer
	closed     bool
	onClose    []func()
	events     eventQueue
	done       chan struct{} // closed when the room closes

	slots        *audioSlots      // nil: audio slots off; set before the first join
	lastN        *lastN           // nil: video last-N off; set before the first join
	speaker      *speakerDetector // started by the first subscription (or join, with slots); guarded by mu
	speakerEvery time.Duration    // the detector's interval (tests shorten or stretch it)

	holds int // Server.AcquireRoom holds not released; guarded by the server's mu

	peerCaps capsCache // the capabilities the peers joined with; guarded by mu
}

func (s *Server) newRoom(id string, codecs []rtpparams.MediaCodec) (*Room, error) {
	caps, err := rtpparams.NewRoomCapabilities(codecs, s.cfg.HeaderExtensions)
	if err != nil {
		return nil, fmt.Errorf("room capabilities: %w", err)
	}
	r := &Room{
		id:         id,
		server:     s,
		caps:       caps,
		log:        s.log.With("room", id),
		transports: map[uint32]*Transport{},
		producers:  map[uint32]*Producer{},
		done:       make(chan struct{}),
	}
	slots := s.cfg.AudioSlots
	if s.cfg.RoomAudioSlots != nil {
		slots = s.cfg.RoomAudioSlots(id)
	}
	if slots < 0 || slots > maxAudioSlots {
		return nil, fmt.Errorf("room %q: audio slots: %d is not in 0..%d", id, slots, maxAudioSlots)
	}
	if slots > 0 {
		if r.slots, err = newAudioSlots(r, slots); err != nil {
			return nil, err
		}
	}
	n := s.cfg.LastN
	if s.cfg.RoomLastN != nil {
		n = s.cfg.RoomLastN(id)
	}
	if n < 0 || n > maxLastN {
		return nil, fmt.Errorf("room %q: last-n: %d is not in 0..%d", id, n, maxLastN)
	}
	if n > 0 {
		r.lastN = newLastN(r, n)
	}
	return r, nil
}

// ID returns the room id.
func (r *Room) ID() string { return r.id }

// Capabilities returns the room's RTP capabilities.
func (r *Room) Capabilities() rtpparams.Capabilities { return r.caps }

// Closed reports whether the room is closed.
func (r *Room) Closed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// Peers returns the room's peers in join order.
func (r *Room) Peers() []*Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Peer(nil), r.peers...)
}

// PeerByName returns the peer with this name, or nil.
func (r *Room) PeerByName(name string) *Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peerLocked(name)
}

func (r *Room) peerLocked(name string) *Peer {
	for _, p := range r.peers {
		if p.name == name {
			return p
		}
	}
	return nil
}

// OnClose registers f to run (once, without the room lock) when the room
// closes.
func (r *Room) OnClose(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onClose = append(r.onClose, f)
}

// ReceiveRequest handles a request targeted at the room: queryRoom or join.
// For join, notify receives the new peer's notifications from then on, and
// the new Peer is returned with the response.
func (r *Room) ReceiveRequest(m *protocol.Message, notify Notifier) (any, *Peer, error) {
	req, err := protocol.DecodeRequest(m)
	if err != nil {
		return nil, nil, err
	}
	switch req := req.(type) {
	case *protocol.QueryRoomRequest:
		if r.Closed() {
			return nil, nil, protocol.NewInvalidStateError("Room closed")
		}
		return protocol.QueryRoomResponse{RTPCapabilities: r.caps, MandatoryCodecPayloadTypes: []int{}}, nil, nil
	case *protocol.JoinRequest:
		return r.join(req, notify)
	default:
		return nil, nil, protocol.NewError("unknown request method %q", m.Method)
	}
}

func (r *Room) join(req *protocol.JoinRequest, notify Notifier) (any, *Peer, error) {
	return r.joinPeer(req, notify, false)
}

// joinPeer joins a peer; a remote one (living on another node) gets no
// consumers here.
func (r *Room) joinPeer(req *protocol.JoinRequest, notify Notifier, remote bool) (any, *Peer, error) {
	if req.PeerName == "" {
		return nil, nil, protocol.NewTypeError("peerName must be a string")
	}
	if err := rtpparams.ValidatePeerCapabilities(req.RTPCapabilities, r.caps); err != nil {
		return nil, nil, protocol.NewError("%s", err.Error())
	}
	if notify == nil {
		notify = func(any) {}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, nil, protocol.NewInvalidStateError("Room closed")
	}
	if r.peerLocked(req.PeerName) != nil {
		return nil, nil, protocol.NewError("duplicated Peer [peerName:%q]", req.PeerName)
	}
	if max := r.server.cfg.Limits.PeersPerRoom; len(r.peers) >= max {
		return nil, nil, protocol.NewError("room is full (limit %d peers)", max)
	}
	p := newPeer(r, req.PeerName, r.peerCaps.intern(req.RTPCapabilities), req.Spy, req.AppData, notify)
	p.remote = remote
	resp := protocol.JoinResponse{Peers: []protocol.PeerData{}}
	if r.lastN != nil {
		r.lastN.startLocked() // the video set follows the audio levels
	}
	if r.slots != nil && !remote {
		r.detectorLocked() // the slots follow the audio levels
		consumers := []protocol.ConsumerData{}
		for _, c := range r.slots.consumersLocked(p) {
			consumers = append(consumers, c.data())
		}
		resp.Peers = append(resp.Peers, protocol.PeerData{Consumers: consumers, Name: r.slots.peer.name, AppData: r.slots.peer.appData})
	}
	for _, other := range r.peers {
		var consumers []protocol.ConsumerData
		for _, prod := range other.producerList() {
			if !r.offeredLocked(prod) {
				continue // heard through the slots, or video outside last-N
			}
			if c := p.newConsumerLocked(prod); c != nil {
				consumers = append(consumers, c.data())
			}
		}
		if other.spy {
			continue
		}
		if consumers == nil {
			consumers = []protocol.ConsumerData{}
		}
		resp.Peers = append(resp.Peers, protocol.PeerData{Consumers: consumers, Name: other.name, AppData: other.appData})
	}
	if !p.spy {
		for _, other := range r.peers {
			other.notify(protocol.NewPeer{Name: p.name, Consumers: []protocol.ConsumerData{}, AppData: p.appData})
		}
	}
	r.peers = append(r.peers, p)
	r.log.Info("peer joined", "peer", p.name, "spy", p.spy)
	r.events.emit(func(o *Observer) {
		if o.NewPeer != nil {
			o.NewPeer(p)
		}
	})
	return resp, p, nil
}

// removePeerLocked takes a closed peer out of the room and tells the others.
func (r *Room) removePeerLocked(p *Peer, appData json.RawMessage) {
	for i, q := range r.peers {
		if q == p {
			r.peers = append(r.peers[:i], r.peers[i+1:]...)
			break
		}
	}
	if !p.spy {
		for _, other := range r.peers {
			other.notify(protocol.PeerClosed{Name: p.name, AppData: appData})
		}
	}
}

// Close closes every peer (each gets "closed") and the room. Safe to call
// twice.
func (r *Room) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	for len(r.peers) > 0 {
		r.peers[0].closeLocked(nil, true)
	}
	if r.serverPeer != nil {
		r.serverPeer.closeLocked(nil, false)
	}
	if r.slots != nil {
		r.slots.closeLocked()
	}
	r.closed = true
	close(r.done)
	fns := r.onClose
	r.onClose = nil
	r.mu.Unlock()
	r.server.forgetRoom(r)
	r.log.Info("room closed")
	r.events.emit(func(o *Observer) {
		if o.RoomClosed != nil {
			o.RoomClosed(r)
		}
	})
	r.events.close()
	for _, f := range fns {
		f()
	}
}
