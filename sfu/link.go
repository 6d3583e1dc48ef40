package sfu

import "github.com/gosoup/gosoup/transport"

// link is what a Transport sends and receives media through: today a
// transport.WebRTCTransport (ICE, DTLS, SRTP); a plain RTP socket or a pipe
// between nodes is another link behind the same Transport, producers and
// consumers. Every method may be called from any goroutine.
type link interface {
	// Connected reports whether media can flow (for WebRTC: DTLS done,
	// SRTP keys ready).
	Connected() bool
	// WriteRTP sends one RTP packet now.
	WriteRTP(pkt []byte) error
	// WriteRTPBatch queues one RTP packet on b, sent with the others of
	// the same incoming packet in one system call (b may be nil: send now).
	WriteRTPBatch(pkt []byte, b *transport.Batch) error
	// WriteRTCP sends one compound RTCP packet.
	WriteRTCP(pkt []byte) error
	// Done is closed once the link is closed.
	Done() <-chan struct{}
	// Close closes the link; the Transport's OnClosed is not called.
	Close() error
}

// The WebRTC transport is the first link.
var _ link = (*transport.WebRTCTransport)(nil)
