package sfu

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/bwe"
)

// Producer is a track a peer sends. Locking: most fields are fixed at
// creation; the pause flags, closed and the stats timer are guarded by the
// room lock; the atomics are written by the control plane and read by the
// media plane (the consumer list is copy-on-write); scratch is the media
// plane's only (the network read goroutine).
type Producer struct {
	// Fixed at creation.
	id               uint32
	peer             *Peer
	transport        *Transport
	kind             string
	rtpParameters    rtpparams.Parameters
	consumable       rtpparams.Parameters
	appData          json.RawMessage
	ssrcs            []uint32          // every SSRC routed to this producer
	rid              ridRouting        // matching RID streams to their SSRCs
	streams          []*producerStream // one, or one per simulcast profile
	pipeSSRC         uint32            // stream i goes into pipes as pipeSSRC+i
	clockRate        uint32
	mediaPT          uint8          // the sender's media payload type
	absSendTimeID    uint8          // room id of abs-send-time, rewritten on forwarding
	srcAbsSendTimeID uint8          // the sender's id of abs-send-time, for the estimator
	srcTCCID         uint8          // the sender's id of transport-wide-cc
	audioLevelID     uint8          // the sender's ssrc-audio-level id
	estimator        *bwe.Estimator // the transport's receive-side estimator
	levels           *audioLevels   // audio with ssrc-audio-level only (atomics inside)
	ptMap            [128]int16
	extMap           [256]uint8
	done             chan struct{}

	// Guarded by the room lock.
	locallyPaused  bool
	remotelyPaused bool
	closed         bool
	statsTimer     *statsTimer

	// Written by the control plane (nackCount: the media plane), read anywhere.
	paused    atomic.Bool
	consumers atomic.Pointer[[]*Consumer]
	preferred atomic.Pointer[string] // for consumers whose own preference is "default"
	nackCount atomic.Uint64

	// forwarding is the subset of consumers that media flows to (active:
	// enabled, nobody paused them), the only ones fanOut visits, so a
	// paused or disabled consumer costs nothing per packet. Copy-on-write,
	// rebuilt under fwdMu when a consumer is added, removed or changes state.
	forwarding atomic.Pointer[[]*Consumer]
	fwdMu      sync.Mutex

	// Media plane only: the packet being fanned out, and a stored one
	// being replayed to a consumer that just resynchronised (replayNewer).
	scratch [1600]byte
	replay  [1600]byte

	// The audio slot forwarding this producer (sfu/slots.go), or nil.
	slot atomic.Pointer[audioSlot]

	// Pipes to other nodes: copy on write, read by the media plane.
	pipes   atomic.Pointer[[]*PipeOut]
	pipesMu sync.Mutex // serializes the writers of pipes
}

// ID returns the producer id chosen by the client.
func (p *Producer) ID() uint32 { return p.id }

// AppData returns the application data the producer was created with.
func (p *Producer) AppData() json.RawMessage { return p.appData }

// Transport returns the transport the producer sends on.
func (p *Producer) Transport() *Transport { return p.transport }

// Kind returns "audio" or "video".
func (p *Producer) Kind() string { return p.kind }

// Peer returns the owner.
func (p *Producer) Peer() *Peer { return p.peer }

// RTPParameters returns the parameters the client sends with.
func (p *Producer) RTPParameters() rtpparams.Parameters { return p.rtpParameters }

func (p *Producer) isClosed() bool {
	p.peer.room.mu.Lock()
	defer p.peer.room.mu.Unlock()
	return p.closed
}

// Paused reports whether the producer is paused (by its client or the
// server).
func (p *Producer) Paused() bool { return p.paused.Load() }

// SetPreferredProfile sets the simulcast profile that the producer's
// consumers prefer when their own preference is "default" (mediasoup's
// producer.setPreferredProfile()): "default", "low", "medium" or "high".
func (p *Producer) SetPreferredProfile(profile string) error {
	if err := checkPreferredProfile(profile); err != nil {
		return err
	}
	p.preferred.Store(&profile)
	return nil
}

// Pause pauses the producer from the server side: the owner gets
// "producerPaused", consumers "consumerPaused".
func (p *Producer) Pause(appData json.RawMessage) {
	r := p.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed || p.locallyPaused {
		return
	}
	p.locallyPaused = true
	p.peer.notify(protocol.ProducerPaused{ID: p.id, PeerName: p.peer.name, AppData: appData})
	p.updatePausedLocked()
}

// Resume resumes a producer paused from the server side.
func (p *Producer) Resume(appData json.RawMessage) {
	r := p.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.closed || !p.locallyPaused {
		return
	}
	p.locallyPaused = false
	p.peer.notify(protocol.ProducerResumed{ID: p.id, PeerName: p.peer.name, AppData: appData})
	p.updatePausedLocked()
}

