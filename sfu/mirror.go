package sfu

import (
	"net"
	"net/netip"

	"github.com/gosoup/gosoup/protocol"
)

// MirrorOptions say what a transport copies and where (mediasoup v2's
// webrtcTransport.startMirroring options).
type MirrorOptions struct {
	// RemoteIP and RemotePort receive the copies (plain UDP).
	RemoteIP   string
	RemotePort int
	// LocalIP is the address to send from (default: any).
	LocalIP string
	// SendRTP copies the RTP the transport sends (forwarded to its
	// consumers), SendRTCP the RTCP it sends, RecvRTP the decrypted RTP it
	// receives (from its producers), RecvRTCP the RTCP it receives.
	SendRTP, SendRTCP, RecvRTP, RecvRTCP bool
}

// mirror is a running mirroring: a connected UDP socket and what to copy.
type mirror struct {
	conn                                 *net.UDPConn
	sendRTP, sendRTCP, recvRTP, recvRTCP bool
}

// StartMirroring copies the transport's decrypted media to a plain UDP
// address, replacing a mirroring already running. Copies are best effort:
// a failed send is dropped.
func (t *Transport) StartMirroring(o MirrorOptions) error {
	remote, err := remoteAddr(o.RemoteIP, o.RemotePort, "mirroring")
	if err != nil {
		return err
	}
	var local *net.UDPAddr
	if o.LocalIP != "" {
		ip, err := netip.ParseAddr(o.LocalIP)
		if err != nil {
			return protocol.NewTypeError("mirroring.localIP: %q is not an IP address", o.LocalIP)
		}
		local = net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0))
	}
	conn, err := net.DialUDP("udp", local, net.UDPAddrFromAddrPort(remote))
	if err != nil {
		return protocol.NewError("mirroring: %s", err.Error())
	}
	m := &mirror{conn: conn, sendRTP: o.SendRTP, sendRTCP: o.SendRTCP, recvRTP: o.RecvRTP, recvRTCP: o.RecvRTCP}
	t.stopMirror(m)
	select {
	case <-t.link.Done(): // closed meanwhile: nothing will stop it later
		t.stopMirror(nil)
		return protocol.NewInvalidStateError("Transport closed")
	default:
	}
	return nil
}

// StopMirroring stops copying. Safe when not mirroring.
func (t *Transport) StopMirroring() { t.stopMirror(nil) }

func (t *Transport) stopMirror(next *mirror) {
	if old := t.mirror.Swap(next); old != nil {
		old.conn.Close()
	}
}

// writeRTCP sends a compound RTCP packet on the transport's link, and a
// copy to the mirror when it asks for sent RTCP.
func (t *Transport) writeRTCP(pkt []byte) error {
	err := t.link.WriteRTCP(pkt)
	if m := t.mirror.Load(); m != nil && m.sendRTCP && err == nil {
		_, _ = m.conn.Write(pkt)
	}
	return err
}
