package sfu

import (
	"encoding/json"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// Consumer is what a peer receives of another peer's Producer. Locking:
// its own fields are fixed at creation or guarded by the room lock; layers
// belongs to its transport's report loop; the embedded consumerSendStream
// is the media side, with its own rule.
type Consumer struct {
	// Fixed at creation.
	id            uint32
	peer          *Peer // the receiving peer
	producer      *Producer
	kind          string
	rtpParameters rtpparams.Parameters
	cname         string
	statsID       string
	done          chan struct{}

	// Guarded by the room lock.
	enabled          bool
	locallyPaused    bool
	remotelyPaused   bool
	sourcePaused     bool
	closed           bool
	preferredProfile string
	statsTimer       *statsTimer

	// Its transport's report loop only.
	layers consumerLayers

	consumerSendStream
}

// ID returns the consumer id chosen by the server.
func (c *Consumer) ID() uint32 { return c.id }

// Kind returns "audio" or "video".
func (c *Consumer) Kind() string { return c.kind }

// Peer returns the receiving peer.
func (c *Consumer) Peer() *Peer { return c.peer }

// Producer returns the source producer.
func (c *Consumer) Producer() *Producer { return c.producer }

// RTPParameters returns the parameters the receiver gets.
func (c *Consumer) RTPParameters() rtpparams.Parameters { return c.rtpParameters }

// Active reports whether media is being forwarded to the consumer (enabled
// and nobody paused it).
func (c *Consumer) Active() bool { return c.active.Load() }

// RequestKeyFrame asks the producer's sender for a key frame, if the
// consumer is video, enabled and not paused.
func (c *Consumer) RequestKeyFrame() {
	if c.active.Load() {
		c.producer.requestStreamKeyFrame(c.wantedStream())
	}
}

// wantedStream is the stream the consumer forwards, or the one it waits to
// switch to; nil when none.
func (c *Consumer) wantedStream() *producerStream {
	i := c.target.Load()
	if i < 0 {
		i = c.current.Load()
	}
	if i < 0 || int(i) >= len(c.producer.streams) {
		return nil
	}
	return c.producer.streams[i]
}

// Pause pauses the consumer from the server side; its client gets
// "consumerPaused" when enabled and the source is not paused.
func (c *Consumer) Pause(appData json.RawMessage) {
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed || c.locallyPaused {
		return
	}
	c.locallyPaused = true
	if c.enabled && !c.sourcePaused {
		c.peer.notify(protocol.ConsumerPaused{ID: c.id, PeerName: c.producer.peer.name, AppData: appData})
	}
	c.updateActiveLocked()
}

// Resume resumes a consumer paused from the server side.
func (c *Consumer) Resume(appData json.RawMessage) {
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed || !c.locallyPaused {
		return
	}
	c.locallyPaused = false
	if c.enabled && !c.sourcePaused {
		c.peer.notify(protocol.ConsumerResumed{ID: c.id, PeerName: c.producer.peer.name, AppData: appData})
	}
	c.updateActiveLocked()
}

// PreferredProfile returns the consumer's preferred simulcast profile.
func (c *Consumer) PreferredProfile() string {
	c.peer.room.mu.Lock()
	defer c.peer.room.mu.Unlock()
	return c.preferredProfile
}

// SetPreferredProfile sets the preferred profile from the server side; the
// client gets "consumerPreferredProfileSet".
func (c *Consumer) SetPreferredProfile(profile string) error {
	if err := checkPreferredProfile(profile); err != nil {
		return err
	}
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed {
		return protocol.NewInvalidStateError("Consumer closed")
	}
	c.setPreferredLocked(profile)
	c.peer.notify(protocol.ConsumerPreferredProfileSet{ID: c.id, PeerName: c.producer.peer.name, Profile: profile})
	return nil
}

// setPreferredLocked stores the preferred profile for the room and the
// layer loop.
func (c *Consumer) setPreferredLocked(profile string) {
	c.preferredProfile = profile
	c.preferred.Store(&profile)
}

// Close closes the consumer from the server side; its client gets
// "consumerClosed".
func (c *Consumer) Close() {
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	c.closeLocked(true)
}

// newConsumerLocked creates a consumer of prod for peer p (not yet
// enabled); nil when p cannot receive any of prod's codecs.
func (p *Peer) newConsumerLocked(prod *Producer) *Consumer {
	if p.remote {
		return nil // its own node consumes
	}
	params, ok := rtpparams.ConsumerParameters(prod.consumable, *p.caps)
	if !ok || len(params.Codecs) == 0 || len(params.Encodings) == 0 {
		return nil
	}
	id := rtpparams.RandomID()
	for p.consumers[id] != nil {
		id = rtpparams.RandomID()
	}
	c := &Consumer{
		id:               id,
		peer:             p,
		producer:         prod,
		kind:             prod.kind,
		rtpParameters:    params,
		preferredProfile: profileDefault,
		sourcePaused:     prod.paused.Load(),
		statsID:          statsID(),
		done:             make(chan struct{}),
	}
	if params.RTCP != nil {
		c.cname = params.RTCP.CNAME
	}
	c.ssrc, c.payloadType = params.Encodings[0].SSRC, uint8(params.Codecs[0].PayloadType)
	if rtx := params.Encodings[0].RTX; rtx != nil {
		if pt, ok := params.RTXPayloadType(int(c.payloadType)); ok {
			c.rtxSSRC, c.rtxPayloadType = rtx.SSRC, uint8(pt)
		}
	}
	for _, e := range params.HeaderExtensions {
		if e.URI == rtpparams.URIAbsSendTime && e.ID > 0 && e.ID < 15 {
			c.absSendTimeID = uint8(e.ID)
		}
	}
	c.srcAbsSendTimeID, c.counters = prod.absSendTimeID, p.counters()
	c.send.clockRate = prod.clockRate
	c.current.Store(-1)
	c.target.Store(int32(prod.initialStream(c.preferredProfile)))
	p.consumers[id] = c
	prod.addConsumer(c)
	p.room.events.emit(func(o *Observer) {
		if o.NewConsumer != nil {
			o.NewConsumer(c)
		}
	})
	return c
}

// data is the consumer as the join response and newConsumer carry it.
func (c *Consumer) data() protocol.ConsumerData {
	return protocol.ConsumerData{
		ID:               c.id,
		Kind:             c.kind,
		RTPParameters:    c.rtpParameters,
		Paused:           c.locallyPaused || c.remotelyPaused,
		PreferredProfile: c.preferredProfile,
		EffectiveProfile: c.effective.Load(),
		AppData:          c.producer.appData,
		PeerName:         c.producer.peer.name,
	}
}

func (p *Peer) enableConsumerLocked(req *protocol.EnableConsumerRequest) (any, error) {
	c := p.consumers[req.ID]
	if c == nil {
		return nil, protocol.NewError("Consumer not found")
	}
	t := p.transports[req.TransportID]
	if t == nil {
		return nil, protocol.NewTypeError("Transport not found")
	}
	if c.closed {
		return nil, protocol.NewInvalidStateError("Consumer closed")
	}
	if c.enabled {
		return nil, protocol.NewInvalidStateError("Consumer already enabled")
	}
	if t.direction != dirRecv {
		return nil, protocol.NewError("cannot consume on a send transport")
	}
	c.remotelyPaused = req.Paused
	if req.PreferredProfile != "" {
		c.setPreferredLocked(req.PreferredProfile)
	}
	c.enabled = true
	c.transport.Store(t)
	t.addConsumer(c)
	c.updateActiveLocked()
	return protocol.EnableConsumerResponse{
		Paused:           c.sourcePaused || c.locallyPaused,
		PreferredProfile: c.preferredProfile,
		EffectiveProfile: c.effective.Load(),
	}, nil
}

func (c *Consumer) setSourcePausedLocked(paused bool) {
	if c.sourcePaused == paused {
		return
	}
	c.sourcePaused = paused
	if c.enabled && !c.locallyPaused && !c.closed {
		if paused {
			c.peer.notify(protocol.ConsumerPaused{ID: c.id, PeerName: c.producer.peer.name})
		} else {
			c.peer.notify(protocol.ConsumerResumed{ID: c.id, PeerName: c.producer.peer.name})
		}
	}
	c.updateActiveLocked()
}

// setRemotelyPausedLocked applies the client's pauseConsumer or
// resumeConsumer.
func (c *Consumer) setRemotelyPausedLocked(paused bool) {
	c.remotelyPaused = paused
	c.updateActiveLocked()
}

// updateActiveLocked recomputes whether media flows; when it starts
// flowing, the stream is resynchronised and a key frame requested.
func (c *Consumer) updateActiveLocked() {
	active := c.enabled && !c.closed && !c.locallyPaused && !c.remotelyPaused && !c.sourcePaused
	if c.active.Load() == active {
		return
	}
	if active {
		c.resync.Store(true)
		c.active.Store(true)
		if c.send.group != nil {
			c.send.group.routeLocked(c)
		}
		c.producer.refreshForwarding()
		c.producer.requestStreamKeyFrame(c.wantedStream())
		return
	}
	c.active.Store(false)
	c.producer.refreshForwarding()
}

// disableLocked detaches the consumer from its transport (the transport
// closed); it can be enabled again on another one.
func (c *Consumer) disableLocked() {
	if t := c.transport.Load(); t != nil {
		t.removeConsumer(c)
	}
	c.transport.Store(nil)
	c.enabled = false
	c.updateActiveLocked()
}

// closeLocked closes the consumer; notify sends "consumerClosed" to its
// owner.
func (c *Consumer) closeLocked(notify bool) {
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	c.statsTimer.Stop()
	c.updateActiveLocked()
	if t := c.transport.Load(); t != nil {
		t.removeConsumer(c)
	}
	c.producer.removeConsumer(c)
	delete(c.peer.consumers, c.id)
	if notify && !c.peer.closed {
		c.peer.notify(protocol.ConsumerClosed{ID: c.id, PeerName: c.producer.peer.name})
	}
	c.peer.room.events.emit(func(o *Observer) {
		if o.ConsumerClosed != nil {
			o.ConsumerClosed(c)
		}
	})
}
