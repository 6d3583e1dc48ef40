package sfu

import (
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosoup/gosoup/protocol"
)

// minStatsInterval is the smallest stats period, as mediasoup clamps it.
const minStatsInterval = time.Second

// statsTimer calls a function periodically until stopped or done closes.
type statsTimer struct {
	stop chan struct{}
	once sync.Once
}

func startStatsTimer(intervalMs int, done <-chan struct{}, fn func()) *statsTimer {
	iv := max(time.Duration(intervalMs)*time.Millisecond, minStatsInterval)
	s := &statsTimer{stop: make(chan struct{})}
	go func() {
		tk := time.NewTicker(iv)
		defer tk.Stop()
		for {
			select {
			case <-tk.C:
				fn()
			case <-s.stop:
				return
			case <-done:
				return
			}
		}
	}()
	return s
}

// Stop ends the timer; safe on nil and twice.
func (s *statsTimer) Stop() {
	if s != nil {
		s.once.Do(func() { close(s.stop) })
	}
}

// statsID returns a random 16-character id, as the worker's stats ids.
func statsID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// uptimeMs is the stats timestamp: milliseconds since the server started.
func (s *Server) uptimeMs() int64 { return time.Since(s.started).Milliseconds() }

// Stats returns the transport's stats object (transportStats).
func (t *Transport) Stats() protocol.TransportStat {
	if l := t.plainLink(); l != nil {
		return t.plainStats(l)
	}
	wt := t.WebRTC()
	st := protocol.TransportStat{
		Type:               "transport",
		ID:                 t.id,
		Timestamp:          t.peer.room.server.uptimeMs(),
		BytesReceived:      wt.BytesReceived(),
		BytesSent:          wt.BytesSent(),
		DtlsState:          wt.DTLSState(),
		IceConnectionState: "new",
	}
	if tp, ok := wt.SelectedTuple(); ok {
		st.IceConnectionState = "completed"
		local := t.peer.room.server.announcedIP()
		if tp.Local.IsValid() {
			local = tp.Local.String()
		}
		st.IceSelectedTuple = &protocol.IceSelectedTuple{
			LocalIP: local, LocalPort: t.peer.room.server.RTCPort(), Protocol: tp.Protocol(),
			RemoteIP: tp.Remote.Addr().String(), RemotePort: int(tp.Remote.Port()),
		}
	}
	if s := t.snd; s != nil {
		if max := uint64(s.maxBitrate.Load()); max > 0 || s.lastREMB.Load() != nil {
			// The last REMB sent, with the SetMaxBitrate cap (mediasoup's shape).
			bw := protocol.AvailableBw{SSRCs: []uint32{}}
			if last := s.lastREMB.Load(); last != nil {
				bw = *last
			}
			bw.MaxBitrate = &max
			st.LocalAvailableSendBw = &bw
		}
	}
	if r := t.rcv; r != nil {
		if last := r.remoteREMB.Load(); last != nil {
			bw := *last
			st.RemoteAvailableSendBw = &bw
		}
	}
	if wt.DTLSState() == "closed" {
		st.IceConnectionState = "closed"
	}
	return st
}

// plainStats is a plain transport's stats object: bytes, and the tuple
// once the remote is known (no ICE, no DTLS).
func (t *Transport) plainStats(pt *plainLink) protocol.TransportStat {
	st := protocol.TransportStat{
		Type: "transport", ID: t.id, Timestamp: t.peer.room.server.uptimeMs(),
		BytesReceived: pt.BytesReceived(), BytesSent: pt.BytesSent(), IceConnectionState: "new",
	}
	if remote, ok := pt.Remote(); ok {
		st.IceConnectionState = "completed"
		st.IceSelectedTuple = &protocol.IceSelectedTuple{
			LocalIP: pt.ip, LocalPort: pt.LocalPort(), Protocol: "udp",
			RemoteIP: remote.Addr().String(), RemotePort: int(remote.Port()),
		}
	}
	return st
}

func (p *Producer) mimeType() string {
	if c, ok := p.rtpParameters.MediaCodec(); ok {
		return c.MimeType
	}
	return ""
}

