package transport

import (
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// oobSize is the control-message buffer a read or a write needs for one
// packet-info message (IPv6's is the larger).
const oobSize = 64

// enablePktinfo asks the kernel to report each datagram's local destination
// address (IP_PKTINFO, and IPV6_RECVPKTINFO on an IPv6 socket, whose IPv4
// peers arrive v4-mapped). It reports whether that worked.
func enablePktinfo(conn *net.UDPConn, v6 bool) bool {
	rc, err := conn.SyscallConn()
	if err != nil {
		return false
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_PKTINFO, 1)
		if serr == nil && v6 {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1)
		}
	})
	return err == nil && serr == nil
}

// parsePktinfo returns the destination address of a received datagram from
// its control messages (invalid when there is none). It does not allocate.
func parsePktinfo(oob []byte) netip.Addr {
	dataOff := unix.CmsgLen(0)
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < dataOff || l > len(oob) {
			return netip.Addr{}
		}
		data := oob[dataOff:l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom4(info.Addr)
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			return netip.AddrFrom16(info.Addr).Unmap()
		}
		next := unix.CmsgSpace(l - dataOff)
		if next > len(oob) {
			return netip.Addr{}
		}
		oob = oob[next:]
	}
	return netip.Addr{}
}

// putPktinfo writes into b (at least oobSize bytes) the control message
// that makes a datagram leave from local, and returns its length. An IPv4
// source uses IP_PKTINFO, which the kernel also honours on an IPv6 socket
// sending to a v4-mapped address.
func putPktinfo(b []byte, local netip.Addr) int {
	clear(b[:oobSize])
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	data := b[unix.CmsgLen(0):]
	if local.Is4() {
		h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
		h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
		info := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
		info.Spec_dst = local.As4()
		return unix.CmsgSpace(unix.SizeofInet4Pktinfo)
	}
	h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet6Pktinfo))
	info := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
	info.Addr = local.As16()
	return unix.CmsgSpace(unix.SizeofInet6Pktinfo)
}
