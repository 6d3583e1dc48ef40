package transport

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// ErrNotConnected is returned when writing before DTLS is connected.
var ErrNotConnected = errors.New("transport not connected")

// ErrClosed is returned by operations on a closed transport.
var ErrClosed = errors.New("transport closed")

// dtlsHandshakeTimeout bounds a DTLS handshake.
const dtlsHandshakeTimeout = 30 * time.Second

// WebRTCTransport is one ICE-lite + DTLS + SRTP transport on the Network's
// shared socket: mediasoup's WebRtcTransport.
type WebRTCTransport struct {
	net  *Network
	l    Listener
	opts TransportOptions
	// unwatchOwner stops the watch on the owner's context (nil when there
	// is none); set at creation.
	unwatchOwner func() bool

	mu          sync.Mutex
	ice         ICEParameters
	remoteDTLS  *DTLSParameters
	localRole   string
	dtlsStarted bool
	dtls        *dtls.Conn
	dtlsState   string
	// dtlsDeferred: the handshake waits for a per-source slot.
	dtlsDeferred atomic.Bool
	// After the handshake (transport/dtlsrelease.go): dtlsUp, it is done;
	// watching, watchDTLS reads the conn for a while; dtlsEnded, the conn
	// was released (dtlsLast: see dtlsQuietPassed); authed counts SRTP/SRTCP packets that authenticated;
	// alert* describe an alert record received after the release.
	dtlsUp      atomic.Bool
	watching    atomic.Bool
	dtlsEnded   atomic.Bool
	authed      atomic.Uint64
	alertAt     atomic.Int64
	alertAuthed atomic.Uint64
	alertCheck  atomic.Int64
	dtlsLast    atomic.Int64 // unix ns: handshake done or the client's last DTLS record since, until released

	selected atomic.Pointer[Tuple]
	recvMu   sync.Mutex // serializes decryption (UDP and TCP readers)
	// pconn carries DTLS records to pion's conn; nil once the DTLS state
	// is released or the transport closed (its queue costs memory).
	pconn  atomic.Pointer[dtlsPacketConn]
	closed atomic.Bool
	done   chan struct{}

	// Read path, used only by the network's read goroutine.
	recvCtx atomic.Pointer[srtp.Context]
	rtpHdr  rtp.Header
	rtcpHdr rtcp.Header

	// Write path.
	sendMu   sync.Mutex
	sendCtx  *srtp.Context
	sendHdr  rtp.Header
	sendRTCP rtcp.Header

	lastCheck atomic.Int64 // unix ns of the last valid ICE check

	bytesReceived atomic.Uint64
	bytesSent     atomic.Uint64
}

// sendBufs are the buffers WriteRTP and WriteRTCP encrypt into, shared by
// all transports: each is held only while one packet is encrypted and sent
// (the send is synchronous), so a transport keeps none of its own.
var sendBufs = sync.Pool{New: func() any {
	b := make([]byte, 0, 1600)
	return &b
}}

func newWebRTCTransport(owner context.Context, n *Network, l Listener) *WebRTCTransport {
	t := &WebRTCTransport{
		net:       n,
		l:         l,
		ice:       newICEParameters(),
		localRole: RoleAuto,
		dtlsState: "new",
		done:      make(chan struct{}),
	}
	t.pconn.Store(newDTLSPacketConn(t))
	// The owner's context ending closes the transport (no goroutine
	// waits for it); consent is watched by the network's sweeper. Watched
	// only when it can end: the sfu's never does, and a watch costs every
	// transport a context.
	if owner.Done() != nil {
		t.unwatchOwner = context.AfterFunc(owner, func() { t.closeWith(owner.Err()) })
	}
	return t
}

// ICEParameters returns the current local ICE credentials.
func (t *WebRTCTransport) ICEParameters() ICEParameters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ice
}

// ICECandidates returns the local host candidates.
func (t *WebRTCTransport) ICECandidates() []ICECandidate { return t.net.candidates(t.opts) }

// LocalDTLSParameters returns the local DTLS role ("auto" until the remote
// parameters are known) and the certificate fingerprints.
func (t *WebRTCTransport) LocalDTLSParameters() DTLSParameters {
	t.mu.Lock()
	defer t.mu.Unlock()
	return DTLSParameters{Role: t.localRole, Fingerprints: t.net.cert.Fingerprints()}
}

// DTLSState returns "new", "connecting", "connected", "failed" or "closed".
func (t *WebRTCTransport) DTLSState() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dtlsState
}