// inboundStat is one producer stream as an inbound-rtp object.
func (p *Producer) inboundStat(st *producerStream, withTransport bool, now time.Time) protocol.InboundRTPStat {
	s := &st.recv
	received := s.packets.Load()
	_, lost := s.expectedLost()
	var nacks uint64
	if st.nacks != nil {
		nacks = p.nackCount.Load()
	}
	out := protocol.InboundRTPStat{RTPStreamStat: protocol.RTPStreamStat{
		Type: "inbound-rtp", ID: st.statsID, Timestamp: p.peer.room.server.uptimeMs(), SSRC: st.ssrc.Load(),
		Kind: p.kind, MediaType: p.kind, MimeType: p.mimeType(),
		Bitrate: st.rate.read(s.bytes.Load(), now), ByteCount: s.bytes.Load(), PacketCount: received,
		PacketsLost: lost, PliCount: st.pliCount.Load(), FirCount: 0, NackCount: nacks,
	}}
	if withTransport {
		out.TransportID = p.transport.id
	}
	if n := st.temporalLayers(); n > 1 {
		out.TemporalLayers = n
		for tid := range min(n, maxMeasuredLayers) {
			out.LayerBitrates = append(out.LayerBitrates, st.layers.rate(spatialAll, tid, now))
		}
	}
	out.SpatialLayers = int(st.layers.spatial.Load())
	return out
}

// GetStats returns the producer's inbound-rtp stats, one per stream (three
// with simulcast).
func (p *Producer) GetStats() []protocol.InboundRTPStat {
	now := time.Now()
	out := make([]protocol.InboundRTPStat, 0, len(p.streams))
	for _, st := range p.streams {
		out = append(out, p.inboundStat(st, true, now))
	}
	return out
}

// GetStats returns the consumer's stats: the producer stream it forwards
// and its own outbound-rtp stream.
func (c *Consumer) GetStats() []any {
	now := time.Now()
	st := c.wantedStream()
	if st == nil {
		st = c.producer.streams[0]
	}
	in := c.producer.inboundStat(st, false, now)
	in.Bitrate = 0
	out := protocol.OutboundRTPStat{RTPStreamStat: protocol.RTPStreamStat{
		Type: "outbound-rtp", ID: c.statsID, Timestamp: c.peer.room.server.uptimeMs(), SSRC: c.ssrc,
		Kind: c.kind, MediaType: c.kind, MimeType: c.rtpParameters.Codecs[0].MimeType,
		Bitrate: c.rate.read(c.send.bytes.Load(), now), ByteCount: c.send.bytes.Load(), PacketCount: c.send.packets.Load(),
		PacketsLost: uint64(c.remoteLost.Load()), FractionLost: float64(c.remoteFraction.Load()) / 256,
		PliCount: c.pliCount.Load(), FirCount: c.firCount.Load(),
		NackCount: c.nackCount.Load(), PacketsRepaired: c.retransmitted.Load(),
	}, RoundTripTime: float64(c.rttMicros.Load()) / 1000, InboundRTPID: in.ID}
	if t := c.transport.Load(); t != nil {
		out.TransportID = t.id
	}
	return []any{in, out}
}

// consumerFeedback holds what a consumer's receiver reported by RTCP.
type consumerFeedback struct {
	remoteLost     atomic.Uint32
	remoteFraction atomic.Uint32
	reports        atomic.Uint64 // receiver reports seen
	rttMicros      atomic.Int64
	pliCount       atomic.Uint64
	firCount       atomic.Uint64
	nackCount      atomic.Uint64
	lastSRNTP      atomic.Uint32 // middle 32 bits of our last SR
	srPackets      uint64        // packets counted in our last SR (report loop only)
}

func (t *Transport) enableStatsLocked(interval int) {
	t.statsTimer.Stop()
	t.statsTimer = startStatsTimer(interval, t.link.Done(), func() {
		t.peer.notify(protocol.TransportStats{ID: t.id, Stats: []protocol.TransportStat{t.Stats()}})
	})
}

func (p *Producer) enableStatsLocked(interval int) {
	p.statsTimer.Stop()
	p.statsTimer = startStatsTimer(interval, p.done, func() {
		if p.paused.Load() {
			return // mediasoup skips producer stats while paused
		}
		p.peer.notify(protocol.ProducerStats{ID: p.id, Stats: p.GetStats()})
	})
}

func (c *Consumer) enableStatsLocked(interval int) {
	c.statsTimer.Stop()
	c.statsTimer = startStatsTimer(interval, c.done, func() {
		if !c.active.Load() {
			return // skipped while not enabled or paused
		}
		c.peer.notify(protocol.ConsumerStats{ID: c.id, PeerName: c.producer.peer.name, Stats: c.GetStats()})
	})
}
