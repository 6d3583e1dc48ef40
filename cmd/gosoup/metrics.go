package main

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// The server whose counts /metrics shows; the collectors are registered
// with the default registry once per process and read it when scraped.
var (
	metricsServer atomic.Pointer[sfu.Server]
	metricsLimits atomic.Pointer[limitSources]
	metricsOnce   sync.Once
)

// limitSources are the refusal counts of the per-source limits.
type limitSources struct {
	media *transport.LimitCounters
	ws    interface{ RefusedSockets() uint64 } // *signaling.Server
	whip  interface{ RefusedPosts() uint64 }   // *whip.Handler
}

// registerLimitMetrics exposes the refusals of the per-source limits of
// both ports as gosoup_limit_refused_total{limit=...}. A later call
// switches them to other counters.
func registerLimitMetrics(media *transport.LimitCounters, ws interface{ RefusedSockets() uint64 }, posts interface{ RefusedPosts() uint64 }) {
	metricsLimits.Store(&limitSources{media: media, ws: ws, whip: posts})
	metricsOnce.Do(registerCollectors)
}

// limitRefused returns the count of one limit label.
func limitRefused(limit string) uint64 {
	src := metricsLimits.Load()
	if src == nil {
		return 0
	}
	if limit == "whip_posts" {
		if src.whip == nil {
			return 0
		}
		return src.whip.RefusedPosts()
	}
	if limit == "turn_allocations" {
		return turnRefused()
	}
	if limit == "ws_sockets" {
		if src.ws == nil {
			return 0
		}
		return src.ws.RefusedSockets()
	}
	if src.media == nil {
		return 0
	}
	switch limit {
	case "stun_rate":
		return src.media.STUNRate.Load()
	case "dtls_handshakes":
		return src.media.DTLSHandshakes.Load()
	case "tcp_conns":
		return src.media.TCPConns.Load()
	case "tcp_idle":
		return src.media.TCPIdle.Load()
	}
	return 0
}

// limitLabels are the values of gosoup_limit_refused_total's label.
var limitLabels = []string{"stun_rate", "dtls_handshakes", "tcp_conns", "tcp_idle", "ws_sockets", "whip_posts", "turn_allocations"}

// registerMetrics exposes the server's object counts and media packets on
// /metrics, read when scraped (nothing on the media path). A later call
// switches the metrics to another server.
func registerMetrics(srv *sfu.Server) {
	metricsServer.Store(srv)
	metricsOnce.Do(registerCollectors)
}

// metricsCounts returns the counts of the registered server.
func metricsCounts() sfu.Counts {
	if srv := metricsServer.Load(); srv != nil {
		return srv.Counts()
	}
	return sfu.Counts{}
}

func registerCollectors() {
	gauge := func(name, help string, f func(sfu.Counts) int) {
		prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(metricsCounts())) }))
	}
	gauge("gosoup_rooms", "Open rooms.", func(c sfu.Counts) int { return c.Rooms })
	gauge("gosoup_peers", "Joined peers.", func(c sfu.Counts) int { return c.Peers })
	gauge("gosoup_transports", "Open WebRTC transports.", func(c sfu.Counts) int { return c.Transports })
	gauge("gosoup_producers", "Producers.", func(c sfu.Counts) int { return c.Producers })
	gauge("gosoup_consumers", "Consumers.", func(c sfu.Counts) int { return c.Consumers })
	prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gosoup_media_packets_received_total", Help: "Datagrams read from the media socket.",
	}, func() float64 { return float64(metricsCounts().PacketsReceived) }))
	counter := func(name, help string, f func(sfu.Counts) uint64) {
		prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(metricsCounts())) }))
	}
	counter("gosoup_consumer_profile_changes_total", "consumerEffectiveProfileChanged notifications (simulcast switches).",
		func(c sfu.Counts) uint64 { return c.ProfileChanges })
	counter("gosoup_rtp_retransmitted_packets_total", "Packets retransmitted to receivers that NACKed them.",
		func(c sfu.Counts) uint64 { return c.PacketsRetransmitted })
	counter("gosoup_rtcp_nacks_sent_total", "NACK packets sent to senders for packets lost on the way in.",
		func(c sfu.Counts) uint64 { return c.NacksSent })
	counter("gosoup_rtcp_key_frame_requests_total", "PLIs sent to senders.",
		func(c sfu.Counts) uint64 { return c.KeyFrameRequests })
	counter("gosoup_rtcp_transport_cc_feedback_total", "transport-cc feedback packets sent.",
		func(c sfu.Counts) uint64 { return c.TransportCCFeedback })
	for _, limit := range limitLabels {
		prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gosoup_limit_refused_total",
			Help: "What the per-source limits refused: STUN checks over the rate (stun_rate), DTLS handshakes deferred " +
				"(dtls_handshakes), ICE-TCP connections closed at accept (tcp_conns) or without ICE at the idle timeout " +
				"(tcp_idle), WebSockets answered 429 (ws_sockets), WHIP/WHEP POSTs answered 429 (whip_posts), TURN allocations answered 486 (turn_allocations).",
			ConstLabels: prometheus.Labels{"limit": limit},
		}, func() float64 { return float64(limitRefused(limit)) }))
	}
}
