package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// PlainOptions configure a PlainTransport.
type PlainOptions struct {
	// ListenIP is the address the socket(s) bind to. Default 0.0.0.0 (or
	// :: when Remote is IPv6).
	ListenIP netip.Addr
	// Remote is where RTP goes; the zero value: not known yet (set it
	// later with SetRemote, or let Comedia learn it).
	Remote netip.AddrPort
	// RemoteRTCP is where RTCP goes when RTCPMux is off; default Remote's
	// port + 1.
	RemoteRTCP netip.AddrPort
	// Comedia learns the remote tuple from the first valid packet received
	// (and RemoteRTCP from the first RTCP on the RTCP socket), as tools
	// behind NAT or with ephemeral ports need.
	Comedia bool
	// NoRTCPMux opens a second socket for RTCP (on the RTP port + 1 when
	// it is free, else any port) for tools that cannot mux RTP and RTCP.
	NoRTCPMux bool
	// Logger receives the transport's logs. Default slog.Default().
	Logger *slog.Logger
	// SRTP, when set, protects RTP and RTCP with these keys (a pipe
	// between nodes); with comedia the remote is learned only from a packet
	// that authenticates.
	SRTP *PlainSRTP
	// Batch, when set (Network.NewBatch), collects what the handler
	// writes in reaction to one RTP packet (forwarding to WebRTC
	// consumers) into one system call. Owned by the RTP read goroutine.
	Batch *Batch
}

// PlainHandler receives what a PlainTransport reads. Calls come from the
// transport's read goroutines; pkt is valid only during the call.
type PlainHandler interface {
	// OnPlainRTP is called with an RTP packet from the remote; b is the
	// options' Batch (may be nil), flushed after the call.
	OnPlainRTP(pkt []byte, b *Batch)
	// OnPlainRTCP is called with a compound RTCP packet from the remote.
	OnPlainRTCP(pkt []byte)
}

// PlainCounters count what a PlainTransport refused.
type PlainCounters struct {
	// WrongSource counts datagrams from an address other than the remote.
	WrongSource uint64
	// Malformed counts datagrams that are neither RTP nor RTCP, or that
	// fail SRTP authentication.
	Malformed uint64
}

// ErrNoRemote is returned by writes before the remote address is known.
var ErrNoRemote = errors.New("plain transport: remote address not known yet")

// PlainTransport is mediasoup v2's PlainRtpTransport: unencrypted RTP and
// RTCP over UDP on a socket of its own (RTP and RTCP muxed unless
// NoRTCPMux), to and from one remote tuple set by parameters or learned
// (comedia). It implements the same write methods as a WebRTCTransport,
// so the SFU forwards to it like to a browser.
type PlainTransport struct {
	rtp, rtcp *net.UDPConn // rtcp nil with rtcp-mux
	h         PlainHandler
	comedia   bool
	log       *slog.Logger
	batch     *Batch       // RTP read goroutine only
	crypto    *plainCrypto // nil: plain RTP

	remote     atomic.Pointer[netip.AddrPort]
	remoteRTCP atomic.Pointer[netip.AddrPort]

	bytesIn, bytesOut      atomic.Uint64
	wrongSource, malformed atomic.Uint64

	closeOnce sync.Once
	done      chan struct{}
	wg        sync.WaitGroup
}

