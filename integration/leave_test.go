package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"testing"
	"time"

	"github.com/pion/dtls/v3"

	"github.com/gosoup/gosoup/client"
)

// waitConsumer waits for the newConsumer of peer's kind producer.
func waitConsumer(ctx context.Context, t *testing.T, p *client.Peer, peer, kind string) client.ConsumerData {
	t.Helper()
	n, _, err := p.WaitNotification(ctx, 0, "newConsumer", func(raw json.RawMessage) bool {
		var cd client.ConsumerData
		return json.Unmarshal(raw, &cd) == nil && cd.PeerName == peer && cd.Kind == kind
	})
	if err != nil {
		t.Fatalf("%s: newConsumer of %s's %s: %v", p.Name, peer, kind, err)
	}
	var cd client.ConsumerData
	mustJSON(t, n.Data, &cd)
	return cd
}

// readPackets reads n packets of c within 10 s.
func readPackets(t *testing.T, who string, c *client.Consumer, n int) {
	t.Helper()
	for i := range n {
		if _, err := c.ReadRTP(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatalf("%s: packet %d: %v", who, i, err)
		}
	}
}

// methodsSince returns the methods of p's notifications from index from.
func methodsSince(p *client.Peer, from int) []string {
	var out []string
	for _, n := range p.Notifications()[from:] {
		out = append(out, n.Method)
	}
	return out
}

