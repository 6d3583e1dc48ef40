package transport

import (
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

type batchSys struct {
	msgs  [maxBatch]mmsghdr
	iovs  [maxBatch]unix.Iovec
	sa4   [maxBatch]unix.RawSockaddrInet4
	sa6   [maxBatch]unix.RawSockaddrInet6
	oob   [maxBatch][oobSize]byte
	raw   syscall.RawConn
	v6    bool
	sent  int
	write func(fd uintptr) bool // bound once: no allocation per call
}

func (b *Batch) init(n *Network, conn *net.UDPConn, v6 bool) {
	b.n = n
	b.sys.v6 = v6
	if rc, err := conn.SyscallConn(); err == nil {
		b.sys.raw = rc
	}
	b.sys.write = b.writeFd
}

func (b *Batch) send() {
	s := &b.sys
	if s.raw == nil {
		b.sendEach()
		return
	}
	for i := 0; i < b.count; i++ {
		s.iovs[i].Base = &b.bufs[i][0]
		s.iovs[i].SetLen(b.lens[i])
		h := &s.msgs[i].hdr
		*h = unix.Msghdr{Iov: &s.iovs[i], Iovlen: 1}
		if s.v6 {
			fillSockaddr6(&s.sa6[i], b.addrs[i])
			h.Name = (*byte)(unsafe.Pointer(&s.sa6[i]))
			h.Namelen = unix.SizeofSockaddrInet6
		} else {
			a4 := b.addrs[i].Addr().As4()
			s.sa4[i] = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a4}
			p := (*[2]byte)(unsafe.Pointer(&s.sa4[i].Port))
			p[0], p[1] = byte(b.addrs[i].Port()>>8), byte(b.addrs[i].Port())
			h.Name = (*byte)(unsafe.Pointer(&s.sa4[i]))
			h.Namelen = unix.SizeofSockaddrInet4
		}
		if b.n.pktinfo && b.local[i].IsValid() {
			h.Control = &s.oob[i][0]
			h.SetControllen(putPktinfo(s.oob[i][:], b.local[i]))
		}
	}
	s.sent = 0
	for s.sent < b.count {
		if err := s.raw.Write(s.write); err != nil {
			return
		}
	}
}

// writeFd runs sendmmsg for the unsent part; false asks the poller to wait
// for the socket to be writable.
func (b *Batch) writeFd(fd uintptr) bool {
	s := &b.sys
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.msgs[s.sent])), uintptr(b.count-s.sent), 0, 0, 0)
	switch errno {
	case 0:
		s.sent += int(n)
		return true
	case unix.EAGAIN:
		return false
	case unix.EINTR:
		return true
	}
	s.sent++ // skip a datagram the kernel refuses (e.g. unreachable)
	return true
}

func fillSockaddr6(sa *unix.RawSockaddrInet6, a netip.AddrPort) {
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr().As16()}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(a.Port()>>8), byte(a.Port())
}
