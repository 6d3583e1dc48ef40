package sfu

import (
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// Peer is a participant of a Room: one mediasoup-client Room on the other
// side. Its fields are guarded by the room lock, except the notification
// gate (clientMu).
type Peer struct {
	room    *Room
	name    string
	caps    *rtpparams.Capabilities // shared with peers that joined with equal ones: read only
	spy     bool
	appData json.RawMessage
	// notify is what every notification to the client goes through: the
	// peer's deliver for peers made at join. Set once, never changed.
	notify Notifier

	// clientMu guards client and is held while client runs, so that
	// disconnect waits for a notification being handed over.
	clientMu sync.Mutex
	// client is the Notifier given at join; nil once the peer has left or
	// been closed, so that nothing reaches its client after that.
	client Notifier

	closed     bool
	hidden     bool // the room's server-side peer: no client, not in the peer list
	remote     bool // lives on another node: no client, no consumers here
	transports map[uint32]*Transport
	producers  []*Producer
	consumers  map[uint32]*Consumer
}

func newPeer(r *Room, name string, caps *rtpparams.Capabilities, spy bool, appData json.RawMessage, n Notifier) *Peer {
	p := &Peer{
		room:       r,
		name:       name,
		caps:       caps,
		spy:        spy,
		appData:    appData,
		client:     n,
		transports: map[uint32]*Transport{},
		consumers:  map[uint32]*Consumer{},
	}
	p.notify = func(n any) { p.deliver(n) }
	return p
}

// logger returns the peer's logger, made when something is logged: a
// logger kept per peer would cost every peer a handler with its
// attributes, for the few lines a peer logs.
func (p *Peer) logger() *slog.Logger { return p.room.log.With("peer", p.name) }

// deliver hands n to the client's Notifier unless the peer has been
// disconnected. Notifications come from the room's goroutines under the
// room lock and from media and timer goroutines without it (stats, the
// effective simulcast profile); holding clientMu while the Notifier runs
// makes disconnect wait for a delivery in progress, so none can slip
// through after it. It reports whether n was handed over.
func (p *Peer) deliver(n any) bool {
	p.clientMu.Lock()
	defer p.clientMu.Unlock()
	if p.client == nil {
		return false
	}
	p.client(n)
	return true
}

// disconnect cuts the peer off from its client: once it returns, no
// notification of any kind reaches the client. It runs when the client
// leaves and when the server closes the peer (after its "closed"). A last
// notification, if not nil, is delivered first under the same lock, so
// that a stats notification waiting for the lock cannot slip in between
// it and the cut.
func (p *Peer) disconnect(last any) {
	p.clientMu.Lock()
	defer p.clientMu.Unlock()
	if last != nil && p.client != nil {
		p.client(last)
	}
	p.client = nil
}

// Notify sends n to the peer's client through the Notifier given at join,
// in order with the sfu's own notifications, for an application's own
// notifications (the demo's active speaker). Like the sfu's, it is dropped
// once the peer has left or been closed; Notify reports whether n was
// handed over. n must be something the Notifier understands.
func (p *Peer) Notify(n any) bool { return p.deliver(n) }

// Name returns the peer name.
func (p *Peer) Name() string { return p.name }

// Spy reports whether the peer is a spy (invisible, receive only).
func (p *Peer) Spy() bool { return p.spy }

// AppData returns the peer's appData as sent at join.
func (p *Peer) AppData() json.RawMessage { return p.appData }

// SetAppData replaces the peer's appData (e.g. the demo's display name
// change). Later join responses and newPeer carry the new value.
func (p *Peer) SetAppData(appData json.RawMessage) {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	p.appData = appData
}

// ConsumerByID returns the peer's consumer with this id, or nil.
func (p *Peer) ConsumerByID(id uint32) *Consumer {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.consumers[id]
}

// ProducerByID returns the peer's producer with this id, or nil.
func (p *Peer) ProducerByID(id uint32) *Producer {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.producerByID(id)
}

// TransportByID returns the peer's transport with this id, or nil.
func (p *Peer) TransportByID(id uint32) *Transport {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.transports[id]
}

// Room returns the peer's room.
func (p *Peer) Room() *Room { return p.room }

// Closed reports whether the peer is closed.
func (p *Peer) Closed() bool {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.closed
}

// Producers returns the peer's producers.
func (p *Peer) Producers() []*Producer {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	return p.producerList()
}

func (p *Peer) producerList() []*Producer { return append([]*Producer(nil), p.producers...) }

// Consumers returns the peer's consumers.
func (p *Peer) Consumers() []*Consumer {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	out := make([]*Consumer, 0, len(p.consumers))
	for _, c := range p.consumers {
		out = append(out, c)
	}
	return out
}

// Transports returns the peer's transports.
func (p *Peer) Transports() []*Transport {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	out := make([]*Transport, 0, len(p.transports))
	for _, t := range p.transports {
		out = append(out, t)
	}
	return out
}

// Close closes the peer from the server side: the client gets "closed"
// (with appData), the others "peerClosed". Safe to call twice.
func (p *Peer) Close(appData json.RawMessage) {
	p.room.mu.Lock()
	defer p.room.mu.Unlock()
	p.closeLocked(appData, true)
}

// closeLocked closes the peer; notifySelf sends "closed" to its client
// (server-side close) and not for a client "leave". Either way the client
// is then disconnected before anything is closed, so that closing the
// peer's transports, producers and consumers, and their timers and media
// goroutines still running, notify it of nothing more (as mediasoup sends
// nothing to a peer that left or was closed).
func (p *Peer) closeLocked(appData json.RawMessage, notifySelf bool) {
	if p.closed {
		return
	}
	var last any
	if notifySelf {
		last = protocol.Closed{AppData: appData}
	}
	p.disconnect(last)
	p.closed = true
	for _, c := range p.consumers {
		c.closeLocked(false)
	}
	for _, prod := range p.producerList() {
		prod.closeLocked(false, false)
	}
	for _, t := range p.transports {
		t.closeLocked(false)
	}
	if p.hidden {
		return
	}
	p.room.removePeerLocked(p, appData)
	p.logger().Info("peer closed")
	p.room.events.emit(func(o *Observer) {
		if o.PeerClosed != nil {
			o.PeerClosed(p)
		}
	})
}

// ReceiveRequest handles a request targeted at the peer and returns the
// response body.
func (p *Peer) ReceiveRequest(m *protocol.Message) (any, error) {
	req, err := protocol.DecodeRequest(m)
	if err != nil {
		return nil, err
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed || r.closed {
		return nil, protocol.NewInvalidStateError("Room closed")
	}
	switch req := req.(type) {
	case *protocol.CreateTransportRequest:
		return p.createTransportLocked(req)
	case *protocol.RestartTransportRequest:
		t := p.transports[req.ID]
		if t == nil {
			return nil, errNotFound("Transport")
		}
		wt := t.WebRTC()
		if wt == nil {
			return nil, protocol.NewError("restartTransport applies to WebRtcTransports (transport %d is a PlainRtpTransport)", t.id)
		}
		ice, err := wt.RestartICE()
		if err != nil {
			return nil, protocol.NewError("%s", err.Error())
		}
		return protocol.RestartTransportResponse{IceParameters: iceParameters(ice)}, nil
	case *protocol.CreateProducerRequest:
		if err := p.createProducerLocked(req); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	case *protocol.EnableConsumerRequest:
		return p.enableConsumerLocked(req)
	default:
		return nil, protocol.NewError("unknown request method %q", m.Method)
	}
}

// ReceiveNotification handles a notification from the client. Errors are
// returned for logging only: the protocol never reports them.
func (p *Peer) ReceiveNotification(m *protocol.Message) error {
	n, err := protocol.DecodeNotification(m)
	if err != nil {
		return err
	}
	r := p.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed || r.closed {
		return protocol.NewInvalidStateError("Room closed")
	}
	switch n := n.(type) {
	case *protocol.LeaveNotification:
		p.closeLocked(n.AppData, false)
		return nil
	case *protocol.UpdateTransportNotification:
		t := p.transports[n.ID]
		if t == nil {
			return errNotFound("Transport")
		}
		return t.updateLocked(n)
	case *protocol.CloseTransportNotification:
		return with(p.transports[n.ID], "Transport", func(t *Transport) { t.closeLocked(false) })
	case *protocol.PauseProducerNotification:
		return with(p.producerByID(n.ID), "Producer", func(prod *Producer) { prod.setRemotelyPausedLocked(true) })
	case *protocol.ResumeProducerNotification:
		return with(p.producerByID(n.ID), "Producer", func(prod *Producer) { prod.setRemotelyPausedLocked(false) })
	case *protocol.CloseProducerNotification:
		if prod := p.producerByID(n.ID); prod != nil {
			prod.closeLocked(false, true)
		}
		return nil // unknown ids are ignored silently, as mediasoup
	case *protocol.PauseConsumerNotification:
		return with(p.consumers[n.ID], "Consumer", func(c *Consumer) { c.setRemotelyPausedLocked(true) })
	case *protocol.ResumeConsumerNotification:
		return with(p.consumers[n.ID], "Consumer", func(c *Consumer) { c.setRemotelyPausedLocked(false) })
	case *protocol.SetConsumerPreferredProfileNotification:
		return with(p.consumers[n.ID], "Consumer", func(c *Consumer) { c.setPreferredLocked(n.Profile) })
	case *protocol.EnableTransportStatsNotification:
		return with(p.transports[n.ID], "Transport", func(t *Transport) { t.enableStatsLocked(n.Interval) })
	case *protocol.DisableTransportStatsNotification:
		return with(p.transports[n.ID], "Transport", func(t *Transport) { t.statsTimer.Stop() })
	case *protocol.EnableProducerStatsNotification:
		return with(p.producerByID(n.ID), "Producer", func(prod *Producer) { prod.enableStatsLocked(n.Interval) })
	case *protocol.DisableProducerStatsNotification:
		return with(p.producerByID(n.ID), "Producer", func(prod *Producer) { prod.statsTimer.Stop() })
	case *protocol.EnableConsumerStatsNotification:
		return with(p.consumers[n.ID], "Consumer", func(c *Consumer) { c.enableStatsLocked(n.Interval) })
	case *protocol.DisableConsumerStatsNotification:
		return with(p.consumers[n.ID], "Consumer", func(c *Consumer) { c.statsTimer.Stop() })
	case *protocol.UpdateProducerNotification:
		// Accepted; SSRC changes only come from Plan-B clients.
		return with(p.producerByID(n.ID), "Producer", func(*Producer) {})
	default:
		return protocol.NewError("notification %q is not supported yet", m.Method)
	}
}

// with runs f on obj, or returns mediasoup's "<what> not found" error when
// the peer has no such object (obj nil).
func with[T any](obj *T, what string, f func(*T)) error {
	if obj == nil {
		return errNotFound(what)
	}
	f(obj)
	return nil
}

// errNotFound is mediasoup's answer for an id the peer does not own.
func errNotFound(what string) error { return protocol.NewError("%s not found", what) }

func (p *Peer) producerByID(id uint32) *Producer {
	for _, prod := range p.producers {
		if prod.id == id {
			return prod
		}
	}
	return nil
}
