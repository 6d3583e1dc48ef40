package integration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/transport"
)

// The server's bind deadline for ICE-TCP connections (transport's
// tcpBindTimeout: from accept to a valid ICE check).
const mpTCPBindTimeout = 10 * time.Second

// mediaPort is the state the hostile media-port suite shares: the server,
// a victim pair whose media is counted as it arrives, and the attacks'
// leftovers that must disappear later.
type mediaPort struct {
	t    *testing.T
	g    *gosoup
	port int
	v    *videoPair

	received atomic.Int64 // RTP packets read at bob's pion receiver

	victimSend, victimRecv *transport.WebRTCTransport
	sendTuple, recvTuple   transport.Tuple
	sendUfrag, recvUfrag   string

	baseGoroutines int

	mu        sync.Mutex
	lingering []lingerer // ICE-TCP connections the server must close at its bind deadline
}

type lingerer struct {
	name   string
	c      net.Conn
	dialed time.Time
}

// TestMediaPortHostile: hostile traffic on the shared media port (UDP and
// ICE-TCP) from addresses that are not the victim's: nothing gets in (no
// answer where none is due, the victim's tuples never move) and nothing
// breaks (the victim's media keeps arriving, goroutines stay bounded,
// lingering ICE-TCP connections close at the bind deadline).
func TestMediaPortHostile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// With port 0 the server picks a free UDP port and then listens for
	// ICE-TCP on the same number, which another socket may hold (the
	// server then runs without ICE-TCP and says so in a warning): take a
	// server whose ICE-TCP listener is up.
	var g *gosoup
	for try := 0; ; try++ {
		g = startGosoup(t)
		c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", g.SFU.RTCPort()), 5*time.Second)
		if err == nil {
			c.Close()
			break
		}
		if try == 4 {
			t.Fatalf("no server with ICE-TCP: %v", err)
		}
		t.Logf("ICE-TCP off on port %d (%v); starting another server", g.SFU.RTCPort(), err)
	}
	m := &mediaPort{t: t, g: g, port: g.SFU.RTCPort()}
	m.v = startVideoPair(ctx, t, g, "mp")
	m.startMeter()
	m.waitFlow(t, "before any attack")
	room, err := g.SFU.Room("mp")
	if err != nil {
		t.Fatal(err)
	}
	m.victimSend = room.PeerByName("alice").TransportByID(m.v.send.ID).WebRTC()
	m.victimRecv = room.PeerByName("bob").TransportByID(m.v.recv.ID).WebRTC()
	var ok1, ok2 bool
	m.sendTuple, ok1 = m.victimSend.SelectedTuple()
	m.recvTuple, ok2 = m.victimRecv.SelectedTuple()
	if !ok1 || !ok2 || !m.victimSend.Connected() || !m.victimRecv.Connected() {
		t.Fatal("victim transports not connected")
	}
	m.sendUfrag = m.victimSend.ICEParameters().UsernameFragment
	m.recvUfrag = m.victimRecv.ICEParameters().UsernameFragment
	time.Sleep(200 * time.Millisecond)
	m.baseGoroutines = runtime.NumGoroutine()

	cases := m.cases(ctx)
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		if !t.Run(c.name, func(t *testing.T) {
			c.run(t)
			m.healthy(t)
		}) {
			// Keep going: every attack is independent.
			continue
		}
	}
	t.Logf("%d attacks on the media port; victim received %d packets in all", len(cases), m.received.Load())
}

type mpCase struct {
	name string
	run  func(t *testing.T)
}

// startMeter counts bob's packets as they arrive, so that a check after an
// attack sees fresh packets, not ones buffered before it.
func (m *mediaPort) startMeter() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := m.v.cons.ReadRTP(time.Now().Add(200 * time.Millisecond)); err == nil {
				m.received.Add(1)
			}
		}
	}()
	m.t.Cleanup(func() { close(stop); <-done })
}

