package transport

import (
	"context"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortConfig binds UDP sockets with SO_REUSEPORT: several sockets of
// this process (same user) share one port and the kernel spreads datagrams
// over them by 4-tuple.
var reusePortConfig = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return serr
}}

// listenUDPReusePort binds a UDP socket with SO_REUSEPORT.
func listenUDPReusePort(addr netip.AddrPort) (*net.UDPConn, error) {
	pc, err := reusePortConfig.ListenPacket(context.Background(), "udp", addr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}