// Connected reports whether DTLS is connected and SRTP ready.
func (t *WebRTCTransport) Connected() bool { return t.recvCtx.Load() != nil }

// BytesReceived and BytesSent count every byte on the wire.
func (t *WebRTCTransport) BytesReceived() uint64 { return t.bytesReceived.Load() }

// BytesSent counts every byte sent on the wire.
func (t *WebRTCTransport) BytesSent() uint64 { return t.bytesSent.Load() }

// SelectedTuple returns the remote tuple media flows with, if any.
func (t *WebRTCTransport) SelectedTuple() (Tuple, bool) { return t.selectedTuple() }

// SetRemoteDTLSParameters sets the client's DTLS parameters and fixes the
// local role as mediasoup does: remote "client" makes us "server"; remote
// "server" or "auto" makes us "client". It returns the local role. Setting
// them twice is an error.
func (t *WebRTCTransport) SetRemoteDTLSParameters(p DTLSParameters) (string, error) {
	if t.isClosed() {
		return "", ErrClosed
	}
	if len(p.Fingerprints) == 0 {
		return "", errors.New("missing dtlsParameters.fingerprints")
	}
	t.mu.Lock()
	if t.remoteDTLS != nil {
		t.mu.Unlock()
		return "", errors.New("Transport already has remote DTLS parameters")
	}
	switch p.Role {
	case RoleClient:
		t.localRole = RoleServer
	case RoleServer, RoleAuto, "":
		t.localRole = RoleClient
	default:
		t.mu.Unlock()
		return "", fmt.Errorf("invalid dtlsParameters.role %q", p.Role)
	}
	cp := p
	cp.Fingerprints = append([]Fingerprint(nil), p.Fingerprints...)
	t.remoteDTLS = &cp
	role := t.localRole
	t.mu.Unlock()
	t.maybeStartDTLS()
	return role, nil
}

// RestartICE replaces the local ICE credentials; DTLS is kept.
func (t *WebRTCTransport) RestartICE() (ICEParameters, error) {
	if t.isClosed() {
		return ICEParameters{}, ErrClosed
	}
	n := t.net
	n.mu.Lock()
	defer n.mu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.ice.UsernameFragment
	fresh := newICEParameters()
	for n.byUfrag[fresh.UsernameFragment] != nil {
		fresh = newICEParameters()
	}
	delete(n.byUfrag, old)
	n.byUfrag[fresh.UsernameFragment] = t
	t.ice = fresh
	return fresh, nil
}

// Close closes the transport. The Listener's OnClosed is not called for a
// Close by the owner. Safe to call twice.
func (t *WebRTCTransport) Close() error {
	t.shutdown()
	return nil
}

// Done is closed once the transport is closed.
func (t *WebRTCTransport) Done() <-chan struct{} { return t.done }

func (t *WebRTCTransport) isClosed() bool { return t.closed.Load() }

func (t *WebRTCTransport) icePassword() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ice.Password
}

func (t *WebRTCTransport) selectedTuple() (Tuple, bool) {
	p := t.selected.Load()
	if p == nil {
		return Tuple{}, false
	}
	return *p, true
}

func (t *WebRTCTransport) remoteNetAddr() net.Addr {
	a, _ := t.selectedTuple()
	return net.UDPAddrFromAddrPort(a.Remote)
}

// closeWith closes the transport because of err and tells the listener.
func (t *WebRTCTransport) closeWith(err error) {
	if t.shutdown() {
		t.l.OnClosed(t, err)
	}
}

// shutdown closes everything once; it reports whether this call did it.
func (t *WebRTCTransport) shutdown() bool {
	if !t.closed.CompareAndSwap(false, true) {
		return false
	}
	close(t.done)
	if t.unwatchOwner != nil {
		t.unwatchOwner()
	}
	t.net.unregister(t)
	t.dropPacketConn()
	t.mu.Lock()
	conn := t.dtls
	t.dtlsState = "closed"
	t.mu.Unlock()
	if conn != nil {
		go conn.Close() // sends close_notify; must not block the caller
	}
	return true
}

// onValidTuple records a tuple that passed an ICE check; it reports false
// when the transport is closed. The caller then starts DTLS if it can.
func (t *WebRTCTransport) onValidTuple(tp Tuple, nominated bool) bool {
	if t.isClosed() {
		return false
	}
	t.lastCheck.Store(time.Now().UnixNano())
	if tp.tcp != nil {
		tp.tcp.bind(t)
	} else {
		t.net.bindAddr(t, tp.Remote)
	}
	if cur := t.selected.Load(); cur == nil || nominated {
		t.selected.Store(&tp)
	}
	return true
}