// NewPlainTransport binds the socket(s) and starts reading.
func NewPlainTransport(opts PlainOptions, h PlainHandler) (*PlainTransport, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	ip := opts.ListenIP
	if !ip.IsValid() {
		ip = netip.IPv4Unspecified()
		if opts.Remote.Addr().Is6() && !opts.Remote.Addr().Is4In6() {
			ip = netip.IPv6Unspecified()
		}
	}
	rtpConn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("plain transport: listen on %s: %w", ip, err)
	}
	t := &PlainTransport{rtp: rtpConn, h: h, comedia: opts.Comedia, log: opts.Logger, batch: opts.Batch, done: make(chan struct{})}
	if opts.NoRTCPMux {
		port := rtpConn.LocalAddr().(*net.UDPAddr).Port + 1
		t.rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err != nil {
			t.rtcp, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
		}
		if err != nil {
			rtpConn.Close()
			return nil, fmt.Errorf("plain transport: listen for RTCP on %s: %w", ip, err)
		}
	}
	if opts.SRTP != nil {
		if t.crypto, err = newPlainCrypto(opts.SRTP); err != nil {
			t.rtp.Close()
			if t.rtcp != nil {
				t.rtcp.Close()
			}
			return nil, err
		}
	}
	if opts.Remote.IsValid() {
		t.SetRemote(opts.Remote, opts.RemoteRTCP)
	}
	t.wg.Add(1)
	go t.readLoop(t.rtp, false)
	if t.rtcp != nil {
		t.wg.Add(1)
		go t.readLoop(t.rtcp, true)
	}
	return t, nil
}

// LocalPort is the RTP port (also RTCP's with rtcp-mux).
func (t *PlainTransport) LocalPort() int { return t.rtp.LocalAddr().(*net.UDPAddr).Port }

// LocalRTCPPort is the RTCP port: LocalPort with rtcp-mux.
func (t *PlainTransport) LocalRTCPPort() int {
	if t.rtcp == nil {
		return t.LocalPort()
	}
	return t.rtcp.LocalAddr().(*net.UDPAddr).Port
}

// RTCPMux reports whether RTP and RTCP share one port.
func (t *PlainTransport) RTCPMux() bool { return t.rtcp == nil }

// SetRemote sets where RTP (and RTCP) go; rtcp may be the zero value (the
// RTP address with rtcp-mux, else its port + 1).
func (t *PlainTransport) SetRemote(rtp, rtcp netip.AddrPort) {
	rtp = netip.AddrPortFrom(rtp.Addr().Unmap(), rtp.Port())
	if !rtcp.IsValid() {
		rtcp = rtp
		if t.rtcp != nil {
			rtcp = netip.AddrPortFrom(rtp.Addr(), rtp.Port()+1)
		}
	}
	t.remote.Store(&rtp)
	t.remoteRTCP.Store(&rtcp)
}

// Remote returns the remote RTP address, if known.
func (t *PlainTransport) Remote() (netip.AddrPort, bool) {
	if a := t.remote.Load(); a != nil {
		return *a, true
	}
	return netip.AddrPort{}, false
}

// Connected reports whether the remote address is known.
func (t *PlainTransport) Connected() bool { return t.remote.Load() != nil }

// WriteRTP sends one RTP packet to the remote.
func (t *PlainTransport) WriteRTP(pkt []byte) error {
	a := t.remote.Load()
	if a == nil {
		return ErrNoRemote
	}
	return t.write(t.rtp, pkt, *a, false)
}

// write sends one packet, SRTP-protected when the transport has keys.
func (t *PlainTransport) write(conn *net.UDPConn, pkt []byte, to netip.AddrPort, isRTCP bool) error {
	if c := t.crypto; c != nil {
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		out, err := c.seal(pkt, isRTCP)
		if err != nil {
			return err
		}
		pkt = out
	}
	n, err := conn.WriteToUDPAddrPort(pkt, to)
	t.bytesOut.Add(uint64(n))
	return err
}

// WriteRTPBatch sends one RTP packet now (a plain transport has its own
// socket, outside the network's batches).
func (t *PlainTransport) WriteRTPBatch(pkt []byte, _ *Batch) error { return t.WriteRTP(pkt) }

// WriteRTCP sends one compound RTCP packet to the remote's RTCP address.
func (t *PlainTransport) WriteRTCP(pkt []byte) error {
	a := t.remoteRTCP.Load()
	if a == nil {
		return ErrNoRemote
	}
	conn := t.rtcp
	if conn == nil {
		conn = t.rtp
	}
	return t.write(conn, pkt, *a, true)
}

// BytesReceived counts the bytes of accepted datagrams.
func (t *PlainTransport) BytesReceived() uint64 { return t.bytesIn.Load() }

// BytesSent counts the bytes sent.
func (t *PlainTransport) BytesSent() uint64 { return t.bytesOut.Load() }

