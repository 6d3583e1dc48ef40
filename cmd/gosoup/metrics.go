package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gosoup/gosoup/sfu"
)

// registerMetrics exposes the server's object counts and media packets on
// /metrics, read when scraped (nothing on the media path).
func registerMetrics(srv *sfu.Server) {
	gauge := func(name, help string, f func(sfu.Counts) int) {
		prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help},
			func() float64 { return float64(f(srv.Counts())) }))
	}
	gauge("gosoup_rooms", "Open rooms.", func(c sfu.Counts) int { return c.Rooms })
	gauge("gosoup_peers", "Joined peers.", func(c sfu.Counts) int { return c.Peers })
	gauge("gosoup_transports", "Open WebRTC transports.", func(c sfu.Counts) int { return c.Transports })
	gauge("gosoup_producers", "Producers.", func(c sfu.Counts) int { return c.Producers })
	gauge("gosoup_consumers", "Consumers.", func(c sfu.Counts) int { return c.Consumers })
	prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "gosoup_media_packets_received_total", Help: "Datagrams read from the media socket.",
	}, func() float64 { return float64(srv.Counts().PacketsReceived) }))
	counter := func(name, help string, f func(sfu.Counts) uint64) {
		prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(srv.Counts())) }))
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
}