// waitFlow waits for 20 fresh victim packets within 5 s.
func (m *mediaPort) waitFlow(t *testing.T, when string) {
	t.Helper()
	start := m.received.Load()
	deadline := time.Now().Add(5 * time.Second)
	for m.received.Load() < start+20 {
		if time.Now().After(deadline) {
			t.Fatalf("victim media stopped %s: %d packets in 5 s", when, m.received.Load()-start)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// healthy: the victim's media flows, its transports are connected on the
// tuples they had, and goroutines are bounded (one per ICE-TCP connection
// still lingering, plus slack).
func (m *mediaPort) healthy(t *testing.T) {
	t.Helper()
	m.waitFlow(t, "after the attack")
	for _, x := range []struct {
		name  string
		wt    *transport.WebRTCTransport
		tuple transport.Tuple
	}{{"alice's send transport", m.victimSend, m.sendTuple}, {"bob's recv transport", m.victimRecv, m.recvTuple}} {
		if !x.wt.Connected() || x.wt.DTLSState() != "connected" {
			t.Fatalf("%s: connected=%v dtls=%s", x.name, x.wt.Connected(), x.wt.DTLSState())
		}
		if tp, ok := x.wt.SelectedTuple(); !ok || tp != x.tuple {
			t.Fatalf("%s: selected tuple moved from %v to %v", x.name, x.tuple.Remote, tp.Remote)
		}
	}
	if s := m.v.recv.DTLSState(); s != webrtc.DTLSTransportStateConnected {
		t.Fatalf("bob's client DTLS state %s", s)
	}
	m.mu.Lock()
	bound := m.baseGoroutines + 2*len(m.lingering) + 150
	m.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= bound {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, bound %d (baseline %d)", n, bound, m.baseGoroutines)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --- UDP helpers ---

func (m *mediaPort) udpAddr() *net.UDPAddr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: m.port}
}

// dial opens a fresh UDP socket on 127.0.0.1 connected to the media port.
func (m *mediaPort) dial(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, m.udpAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendFresh sends pkts from one fresh socket and returns it.
func (m *mediaPort) sendFresh(t *testing.T, pkts ...[]byte) *net.UDPConn {
	t.Helper()
	c := m.dial(t)
	for i, p := range pkts {
		if _, err := c.Write(p); err != nil && len(p) <= 65507 {
			t.Fatalf("write %d (%d bytes): %v", i, len(p), err)
		}
		if i%200 == 199 {
			time.Sleep(time.Millisecond) // stay under the socket buffers
		}
	}
	return c
}

// expectSilence fails when the server answers on c within d.
func expectSilence(t *testing.T, c *net.UDPConn, d time.Duration) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(buf)
	if err == nil {
		t.Fatalf("server answered a stranger: %d bytes % x", n, buf[:min(n, 32)])
	}
}

// expectSTUNError waits for a STUN error answer with code and checks it
// carries no MESSAGE-INTEGRITY (the request proved no key).
func expectSTUNError(t *testing.T, c *net.UDPConn, code stun.ErrorCode) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no STUN error answer: %v", err)
	}
	checkSTUNError(t, buf[:n], code)
}

func checkSTUNError(t *testing.T, raw []byte, code stun.ErrorCode) {
	t.Helper()
	msg := &stun.Message{Raw: append([]byte(nil), raw...)}
	if err := msg.Decode(); err != nil {
		t.Fatalf("answer is no STUN: %v", err)
	}
	var ec stun.ErrorCodeAttribute
	if msg.Type.Class != stun.ClassErrorResponse || ec.GetFrom(msg) != nil || ec.Code != code {
		t.Fatalf("answer %v, error %v; want error %d", msg.Type, ec, code)
	}
	if _, ok := msg.Attributes.Get(stun.AttrMessageIntegrity); ok {
		t.Fatal("error answer to an unauthenticated request carries MESSAGE-INTEGRITY")
	}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// bindingRequest builds an ICE Binding request as a browser would; pwd ""
// leaves out MESSAGE-INTEGRITY, user "" leaves out USERNAME.
func bindingRequest(t *testing.T, user, pwd string, fingerprint bool, extra ...stun.Setter) []byte {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest}
	if user != "" {
		setters = append(setters, stun.NewUsername(user))
	}
	setters = append(setters,
		stun.RawAttribute{Type: stun.AttrICEControlling, Value: randBytes(8)},
		stun.RawAttribute{Type: stun.AttrPriority, Value: []byte{0x6e, 0, 0x1e, 0xff}},
	)
	setters = append(setters, extra...)
	if pwd != "" {
		setters = append(setters, stun.NewShortTermIntegrity(pwd))
	}
	if fingerprint {
		setters = append(setters, stun.Fingerprint)
	}
	msg, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return msg.Raw
}

// useCandidate is the USE-CANDIDATE flag.
var useCandidate = stun.RawAttribute{Type: stun.AttrUseCandidate}

// expectNoSuccess: whatever the server answers on c within d must be a
// STUN error without MESSAGE-INTEGRITY (for requests whose exact verdict
// is the decoder's business: oversized or odd attributes).
func expectNoSuccess(t *testing.T, c *net.UDPConn, d time.Duration) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(d))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		msg := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if msg.Decode() != nil || msg.Type.Class != stun.ClassErrorResponse {
			t.Fatalf("server answered % x", buf[:min(n, 32)])
		}
		if _, ok := msg.Attributes.Get(stun.AttrMessageIntegrity); ok {
			t.Fatal("error answer carries MESSAGE-INTEGRITY")
		}
	}
}

