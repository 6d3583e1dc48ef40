package sfu

import (
	"sync"

	"github.com/gosoup/gosoup/protocol"
)

// RtpStreamerOptions say where an RtpStreamer sends (mediasoup v2's
// room.createRtpStreamer options).
type RtpStreamerOptions struct {
	// RemoteIP and RemotePort receive the RTP (and, muxed, the RTCP).
	RemoteIP   string
	RemotePort int
	// RemoteRTCPPort receives RTCP when NoRTCPMux (default RemotePort+1).
	RemoteRTCPPort int
	// LocalIP is the address to send from (default: the rtc listen address).
	LocalIP string
	// NoRTCPMux sends RTCP from and to separate ports.
	NoRTCPMux bool
}

// RtpStreamer sends one producer's media as plain RTP to a remote address
// (a recorder, FFmpeg, GStreamer): a PlainRtpTransport plus a consumer
// built from the room's capabilities, as mediasoup v2's RtpStreamer. The
// remote's RTCP (NACK, PLI, receiver reports) is honoured like a browser's.
// It closes when the producer, the transport or the room closes.
type RtpStreamer struct {
	consumer  *Consumer
	transport *Transport
	closeOnce sync.Once
}

// Consumer returns the streamer's consumer (not seen by any client).
func (s *RtpStreamer) Consumer() *Consumer { return s.consumer }

// Transport returns the streamer's PlainRtpTransport.
func (s *RtpStreamer) Transport() *Transport { return s.transport }

// Close closes the consumer and the transport. Safe to call twice.
func (s *RtpStreamer) Close() {
	s.closeOnce.Do(func() {
		r := s.transport.peer.room
		r.mu.Lock()
		defer r.mu.Unlock()
		s.consumer.closeLocked(false)
		s.transport.closeLocked(false)
	})
}

// CreateRtpStreamer starts sending prod's media to opts' remote address.
func (r *Room) CreateRtpStreamer(prod *Producer, opts RtpStreamerOptions) (*RtpStreamer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, protocol.NewInvalidStateError("Room closed")
	}
	if prod == nil || r.producers[prod.id] != prod {
		return nil, protocol.NewError("Producer not found")
	}
	sp := r.serverPeerLocked()
	t, err := sp.createPlainTransportLocked(PlainRtpOptions{
		ID: r.freeTransportIDLocked(), Direction: string(dirRecv),
		RemoteIP: opts.RemoteIP, RemotePort: opts.RemotePort, RemoteRTCPPort: opts.RemoteRTCPPort,
		LocalIP: opts.LocalIP, NoRTCPMux: opts.NoRTCPMux,
	})
	if err != nil {
		return nil, err
	}
	c := sp.newConsumerLocked(prod)
	if c == nil {
		t.closeLocked(false)
		return nil, protocol.NewError("the room's capabilities cannot consume producer %d", prod.id)
	}
	c.enabled = true
	c.transport.Store(t)
	t.addConsumer(c)
	c.updateActiveLocked()
	s := &RtpStreamer{consumer: c, transport: t}
	go func() {
		select {
		case <-c.done:
		case <-t.link.Done():
		case <-r.done:
		}
		s.Close()
	}()
	return s, nil
}

// CreatePlainRtpTransport creates a PlainRtpTransport owned by the room
// rather than a peer (for consumers the application enables itself, like
// an RtpStreamer's): it is a receive transport of the room's hidden
// server-side peer, which no client sees.
func (r *Room) CreatePlainRtpTransport(opts PlainRtpOptions) (*Transport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, protocol.NewInvalidStateError("Room closed")
	}
	if opts.ID == 0 {
		opts.ID = r.freeTransportIDLocked()
	}
	return r.serverPeerLocked().createPlainTransportLocked(opts)
}

// serverPeerLocked returns the room's hidden peer, which owns server-side
// transports and consumers: a spy with the room's capabilities, not in the
// peer list, with no client.
func (r *Room) serverPeerLocked() *Peer {
	if r.serverPeer == nil {
		r.serverPeer = newPeer(r, "", &r.caps, true, nil, nil)
		r.serverPeer.hidden = true
		r.serverPeer.disconnect(nil)
	}
	return r.serverPeer
}
