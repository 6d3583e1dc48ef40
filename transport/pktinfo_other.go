//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

const oobSize = 64

// enablePktinfo is not implemented on this platform: answers leave with the
// kernel's choice of source address, so bind --rtc-listen-ip to one address
// on hosts with several.
func enablePktinfo(*net.UDPConn, bool) bool { return false }

func parsePktinfo([]byte) netip.Addr { return netip.Addr{} }

func putPktinfo([]byte, netip.Addr) int { return 0 }