// refingerprint replaces the FINGERPRINT of raw (which must end with one)
// after raw was tampered with, so that only the tampering is judged.
func refingerprint(t *testing.T, raw []byte) []byte {
	t.Helper()
	body := append([]byte(nil), raw[:len(raw)-8]...)
	binary.BigEndian.PutUint16(body[2:4], uint16(len(body)-20))
	msg := &stun.Message{Raw: body}
	if err := msg.Decode(); err != nil {
		t.Fatal(err)
	}
	if err := stun.Fingerprint.AddTo(msg); err != nil {
		t.Fatal(err)
	}
	return msg.Raw
}

// rawSTUN builds a Binding request header with the magic cookie around
// attrs (as given, for malformed attributes).
func rawSTUN(attrs []byte) []byte {
	b := make([]byte, 20, 20+len(attrs))
	binary.BigEndian.PutUint16(b[0:2], 0x0001)
	binary.BigEndian.PutUint16(b[2:4], uint16(len(attrs)))
	binary.BigEndian.PutUint32(b[4:8], 0x2112A442)
	copy(b[8:20], randBytes(12))
	return append(b, attrs...)
}

// rtpHeader is a 12-byte RTP header (V=2) with flags in the first byte.
func rtpHeader(first, pt byte, seq uint16, ssrc uint32) []byte {
	b := make([]byte, 12)
	b[0] = first
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:4], seq)
	binary.BigEndian.PutUint32(b[4:8], uint32(seq)*3000)
	binary.BigEndian.PutUint32(b[8:12], ssrc)
	return b
}

// captureConn is a net.PacketConn that keeps what pion/dtls writes: the
// way to get a real ClientHello to replay.
type captureConn struct {
	once   sync.Once
	cOnce  sync.Once
	got    chan []byte
	closed chan struct{}
}

func (c *captureConn) WriteTo(p []byte, _ net.Addr) (int, error) {
	c.once.Do(func() { c.got <- append([]byte(nil), p...) })
	return len(p), nil
}
func (c *captureConn) ReadFrom([]byte) (int, net.Addr, error) {
	<-c.closed
	return 0, nil, net.ErrClosed
}
func (c *captureConn) Close() error {
	c.cOnce.Do(func() { close(c.closed) })
	return nil
}
func (c *captureConn) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (c *captureConn) SetDeadline(time.Time) error      { return nil }
func (c *captureConn) SetReadDeadline(time.Time) error  { return nil }
func (c *captureConn) SetWriteDeadline(time.Time) error { return nil }

func dtlsConfig(t *testing.T) *dtls.Config {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	return &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		InsecureSkipVerify:     true,
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
		ExtendedMasterSecret:   dtls.RequireExtendedMasterSecret,
	}
}

// clientHello returns a ClientHello record pion/dtls sends to start a
// handshake, as a browser's first DTLS flight.
func clientHello(t *testing.T) []byte {
	t.Helper()
	cc := &captureConn{got: make(chan []byte, 1), closed: make(chan struct{})}
	conn, err := dtls.Client(cc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2}, dtlsConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = conn.HandshakeContext(ctx) }()
	defer func() { cancel(); _ = cc.Close(); <-done; _ = conn.Close() }()
	select {
	case hello := <-cc.got:
		if hello[0] != 22 {
			t.Fatalf("captured record type %d", hello[0])
		}
		return hello
	case <-time.After(5 * time.Second):
		t.Fatal("pion/dtls sent no ClientHello")
	}
	return nil
}

// --- ICE-TCP helpers ---

func (m *mediaPort) dialTCP(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", m.port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// linger registers c as one the server must close at its bind deadline;
// it must still be open now.
func (m *mediaPort) linger(t *testing.T, name string, c net.Conn, dialed time.Time) {
	t.Helper()
	m.mu.Lock()
	m.lingering = append(m.lingering, lingerer{name, c, dialed})
	m.mu.Unlock()
}

// expectOpen fails when the server closes c or sends anything on it
// within d.
func expectOpen(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 64)
	for {
		n, err := c.Read(buf)
		if err == nil {
			t.Fatalf("server answered a stranger over ICE-TCP: % x", buf[:n])
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("server closed the connection early: %v", err)
		}
		return
	}
}

// expectClosed fails unless the server closes c within d.
func expectClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("server kept the connection open for %v", d)
	}
}

