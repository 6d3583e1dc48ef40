//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// listenUDPReusePort binds a plain UDP socket: without SO_REUSEPORT a
// second socket on the port fails, and one loop serves it.
func listenUDPReusePort(addr netip.AddrPort) (*net.UDPConn, error) {
	return net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
}
