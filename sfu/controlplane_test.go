package sfu

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/transport"
)

// inbox collects a peer's notifications as decoded JSON objects.
type inbox struct {
	mu    sync.Mutex
	notes []map[string]any
}

func (b *inbox) notify(n any) {
	raw, err := json.Marshal(n)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	b.mu.Lock()
	b.notes = append(b.notes, m)
	b.mu.Unlock()
}

func (b *inbox) methods() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, n := range b.notes {
		out = append(out, n["method"].(string))
	}
	return out
}

func (b *inbox) take() []string {
	out := b.methods()
	b.mu.Lock()
	b.notes = nil
	b.mu.Unlock()
	return out
}

func (b *inbox) last(method string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.notes) - 1; i >= 0; i-- {
		if b.notes[i]["method"] == method {
			return b.notes[i]
		}
	}
	return nil
}

type tpeer struct {
	*Peer
	box *inbox
}

func newTestServer(t testing.TB) *Server {
	t.Helper()
	s, err := NewServer(Config{RTC: transport.Config{ListenIP: "127.0.0.1"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func msg(t *testing.T, v map[string]any) *protocol.Message {
	t.Helper()
	b, _ := json.Marshal(v)
	m, err := protocol.DecodeMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func peerCaps(room *Room) rtpparams.Capabilities {
	c := rtpparams.Capabilities{FecMechanisms: []string{}}
	c.Codecs = append(c.Codecs, room.Capabilities().Codecs...)
	for _, e := range room.Capabilities().HeaderExtensions {
		c.HeaderExtensions = append(c.HeaderExtensions, rtpparams.HeaderExtensionCapability{Kind: e.Kind, URI: e.URI, PreferredID: e.PreferredID})
	}
	return c
}

func joinPeer(t *testing.T, room *Room, name string, spy bool) (*tpeer, protocol.JoinResponse) {
	t.Helper()
	box := &inbox{}
	resp, p, err := room.ReceiveRequest(msg(t, map[string]any{
		"method": "join", "target": "room", "peerName": name, "rtpCapabilities": peerCaps(room), "spy": spy,
		"appData": map[string]any{"displayName": name},
	}), box.notify)
	if err != nil {
		t.Fatal(err)
	}
	return &tpeer{p, box}, resp.(protocol.JoinResponse)
}

func (p *tpeer) request(t *testing.T, v map[string]any) (any, error) {
	t.Helper()
	v["target"] = "peer"
	return p.ReceiveRequest(msg(t, v))
}

func (p *tpeer) notif(t *testing.T, v map[string]any) error {
	t.Helper()
	v["target"], v["notification"] = "peer", true
	return p.ReceiveNotification(msg(t, v))
}

func (p *tpeer) transport(t *testing.T, id uint32, dir string) {
	t.Helper()
	req := map[string]any{"method": "createTransport", "id": id, "direction": dir}
	if dir == "send" {
		req["dtlsParameters"] = map[string]any{"role": "server", "fingerprints": []any{map[string]any{"algorithm": "sha-256", "value": strings.Repeat("AB:", 31) + "AB"}}}
	}
	resp, err := p.request(t, req)
	if err != nil {
		t.Fatal(err)
	}
	ct := resp.(protocol.CreateTransportResponse)
	if !ct.IceParameters.IceLite || len(ct.IceParameters.UsernameFragment) != 16 || len(ct.IceParameters.Password) != 32 || len(ct.DtlsParameters.Fingerprints) != 5 {
		t.Fatalf("createTransport response %+v", ct)
	}
	wantRole := "auto"
	if dir == "send" {
		wantRole = "client"
	}
	if ct.DtlsParameters.Role != wantRole {
		t.Fatalf("dtls role %q, want %q", ct.DtlsParameters.Role, wantRole)
	}
}

func (p *tpeer) produce(t *testing.T, id, transportID uint32, kind string, paused bool) error {
	t.Helper()
	codec := map[string]any{"name": "opus", "mimeType": "audio/opus", "clockRate": 48000, "payloadType": 111, "channels": 2}
	if kind == "video" {
		codec = map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000, "payloadType": 96}
	}
	_, err := p.request(t, map[string]any{
		"method": "createProducer", "id": id, "kind": kind, "transportId": transportID, "paused": paused,
		"appData": map[string]any{"source": kind},
		"rtpParameters": map[string]any{
			"codecs": []any{codec}, "headerExtensions": []any{}, "encodings": []any{map[string]any{"ssrc": id + 1}},
			"rtcp": map[string]any{"cname": "x", "reducedSize": true, "mux": true},
		},
	})
	return err
}

func consumerID(t *testing.T, n map[string]any) uint32 {
	t.Helper()
	if n == nil {
		t.Fatal("no notification")
	}
	return uint32(n["id"].(float64))
}

func wantMethods(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s got %v, want %v", who, got, want)
	}
}

func TestJoinSpiesAndErrors(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	alice, resp := joinPeer(t, room, "alice", false)
	if len(resp.Peers) != 0 {
		t.Fatalf("peers = %+v", resp.Peers)
	}
	alice.transport(t, 1, "send")
	if err := alice.produce(t, 10, 1, "audio", false); err != nil {
		t.Fatal(err)
	}
	spy, resp := joinPeer(t, room, "spy", true)
	if len(resp.Peers) != 1 || resp.Peers[0].Name != "alice" || len(resp.Peers[0].Consumers) != 1 {
		t.Fatalf("spy join = %+v", resp.Peers)
	}
	wantMethods(t, "alice after spy join", alice.box.take())
	bob, resp := joinPeer(t, room, "bob", false)
	if len(resp.Peers) != 1 || resp.Peers[0].Name != "alice" {
		t.Fatalf("bob sees %+v (spy must be invisible)", resp.Peers)
	}
	wantMethods(t, "alice", alice.box.take(), "newPeer")
	wantMethods(t, "spy", spy.box.take(), "newPeer")
	if _, err := spy.request(t, map[string]any{"method": "createTransport", "id": 5, "direction": "send"}); err == nil {
		t.Fatal("spy created a send transport")
	}
	spy.transport(t, 6, "recv")
	if err := spy.produce(t, 20, 6, "audio", false); err == nil || err.Error() != "Error: spy peers cannot create producers" {
		t.Fatalf("spy produce: %v", err)
	}
	if _, _, err := room.ReceiveRequest(msg(t, map[string]any{"method": "join", "target": "room", "peerName": "bob", "rtpCapabilities": peerCaps(room)}), nil); err == nil || err.Error() != `Error: duplicated Peer [peerName:"bob"]` {
		t.Fatalf("duplicate: %v", err)
	}
	badCaps := peerCaps(room)
	badCaps.Codecs[0].PreferredPayloadType = 99
	if _, _, err := room.ReceiveRequest(msg(t, map[string]any{"method": "join", "target": "room", "peerName": "eve", "rtpCapabilities": badCaps}), nil); err == nil || err.Error() != "Error: unsupported codec [name:opus, preferredPayloadType:99]" {
		t.Fatalf("bad caps: %v", err)
	}
	if _, err := bob.request(t, map[string]any{"method": "foo"}); err == nil || err.Error() != `Error: unknown request method "foo"` {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": 1, "transportId": 2}); err == nil || err.Error() != "Error: Consumer not found" {
		t.Fatalf("consumer not found: %v", err)
	}
	bob.transport(t, 7, "recv")
	if _, err := bob.request(t, map[string]any{"method": "createTransport", "id": 7, "direction": "recv"}); err == nil || err.Error() != "Error: a Transport with same transportId already exists" {
		t.Fatalf("duplicate transport: %v", err)
	}
	if err := alice.produce(t, 10, 1, "audio", false); err == nil || err.Error() != "Error: a Producer with same producerId already exists" {
		t.Fatalf("duplicate producer: %v", err)
	}
	if err := alice.produce(t, 30, 99, "audio", false); err == nil || err.Error() != "TypeError: WebRtcTransport not found" {
		t.Fatalf("no transport: %v", err)
	}
	// A peer cannot act on another peer's objects by naming their ids.
	if err := bob.notif(t, map[string]any{"method": "pauseProducer", "id": 10}); err == nil {
		t.Fatal("bob paused alice's producer")
	}
	if _, err := bob.request(t, map[string]any{"method": "restartTransport", "id": 1}); err == nil {
		t.Fatal("bob restarted alice's transport")
	}
}

func TestPauseResumeCloseRules(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	alice, _ := joinPeer(t, room, "alice", false)
	bob, _ := joinPeer(t, room, "bob", false)
	carol, _ := joinPeer(t, room, "carol", false)
	alice.box.take()
	bob.box.take()
	alice.transport(t, 1, "send")
	bob.transport(t, 2, "recv")
	// A paused producer: consumers say paused=false at creation (as 2.6.19),
	// enableConsumer says paused=true, and the resume reaches the enabled one.
	if err := alice.produce(t, 10, 1, "video", true); err != nil {
		t.Fatal(err)
	}
	nc := bob.box.last("newConsumer")
	if nc["paused"] != false || nc["peerName"] != "alice" || nc["effectiveProfile"] != nil || nc["preferredProfile"] != "default" {
		t.Fatalf("newConsumer = %v", nc)
	}
	cid := consumerID(t, nc)
	wantMethods(t, "carol", carol.box.take(), "newConsumer")
	wantMethods(t, "alice", alice.box.take())
	en, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": cid, "transportId": 2, "paused": false, "preferredProfile": "default"})
	if err != nil {
		t.Fatal(err)
	}
	if r := en.(protocol.EnableConsumerResponse); !r.Paused || r.PreferredProfile != "default" || r.EffectiveProfile != nil {
		t.Fatalf("enableConsumer = %+v", r)
	}
	if _, err := bob.request(t, map[string]any{"method": "enableConsumer", "id": cid, "transportId": 2}); err == nil || err.Error() != "InvalidStateError: Consumer already enabled" {
		t.Fatalf("enable twice: %v", err)
	}
	bob.box.take()
	if err := alice.notif(t, map[string]any{"method": "resumeProducer", "id": 10}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take(), "consumerResumed")
	wantMethods(t, "carol (not enabled)", carol.box.take())
	if err := alice.notif(t, map[string]any{"method": "pauseProducer", "id": 10}); err != nil {
		t.Fatal(err)
	}
	n := bob.box.last("consumerPaused")
	wantMethods(t, "bob", bob.box.take(), "consumerPaused")
	if n["peerName"] != "alice" || consumerID(t, n) != cid {
		t.Fatalf("consumerPaused = %v", n)
	}
	wantMethods(t, "alice (no echo)", alice.box.take())
	// Client pause of a consumer: nothing back.
	if err := bob.notif(t, map[string]any{"method": "pauseConsumer", "id": cid}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take())
	// Server-side pause of a consumer: told only when the source is not paused.
	c := room.PeerByName("bob").Consumers()[0]
	c.Pause(json.RawMessage(`{"why":"moderation"}`))
	wantMethods(t, "bob", bob.box.take())
	// Server-side producer pause notifies the owner.
	alice.notif(t, map[string]any{"method": "resumeProducer", "id": 10})
	bob.box.take()
	room.PeerByName("alice").Producers()[0].Pause(nil)
	wantMethods(t, "alice", alice.box.take(), "producerPaused")
	room.PeerByName("alice").Producers()[0].Resume(nil)
	wantMethods(t, "alice", alice.box.take(), "producerResumed")
	// closeProducer: consumers closed; an unknown id is ignored.
	if err := alice.notif(t, map[string]any{"method": "closeProducer", "id": 999}); err != nil {
		t.Fatalf("unknown closeProducer: %v", err)
	}
	bob.box.take()
	carol.box.take()
	if err := alice.notif(t, map[string]any{"method": "closeProducer", "id": 10}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take(), "consumerClosed")
	wantMethods(t, "carol", carol.box.take(), "consumerClosed")
	wantMethods(t, "alice", alice.box.take())
	// closeTransport: its producers close, the others hear consumerClosed,
	// the owner hears nothing.
	if err := alice.produce(t, 11, 1, "audio", false); err != nil {
		t.Fatal(err)
	}
	bob.box.take()
	if err := alice.notif(t, map[string]any{"method": "closeTransport", "id": 1}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take(), "consumerClosed")
	wantMethods(t, "alice", alice.box.take())
	// Server-side transport close: transportClosed to the owner.
	bob.transport(t, 3, "recv")
	room.PeerByName("bob").Transports()[0].Close()
	wantMethods(t, "bob", bob.box.take(), "transportClosed")
	// leave: peerClosed to the others, nothing to the leaver.
	alice.transport(t, 4, "send")
	alice.produce(t, 12, 4, "audio", false)
	bob.box.take()
	carol.box.take()
	if err := alice.notif(t, map[string]any{"method": "leave"}); err != nil {
		t.Fatal(err)
	}
	wantMethods(t, "bob", bob.box.take(), "peerClosed")
	wantMethods(t, "carol", carol.box.take(), "peerClosed")
	wantMethods(t, "alice", alice.box.take())
	if _, err := alice.request(t, map[string]any{"method": "createTransport", "id": 9, "direction": "send"}); err == nil || err.Error() != "InvalidStateError: Room closed" {
		t.Fatalf("after leave: %v", err)
	}
	// Server-side close: "closed" to the peer first, then peerClosed to others.
	room.PeerByName("carol").Close(json.RawMessage(`{"reason":"kick"}`))
	wantMethods(t, "carol", carol.box.take(), "closed")
	wantMethods(t, "bob", bob.box.take(), "peerClosed")
	room.Close()
	wantMethods(t, "bob", bob.box.take(), "closed")
	if !room.Closed() || len(s.Rooms()) != 0 {
		t.Fatal("room not closed")
	}
}

func TestCounts(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("m")
	alice, _ := joinPeer(t, room, "alice", false)
	joinPeer(t, room, "bob", false)
	alice.transport(t, 1, "send")
	if err := alice.produce(t, 10, 1, "audio", false); err != nil {
		t.Fatal(err)
	}
	c := s.Counts()
	if c.Rooms != 1 || c.Peers != 2 || c.Transports != 1 || c.Producers != 1 || c.Consumers != 1 {
		t.Fatalf("counts %+v", c)
	}
}
