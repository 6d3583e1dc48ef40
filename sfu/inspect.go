package sfu

import "encoding/json"

// Read-only views of a room's objects for operators (the admin API): what
// the client-facing accessors do not show, each read under the room lock
// so that one call gives a consistent picture of its object.

// Remote reports whether the peer lives on another node of a cluster: a
// mirror here (Room.JoinRemotePeer), without a client or transports of
// its own on this node; its producers are fed by pipes.
func (p *Peer) Remote() bool { return p.remote }

// ProducerState is a producer's pause state and fan-out.
type ProducerState struct {
	// PausedByServer: Producer.Pause (the owner was told producerPaused).
	PausedByServer bool
	// PausedByClient: the owner's pauseProducer request (or, for a pipe
	// producer, the origin node's pause).
	PausedByClient bool
	// Consumers is the number of consumers of the producer, server-side
	// ones (recordings) included.
	Consumers int
	// Closed: the producer is closed.
	Closed bool
}

// State returns the producer's pause state and its number of consumers.
func (p *Producer) State() ProducerState {
	p.peer.room.mu.Lock()
	defer p.peer.room.mu.Unlock()
	return ProducerState{
		PausedByServer: p.locallyPaused,
		PausedByClient: p.remotelyPaused,
		Consumers:      len(*p.consumers.Load()),
		Closed:         p.closed,
	}
}

// ConsumerState is a consumer's control state: whether it is enabled on a
// transport, who paused it, its simulcast profiles.
type ConsumerState struct {
	// Enabled: the client enabled it on a receive transport (TransportID).
	Enabled     bool
	TransportID uint32
	// PausedByServer: Consumer.Pause; PausedByClient: the client's
	// pauseConsumer; SourcePaused: its producer is paused.
	PausedByServer bool
	PausedByClient bool
	SourcePaused   bool
	// Active: media flows (enabled, open, paused by no one).
	Active bool
	// PreferredProfile is the simulcast profile asked for ("default",
	// "low", "medium", "high"); EffectiveProfile the one sent ("none"
	// while nothing is), empty until known.
	PreferredProfile string
	EffectiveProfile string
	Closed           bool
}

// State returns the consumer's control state.
func (c *Consumer) State() ConsumerState {
	c.peer.room.mu.Lock()
	defer c.peer.room.mu.Unlock()
	st := ConsumerState{
		Enabled:          c.enabled,
		PausedByServer:   c.locallyPaused,
		PausedByClient:   c.remotelyPaused,
		SourcePaused:     c.sourcePaused,
		Active:           c.active.Load(),
		PreferredProfile: c.preferredProfile,
		Closed:           c.closed,
	}
	if t := c.transport.Load(); t != nil {
		st.TransportID = t.id
	}
	if e := c.effective.Load(); e != nil {
		st.EffectiveProfile = *e
	}
	return st
}

// Kind returns "webrtc" for a WebRTC transport, "plain" for a plain RTP
// one (tools, and the receiving end of a pipe between nodes).
func (t *Transport) Kind() string {
	if t.WebRTC() != nil {
		return "webrtc"
	}
	return "plain"
}

// Closed reports whether the transport is closed.
func (t *Transport) Closed() bool {
	t.peer.room.mu.Lock()
	defer t.peer.room.mu.Unlock()
	return t.closed
}

// AppData returns the application data the transport was created with.
func (t *Transport) AppData() json.RawMessage { return t.appData }