// TestNothingReachesAPeerAfterItsLeave: alice sends video and audio (she
// is the active speaker), receives bob's video, and has every stats
// notification on; she leaves like mediasoup-client (leave, then her
// transports close, her socket stays open). For 2 s nothing at all reaches
// her socket, while bob is told (peerClosed, active-speaker) and goes on
// serving a new peer.
func TestNothingReachesAPeerAfterItsLeave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "lv", "alice")
	bob := join(ctx, t, g, "lv", "bob")
	newTransport := func(p *client.Peer, dir string) *client.Transport {
		t.Helper()
		tr, err := p.CreateTransport(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	produce := func(tr *client.Transport, kind string) *client.Producer {
		t.Helper()
		pr, err := tr.Produce(ctx, kind, 0, false, map[string]any{"source": kind})
		if err != nil {
			t.Fatal(err)
		}
		return pr
	}
	consume := func(tr *client.Transport, cd client.ConsumerData) *client.Consumer {
		t.Helper()
		c, err := tr.Consume(ctx, cd)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	aSend, aRecv := newTransport(alice, "send"), newTransport(alice, "recv")
	bSend, bRecv := newTransport(bob, "send"), newTransport(bob, "recv")
	aVideo, aMic, bVideo := produce(aSend, "video"), produce(aSend, "audio"), produce(bSend, "video")
	for _, pr := range []*client.Producer{aVideo, bVideo} {
		src := startVP8(pr, 10*time.Millisecond, 10)
		t.Cleanup(src.Stop)
	}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go client.NewSource("audio", 0).Run(aMic, stop)

	aliceCD := waitConsumer(ctx, t, alice, "bob", "video")
	aliceCons := consume(aRecv, aliceCD)
	bobCons := consume(bRecv, waitConsumer(ctx, t, bob, "alice", "video"))
	readPackets(t, "alice", aliceCons, 20)
	readPackets(t, "bob", bobCons, 20)

	for _, n := range []struct {
		method string
		id     uint32
	}{
		{"enableTransportStats", aSend.ID}, {"enableTransportStats", aRecv.ID},
		{"enableProducerStats", aVideo.ID}, {"enableProducerStats", aMic.ID},
		{"enableConsumerStats", aliceCD.ID},
	} {
		if err := alice.Notify(n.method, map[string]any{"id": n.id, "interval": 1000}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []string{"transportStats", "producerStats", "consumerStats", "consumerEffectiveProfileChanged"} {
		if _, _, err := alice.WaitNotification(ctx, 0, m, nil); err != nil {
			t.Fatalf("alice: %v", err)
		}
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "active-speaker", matchPeer("alice")); err != nil {
		t.Fatalf("bob: %v", err)
	}

	// Leave between two stats rounds, so that nothing is on its way to
	// alice when she leaves: whatever she receives then came after.
	if _, _, err := alice.WaitNotification(ctx, len(alice.Notifications()), "transportStats", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	from := len(alice.Notifications())
	left := time.Now()
	if err := alice.Notify("leave", nil); err != nil {
		t.Fatal(err)
	}
	_ = aSend.Close() // as mediasoup-client does after leave; the server ignores closeTransport now
	_ = aRecv.Close()

	if _, _, err := bob.WaitNotification(ctx, 0, "peerClosed", matchName("alice")); err != nil {
		t.Fatalf("bob: %v", err)
	}
	nobody := func(raw json.RawMessage) bool {
		var n map[string]any
		return json.Unmarshal(raw, &n) == nil && n["peerName"] == nil
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "active-speaker", nobody); err != nil {
		t.Fatalf("bob: %v", err)
	}
	time.Sleep(2*time.Second - time.Since(left))
	if got := methodsSince(alice, from); len(got) != 0 {
		t.Fatalf("alice received %v after her leave", got)
	}
	// Her socket was open all along: it still answers.
	if _, err := alice.Request(ctx, "queryRoom", map[string]any{"target": "room"}); err != nil {
		t.Fatalf("alice's socket: %v", err)
	}

	// Bob goes on: a new peer receives his video and he hears of her.
	carol := join(ctx, t, g, "lv", "carol")
	if len(carol.JoinPeers) != 1 || carol.JoinPeers[0].Name != "bob" {
		t.Fatalf("carol's join peers = %+v", carol.JoinPeers)
	}
	cRecv := newTransport(carol, "recv")
	readPackets(t, "carol", consume(cRecv, carol.JoinPeers[0].Consumers[0]), 20)
	if _, _, err := bob.WaitNotification(ctx, 0, "newPeer", matchName("carol")); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if got := methodsSince(alice, from); len(got) != 0 {
		t.Fatalf("alice received %v after her leave", got)
	}
}

// TestNoTransportClosedForTheClientsOwnDTLSClose: mediasoup-client sends
// leave, then closes its RTCPeerConnections, whose DTLS close_notify can
// reach the server first (another path, another goroutine). That order is
// made certain here: a raw ICE/DTLS client closes DTLS, the server drops
// the transport, and only then does the leave arrive. Nothing reaches the
// client from its close_notify on (mediasoup 2.6.19 sends no
// transportClosed for a remote DTLS close either); bob hears of the leave.
func TestNoTransportClosedForTheClientsOwnDTLSClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "dc", "alice")
	bob := join(ctx, t, g, "dc", "bob")

	cert, fingerprint := rawCert(t)
	const transportID = 4242
	raw, err := alice.Request(ctx, "createTransport", map[string]any{
		"id": transportID, "direction": "send", "options": map[string]any{"tcp": false},
		"dtlsParameters": map[string]any{"role": "server", "fingerprints": []any{fingerprint}},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn, server := rawICE(t, raw)
	defer conn.Close()

	// DTLS: the server is the DTLS client of a send transport.
	dc, err := dtls.Server(conn, server, &dtls.Config{
		Certificates:           []tls.Certificate{cert},
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
		ExtendedMasterSecret:   dtls.RequestExtendedMasterSecret,
		ClientAuth:             dtls.RequireAnyClientCert,
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
	room, err := g.SFU.Room("dc")
	if err != nil {
		t.Fatal(err)
	}
	peer := room.PeerByName("alice")
	tr := peer.TransportByID(transportID)
	if tr == nil {
		t.Fatal("no server transport")
	}
	connected := time.Now().Add(5 * time.Second)
	for tr.WebRTC().DTLSState() != "connected" {
		if time.Now().After(connected) {
			t.Fatalf("server DTLS state %q", tr.WebRTC().DTLSState())
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Past the server's first watch of the connected DTLS conn (1 s): the
	// close_notify itself must start the read that sees it.
	time.Sleep(1500 * time.Millisecond)
	from := len(alice.Notifications())
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
	if err := alice.Notify("leave", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "peerClosed", matchName("alice")); err != nil {
		t.Fatalf("bob: %v", err)
	}
	time.Sleep(2 * time.Second)
	if got := methodsSince(alice, from); len(got) != 0 {
		t.Fatalf("alice received %v after closing DTLS and leaving", got)
	}
}