// Close closes the producer from the server side: the owner gets
// "producerClosed", consumers "consumerClosed".
func (p *Producer) Close() {
	r := p.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	p.closeLocked(true, true)
}

func (peer *Peer) createProducerLocked(req *protocol.CreateProducerRequest) error {
	r := peer.room
	if peer.spy {
		return protocol.NewError("spy peers cannot create producers")
	}
	if req.Kind != rtpparams.KindAudio && req.Kind != rtpparams.KindVideo {
		return protocol.NewTypeError("unsupported kind: %s", req.Kind)
	}
	t := peer.transports[req.TransportID]
	if t == nil {
		return protocol.NewTypeError("WebRtcTransport not found")
	}
	if t.direction != dirSend {
		return protocol.NewError("cannot produce on a recv transport")
	}
	if r.producers[req.ID] != nil {
		return protocol.NewError("a Producer with same producerId already exists")
	}
	if max := r.server.cfg.Limits.ProducersPerPeer; len(peer.producers) >= max {
		return protocol.NewError("too many producers (limit %d per peer)", max)
	}
	m, err := rtpparams.MapProducer(req.Kind, req.RTPParameters, r.caps)
	if err != nil {
		return protocol.NewError("wrong RTP parameters: Error: %s", err.Error())
	}
	prod := &Producer{
		id:            req.ID,
		peer:          peer,
		transport:     t,
		kind:          req.Kind,
		rtpParameters: req.RTPParameters,
		consumable:    rtpparams.ConsumableParameters(req.Kind, req.RTPParameters, r.caps, m),
		appData:       req.AppData,
		estimator:     t.snd.estimator,
		done:          make(chan struct{}),
		pipeSSRC:      rtpparams.RandomID(),
	}
	for i := range prod.ptMap {
		prod.ptMap[i] = -1
	}
	for _, pair := range m.CodecPayloadTypes {
		if pair[0] >= 0 && pair[0] < 128 {
			prod.ptMap[pair[0]] = int16(pair[1])
		}
	}
	for _, pair := range m.HeaderExtensionIDs {
		if pair[0] > 0 && pair[0] < 256 && pair[1] > 0 && pair[1] < 256 {
			prod.extMap[pair[0]] = uint8(pair[1])
		}
	}
	withRetransmission := false
	if mc, ok := prod.consumable.MediaCodec(); ok && req.Kind == rtpparams.KindVideo && mc.HasFeedback("nack", "") && !r.server.cfg.NoRetransmission {
		withRetransmission = true
	}
	for _, e := range prod.consumable.HeaderExtensions {
		if e.URI == rtpparams.URIAbsSendTime && e.ID > 0 && e.ID < 15 {
			prod.absSendTimeID = uint8(e.ID)
		}
	}
	if mc, ok := req.RTPParameters.MediaCodec(); ok {
		prod.mediaPT = uint8(mc.PayloadType)
	}
	for _, e := range req.RTPParameters.HeaderExtensions {
		if e.ID <= 0 || e.ID >= 15 {
			continue
		}
		switch e.URI {
		case rtpparams.URIAbsSendTime:
			prod.srcAbsSendTimeID = uint8(e.ID)
		case rtpparams.URITransportCC:
			// Answered with feedback by the transport, not forwarded.
			prod.srcTCCID, prod.extMap[e.ID] = uint8(e.ID), 0
			t.useTransportCC()
		}
	}
	if req.Kind == rtpparams.KindAudio {
		for _, e := range req.RTPParameters.HeaderExtensions {
			if e.URI == rtpparams.URIAudioLevel && e.ID > 0 && e.ID < 256 {
				prod.audioLevelID, prod.levels = uint8(e.ID), &audioLevels{}
			}
		}
	}
	if mc, ok := req.RTPParameters.MediaCodec(); ok {
		prod.clockRate = uint32(mc.ClockRate)
	}
	prod.rid = newRIDRouting(req.RTPParameters)
	if prod.rid.ridExtID != 0 {
		prod.extMap[prod.rid.ridExtID] = 0 // names a layer of this sender only
	}
	if prod.rid.repairedExtID != 0 {
		prod.extMap[prod.rid.repairedExtID] = 0
	}
	routed := *t.producersBySSRC.Load()
	for _, enc := range req.RTPParameters.Encodings {
		for _, s := range []uint32{enc.SSRC, rtxSSRC(enc)} {
			if s == 0 {
				continue
			}
			if routed[s] != nil {
				return protocol.NewError("ssrc already exists in RTP listener [ssrc:%d]", s)
			}
			prod.ssrcs = append(prod.ssrcs, s)
		}
	}
	prod.streams = newStreams(req.RTPParameters.Encodings, withRetransmission)
	if mc, ok := req.RTPParameters.MediaCodec(); ok && req.Kind == rtpparams.KindVideo {
		for _, st := range prod.streams {
			st.desc = codec.For(mc.MimeType)
		}
	}
	prod.consumers.Store(&[]*Consumer{})
	prod.remotelyPaused = req.Paused
	prod.paused.Store(req.Paused)
	t.addProducerSSRCs(prod)
	peer.producers = append(peer.producers, prod)
	r.producers[prod.id] = prod
	r.events.emit(func(o *Observer) {
		if o.NewProducer != nil {
			o.NewProducer(prod)
		}
	})
	offer := r.offerLocked(prod) // not audio of the slots, nor video beyond last-N
	for _, other := range r.peers {
		if other == peer || other.closed || !offer {
			continue
		}
		if c := other.newConsumerLocked(prod); c != nil {
			other.notify(protocol.NewConsumer(c.data()))
		}
	}
	peer.logger().Debug("producer created", "producer", prod.id, "kind", prod.kind)
	return nil
}

