package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
)

// Fuzz targets of the parsers of bytes from outside: the ICE responder
// (handleSTUN), the RFC 7983 demultiplexer (demux) and the ICE-TCP RFC 4571
// framing (frameReader, serveTCP). Their seed corpora are under
// testdata/fuzz/<FuzzName>/; scripts/test.sh runs each target for a few
// seconds.

// Fixed ICE credentials of the fuzzed transports, so that seeds can carry
// valid checks.
const (
	fuzzUfrag = "fuzzufragfuzzufr"
	fuzzPwd   = "fuzzpasswordfuzzpasswordfuzzpass"
)

// fuzzListener counts what a transport hands up and keeps the last
// packet.
type fuzzListener struct {
	mu   sync.Mutex
	rtp  int
	rtcp int
	last []byte
}

func (l *fuzzListener) OnRTP(_ *WebRTCTransport, pkt []byte, _ *Batch) {
	l.mu.Lock()
	l.rtp++
	l.last = append(l.last[:0], pkt...)
	l.mu.Unlock()
}

func (l *fuzzListener) OnRTCP(_ *WebRTCTransport, pkt []byte) {
	l.mu.Lock()
	l.rtcp++
	l.last = append(l.last[:0], pkt...)
	l.mu.Unlock()
}
func (l *fuzzListener) OnConnected(*WebRTCTransport)     {}
func (l *fuzzListener) OnClosed(*WebRTCTransport, error) {}

// take returns and resets the counts and the last packet.
func (l *fuzzListener) take() (rtpN, rtcpN int, last []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rtpN, rtcpN, last = l.rtp, l.rtcp, append([]byte(nil), l.last...)
	l.rtp, l.rtcp, l.last = 0, 0, l.last[:0]
	return rtpN, rtcpN, last
}

// fuzzNetwork is a loopback network without ICE-TCP listener whose
// transports never lose consent during a fuzz run.
func fuzzNetwork(tb testing.TB) *Network {
	tb.Helper()
	n, err := NewNetwork(Config{ListenIP: "127.0.0.1", NoTCP: true, ConsentTimeout: 24 * time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { n.Close() })
	return n
}

// setCredentials gives t the fixed fuzz credentials.
func setCredentials(n *Network, t *WebRTCTransport) {
	n.mu.Lock()
	defer n.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(n.byUfrag, t.ice.UsernameFragment)
	t.ice = ICEParameters{UsernameFragment: fuzzUfrag, Password: fuzzPwd, ICELite: true}
	n.byUfrag[fuzzUfrag] = t
}

// captureConn is the net.Conn of a fake ICE-TCP connection: it records
// what the network writes to it (RFC 4571 frames) and reads nothing.
type captureConn struct {
	mu     sync.Mutex
	frames [][]byte
	closed chan struct{}
	once   sync.Once
}

func newCaptureConn() *captureConn { return &captureConn{closed: make(chan struct{})} }

func (c *captureConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for p := b; len(p) >= 2; {
		size := int(binary.BigEndian.Uint16(p))
		if len(p) < 2+size {
			break
		}
		c.frames = append(c.frames, append([]byte(nil), p[2:2+size]...))
		p = p[2+size:]
	}
	return len(b), nil
}

// take returns and forgets the frames written so far.
func (c *captureConn) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.frames
	c.frames = nil
	return f
}

func (c *captureConn) Read([]byte) (int, error) { <-c.closed; return 0, io.EOF }
func (c *captureConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *captureConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *captureConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

// stunSeed builds a Binding request with the given attributes (before the
// integrity and fingerprint the fix bits of FuzzHandleSTUN may add).
func stunSeed(tb testing.TB, setters ...stun.Setter) []byte {
	tb.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter([stun.TransactionIDSize]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), stun.BindingRequest}, setters...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return m.Raw
}

// Fix bits of FuzzHandleSTUN: the harness rewrites a decodable message so
// that the fuzzer reaches the checks behind USERNAME, MESSAGE-INTEGRITY
// and FINGERPRINT.
const (
	fixUsername    = 1 << 0 // USERNAME becomes fuzzUfrag + ":remote", first
	fixIntegrity   = 1 << 1 // MESSAGE-INTEGRITY with fuzzPwd, at position fix>>4
	fixFingerprint = 1 << 2 // a valid FINGERPRINT, last
)

