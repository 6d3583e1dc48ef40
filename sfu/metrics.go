package sfu

import "sync/atomic"

// Counts are the server's current object counts, for metrics.
type Counts struct {
	Rooms, Peers, Transports, Producers, Consumers int
	// PacketsReceived counts every datagram read from the media socket.
	PacketsReceived uint64
	// Media-quality events since the server started.
	ProfileChanges       uint64 // consumerEffectiveProfileChanged sent
	PacketsRetransmitted uint64 // answers to receivers' NACKs
	NacksSent            uint64 // NACK packets sent to producers
	KeyFrameRequests     uint64 // PLIs sent to producers
	TransportCCFeedback  uint64 // transport-cc feedback packets sent
	// PlainDropped counts RTP packets from plain transports' tools dropped
	// for an unknown SSRC or an undeclared payload type.
	PlainDropped uint64
	// Pipes counts the pipes open from this node's producers to others.
	Pipes uint64
}

// serverCounters are the server-wide event counters behind Counts.
type serverCounters struct {
	profileChanges, retransmitted, nacksSent, keyFrameRequests, tccFeedback, plainDropped, pipes atomic.Uint64
}

// discardCounters absorbs counts of objects built without a server (unit
// tests).
var discardCounters serverCounters

// counters returns the server's event counters.
func (p *Peer) counters() *serverCounters {
	if p == nil || p.room == nil || p.room.server == nil {
		return &discardCounters
	}
	return &p.room.server.counters
}

// Counts returns the current object counts.
func (s *Server) Counts() Counts {
	c := Counts{
		PacketsReceived:      s.net.PacketsReceived(),
		ProfileChanges:       s.counters.profileChanges.Load(),
		PacketsRetransmitted: s.counters.retransmitted.Load(),
		NacksSent:            s.counters.nacksSent.Load(),
		KeyFrameRequests:     s.counters.keyFrameRequests.Load(),
		TransportCCFeedback:  s.counters.tccFeedback.Load(),
		PlainDropped:         s.counters.plainDropped.Load(),
		Pipes:                s.counters.pipes.Load(),
	}
	for _, r := range s.Rooms() {
		r.mu.Lock()
		c.Rooms++
		c.Peers += len(r.peers)
		c.Transports += len(r.transports)
		c.Producers += len(r.producers)
		for _, p := range r.peers {
			c.Consumers += len(p.consumers)
		}
		r.mu.Unlock()
	}
	return c
}