func rtxSSRC(e rtpparams.EncodingParameters) uint32 {
	if e.RTX == nil {
		return 0
	}
	return e.RTX.SSRC
}

func (p *Producer) addConsumer(c *Consumer) {
	old := *p.consumers.Load()
	next := make([]*Consumer, 0, len(old)+1)
	next = append(append(next, old...), c)
	p.consumers.Store(&next)
	p.refreshForwarding()
}

func (p *Producer) removeConsumer(c *Consumer) {
	old := *p.consumers.Load()
	next := make([]*Consumer, 0, len(old))
	for _, x := range old {
		if x != c {
			next = append(next, x)
		}
	}
	p.consumers.Store(&next)
	p.refreshForwarding()
}

// refreshForwarding rebuilds the list of consumers media flows to from
// the consumers and their active flags; called after any of them changes.
func (p *Producer) refreshForwarding() {
	p.fwdMu.Lock()
	defer p.fwdMu.Unlock()
	var next []*Consumer
	if all := p.consumers.Load(); all != nil {
		for _, c := range *all {
			if c.active.Load() {
				next = append(next, c)
			}
		}
	}
	p.forwarding.Store(&next)
}

// activeConsumers returns the consumers media flows to (see forwarding).
// Media plane; it allocates nothing.
func (p *Producer) activeConsumers() []*Consumer {
	if l := p.forwarding.Load(); l != nil {
		return *l
	}
	return nil
}

func (p *Producer) setRemotelyPausedLocked(paused bool) {
	if p.remotelyPaused == paused {
		return
	}
	p.remotelyPaused = paused
	p.updatePausedLocked()
}

// updatePausedLocked applies the producer's paused state to its consumers
// (docs/protocol.md, "Pause and resume"): enabled consumers that the server has not paused are told.
func (p *Producer) updatePausedLocked() {
	paused := p.locallyPaused || p.remotelyPaused
	if p.paused.Load() == paused {
		return
	}
	p.paused.Store(paused)
	for _, c := range *p.consumers.Load() {
		c.setSourcePausedLocked(paused)
	}
	p.peer.room.events.emit(func(o *Observer) {
		if paused && o.ProducerPaused != nil {
			o.ProducerPaused(p)
		} else if !paused && o.ProducerResumed != nil {
			o.ProducerResumed(p)
		}
	})
	if !paused {
		p.requestKeyFrame()
	}
}

// closeLocked closes the producer. notifyOwner sends "producerClosed" to
// the owner (server-side close); notifyConsumers sends "consumerClosed" to
// the consumers' owners.
func (p *Producer) closeLocked(notifyOwner, notifyConsumers bool) {
	if p.closed {
		return
	}
	p.closed = true
	close(p.done)
	p.closePipes()
	p.statsTimer.Stop()
	peer := p.peer
	r := peer.room
	p.transport.removeProducerSSRCs(p)
	for i, x := range peer.producers {
		if x == p {
			peer.producers = append(peer.producers[:i], peer.producers[i+1:]...)
			break
		}
	}
	if r.producers[p.id] == p {
		delete(r.producers, p.id)
	}
	for _, c := range *p.consumers.Load() {
		c.closeLocked(notifyConsumers)
	}
	if notifyOwner && !peer.closed && !p.transport.closed {
		peer.notify(protocol.ProducerClosed{ID: p.id, PeerName: peer.name})
	}
	r.events.emit(func(o *Observer) {
		if o.ProducerClosed != nil {
			o.ProducerClosed(p)
		}
	})
}