// rewriteSTUN applies the fix bits to pkt; a message that does not decode
// is returned as it is.
func rewriteSTUN(pkt []byte, fix byte) []byte {
	if fix&(fixUsername|fixIntegrity|fixFingerprint) == 0 {
		return pkt
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil {
		return pkt
	}
	var attrs []stun.Setter
	if fix&fixUsername != 0 {
		attrs = append(attrs, stun.NewUsername(fuzzUfrag+":remote"))
	}
	for _, a := range m.Attributes {
		switch {
		case a.Type == stun.AttrUsername && fix&fixUsername != 0,
			a.Type == stun.AttrMessageIntegrity && fix&fixIntegrity != 0,
			a.Type == stun.AttrFingerprint && fix&fixFingerprint != 0:
			continue
		}
		attrs = append(attrs, stun.RawAttribute{Type: a.Type, Value: a.Value})
	}
	if fix&fixIntegrity != 0 {
		at := int(fix>>4) % (len(attrs) + 1)
		attrs = append(attrs[:at], append([]stun.Setter{stun.NewShortTermIntegrity(fuzzPwd)}, attrs[at:]...)...)
	}
	if fix&fixFingerprint != 0 {
		attrs = append(attrs, stun.Fingerprint)
	}
	out, err := stun.Build(append([]stun.Setter{stun.NewTransactionIDSetter(m.TransactionID), m.Type}, attrs...)...)
	if err != nil {
		return pkt
	}
	return out.Raw
}

// stunVerdict is what the ICE responder may do with a message, judged
// from RFC 5389 and RFC 8445 independently of handleSTUN.
type stunVerdict struct {
	request  *stun.Message // a decodable Binding request with a valid FINGERPRINT, else nil
	known    bool          // its USERNAME names fuzzUfrag
	valid    bool          // known, and its MESSAGE-INTEGRITY is valid with fuzzPwd
	nominate bool          // valid, with USE-CANDIDATE before MESSAGE-INTEGRITY
}

func judgeSTUN(pkt []byte) stunVerdict {
	var v stunVerdict
	if !stun.IsMessage(pkt) {
		return v
	}
	m := &stun.Message{Raw: append([]byte(nil), pkt...)}
	if m.Decode() != nil || m.Type != stun.BindingRequest || stun.Fingerprint.Check(m) != nil {
		return v // not a request to answer; without FINGERPRINT, silently discarded (RFC 5389 7.3)
	}
	v.request = m
	// Attributes after MESSAGE-INTEGRITY (but FINGERPRINT) are ignored
	// (RFC 5389 15.4).
	var user string
	haveUser, useCandidate := false, false
	for _, a := range m.Attributes {
		if a.Type == stun.AttrMessageIntegrity {
			break
		}
		switch a.Type {
		case stun.AttrUsername:
			if !haveUser {
				user, haveUser = string(a.Value), true
			}
		case stun.AttrUseCandidate:
			useCandidate = true
		}
	}
	local, _, ok := strings.Cut(user, ":")
	v.known = haveUser && ok && local == fuzzUfrag
	v.valid = v.known && stun.NewShortTermIntegrity(fuzzPwd).Check(m) == nil
	v.nominate = v.valid && useCandidate
	return v
}

// checkAnswers checks what the responder sent for a message judged v from
// remote: nothing, one unsigned error for a known username that failed the
// integrity check, or one signed success for a valid check.
func checkAnswers(t *testing.T, pkt []byte, v stunVerdict, remote netip.AddrPort, answers [][]byte) {
	t.Helper()
	if len(answers) == 0 {
		if v.valid {
			t.Fatalf("valid check %x not answered", pkt)
		}
		return
	}
	if len(answers) > 1 {
		t.Fatalf("%d answers to %x", len(answers), pkt)
	}
	if v.request == nil || !v.known {
		t.Fatalf("answered %x, which is no Binding request with a valid FINGERPRINT for a known username", pkt)
	}
	a := &stun.Message{Raw: answers[0]}
	if err := a.Decode(); err != nil {
		t.Fatalf("answer %x: %v", answers[0], err)
	}
	if a.TransactionID != v.request.TransactionID {
		t.Fatalf("answer with another transaction id")
	}
	if stun.Fingerprint.Check(a) != nil {
		t.Fatalf("answer without valid FINGERPRINT")
	}
	switch a.Type {
	case stun.BindingSuccess:
		if !v.valid {
			t.Fatalf("success answer to %x, whose MESSAGE-INTEGRITY is not valid", pkt)
		}
		if err := stun.NewShortTermIntegrity(fuzzPwd).Check(a); err != nil {
			t.Fatalf("success answer not signed: %v", err)
		}
		var xor stun.XORMappedAddress
		if err := xor.GetFrom(a); err != nil || xor.Port != int(remote.Port()) || !xor.IP.Equal(net.IP(remote.Addr().AsSlice())) {
			t.Fatalf("XOR-MAPPED-ADDRESS %v (%v), want %v", xor, err, remote)
		}
	case stun.NewType(stun.MethodBinding, stun.ClassErrorResponse):
		if v.valid {
			t.Fatalf("error answer to a valid check")
		}
		if _, signed := a.Attributes.Get(stun.AttrMessageIntegrity); signed {
			t.Fatalf("error answer carries MESSAGE-INTEGRITY (RFC 5389 10.1.2: MUST NOT)")
		}
		if len(a.Raw) > len(pkt) {
			t.Fatalf("error answer of %d bytes to a request of %d", len(a.Raw), len(pkt))
		}
	default:
		t.Fatalf("answer of type %v", a.Type)
	}
}

// FuzzHandleSTUN feeds arbitrary datagrams to the ICE responder, from a UDP
// address and over an ICE-TCP connection: it never panics, answers only a
// Binding request with a valid FINGERPRINT for a known username (a signed
// success when its MESSAGE-INTEGRITY is valid, else an unsigned error), and
// records a tuple only for a valid check.
func FuzzHandleSTUN(f *testing.F) {
	user := stun.NewUsername(fuzzUfrag + ":remote")
	valid := stunSeed(f, user, stun.NewShortTermIntegrity(fuzzPwd), stun.Fingerprint)
	f.Add(valid, byte(0))
	f.Add(stunSeed(f, user, stun.RawAttribute{Type: stun.AttrUseCandidate}, stun.RawAttribute{Type: stun.AttrPriority, Value: []byte{0x6e, 0, 0x1e, 0xff}}, stun.NewShortTermIntegrity(fuzzPwd), stun.Fingerprint), byte(0))
	f.Add(stunSeed(f, user, stun.NewShortTermIntegrity("wrong"), stun.Fingerprint), byte(0))
	f.Add(stunSeed(f, user, stun.Fingerprint), byte(0))
	f.Add(stunSeed(f, user, stun.NewShortTermIntegrity(fuzzPwd)), byte(0))
	f.Add(stunSeed(f, stun.NewUsername("other:remote"), stun.NewShortTermIntegrity(fuzzPwd), stun.Fingerprint), byte(0))
	f.Add(stunSeed(f, stun.Fingerprint), byte(0))
	f.Add(stunSeed(f), byte(fixUsername|fixIntegrity|fixFingerprint))
	f.Add(stunSeed(f, stun.RawAttribute{Type: stun.AttrUseCandidate}), byte(fixUsername|fixIntegrity|fixFingerprint))
	f.Add(stunSeed(f, stun.RawAttribute{Type: stun.AttrUseCandidate}), byte(fixUsername|fixIntegrity|fixFingerprint|0x10))
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, byte(0))
	f.Add([]byte("\x16\xfe\xfd"), byte(0))

	n := fuzzNetwork(f)
	tr, err := n.NewWebRTCTransport(f.Context(), &fuzzListener{}, TransportOptions{UDP: true})
	if err != nil {
		f.Fatal(err)
	}
	setCredentials(n, tr)
	cc := newCaptureConn()
	tc := &tcpConn{n: n, c: cc, remote: netip.MustParseAddrPort("127.0.0.1:2")}
	var port atomic.Uint32
	f.Fuzz(func(t *testing.T, pkt []byte, fix byte) {
		if len(pkt) > tcpMaxFrame {
			return // larger than any datagram or ICE-TCP frame we read
		}
		pkt = rewriteSTUN(pkt, fix)
		v := judgeSTUN(pkt)
		for _, tp := range []Tuple{
			// A fresh UDP address each time: answers go to a closed
			// loopback port, and its binding is checked from scratch.
			{Remote: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(1024+port.Add(1)%60000))},
			{Remote: tc.remote, tcp: tc},
		} {
			selected, lastCheck := tr.selected.Load(), tr.lastCheck.Load()
			n.handleSTUN(pkt, tp)
			if tp.tcp != nil {
				checkAnswers(t, pkt, v, tp.Remote, cc.take())
			}
			now := tr.selected.Load()
			if !v.valid {
				if now != selected || tr.lastCheck.Load() != lastCheck {
					t.Fatalf("invalid check %x changed the transport's tuple or consent", pkt)
				}
				if tp.tcp == nil && n.transportByAddr(tp.Remote) != nil {
					t.Fatalf("invalid check %x bound its address", pkt)
				}
			} else {
				if v.nominate || selected == nil {
					if now == nil || *now != tp {
						t.Fatalf("valid check (nominate %v) did not select its tuple", v.nominate)
					}
				} else if now != selected {
					t.Fatalf("valid check without USE-CANDIDATE changed the selected tuple")
				}
				if tp.tcp == nil && n.transportByAddr(tp.Remote) != tr {
					t.Fatalf("valid check did not bind its address")
				}
			}
			if tp.tcp == nil {
				n.mu.Lock()
				delete(n.byAddr, tp.Remote)
				n.mu.Unlock()
			}
		}
	})
}

