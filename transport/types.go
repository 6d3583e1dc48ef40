// Package transport implements mediasoup's WebRtcTransport on top of the pion
// family: an ICE-lite responder (pion/stun), DTLS (pion/dtls) and SRTP
// (pion/srtp), all sharing one UDP socket. It knows nothing of rooms, peers
// or RTP semantics: it hands decrypted RTP and RTCP to a Listener and
// encrypts what the SFU writes back.
package transport

import "net/netip"

// ICEParameters are the local ICE credentials of a transport.
type ICEParameters struct {
	UsernameFragment string
	Password         string
	ICELite          bool
}

// ICECandidate is one local host candidate.
type ICECandidate struct {
	Family     string // "ipv4" or "ipv6"
	Foundation string
	IP         string
	Port       int
	Priority   uint32
	Protocol   string // "udp" or "tcp"
	Type       string // always "host"
	TCPType    string // "passive" for TCP candidates
}

// Fingerprint is a certificate fingerprint as signaled in DTLS parameters.
type Fingerprint struct {
	Algorithm string
	Value     string
}

// DTLS roles as mediasoup signals them.
const (
	RoleAuto   = "auto"
	RoleClient = "client"
	RoleServer = "server"
)

// DTLSParameters are DTLS role and fingerprints.
type DTLSParameters struct {
	Role         string
	Fingerprints []Fingerprint
}

// Listener receives what a transport gets from the network. Calls come from
// the network's read goroutine (RTP/RTCP) or the transport's handshake
// goroutine (state changes); implementations must not block.
type Listener interface {
	// OnRTP is called with a decrypted RTP packet. pkt is only valid during
	// the call and may be modified in place. Packets written in reaction
	// should go through b (WriteRTPBatch), which the network sends with one
	// system call after OnRTP returns; b is nil on ICE-TCP.
	OnRTP(t *WebRTCTransport, pkt []byte, b *Batch)
	// OnRTCP is called with a decrypted compound RTCP packet, valid only
	// during the call.
	OnRTCP(t *WebRTCTransport, pkt []byte)
	// OnConnected is called once DTLS is connected and SRTP is ready.
	OnConnected(t *WebRTCTransport)
	// OnClosed is called once when the transport closes, with the reason
	// (nil when closed by its owner).
	OnClosed(t *WebRTCTransport, err error)
}

// Tuple is a remote ICE tuple: a UDP address, or a passive ICE-TCP
// connection.
type Tuple struct {
	Remote netip.AddrPort
	// Local is the server address the client sent to, from which replies
	// leave (invalid when the socket is bound to a single address, or on
	// TCP; always set on an in-process link).
	Local netip.Addr
	tcp   *tcpConn
	link  *Link // an in-process path from a relay (OpenLink)
}

// InProcess reports whether the tuple is an in-process link from a relay
// in the same process (Network.OpenLink) rather than the socket.
func (tp Tuple) InProcess() bool { return tp.link != nil }

// Protocol returns "udp" or "tcp" (an in-process link is UDP: its client
// relays UDP datagrams).
func (tp Tuple) Protocol() string {
	if tp.tcp != nil {
		return "tcp"
	}
	return "udp"
}
