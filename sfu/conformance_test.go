package sfu

import (
	"encoding/json"
	"testing"
	"time"
)

// Conformance of the messages the control-plane tests do not cover
// elsewhere (docs/protocol.md, "restartTransport", "Client notifications", "Server notifications").
func TestConformanceRemainingMessages(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("c")
	alice, _ := joinPeer(t, room, "alice", false)
	bob, _ := joinPeer(t, room, "bob", false)
	alice.box.take()
	alice.transport(t, 1, "send")
	bob.transport(t, 2, "recv")
	if err := alice.produce(t, 10, 1, "video", false); err != nil {
		t.Fatal(err)
	}
	cid := consumerID(t, bob.box.last("newConsumer"))
	bob.box.take()

	// restartTransport: new credentials, iceLite kept.
	old := room.PeerByName("alice").TransportByID(1).WebRTC().ICEParameters()
	resp, err := alice.request(t, map[string]any{"method": "restartTransport", "id": 1})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(resp)
	var rt struct {
		IceParameters map[string]any `json:"iceParameters"`
	}
	_ = json.Unmarshal(b, &rt)
	if len(rt.IceParameters) != 3 || rt.IceParameters["iceLite"] != true || rt.IceParameters["usernameFragment"] == old.UsernameFragment {
		t.Fatalf("restartTransport = %s", b)
	}

	// enableConsumer, then setConsumerPreferredProfile: no echo.
	if _, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": cid, "transportId": 2, "paused": false, "preferredProfile": "low"}); err != nil {
		t.Fatal(err)
	}
	if err := bob.notif(t, map[string]any{"method": "setConsumerPreferredProfile", "id": cid, "profile": "high"}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take())
	c := room.PeerByName("bob").ConsumerByID(cid)
	if c.PreferredProfile() != "high" {
		t.Fatalf("preferred profile %q", c.PreferredProfile())
	}
	// Server-side preferred profile: consumerPreferredProfileSet.
	if err := c.SetPreferredProfile("medium"); err != nil {
		t.Fatal(err)
	}
	n := bob.box.last("consumerPreferredProfileSet")
	if n == nil || n["profile"] != "medium" || n["peerName"] != "alice" || consumerID(t, n) != cid {
		t.Fatalf("consumerPreferredProfileSet = %v", n)
	}
	bob.box.take()

	// updateProducer: accepted (2.6.19 ignores it with a log line).
	if err := alice.notif(t, map[string]any{"method": "updateProducer", "id": 10, "rtpParameters": map[string]any{"codecs": []any{}}}); err != nil {
		t.Fatalf("updateProducer: %v", err)
	}

	// Stats notifications: enable, receive with the fields of docs/protocol.md, "Stats notifications", disable.
	if err := alice.notif(t, map[string]any{"method": "enableTransportStats", "id": 1, "interval": 1000}); err != nil {
		t.Fatal(err)
	}
	if err := alice.notif(t, map[string]any{"method": "enableProducerStats", "id": 10, "interval": 50}); err != nil {
		t.Fatal(err)
	}
	if err := bob.notif(t, map[string]any{"method": "enableConsumerStats", "id": cid, "interval": 1000}); err != nil {
		t.Fatal(err)
	}
	waitNote := func(b *inbox, method string) map[string]any {
		t.Helper()
		for i := 0; i < 40; i++ {
			if n := b.last(method); n != nil {
				return n
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %s", method)
		return nil
	}
	ts := waitNote(alice.box, "transportStats")
	st := ts["stats"].([]any)[0].(map[string]any)
	for _, k := range []string{"type", "id", "timestamp", "bytesReceived", "bytesSent", "dtlsState", "iceConnectionState"} {
		if _, ok := st[k]; !ok {
			t.Errorf("transportStats lacks %s: %v", k, st)
		}
	}
	ps := waitNote(alice.box, "producerStats")
	pst := ps["stats"].([]any)[0].(map[string]any)
	if pst["type"] != "inbound-rtp" || pst["mimeType"] != "video/VP8" || pst["transportId"] != float64(1) {
		t.Errorf("producerStats = %v", pst)
	}
	// consumerStats are skipped while no media is forwarded: here the
	// transport never connected, yet the consumer is active (enabled,
	// unpaused), so they flow.
	cs := waitNote(bob.box, "consumerStats")
	pair := cs["stats"].([]any)
	if len(pair) != 2 || pair[1].(map[string]any)["inboundRtpId"] != pair[0].(map[string]any)["id"] || cs["peerName"] != "alice" {
		t.Errorf("consumerStats = %v", cs)
	}
	for _, m := range []struct {
		who    *tpeer
		method string
		id     uint32
	}{{alice, "disableTransportStats", 1}, {alice, "disableProducerStats", 10}, {bob, "disableConsumerStats", cid}} {
		if err := m.who.notif(t, map[string]any{"method": m.method, "id": m.id}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(1200 * time.Millisecond)
	alice.box.take()
	bob.box.take()
	time.Sleep(1200 * time.Millisecond)
	wantMethods(t, "alice after disable", alice.box.take())
	wantMethods(t, "bob after disable", bob.box.take())

	// updateTransport with bad DTLS parameters closes the transport.
	if err := bob.notif(t, map[string]any{"method": "updateTransport", "id": 2, "dtlsParameters": map[string]any{"role": "client", "fingerprints": []any{}}}); err == nil {
		t.Fatal("empty fingerprints accepted")
	}
	wantMethods(t, "bob", bob.box.take(), "transportClosed")
	if room.PeerByName("bob").TransportByID(2) != nil {
		t.Fatal("transport kept")
	}
	// The consumer became unhandled and can be enabled on another transport.
	bob.transport(t, 3, "recv")
	if _, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": cid, "transportId": 3}); err != nil {
		t.Fatalf("re-enable: %v", err)
	}

	// Server-side producer close: producerClosed to the owner,
	// consumerClosed to the others.
	room.PeerByName("alice").ProducerByID(10).Close()
	n = alice.box.last("producerClosed")
	if n == nil || n["peerName"] != "alice" || n["id"] != float64(10) {
		t.Fatalf("producerClosed = %v", n)
	}
	wantMethods(t, "bob", bob.box.take(), "consumerClosed")
}
