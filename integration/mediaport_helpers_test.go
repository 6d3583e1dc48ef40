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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/stun/v4"

	"github.com/gosoup/gosoup/client"
)

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

// dialLingering opens an ICE-TCP connection that the server must close at
// its bind deadline, and sends first on it.
func (m *mediaPort) dialLingering(t *testing.T, name string, first []byte) net.Conn {
	t.Helper()
	start := time.Now()
	c := m.dialTCP(t)
	m.linger(t, name, c, start)
	if _, err := c.Write(first); err != nil {
		t.Fatal(err)
	}
	return c
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
