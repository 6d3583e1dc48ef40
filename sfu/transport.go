package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/bwe"
	"github.com/gosoup/gosoup/transport"
)

// Transport is a peer's transport: the sfu side of a link (a
// transport.WebRTCTransport for a WebRtcTransport), routing its packets to
// producers and consumers. A send transport has a sendSide (snd), a receive transport a
// recvSide (rcv); the other is nil. Locking: fields are fixed at creation,
// or guarded by the room lock (closed, statsTimer); the sides hold atomics
// read anywhere and state of the report loop; the routing tables are
// copy-on-write, read by the media plane without a lock, written under
// ssrcMu.
type Transport struct {
	// Fixed at creation.
	id        uint32
	peer      *Peer
	direction direction
	appData   json.RawMessage
	link      link // what media goes through: WebRTC, or plain RTP (plainLink)

	// Guarded by the room lock.
	closed     bool
	statsTimer *statsTimer

	snd *sendSide // send transports only
	rcv *recvSide // receive transports only

	// Routing tables: producers on a send transport, consumers on a receive one.
	producersBySSRC atomic.Pointer[map[uint32]*Producer]
	consumersBySSRC atomic.Pointer[map[uint32]*Consumer]
	// ridProducers are the producers with RID streams whose SSRCs are not
	// known yet (nil when none).
	ridProducers atomic.Pointer[[]*Producer]
	ssrcMu       sync.Mutex // serializes the writers of the two producer tables

	mirror atomic.Pointer[mirror] // StartMirroring's copies; nil when off
	ticks  int                    // report clock only
}

// sendSide is what only a send transport has: what the client sends us.
type sendSide struct {
	maxBitrate atomic.Uint32                        // REMB cap toward the sender, bps; 0: none
	estimator  *bwe.Estimator                       // receive-side estimate behind the REMB
	tcc        atomic.Pointer[transportCC]          // when the sender uses transport-cc
	lastREMB   atomic.Pointer[protocol.AvailableBw] // last REMB sent
}

// recvSide is what only a receive transport has: what the client receives.
type recvSide struct {
	remote     remoteBandwidth                      // what the client's REMB says (own mutex)
	remoteREMB atomic.Pointer[protocol.AvailableBw] // last REMB received
	layers     layerAllocator                       // simulcast layer choice (report loop)
}

// ID returns the transport id chosen by the client.
func (t *Transport) ID() uint32 { return t.id }

// Direction returns "send" or "recv".
func (t *Transport) Direction() string { return string(t.direction) }

// Peer returns the owner.
func (t *Transport) Peer() *Peer { return t.peer }

// SetMaxBitrate caps what the client sends on this transport (bits per
// second, at least 10000 as mediasoup; 0 removes the cap), signaled with
// REMB every second.
func (t *Transport) SetMaxBitrate(bps uint32) error {
	if t.direction != dirSend {
		return protocol.NewError("setMaxBitrate applies to send transports")
	}
	if bps != 0 && bps < 10000 {
		bps = 10000
	}
	t.snd.maxBitrate.Store(bps)
	return nil
}

// Close closes the transport from the server side: the client gets
// "transportClosed". Safe to call twice.
func (t *Transport) Close() {
	r := t.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	t.closeLocked(true)
}

func (t *Transport) updateLocked(n *protocol.UpdateTransportNotification) error {
	if l := t.plainLink(); l != nil {
		if n.PlainRtpParameters == nil {
			return protocol.NewTypeError("missing plainRtpParameters")
		}
		return t.updatePlainLocked(l, n.PlainRtpParameters)
	}
	if n.DtlsParameters == nil {
		return protocol.NewTypeError("missing dtlsParameters")
	}
	if err := protocol.CheckDtlsParameters("dtlsParameters", n.DtlsParameters); err != nil {
		t.closeLocked(true) // as for parameters the DTLS layer refuses
		return err
	}
	if _, err := t.WebRTC().SetRemoteDTLSParameters(toTransportDTLS(n.DtlsParameters)); err != nil {
		t.closeLocked(true)
		return protocol.NewError("%s", err.Error())
	}
	return nil
}

// closeLocked closes the transport, its producers and detaches the
// consumers enabled on it. notifyOwner sends "transportClosed" (server-side
// or network close; not for the client's own closeTransport).
func (t *Transport) closeLocked(notifyOwner bool) {
	if t.closed {
		return
	}
	t.closed = true
	t.statsTimer.Stop()
	p := t.peer
	r := p.room
	delete(r.transports, t.id)
	delete(p.transports, t.id)
	t.link.Close()
	r.server.clock.remove(t)
	t.stopMirror(nil)
	if l := t.plainLink(); l != nil && l.diag != nil && l.diag.silence != nil {
		l.diag.silence.Stop()
	}
	for _, prod := range p.producerList() {
		if prod.transport == t {
			prod.closeLocked(false, true)
		}
	}
	for _, c := range p.consumers {
		if c.transport.Load() == t {
			c.disableLocked()
		}
	}
	if notifyOwner && !p.closed {
		p.notify(protocol.TransportClosed{ID: t.id})
	}
	r.events.emit(func(o *Observer) {
		if o.TransportClosed != nil {
			o.TransportClosed(t)
		}
	})
}