// useTuple makes a valid tuple that carries DTLS or authenticated media
// the selected one (mediasoup's tolerance of aggressive nomination).
func (t *WebRTCTransport) useTuple(tp Tuple) {
	if cur := t.selected.Load(); cur == nil || *cur != tp {
		p := new(Tuple) // not &tp: that would move tp to the heap on every call
		*p = tp
		t.selected.Store(p)
	}
}

func (t *WebRTCTransport) handleDTLS(pkt []byte, tp Tuple) {
	t.bytesReceived.Add(uint64(len(pkt)))
	t.useTuple(tp)
	if t.dtlsUp.Load() && t.postHandshakeRecord(pkt) {
		return
	}
	if pc := t.pconn.Load(); pc != nil {
		pc.push(pkt)
	}
	if t.dtlsDeferred.Load() {
		t.maybeStartDTLS()
	}
}

func (t *WebRTCTransport) maybeStartDTLS() {
	t.mu.Lock()
	if t.dtlsStarted || t.remoteDTLS == nil || t.selected.Load() == nil || t.isClosed() {
		t.mu.Unlock()
		return
	}
	sel := t.selected.Load()
	source := sel.Remote.Addr()
	if sel.link != nil {
		source = netip.Addr{} // exempt: the relay limits its own clients
	}
	slot, ok := t.net.lim.acquireDTLS(source)
	if !ok {
		// The source has its limit of handshakes in progress: the next
		// ICE check or DTLS record of the client tries again.
		t.dtlsDeferred.Store(true)
		t.mu.Unlock()
		t.net.lim.counters.DTLSHandshakes.Add(1)
		return
	}
	t.dtlsDeferred.Store(false)
	t.dtlsStarted = true
	t.dtlsState = "connecting"
	remote := *t.remoteDTLS
	role := t.localRole
	t.mu.Unlock()
	go t.runDTLS(role, remote, slot)
}

// runDTLS runs the DTLS handshake, then reads DTLS until it closes; slot
// is the per-source handshake slot it releases when the handshake ends.
func (t *WebRTCTransport) runDTLS(role string, remote DTLSParameters, slot netip.Addr) {
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no remote certificate")
		}
		return verifyFingerprint(raw[0], remote.Fingerprints)
	}
	shared := []dtls.Option{
		dtls.WithCertificates(t.net.cert.tls),
		dtls.WithSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80),
		dtls.WithExtendedMasterSecret(dtls.RequestExtendedMasterSecret),
		dtls.WithInsecureSkipVerify(true),
		dtls.WithVerifyPeerCertificate(verify),
	}
	var (
		conn *dtls.Conn
		err  error
	)
	raddr := t.remoteNetAddr()
	pc := t.pconn.Load()
	if pc == nil {
		err = net.ErrClosed // closed since maybeStartDTLS
	} else if role == RoleClient {
		opts := make([]dtls.ClientOption, 0, len(shared))
		for _, o := range shared {
			opts = append(opts, o)
		}
		conn, err = dtls.ClientWithOptions(pc, raddr, opts...)
	} else {
		opts := make([]dtls.ServerOption, 0, len(shared)+1)
		for _, o := range shared {
			opts = append(opts, o)
		}
		opts = append(opts, dtls.WithClientAuth(dtls.RequireAnyClientCert))
		conn, err = dtls.ServerWithOptions(pc, raddr, opts...)
	}
	if err == nil {
		t.mu.Lock()
		t.dtls = conn
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(untilClosed{t}, dtlsHandshakeTimeout)
		err = conn.HandshakeContext(ctx)
		cancel()
	}
	t.net.lim.releaseDTLS(slot)
	if err == nil {
		err = t.startSRTP(conn, role == RoleClient)
	}
	if err != nil {
		t.mu.Lock()
		t.dtlsState = "failed"
		t.mu.Unlock()
		t.closeWith(fmt.Errorf("dtls: %w", err))
		return
	}
	t.mu.Lock()
	t.dtlsState = "connected"
	t.mu.Unlock()
	t.dtlsUp.Store(true)
	t.l.OnConnected(t)
	t.afterHandshake(conn, role == RoleClient)
}