// Addresses of FuzzDemux: the connected transport's selected tuple, an
// address that passed ICE for it too, and a stranger.
var (
	demuxSelected = netip.MustParseAddrPort("127.0.0.1:50001")
	demuxValid    = netip.MustParseAddrPort("127.0.0.1:50002")
	demuxStranger = netip.MustParseAddrPort("127.0.0.1:50003")
)

// FuzzDemux feeds arbitrary datagrams to the demultiplexer of a network
// with one connected transport, from its selected tuple, from another of
// its valid tuples, or from a stranger; seal encrypts the input (when it
// parses as RTP or RTCP) with the transport's SRTP key first. Nothing
// panics; only authenticated packets reach the listener, unchanged; a
// stranger reaches nothing; and only a packet that authenticated (or DTLS,
// which mediasoup also follows) moves the selected tuple.
func FuzzDemux(f *testing.F) {
	f.Add([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 0xde, 0xad}, byte(0), true)
	f.Add([]byte{0x80, 0x60, 0, 2, 0, 0, 0, 2, 0, 0, 0, 5, 0xbe, 0xef}, byte(1), true)
	f.Add([]byte{0x81, 0xc8, 0, 6, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, byte(0), true)
	f.Add([]byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 0xde, 0xad}, byte(1), false)
	f.Add([]byte{0x81, 0xc9, 0, 1, 0, 0, 0, 5}, byte(1), false)
	f.Add([]byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1}, byte(1), false)
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, byte(2), false)
	f.Add([]byte{0xff}, byte(0), false)
	f.Add([]byte{}, byte(0), false)

	n := fuzzNetwork(f)
	l := &fuzzListener{}
	tr, err := n.NewConnectedForTest(l, demuxSelected)
	if err != nil {
		f.Fatal(err)
	}
	n.bindAddr(tr, demuxValid)
	key, salt := make([]byte, 16), make([]byte, 12) // NewConnectedForTest's key
	sender, err := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		f.Fatal(err)
	}
	var (
		rtpHdr  rtp.Header
		rtcpHdr rtcp.Header
	)
	f.Fuzz(func(t *testing.T, pkt []byte, from byte, seal bool) {
		if len(pkt) > tcpMaxFrame {
			return // larger than any datagram or ICE-TCP frame we read
		}
		remote := []netip.AddrPort{demuxSelected, demuxValid, demuxStranger}[int(from)%3]
		plain := append([]byte(nil), pkt...)
		sealed := false
		if seal && len(pkt) > 0 {
			var out []byte
			var err error
			if isRTCP(pkt) {
				out, err = sender.EncryptRTCP(nil, pkt, &rtcpHdr)
			} else {
				out, err = sender.EncryptRTP(nil, pkt, &rtpHdr)
			}
			if err == nil {
				pkt, sealed = out, true
			}
		}
		tr.selected.Store(&Tuple{Remote: demuxSelected})
		queued := len(tr.pconn.Load().in)
		n.demux(pkt, Tuple{Remote: remote}, nil, nil)

		rtpN, rtcpN, last := l.take()
		delivered := rtpN+rtcpN > 0
		if rtpN+rtcpN > 1 {
			t.Fatalf("one packet delivered %d times", rtpN+rtcpN)
		}
		if delivered && (!sealed || remote == demuxStranger) {
			t.Fatalf("unauthenticated packet %x from %v reached the listener", pkt, remote)
		}
		if delivered && !bytes.Equal(last, plain) {
			t.Fatalf("delivered %x, sealed %x", last, plain)
		}
		isDTLS := len(pkt) > 0 && pkt[0] >= 20 && pkt[0] < 64
		if remote == demuxStranger && len(tr.pconn.Load().in) != queued {
			t.Fatalf("a stranger's packet reached the DTLS queue")
		}
		if sel, _ := tr.selectedTuple(); sel.Remote != demuxSelected && !delivered && !(isDTLS && remote == demuxValid) {
			t.Fatalf("packet %x from %v moved the selected tuple to %v", pkt, remote, sel.Remote)
		}
		// Keep the DTLS queue from filling up for good.
		for len(tr.pconn.Load().in) > 0 {
			<-tr.pconn.Load().in
		}
	})
}

