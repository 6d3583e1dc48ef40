package transport

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/pion/srtp/v3"
)

// NewConnectedForTest returns a transport that skips ICE and DTLS: its
// selected tuple is remote (reached at remote's own address when the
// socket is bound to any address) and both SRTP directions use one fixed
// AES-GCM key. It exists for benchmarks and tests of the layers above
// (the SFU forwarding path); real clients never get one.
func (n *Network) NewConnectedForTest(l Listener, remote netip.AddrPort) (*WebRTCTransport, error) {
	t, err := n.NewWebRTCTransport(context.Background(), l, TransportOptions{UDP: true})
	if err != nil {
		return nil, err
	}
	key := make([]byte, 16)
	salt := make([]byte, 12)
	send, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		return nil, fmt.Errorf("test SRTP context: %w", err)
	}
	recv, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		return nil, fmt.Errorf("test SRTP context: %w", err)
	}
	tp := Tuple{Remote: remote}
	if n.pktinfo {
		tp.Local = remote.Addr()
	}
	t.selected.Store(&tp)
	n.bindAddr(t, remote)
	t.sendMu.Lock()
	t.sendCtx = send
	t.sendMu.Unlock()
	t.recvCtx.Store(recv)
	return t, nil
}