// untilClosed is a context that ends when its transport closes, for the
// handshake: made from the transport's done channel, it costs the
// transport nothing while no handshake runs (a context of its own, with
// the handshake's as a child, stays allocated for the transport's life).
type untilClosed struct{ t *WebRTCTransport }

func (untilClosed) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c untilClosed) Done() <-chan struct{}     { return c.t.done }
func (untilClosed) Value(any) any               { return nil }
func (c untilClosed) Err() error {
	select {
	case <-c.t.done:
		return context.Canceled
	default:
		return nil
	}
}

func (t *WebRTCTransport) startSRTP(conn *dtls.Conn, isClient bool) error {
	p, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("no SRTP protection profile negotiated")
	}
	var profile srtp.ProtectionProfile
	switch p {
	case dtls.SRTP_AEAD_AES_128_GCM:
		profile = srtp.ProtectionProfileAeadAes128Gcm
	case dtls.SRTP_AES128_CM_HMAC_SHA1_80:
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	default:
		return fmt.Errorf("unsupported SRTP protection profile %v", p)
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return errors.New("no DTLS connection state")
	}
	cfg := &srtp.Config{Profile: profile}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, isClient); err != nil {
		return fmt.Errorf("extract SRTP keys: %w", err)
	}
	send, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, profile)
	if err != nil {
		return fmt.Errorf("SRTP send context: %w", err)
	}
	recv, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, profile,
		srtp.SRTPReplayProtection(256), srtp.SRTCPReplayProtection(256))
	if err != nil {
		return fmt.Errorf("SRTP receive context: %w", err)
	}
	t.sendMu.Lock()
	t.sendCtx = send
	t.sendMu.Unlock()
	t.recvCtx.Store(recv)
	return nil
}

// isRTCP tells RTCP from RTP on a muxed port (RFC 5761).
func isRTCP(pkt []byte) bool { return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223 }

func (t *WebRTCTransport) handleSRTP(pkt []byte, tp Tuple, b *Batch) {
	t.bytesReceived.Add(uint64(len(pkt)))
	ctx := t.recvCtx.Load()
	if ctx == nil || t.isClosed() {
		return
	}
	t.recvMu.Lock()
	defer t.recvMu.Unlock()
	// The tuple follows the client only once the packet authenticated: a
	// forged packet from another valid tuple must not redirect the media.
	if isRTCP(pkt) {
		out, err := ctx.DecryptRTCP(pkt, pkt, &t.rtcpHdr) // in place, as RTP
		if err != nil {
			return
		}
		t.useTuple(tp)
		t.authenticated()
		t.l.OnRTCP(t, out)
		return
	}
	out, err := ctx.DecryptRTP(pkt, pkt, &t.rtpHdr)
	if err != nil {
		return
	}
	t.useTuple(tp)
	t.authenticated()
	t.l.OnRTP(t, out, b)
}

// WriteRTP encrypts a plain RTP packet and sends it to the selected tuple.
// pkt is not modified. Safe for concurrent use.
func (t *WebRTCTransport) WriteRTP(pkt []byte) error {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if t.sendCtx == nil {
		return ErrNotConnected
	}
	bp := sendBufs.Get().(*[]byte)
	defer sendBufs.Put(bp)
	out, err := t.sendCtx.EncryptRTP((*bp)[:0], pkt, &t.sendHdr)
	if err != nil {
		return fmt.Errorf("encrypt RTP: %w", err)
	}
	*bp = out[:0]
	return t.send(out)
}

// WriteRTCP encrypts a plain compound RTCP packet and sends it. Safe for
// concurrent use.
func (t *WebRTCTransport) WriteRTCP(pkt []byte) error {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if t.sendCtx == nil {
		return ErrNotConnected
	}
	bp := sendBufs.Get().(*[]byte)
	defer sendBufs.Put(bp)
	out, err := t.sendCtx.EncryptRTCP((*bp)[:0], pkt, &t.sendRTCP)
	if err != nil {
		return fmt.Errorf("encrypt RTCP: %w", err)
	}
	*bp = out[:0]
	return t.send(out)
}

func (t *WebRTCTransport) send(b []byte) error {
	if t.isClosed() {
		return ErrClosed
	}
	tp, ok := t.selectedTuple()
	if !ok {
		return ErrNotConnected
	}
	if err := t.net.write(tp, b); err != nil {
		return err
	}
	t.bytesSent.Add(uint64(len(b)))
	return nil
}