// chunkReader serves data in reads of the sizes chunks cycles through
// (each plus one; all at once without chunks) and records the largest
// read asked of it and how much was consumed.
type chunkReader struct {
	data     []byte
	chunks   []byte
	i        int
	maxAsked int
	consumed int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.maxAsked = max(r.maxAsked, len(p))
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(p)
	if len(r.chunks) > 0 {
		n = min(n, int(r.chunks[r.i%len(r.chunks)])+1)
		r.i++
	}
	n = copy(p, r.data[:min(n, len(r.data))])
	r.data = r.data[n:]
	r.consumed += n
	return n, nil
}

// modelFrames splits an ICE-TCP stream as RFC 4571 and RFC 7983 say: the
// frames before the first bad one, why the stream ends, and how many bytes
// a reader may consume (a frame of a bad size is refused from its length).
func modelFrames(s []byte) (frames [][]byte, end error, consumed int) {
	for {
		switch {
		case len(s) == 0:
			return frames, io.EOF, consumed
		case len(s) < 2:
			return frames, io.ErrUnexpectedEOF, consumed + len(s)
		}
		size := int(s[0])<<8 | int(s[1])
		if size == 0 || size > 4096 {
			return frames, errFrameSize, consumed + 2
		}
		if len(s)-2 < size {
			return frames, io.ErrUnexpectedEOF, consumed + len(s)
		}
		frame := s[2 : 2+size]
		consumed += 2 + size
		switch b := frame[0]; {
		case b <= 3, b >= 20 && b <= 63, b >= 128 && b <= 191: // STUN, DTLS, RTP/RTCP
		default:
			return frames, errFrameKind, consumed
		}
		frames = append(frames, frame)
		s = s[2+size:]
	}
}