func (t *Transport) addProducerSSRCs(prod *Producer) {
	t.ssrcMu.Lock()
	defer t.ssrcMu.Unlock()
	m := copyMap(*t.producersBySSRC.Load())
	for _, s := range prod.ssrcs {
		m[s] = prod
	}
	t.producersBySSRC.Store(&m)
	if prod.waitsForSSRCs() {
		t.setRIDProducer(prod, true)
	}
}

func (t *Transport) removeProducerSSRCs(prod *Producer) {
	t.ssrcMu.Lock()
	defer t.ssrcMu.Unlock()
	t.setRIDProducer(prod, false)
	m := copyMap(*t.producersBySSRC.Load())
	for s, p := range m {
		if p == prod {
			delete(m, s)
		}
	}
	t.producersBySSRC.Store(&m)
}

func (t *Transport) addConsumer(c *Consumer) {
	m := copyMap(*t.consumersBySSRC.Load())
	if g := c.send.group; g != nil && m[c.ssrc] != c && g.keepsRoute(m[c.ssrc]) && !c.active.Load() {
		return // another member of its send group is playing
	}
	m[c.ssrc] = c
	t.consumersBySSRC.Store(&m)
}

func (t *Transport) removeConsumer(c *Consumer) {
	m := copyMap(*t.consumersBySSRC.Load())
	if m[c.ssrc] == c {
		delete(m, c.ssrc)
	}
	t.consumersBySSRC.Store(&m)
}

func copyMap[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// OnRTP routes a producer's packet by SSRC (transport.Listener).
func (t *Transport) OnRTP(_ *transport.WebRTCTransport, pkt []byte, b *transport.Batch) {
	if len(pkt) < 12 {
		return
	}
	if m := t.mirror.Load(); m != nil && m.recvRTP {
		_, _ = m.conn.Write(pkt)
	}
	ssrc := uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
	prod := (*t.producersBySSRC.Load())[ssrc]
	if prod == nil {
		if prod = t.learnSSRC(pkt, ssrc); prod == nil {
			return
		}
	}
	prod.receiveRTP(pkt, ssrc, b)
}

// OnRTCP handles feedback and reports (transport.Listener).
func (t *Transport) OnRTCP(_ *transport.WebRTCTransport, pkt []byte) {
	t.receiveRTCP(pkt)
}

// receiveRTCP copies received RTCP to the mirror when asked, then handles it.
func (t *Transport) receiveRTCP(pkt []byte) {
	if m := t.mirror.Load(); m != nil && m.recvRTCP {
		_, _ = m.conn.Write(pkt)
	}
	t.handleRTCP(pkt)
}

// OnConnected asks for a key frame for every active consumer on the
// transport (transport.Listener).
func (t *Transport) OnConnected(_ *transport.WebRTCTransport) {
	t.debug("transport connected")
	for _, c := range *t.consumersBySSRC.Load() {
		if c.active.Load() {
			c.resync.Store(true)
			c.producer.requestStreamKeyFrame(c.wantedStream())
		}
	}
}

// OnClosed closes the sfu transport when the network side died
// (transport.Listener); the owner gets "transportClosed", unless the client
// ended DTLS itself (close_notify or a fatal alert: the read ends with
// io.EOF). mediasoup-client closes its RTCPeerConnection only right after
// sending closeTransport or leave, and the close_notify can overtake that
// message (UDP and the WebSocket are read by different goroutines): a
// "transportClosed" would then reach a client that already closed the
// transport or left the room (which rejects it with "Room closed").
// mediasoup 2.6.19 does not close a transport for a remote DTLS close at
// all (its worker only reports dtlsState "closed").
func (t *Transport) OnClosed(_ *transport.WebRTCTransport, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		t.peer.logger().Info("transport closed", "transport", t.id, "reason", err)
	}
	r := t.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	t.closeLocked(!errors.Is(err, io.EOF))
}

// tick is the transport's share of a report-clock tick (every 100 ms):
// transport-cc feedback every tick; sender reports for consumers and
// receiver reports and REMB for producers every tenth, and a REMB at once
// when the estimate drops; the simulcast layer choice every fifth, and the
// running probe's padding. Report clock only (one shard goroutine).
func (t *Transport) tick(now time.Time) {
	if !t.link.Connected() {
		return
	}
	t.ticks++
	n := t.ticks
	t.sendTransportCC()
	switch {
	case n%10 == 0:
		t.sendReports(now)
	case t.snd != nil && n%2 == 0:
		if _, dropped := t.snd.estimator.Bitrate(); dropped {
			t.sendREMB()
		}
	}
	if t.direction == dirRecv {
		if n%5 == 0 {
			t.updateLayers(now)
		}
		t.probeTick(tickInterval, now)
	}
}