func frameOf(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// --- CPU ---

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// floodCPU sends count copies of the datagrams pkts produces (cycled) to
// addr from 8 fresh sockets, paced so that the server reads them all when
// received is given (it waits for received to catch up every 512), and
// returns the process CPU time it took and the wall time.
func floodCPU(t *testing.T, addr *net.UDPAddr, pkts [][]byte, count int, received func() uint64) (cpu, wall time.Duration, read uint64) {
	t.Helper()
	conns := make([]*net.UDPConn, 8)
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	var before uint64
	if received != nil {
		before = received()
	}
	start, c0 := time.Now(), processCPU()
	for i := 0; i < count; i++ {
		_, _ = conns[i%len(conns)].WriteToUDP(pkts[i%len(pkts)], addr)
		if i%512 == 511 {
			if received != nil {
				until := time.Now().Add(time.Second)
				for received()-before < uint64(i+1)*95/100 && time.Now().Before(until) {
					time.Sleep(100 * time.Microsecond)
				}
			} else {
				time.Sleep(100 * time.Microsecond)
			}
		}
	}
	if received != nil {
		until := time.Now().Add(2 * time.Second)
		for received()-before < uint64(count)*95/100 && time.Now().Before(until) {
			time.Sleep(time.Millisecond)
		}
		read = received() - before
	}
	return processCPU() - c0, time.Since(start), read
}

// eveICE makes a transport for a hostile peer eve and passes ICE on it
// from a raw UDP socket with the right password: that address is then
// bound to eve's transport (and only to hers), and the server, DTLS
// client, sends its ClientHello there.
func (m *mediaPort) eveICE(ctx context.Context, t *testing.T) *net.UDPConn {
	t.Helper()
	eve, err := client.Connect(ctx, m.g.URL, "mp", "eve")
	if err != nil {
		t.Fatal(err)
	}
	m.t.Cleanup(func() { _ = eve.Close() })
	if err := eve.Join(ctx, map[string]any{"displayName": "eve"}, false); err != nil {
		t.Fatal(err)
	}
	fp := sha256.Sum256(randBytes(64))
	hex := make([]string, len(fp))
	for i, b := range fp {
		hex[i] = fmt.Sprintf("%02X", b)
	}
	raw, err := eve.Request(ctx, "createTransport", map[string]any{
		"id": 4242, "direction": "send", "options": map[string]any{"udp": true, "tcp": false},
		"dtlsParameters": map[string]any{"role": "server", "fingerprints": []any{map[string]any{"algorithm": "sha-256", "value": strings.Join(hex, ":")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		IceParameters struct {
			UsernameFragment string `json:"usernameFragment"`
			Password         string `json:"password"`
		} `json:"iceParameters"`
	}
	mustJSON(t, raw, &st)
	c, err := net.DialUDP("udp4", nil, m.udpAddr())
	if err != nil {
		t.Fatal(err)
	}
	m.t.Cleanup(func() { c.Close() })
	if _, err := c.Write(bindingRequest(t, st.IceParameters.UsernameFragment+":eve1", st.IceParameters.Password, true, useCandidate)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	sawSuccess, sawHello := false, false
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for !sawSuccess || !sawHello {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("eve's ICE: success=%v ClientHello=%v: %v", sawSuccess, sawHello, err)
		}
		switch {
		case stun.IsMessage(buf[:n]):
			msg := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if msg.Decode() != nil || msg.Type != stun.BindingSuccess {
				t.Fatalf("eve's ICE answered %v", msg.Type)
			}
			sawSuccess = true
		case buf[0] == 22:
			sawHello = true
		}
	}
	return c
}

func (m *mediaPort) cases(ctx context.Context) []mpCase {
	var cs []mpCase
	add := func(name string, run func(t *testing.T)) { cs = append(cs, mpCase{name, run}) }
	quiet := 250 * time.Millisecond
	victim := func() string { return m.sendUfrag + ":atk0" }

	// ICE-TCP first: what lingers until the bind deadline overlaps the
	// rest, and the last case checks it was closed.
	add("tcp: slowloris, 200 idle connections", func(t *testing.T) {
		start := time.Now()
		conns := make([]net.Conn, 200)
		for i := range conns {
			conns[i] = m.dialTCP(t)
			m.linger(t, "idle", conns[i], start)
		}
		expectOpen(t, conns[0], 300*time.Millisecond)
		expectOpen(t, conns[199], 100*time.Millisecond)
	})
	add("tcp: half frame (500 announced, 100 sent)", func(t *testing.T) {
		start := time.Now()
		c := m.dialTCP(t)
		m.linger(t, "half frame", c, start)
		if _, err := c.Write(append([]byte{0x01, 0xf4}, randBytes(100)...)); err != nil {
			t.Fatal(err)
		}
		expectOpen(t, c, 200*time.Millisecond)
	})
	add("tcp: half length prefix (1 byte)", func(t *testing.T) {
		start := time.Now()
		c := m.dialTCP(t)
		m.linger(t, "half prefix", c, start)
		if _, err := c.Write([]byte{0x00}); err != nil {
			t.Fatal(err)
		}
		expectOpen(t, c, 200*time.Millisecond)
	})
	add("tcp: 50 unauthenticated STUN frames then silence", func(t *testing.T) {
		start := time.Now()
		c := m.dialTCP(t)
		m.linger(t, "unknown ufrag", c, start)
		var b []byte
		for i := 0; i < 50; i++ {
			b = append(b, frameOf(bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true))...)
		}
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		expectOpen(t, c, 300*time.Millisecond)
	})
	add("tcp: victim's ufrag with a wrong password", func(t *testing.T) {
		start := time.Now()
		c := m.dialTCP(t)
		m.linger(t, "wrong password", c, start)
		if _, err := c.Write(frameOf(bindingRequest(t, victim(), "wrongpasswordwrongpassword012345", true, useCandidate))); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("no 401 over TCP: %v", err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		checkSTUNError(t, body, stun.CodeUnauthorized)
	})
	add("tcp: 64 KiB frame length", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(append([]byte{0xff, 0xff}, randBytes(4096)...))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: zero-length frames", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(make([]byte, 64))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: 8 KiB of garbage", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		g := randBytes(8192)
		g[0], g[1], g[2] = 0x00, 0x40, 0xff // a 64-byte frame no range claims
		_, _ = c.Write(g)
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: an HTTP request", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: first frame a DTLS ClientHello", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(frameOf(clientHello(t)))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: first frame SRTP", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(frameOf(append(rtpHeader(0x80, 96, 1, m.v.prod.SSRC), randBytes(200)...)))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: 500 connections opened and closed", func(t *testing.T) {
		for i := 0; i < 500; i++ {
			c := m.dialTCP(t)
			if i%2 == 0 {
				_, _ = c.Write([]byte{0x00, 0x20, 0x00})
			}
			c.Close()
		}
	})
	add("tcp: 100 connections reset mid-frame", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			c := m.dialTCP(t)
			_, _ = c.Write([]byte{0x00, 0x64, 0x00, 0x01})
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})

	// STUN over UDP.
	add("stun: unknown ufrag", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)), quiet)
	})
	add("stun: no USERNAME", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, "", "whatever", true)), quiet)
	})
	add("stun: USERNAME without a colon", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, m.sendUfrag, "whatever", true)), quiet)
	})
	add("stun: victim's ufrag, no FINGERPRINT", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, victim(), "wrongpassword", false, useCandidate)), quiet)
	})
	add("stun: victim's ufrag, corrupt FINGERPRINT", func(t *testing.T) {
		req := bindingRequest(t, victim(), "wrongpassword", true, useCandidate)
		req[len(req)-1] ^= 0x55
		expectSilence(t, m.sendFresh(t, req), quiet)
	})
	add("stun: victim's ufrag, wrong password", func(t *testing.T) {
		expectSTUNError(t, m.sendFresh(t, bindingRequest(t, victim(), "wrongpasswordwrongpassword012345", true)), stun.CodeUnauthorized)
	})
	add("stun: victim's ufrag, wrong password, USE-CANDIDATE", func(t *testing.T) {
		c := m.sendFresh(t, bindingRequest(t, m.recvUfrag+":atk", "wrongpasswordwrongpassword012345", true, useCandidate))
		expectSTUNError(t, c, stun.CodeUnauthorized)
		// The address did not become the victim's: DTLS and SRTP from it go nowhere.
		_, _ = c.Write(clientHello(t))
		_, _ = c.Write(append(rtpHeader(0x80, 96, 7, 1234), randBytes(100)...))
		expectSilence(t, c, quiet)
	})
	add("stun: victim's ufrag, no MESSAGE-INTEGRITY", func(t *testing.T) {
		expectSTUNError(t, m.sendFresh(t, bindingRequest(t, victim(), "", true, useCandidate)), stun.CodeBadRequest)
	})
	add("stun: victim's ufrag, real password, one MESSAGE-INTEGRITY bit flipped", func(t *testing.T) {
		pwd := m.victimSend.ICEParameters().Password
		req := bindingRequest(t, victim(), pwd, true, useCandidate)
		req[len(req)-8-1] ^= 0x01 // last byte of the HMAC, before FINGERPRINT
		expectSTUNError(t, m.sendFresh(t, refingerprint(t, req)), stun.CodeUnauthorized)
	})
	add("stun: truncated headers, 1 to 19 bytes", func(t *testing.T) {
		req := bindingRequest(t, victim(), "wrongpassword", true)
		var pkts [][]byte
		for n := 1; n < 20; n++ {
			pkts = append(pkts, req[:n])
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("stun: truncated bodies, length past the datagram", func(t *testing.T) {
		req := bindingRequest(t, victim(), "wrongpassword", true)
		var pkts [][]byte
		for n := 20; n < len(req); n += 4 {
			pkts = append(pkts, req[:n])
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("stun: wrong magic cookie", func(t *testing.T) {
		req := bindingRequest(t, victim(), "wrongpassword", true)
		req[4] ^= 0xff
		expectSilence(t, m.sendFresh(t, req), quiet)
	})
	add("stun: 1400-byte USERNAME", func(t *testing.T) {
		huge := stun.RawAttribute{Type: stun.AttrUsername, Value: []byte(victim() + strings.Repeat("x", 1400))}
		expectNoSuccess(t, m.sendFresh(t, bindingRequest(t, "", "wrongpassword", true, huge)), quiet)
	})
	add("stun: 300 unknown attributes", func(t *testing.T) {
		var extra []stun.Setter
		for i := 0; i < 300; i++ {
			extra = append(extra, stun.RawAttribute{Type: stun.AttrType(0x7000 + i), Value: []byte{1}})
		}
		expectNoSuccess(t, m.sendFresh(t, bindingRequest(t, victim(), "wrongpassword", true, extra...)), quiet)
	})
	add("stun: attribute lengths 0xffff and past the end", func(t *testing.T) {
		a := []byte{0x00, 0x06, 0xff, 0xff, 'a', 'b', 'c', 'd'}
		b := append([]byte{0x00, 0x06, 0x00, 0x40}, []byte(victim())...)
		c := []byte{0x00, 0x08, 0x00, 0x14, 1, 2}
		expectSilence(t, m.sendFresh(t, rawSTUN(a), rawSTUN(b), rawSTUN(c), rawSTUN(append(b, c...))), quiet)
	})
	add("stun: Binding success, indication and Allocate naming the victim", func(t *testing.T) {
		var pkts [][]byte
		for _, typ := range []stun.MessageType{stun.BindingSuccess, stun.BindingError,
			stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.NewType(stun.MethodAllocate, stun.ClassRequest)} {
			msg, err := stun.Build(stun.TransactionID, typ, stun.NewUsername(victim()), stun.NewShortTermIntegrity("wrongpassword"), stun.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, msg.Raw)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("stun: first bytes 0-3 with 1000 random tails", func(t *testing.T) {
		var pkts [][]byte
		for i := 0; i < 1000; i++ {
			p := randBytes(20 + i%200)
			p[0] &= 3
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("stun: flood of 20k unauthenticated binding requests", func(t *testing.T) {
		start := time.Now()
		before := m.g.SFU.Counts().PacketsReceived
		var wg sync.WaitGroup
		for s := 0; s < 4; s++ {
			c := m.dial(t)
			req := bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5000 && time.Since(start) < 10*time.Second; i++ {
					_, _ = c.Write(req)
					if i%256 == 255 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("flood took %v", d)
		}
		t.Logf("20k requests sent in %v; server read %d datagrams meanwhile", time.Since(start), m.g.SFU.Counts().PacketsReceived-before)
	})
	add("stun: 5000 wrong-password requests to the victim's ufrag", func(t *testing.T) {
		c := m.dial(t)
		start := time.Now()
		answers := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if n > 120 {
					return // a 401 is small: no amplification
				}
				answers++
			}
		}()
		for i := 0; i < 5000; i++ {
			_, _ = c.Write(bindingRequest(t, victim(), "wrongpassword", true, useCandidate))
			if i%256 == 255 {
				time.Sleep(time.Millisecond)
			}
		}
		<-done
		t.Logf("5000 requests in %v, %d answered with 401", time.Since(start), answers)
	})

	// DTLS over UDP.
	add("dtls: real handshake from an address that never did ICE", func(t *testing.T) {
		c := m.dial(t)
		conn, err := dtls.Client(c, m.udpAddr(), dtlsConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		hctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		if err := conn.HandshakeContext(hctx); err == nil {
			t.Fatal("a stranger completed a DTLS handshake")
		}
	})
	add("dtls: ClientHello from an address that never did ICE", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, clientHello(t)), quiet)
	})
	add("dtls: handshake flood, 5000 ClientHellos from 50 addresses", func(t *testing.T) {
		hello := clientHello(t)
		for s := 0; s < 50; s++ {
			pkts := make([][]byte, 100)
			for i := range pkts {
				pkts[i] = hello
			}
			c := m.sendFresh(t, pkts...)
			if s == 49 {
				expectSilence(t, c, quiet)
			}
		}
	})
	add("dtls: alert, ChangeCipherSpec and application data records from a stranger", func(t *testing.T) {
		var pkts [][]byte
		for _, typ := range []byte{20, 21, 23, 24} {
			for _, epoch := range []uint16{0, 1, 0xffff} {
				rec := []byte{typ, 0xfe, 0xfd, byte(epoch >> 8), byte(epoch), 0, 0, 0, 0, 0, 1, 0, 48}
				pkts = append(pkts, append(rec, randBytes(48)...))
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("dtls: first bytes 20-63 with random bodies and lengths", func(t *testing.T) {
		var pkts [][]byte
		for b := 20; b < 64; b++ {
			for _, n := range []int{1, 13, 100, 1400} {
				p := randBytes(n)
				p[0] = byte(b)
				pkts = append(pkts, p)
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	var eve *net.UDPConn
	add("dtls: garbage and ClientHellos to eve's own ICE-bound transport", func(t *testing.T) {
		eve = m.eveICE(ctx, t)
		hello := clientHello(t)
		for i := 0; i < 500; i++ {
			p := hello
			if i%2 == 1 {
				p = randBytes(100)
				p[0] = byte(20 + i%44)
			}
			_, _ = eve.Write(p)
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	// SRTP and SRTCP that cannot authenticate.
	add("srtp: 1000 random 0x80-prefixed datagrams from strangers", func(t *testing.T) {
		for s := 0; s < 4; s++ {
			var pkts [][]byte
			for i := 0; i < 250; i++ {
				p := randBytes(12 + (i*37)%1388)
				p[0] = 0x80 | p[0]&0x3f
				pkts = append(pkts, p)
			}
			expectSilence(t, m.sendFresh(t, pkts...), 50*time.Millisecond)
		}
	})
	add("srtp: the victim's SSRCs with bogus auth tags", func(t *testing.T) {
		var pkts [][]byte
		for _, ssrc := range []uint32{m.v.prod.SSRC, m.v.cd.RTPParameters.Encodings[0].SSRC} {
			for seq := uint16(0); seq < 200; seq++ {
				pkts = append(pkts, append(rtpHeader(0x80, 100+byte(seq%28), seq, ssrc), randBytes(216)...))
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("srtcp: SR, RR, SDES, BYE, NACK and PLI headers with bogus tags", func(t *testing.T) {
		var pkts [][]byte
		for pt := byte(200); pt <= 206; pt++ {
			for _, ssrc := range []uint32{m.v.prod.SSRC, m.v.cd.RTPParameters.Encodings[0].SSRC} {
				p := []byte{0x81, pt, 0, 7}
				p = binary.BigEndian.AppendUint32(p, ssrc)
				p = append(p, randBytes(24)...)
				p = append(p, 0x80, 0, 0, 1)    // E flag, SRTCP index
				p = append(p, randBytes(10)...) // auth tag
				pkts = append(pkts, p)
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("rtp: CSRC count 15 in short packets", func(t *testing.T) {
		var pkts [][]byte
		for n := 12; n < 80; n++ {
			pkts = append(pkts, append(rtpHeader(0x8f, 96, uint16(n), m.v.prod.SSRC), randBytes(n-12)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("rtp: extension length 0xffff", func(t *testing.T) {
		var pkts [][]byte
		for _, n := range []int{16, 20, 100, 1400} {
			p := append(rtpHeader(0x90, 96, 1, m.v.prod.SSRC), 0xbe, 0xde, 0xff, 0xff)
			pkts = append(pkts, append(p, randBytes(n-16)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("rtp: padding longer than the packet", func(t *testing.T) {
		var pkts [][]byte
		for _, pad := range []byte{0, 1, 200, 255} {
			p := append(rtpHeader(0xa0, 96, 1, m.v.prod.SSRC), randBytes(20)...)
			p[len(p)-1] = pad
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("rtcp: compound packets with wrong length fields", func(t *testing.T) {
		var pkts [][]byte
		for _, l := range []uint16{0, 1, 6, 7, 0xffff} {
			rr := []byte{0x81, 201, byte(l >> 8), byte(l)}
			rr = binary.BigEndian.AppendUint32(rr, m.v.prod.SSRC)
			rr = append(rr, randBytes(24)...)
			sdes := []byte{0x81, 202, 0xff, 0xf0, 1, 2, 3, 4}
			pkts = append(pkts, append(append(rr, sdes...), randBytes(14)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("rtp: version-2 packets of 1 to 11 bytes", func(t *testing.T) {
		var pkts [][]byte
		for n := 1; n < 12; n++ {
			p := randBytes(n)
			p[0] = 0x80
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("srtp: garbage from eve's ICE-bound address (no keys)", func(t *testing.T) {
		if eve == nil {
			t.Skip("eve's ICE case failed")
		}
		for i := 0; i < 1000; i++ {
			p := append(rtpHeader(0x80|byte(i%16), 96, uint16(i), m.v.prod.SSRC), randBytes(i%1000)...)
			if i%3 == 0 {
				p[1] = 200 + byte(i%7)
			}
			_, _ = eve.Write(p)
			if i%200 == 199 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	// Every first byte, every size.
	for _, size := range []int{1, 1500, 9000} {
		add(fmt.Sprintf("bytes: every first byte 0-255, %d bytes", size), func(t *testing.T) {
			var pkts [][]byte
			for b := 0; b < 256; b++ {
				p := randBytes(size)
				p[0] = byte(b)
				pkts = append(pkts, p)
			}
			expectSilence(t, m.sendFresh(t, pkts...), quiet)
		})
	}
	add("bytes: 100 empty datagrams", func(t *testing.T) {
		pkts := make([][]byte, 100)
		for i := range pkts {
			pkts[i] = []byte{}
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("bytes: 65507-byte datagrams", func(t *testing.T) {
		var pkts [][]byte
		for _, first := range []byte{0, 22, 0x80, 0xff} {
			p := randBytes(65507)
			p[0] = first
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})
	add("bytes: unclaimed ranges 4-19, 64-127, 192-255", func(t *testing.T) {
		var pkts [][]byte
		for b := 4; b < 256; b++ {
			if (b >= 20 && b < 64) || (b >= 128 && b < 192) {
				continue
			}
			p := randBytes(200)
			p[0] = byte(b)
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), quiet)
	})

	// CPU per 100k bad datagrams.
	for _, k := range []struct {
		name string
		pkts func(t *testing.T) [][]byte
	}{
		{"unknown-ufrag STUN requests", func(t *testing.T) [][]byte {
			return [][]byte{bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)}
		}},
		{"100-byte 0x80-prefixed datagrams", func(t *testing.T) [][]byte {
			p := randBytes(100)
			p[0] = 0x80
			return [][]byte{p}
		}},
	} {
		add("cpu: 100k "+k.name, func(t *testing.T) {
			pkts := k.pkts(t)
			closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			closedAddr := closed.LocalAddr().(*net.UDPAddr)
			closed.Close()
			closedCPU, closedWall, _ := floodCPU(t, closedAddr, pkts, 100_000, nil)
			// A null server: a socket whose reader only counts.
			null, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			_ = null.SetReadBuffer(4 << 20)
			var nullRead atomic.Uint64
			nullDone := make(chan struct{})
			go func() {
				defer close(nullDone)
				buf := make([]byte, 1564)
				for {
					if _, _, err := null.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					nullRead.Add(1)
				}
			}()
			baseCPU, baseWall, _ := floodCPU(t, null.LocalAddr().(*net.UDPAddr), pkts, 100_000, nullRead.Load)
			null.Close()
			<-nullDone
			recv := func() uint64 { return m.g.SFU.Counts().PacketsReceived }
			cpu, wall, read := floodCPU(t, m.udpAddr(), pkts, 100_000, recv)
			if wall > 30*time.Second {
				t.Fatalf("100k datagrams took %v", wall)
			}
			t.Logf("100k %s (%d bytes): process CPU %v in %v (server read %d, victim media included); "+
				"same sends to a reader that only counts %v in %v, to a closed port %v in %v; "+
				"server's handling beyond the socket read ≈ %v per 100k (in-process: sender, server and victim share one rusage)",
				k.name, len(pkts[0]), cpu, wall.Round(time.Millisecond), read, baseCPU, baseWall.Round(time.Millisecond),
				closedCPU, closedWall.Round(time.Millisecond), cpu-baseCPU)
		})
	}

	add("tcp: lingering connections closed at the bind deadline", func(t *testing.T) {
		m.mu.Lock()
		ls := m.lingering
		m.mu.Unlock()
		if len(ls) < 200 {
			t.Fatalf("only %d lingering connections", len(ls))
		}
		early, open := 0, 0
		for _, l := range ls {
			// A deadline in the past fails reads at once, closed or not.
			_ = l.c.SetReadDeadline(maxTime(l.dialed.Add(mpTCPBindTimeout+10*time.Second), time.Now().Add(2*time.Second)))
			_, err := io.Copy(io.Discard, l.c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				open++
				t.Errorf("%s connection still open %v after it was dialed", l.name, time.Since(l.dialed))
			} else if time.Since(l.dialed) < mpTCPBindTimeout-time.Second {
				early++
			}
			l.c.Close()
		}
		if early > 0 {
			t.Errorf("%d connections closed before the bind deadline", early)
		}
		m.mu.Lock()
		m.lingering = nil
		m.mu.Unlock()
		t.Logf("%d lingering ICE-TCP connections closed by the server at its %v bind deadline", len(ls), mpTCPBindTimeout)
	})
	return cs
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