// frame prefixes b with its RFC 4571 length.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// closeNotifyConn tells when the code under test closed it.
type closeNotifyConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifyConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// FuzzTCPFraming feeds arbitrary byte streams, read in arbitrary pieces,
// to the ICE-TCP framing: frameReader returns exactly the frames RFC 4571
// delimits, from its own buffer, never asks its reader for more than
// tcpMaxFrame bytes nor reads past a frame it refuses, and stops at the
// first frame of a bad size or of no RFC 7983 range. Then serveTCP gets
// the same stream over a pipe: it never panics, closes the connection by
// itself on any such frame or on a frame other than STUN before a valid
// check, and ends once the client closes.
func FuzzTCPFraming(f *testing.F) {
	check := stunSeed(f, stun.NewUsername("nobody:x"), stun.NewShortTermIntegrity("pw"), stun.Fingerprint)
	f.Add(frame(check), []byte{})
	f.Add(append(frame(check), frame(check)...), []byte{0, 1, 2})
	f.Add(append(frame(check), frame([]byte{0x16, 0xfe, 0xfd, 0, 0})...), []byte{})
	f.Add(append(frame(check), frame([]byte{0x80, 0x60, 0, 1})...), []byte{7})
	f.Add(append([]byte{0xff, 0xff}, check...), []byte{})                            // 64 KiB length
	f.Add(append([]byte{0x10, 0x01}, bytes.Repeat([]byte{0}, 4097)...), []byte{})    // one over the limit
	f.Add(append([]byte{0x10, 0x00}, bytes.Repeat([]byte{1}, 4096)...), []byte{255}) // at the limit
	f.Add([]byte{0, 0}, []byte{})
	f.Add([]byte{0, 100, 0, 1, 2}, []byte{})                            // partial frame
	f.Add([]byte{0}, []byte{})                                          // partial length
	f.Add(append(frame(check), frame([]byte{0x40, 1, 2})...), []byte{}) // garbage after a check
	f.Add(frame([]byte("GET / HTTP/1.1\r\n")), []byte{})

	n := fuzzNetwork(f)
	f.Fuzz(func(t *testing.T, stream, chunks []byte) {
		if len(stream) > 4*(2+tcpMaxFrame) {
			return // four frames of the largest size say it all
		}
		want, end, consumed := modelFrames(stream)
		r := &chunkReader{data: stream, chunks: chunks}
		fr := &frameReader{r: r}
		for i := 0; ; i++ {
			got, err := fr.next()
			if err != nil {
				if !errors.Is(err, end) || i != len(want) {
					t.Fatalf("after %d frames: %v, want %v after %d", i, err, end, len(want))
				}
				break
			}
			if i >= len(want) || !bytes.Equal(got, want[i]) {
				t.Fatalf("frame %d = %x, want %d frames", i, got, len(want))
			}
			if &got[0] != &fr.buf[0] {
				t.Fatal("frame not in the reader's buffer")
			}
		}
		if r.maxAsked > tcpMaxFrame || r.consumed != consumed {
			t.Fatalf("asked for up to %d bytes, consumed %d; want at most %d, %d", r.maxAsked, r.consumed, tcpMaxFrame, consumed)
		}

		// The same stream through serveTCP, in at most 16 writes (each
		// one costs a goroutine handoff).
		server, client := net.Pipe()
		sc := &closeNotifyConn{Conn: server, closed: make(chan struct{})}
		n.startTCP(sc)
		go func() { _, _ = io.Copy(io.Discard, client) }()
		_ = client.SetWriteDeadline(time.Now().Add(2 * time.Second))
		for rest, i := stream, 0; len(rest) > 0; i++ {
			k := len(rest)
			if len(chunks) > 0 {
				k = min(k, max(int(chunks[i%len(chunks)])+1, len(stream)/16))
			}
			if _, err := client.Write(rest[:k]); err != nil {
				break // the server closed
			}
			rest = rest[k:]
		}
		selfClose := end == errFrameSize || end == errFrameKind
		for _, w := range want {
			selfClose = selfClose || w[0] >= 4 // no valid check can bind it
		}
		if !selfClose {
			select {
			case <-sc.closed:
				t.Fatal("serveTCP closed a connection that only sent ICE checks")
			default:
			}
			client.Close()
		}
		select {
		case <-sc.closed:
		case <-time.After(2 * time.Second):
			t.Fatalf("serveTCP still open 2 s after the stream (closes by itself: %v)", selfClose)
		}
		client.Close()
	})
}
