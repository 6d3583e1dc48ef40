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

// plainLink is a plain RTP transport as a link: the address its remote
// sends to, and for a tool's send transport what the tool sends wrong. It
// is the plain transport's handler: packets go to its Transport. Fixed
// once the Transport is published.
type plainLink struct {
	*transport.PlainTransport
	t    *Transport
	ip   string     // the address the remote sends to
	diag *plainDiag // a tool's send transport; nil otherwise
}

var (
	_ link                   = (*plainLink)(nil)
	_ transport.PlainHandler = (*plainLink)(nil)
)

// OnPlainRTP routes an RTP packet from the remote (transport.PlainHandler);
// a tool's packets that no producer can take are counted and dropped.
func (l *plainLink) OnPlainRTP(pkt []byte, b *transport.Batch) {
	if l.diag != nil && !l.t.checkPlainRTP(l.diag, pkt) {
		return
	}
	l.t.OnRTP(nil, pkt, b)
}

// OnPlainRTCP handles RTCP from the remote (transport.PlainHandler).
func (l *plainLink) OnPlainRTCP(pkt []byte) { l.t.receiveRTCP(pkt) }

// WebRTC returns the underlying WebRTC transport (ICE/DTLS state, byte
// counters); nil for another kind.
func (t *Transport) WebRTC() *transport.WebRTCTransport {
	wt, _ := t.link.(*transport.WebRTCTransport)
	return wt
}

// plainLink returns the transport's plain link; nil for another kind.
func (t *Transport) plainLink() *plainLink {
	l, _ := t.link.(*plainLink)
	return l
}

// Plain returns the underlying plain transport (nil for WebRTC).
func (t *Transport) Plain() *transport.PlainTransport {
	if l := t.plainLink(); l != nil {
		return l.PlainTransport
	}
	return nil
}