// Counters returns what the transport refused so far.
func (t *PlainTransport) Counters() PlainCounters {
	return PlainCounters{WrongSource: t.wrongSource.Load(), Malformed: t.malformed.Load()}
}

// Done is closed when the transport is closed.
func (t *PlainTransport) Done() <-chan struct{} { return t.done }

// Close closes the sockets; the read goroutines end at once (Wait waits
// for them). It does not wait, so it may be called under the SFU's locks.
func (t *PlainTransport) Close() error {
	t.closeOnce.Do(func() {
		close(t.done)
		t.rtp.Close()
		if t.rtcp != nil {
			t.rtcp.Close()
		}
	})
	return nil
}

// Wait waits until the read goroutines have ended (after Close).
func (t *PlainTransport) Wait() { t.wg.Wait() }

// readLoop reads one socket until it closes: datagrams from the remote
// (or, with comedia, the first valid one, which sets it) go to the
// handler as RTP or RTCP (RFC 5761: payload types 192-223 are RTCP).
func (t *PlainTransport) readLoop(conn *net.UDPConn, rtcpOnly bool) {
	defer t.wg.Done()
	buf := make([]byte, 1600)
	var rtcpBuf []byte
	if t.crypto != nil {
		rtcpBuf = make([]byte, 1600)
	}
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP errors surface as read errors on Linux
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		pkt := buf[:n]
		if n < 8 || pkt[0]>>6 != 2 {
			t.malformed.Add(1)
			continue
		}
		rtcp := rtcpOnly || isRTCP(pkt)
		if !rtcp && n < 12 {
			t.malformed.Add(1)
			continue
		}
		if t.crypto != nil {
			// Authenticate first: only then may the packet teach the remote.
			if !t.fromRemote(from, rtcpOnly) && !t.comedia {
				t.wrongSource.Add(1)
				continue
			}
			plain, err := t.crypto.open(rtcpBuf, pkt, rtcp)
			if err != nil {
				t.malformed.Add(1)
				continue
			}
			if !t.acceptFrom(from, rtcpOnly) {
				t.wrongSource.Add(1)
				continue
			}
			t.bytesIn.Add(uint64(n))
			t.deliver(plain, rtcp)
			continue
		}
		if !t.acceptFrom(from, rtcpOnly) {
			t.wrongSource.Add(1)
			continue
		}
		t.bytesIn.Add(uint64(n))
		t.deliver(pkt, rtcp)
	}
}

// deliver hands a plain packet to the handler.
func (t *PlainTransport) deliver(pkt []byte, rtcp bool) {
	if rtcp {
		t.h.OnPlainRTCP(pkt)
		return
	}
	t.h.OnPlainRTP(pkt, t.batch)
	if t.batch != nil {
		t.batch.Flush()
	}
}

// fromRemote reports whether from is the known remote of the socket.
func (t *PlainTransport) fromRemote(from netip.AddrPort, rtcpSocket bool) bool {
	want := &t.remote
	if rtcpSocket {
		want = &t.remoteRTCP
	}
	a := want.Load()
	return a != nil && *a == from
}

// acceptFrom reports whether a datagram from comes from the remote; with
// comedia the first datagram on each socket sets its remote address.
func (t *PlainTransport) acceptFrom(from netip.AddrPort, rtcpSocket bool) bool {
	want := &t.remote
	if rtcpSocket {
		want = &t.remoteRTCP
	}
	if a := want.Load(); a != nil && *a == from {
		return true
	}
	if !t.comedia || want.Load() != nil {
		return false
	}
	learned := new(netip.AddrPort) // allocated only on this path
	*learned = from
	if rtcpSocket {
		if t.remoteRTCP.CompareAndSwap(nil, learned) {
			t.log.Info("plain transport: remote RTCP learned (comedia)", "remote", from)
			return true
		}
		return false
	}
	if t.remote.CompareAndSwap(nil, learned) {
		if t.rtcp == nil {
			t.remoteRTCP.Store(learned)
		}
		t.log.Info("plain transport: remote learned (comedia)", "remote", from)
		return true
	}
	return false
}
