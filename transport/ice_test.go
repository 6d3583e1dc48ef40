package transport

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

type recordingListener struct {
	mu     sync.Mutex
	closed []error
	ch     chan struct{}
}

func (l *recordingListener) OnRTP(*WebRTCTransport, []byte, *Batch) {}
func (l *recordingListener) OnRTCP(*WebRTCTransport, []byte)        {}
func (l *recordingListener) OnConnected(*WebRTCTransport)           {}
func (l *recordingListener) OnClosed(_ *WebRTCTransport, err error) {
	l.mu.Lock()
	l.closed = append(l.closed, err)
	l.mu.Unlock()
	close(l.ch)
}

func newTestNetwork(t *testing.T, consent time.Duration) *Network {
	t.Helper()
	n, err := NewNetwork(Config{ListenIP: "127.0.0.1", ConsentTimeout: consent})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func bindingRequest(t *testing.T, user, pwd string, useCandidate bool) []byte {
	t.Helper()
	setters := []stun.Setter{stun.TransactionID, stun.BindingRequest, stun.NewUsername(user)}
	if useCandidate {
		setters = append(setters, stun.RawAttribute{Type: stun.AttrUseCandidate})
	}
	setters = append(setters, stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
	m, err := stun.Build(setters...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

func exchange(t *testing.T, c *net.UDPConn, to *net.UDPAddr, req []byte) *stun.Message {
	return exchangeWait(t, c, to, req, 2*time.Second)
}

func exchangeWait(t *testing.T, c *net.UDPConn, to *net.UDPAddr, req []byte, wait time.Duration) *stun.Message {
	t.Helper()
	if _, err := c.WriteToUDP(req, to); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 1500)
	n, _, err := c.ReadFromUDP(buf)
	if err != nil {
		return nil
	}
	m := &stun.Message{Raw: buf[:n]}
	if err := m.Decode(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestICELiteResponderAndConsent(t *testing.T) {
	n := newTestNetwork(t, 1500*time.Millisecond)
	l := &recordingListener{ch: make(chan struct{})}
	tr, err := n.NewWebRTCTransport(context.Background(), l, TransportOptions{UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	ice := tr.ICEParameters()
	if len(ice.UsernameFragment) != 16 || len(ice.Password) != 32 || !ice.ICELite {
		t.Fatalf("ice parameters %+v", ice)
	}
	cands := tr.ICECandidates()
	if len(cands) != 1 || cands[0].Priority != 1078862079 || cands[0].Foundation != "udpcandidate" || cands[0].Port != n.Port() {
		t.Fatalf("candidates %+v", cands)
	}
	client, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: n.Port()}

	// Wrong password: 401, and the tuple is not selected.
	resp := exchange(t, client, server, bindingRequest(t, ice.UsernameFragment+":remote", "wrong", false))
	if resp == nil || resp.Type != stun.NewType(stun.MethodBinding, stun.ClassErrorResponse) {
		t.Fatalf("bad integrity answered %v", resp)
	}
	var code stun.ErrorCodeAttribute
	if err := code.GetFrom(resp); err != nil || code.Code != stun.CodeUnauthorized {
		t.Fatalf("error code %v %v", code, err)
	}
	if _, ok := tr.SelectedTuple(); ok {
		t.Fatal("tuple selected by a bad check")
	}
	// Unknown ufrag: no answer at all.
	if resp := exchangeWait(t, client, server, bindingRequest(t, "nosuchufrag:x", "pw", false), 300*time.Millisecond); resp != nil {
		t.Fatalf("unknown ufrag answered %v", resp)
	}
	// Valid check: success with our address, signed with the local password.
	resp = exchange(t, client, server, bindingRequest(t, ice.UsernameFragment+":remote", ice.Password, true))
	if resp == nil || resp.Type != stun.BindingSuccess {
		t.Fatalf("valid check answered %v", resp)
	}
	if err := stun.NewShortTermIntegrity(ice.Password).Check(resp); err != nil {
		t.Fatalf("response integrity: %v", err)
	}
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(resp); err != nil || xor.Port != client.LocalAddr().(*net.UDPAddr).Port {
		t.Fatalf("xor-mapped %v %v", xor, err)
	}
	if a, ok := tr.SelectedTuple(); !ok || int(a.Remote.Port()) != xor.Port {
		t.Fatalf("selected tuple %v %v", a, ok)
	}
	// ICE restart: the old credentials stop working, the new ones work.
	fresh, err := tr.RestartICE()
	if err != nil || fresh.UsernameFragment == ice.UsernameFragment {
		t.Fatalf("restart %v %v", fresh, err)
	}
	if resp := exchangeWait(t, client, server, bindingRequest(t, ice.UsernameFragment+":remote", ice.Password, false), 300*time.Millisecond); resp != nil {
		t.Fatal("old credentials still answered")
	}
	if resp := exchange(t, client, server, bindingRequest(t, fresh.UsernameFragment+":remote", fresh.Password, false)); resp == nil || resp.Type != stun.BindingSuccess {
		t.Fatal("new credentials not answered")
	}
	// The client vanishes: consent expires and the owner is told.
	select {
	case <-l.ch:
	case <-time.After(5 * time.Second):
		t.Fatal("consent did not expire")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.closed) != 1 || l.closed[0] == nil || !strings.Contains(l.closed[0].Error(), "consent expired") {
		t.Fatalf("closed with %v", l.closed)
	}
	if _, err := tr.SetRemoteDTLSParameters(DTLSParameters{Role: RoleServer, Fingerprints: []Fingerprint{{"sha-256", "AA"}}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed transport accepted DTLS parameters: %v", err)
	}
}

func TestDTLSRolesAndFingerprints(t *testing.T) {
	n := newTestNetwork(t, 0)
	cases := []struct{ remote, local string }{{RoleClient, RoleServer}, {RoleServer, RoleClient}, {RoleAuto, RoleClient}}
	for _, c := range cases {
		tr, _ := n.NewWebRTCTransport(context.Background(), &recordingListener{ch: make(chan struct{})}, TransportOptions{})
		if got := tr.LocalDTLSParameters().Role; got != RoleAuto {
			t.Fatalf("initial role %q", got)
		}
		role, err := tr.SetRemoteDTLSParameters(DTLSParameters{Role: c.remote, Fingerprints: []Fingerprint{{"sha-256", "AA"}}})
		if err != nil || role != c.local {
			t.Fatalf("remote %s: role %q err %v", c.remote, role, err)
		}
		if _, err := tr.SetRemoteDTLSParameters(DTLSParameters{Role: c.remote, Fingerprints: []Fingerprint{{"sha-256", "AA"}}}); err == nil {
			t.Fatal("remote DTLS parameters set twice")
		}
		tr.Close()
	}
	fps := n.Certificate().Fingerprints()
	want := []string{"sha-1", "sha-224", "sha-256", "sha-384", "sha-512"}
	for i, f := range fps {
		if f.Algorithm != want[i] || f.Value != strings.ToUpper(f.Value) || strings.Count(f.Value, ":") < 19 {
			t.Fatalf("fingerprint %d = %+v", i, f)
		}
	}
	if err := verifyFingerprint(n.Certificate().tls.Certificate[0], fps); err != nil {
		t.Fatalf("own certificate: %v", err)
	}
	if err := verifyFingerprint(n.Certificate().tls.Certificate[0], []Fingerprint{{"sha-256", strings.Repeat("AB:", 31) + "AB"}}); err == nil {
		t.Fatal("wrong fingerprint accepted")
	}
}

// TestDualStack: one "::" socket announces 127.0.0.1 and ::1 and answers
// ICE checks from both families.
func TestDualStack(t *testing.T) {
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		c.Close()
	}
	n, err := NewNetwork(Config{ListenIP: "::", AnnouncedIP: "127.0.0.1", AnnouncedIPv6: "::1"})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	tr, _ := n.NewWebRTCTransport(context.Background(), &recordingListener{ch: make(chan struct{})}, TransportOptions{UDP: true, PreferIPv6: true})
	cands := tr.ICECandidates()
	if len(cands) != 2 || cands[0].Family != "ipv4" || cands[1].Family != "ipv6" || cands[1].IP != "::1" || cands[1].Priority <= cands[0].Priority {
		t.Fatalf("candidates %+v", cands)
	}
	ice := tr.ICEParameters()
	for _, loop := range []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback} {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: loop})
		if err != nil {
			t.Fatal(err)
		}
		resp := exchange(t, c, &net.UDPAddr{IP: loop, Port: n.Port()}, bindingRequest(t, ice.UsernameFragment+":r", ice.Password, true))
		if resp == nil || resp.Type != stun.BindingSuccess {
			t.Fatalf("%v: no success response", loop)
		}
		var xor stun.XORMappedAddress
		if err := xor.GetFrom(resp); err != nil || !xor.IP.Equal(loop) {
			t.Fatalf("%v: mapped %v %v", loop, xor, err)
		}
		tp, _ := tr.SelectedTuple()
		if got := tp.Remote.Addr().Is6(); got != (loop.To4() == nil) {
			t.Fatalf("%v: selected %v", loop, tp.Remote)
		}
		c.Close()
	}
	if _, err := NewNetwork(Config{ListenIP: "127.0.0.1", AnnouncedIPv6: "::1"}); err == nil {
		t.Fatal("IPv6 announced on an IPv4 socket")
	}
}

// TestOwnerContextClosesTransport: the end of the context a transport was
// created with closes it (its listener hears of it); a transport closed
// before is not closed again.
func TestOwnerContextClosesTransport(t *testing.T) {
	n := newTestNetwork(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	l := &recordingListener{ch: make(chan struct{})}
	tr, err := n.NewWebRTCTransport(ctx, l, TransportOptions{UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	early := &recordingListener{ch: make(chan struct{})}
	closed, err := n.NewWebRTCTransport(ctx, early, TransportOptions{UDP: true})
	if err != nil {
		t.Fatal(err)
	}
	closed.Close() // Close tells no listener
	cancel()
	select {
	case <-l.ch:
	case <-time.After(2 * time.Second):
		t.Fatal("the owner's context ended and the transport stays open")
	}
	early.mu.Lock()
	defer early.mu.Unlock()
	if !tr.isClosed() || len(early.closed) != 0 {
		t.Fatalf("closed %v; the transport closed before heard of it %d times", tr.isClosed(), len(early.closed))
	}
}
