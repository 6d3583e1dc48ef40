package integration

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
)

// rawCert makes a self-signed certificate and its sha-256 fingerprint as
// dtlsParameters carry it.
func rawCert(t *testing.T) (tls.Certificate, map[string]any) {
	t.Helper()
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	hexes := make([]string, len(sum))
	for i, b := range sum {
		hexes[i] = fmt.Sprintf("%02X", b)
	}
	return cert, map[string]any{"algorithm": "sha-256", "value": strings.Join(hexes, ":")}
}

// rawICE takes a createTransport response and does ICE as a raw client:
// one nominating Binding request from a new loopback UDP socket, which it
// returns with the server's IPv4 UDP candidate.
func rawICE(t *testing.T, raw json.RawMessage) (*net.UDPConn, *net.UDPAddr) {
	t.Helper()
	var ct struct {
		IceParameters struct {
			UsernameFragment string `json:"usernameFragment"`
			Password         string `json:"password"`
		} `json:"iceParameters"`
		IceCandidates []struct {
			IP       string `json:"ip"`
			Port     int    `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"iceCandidates"`
	}
	mustJSON(t, raw, &ct)
	var server *net.UDPAddr
	for _, c := range ct.IceCandidates {
		if c.Protocol == "udp" && net.ParseIP(c.IP).To4() != nil {
			server = &net.UDPAddr{IP: net.ParseIP(c.IP), Port: c.Port}
			break
		}
	}
	if server == nil {
		t.Fatalf("no IPv4 UDP candidate in %+v", ct.IceCandidates)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest,
		stun.NewUsername(ct.IceParameters.UsernameFragment+":rawclient"),
		stun.RawAttribute{Type: stun.AttrUseCandidate},
		stun.NewShortTermIntegrity(ct.IceParameters.Password), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDP(req.Raw, server); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("no Binding response: %v", err)
	}
	if resp := (&stun.Message{Raw: buf[:n]}); resp.Decode() != nil || resp.Type != stun.BindingSuccess {
		t.Fatalf("Binding answered with %x", buf[:n])
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, server
}

// TestDTLSServerReleasedStaysOpenAndSeesClose: gosoup as the DTLS server
// of a receive transport lets its DTLS conn go on the client's first SRTCP
// packet, sent at once after the handshake (as a browser's receiver report
// can be); the transport stays open, and the client's close alert, which
// gosoup can no longer decrypt, still closes it when nothing follows it.
func TestDTLSServerReleasedStaysOpenAndSeesClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "release", "alice")
	cert, fingerprint := rawCert(t)
	const transportID = 4343
	raw, err := alice.Request(ctx, "createTransport", map[string]any{
		"id": transportID, "direction": "recv", "options": map[string]any{"tcp": false},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, server := rawICE(t, raw)
	defer conn.Close()
	if err := alice.Notify("updateTransport", map[string]any{
		"id": transportID, "dtlsParameters": map[string]any{"role": "client", "fingerprints": []any{fingerprint}},
	}); err != nil {
		t.Fatal(err)
	}
	dc, err := dtls.Client(conn, server, &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM},
		ExtendedMasterSecret:   dtls.RequestExtendedMasterSecret,
		InsecureSkipVerify:     true,
	})
	if err != nil {
		t.Fatal(err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	err = dc.HandshakeContext(hctx)
	hcancel()
	if err != nil {
		t.Fatalf("DTLS handshake: %v", err)
	}
	state, ok := dc.ConnectionState()
	if !ok {
		t.Fatal("no DTLS state")
	}
	cfg := &srtp.Config{Profile: srtp.ProtectionProfileAeadAes128Gcm}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		t.Fatal(err)
	}
	sctx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := (&rtcp.ReceiverReport{SSRC: 1234}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := sctx.EncryptRTCP(nil, rr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.WriteToUDP(pkt, server); err != nil {
		t.Fatal(err)
	}

	room, err := g.SFU.Room("release")
	if err != nil {
		t.Fatal(err)
	}
	peer := room.PeerByName("alice")
	time.Sleep(1500 * time.Millisecond)
	tr := peer.TransportByID(transportID)
	if tr == nil {
		t.Fatal("the transport closed after the client's first SRTCP packet")
	}
	if st := tr.WebRTC().DTLSState(); st != "connected" {
		t.Fatalf("DTLS state %q", st)
	}
	if err := dc.Close(); err != nil { // close_notify
		t.Fatal(err)
	}
	gone := time.Now().Add(5 * time.Second)
	for peer.TransportByID(transportID) != nil {
		if time.Now().After(gone) {
			t.Fatal("the server kept the transport after close_notify")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
