package sfu

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gosoup/gosoup/protocol"
)

// request sends one client request (target "room" for join, else "peer")
// and fails the test on an error.
func request(tb testing.TB, send func(*protocol.Message) (any, *Peer, error), v map[string]any) *Peer {
	tb.Helper()
	b, _ := json.Marshal(v)
	m, err := protocol.DecodeMessage(b)
	if err != nil {
		tb.Fatal(err)
	}
	_, p, err := send(m)
	if err != nil {
		tb.Fatalf("%s: %v", v["method"], err)
	}
	return p
}

// audioRoom makes a room where alice publishes one opus producer and n
// listeners each have a receive transport and an enabled consumer of it,
// set up through the requests a client sends (join, createTransport,
// enableConsumer); notifications are discarded.
func audioRoom(tb testing.TB, s *Server, id string, n int) (*Room, *Producer) {
	tb.Helper()
	room, err := s.Room(id)
	if err != nil {
		tb.Fatal(err)
	}
	join := func(name string) *Peer {
		return request(tb, func(m *protocol.Message) (any, *Peer, error) { return room.ReceiveRequest(m, func(any) {}) },
			map[string]any{"method": "join", "target": "room", "peerName": name, "rtpCapabilities": peerCaps(room)})
	}
	onPeer := func(p *Peer) func(*protocol.Message) (any, *Peer, error) {
		return func(m *protocol.Message) (any, *Peer, error) { r, err := p.ReceiveRequest(m); return r, p, err }
	}
	alice := join("alice")
	request(tb, onPeer(alice), map[string]any{"method": "createTransport", "target": "peer", "id": 1, "direction": "send",
		"dtlsParameters": map[string]any{"role": "server", "fingerprints": []any{map[string]any{"algorithm": "sha-256", "value": strings.Repeat("AB:", 31) + "AB"}}}})
	request(tb, onPeer(alice), map[string]any{
		"method": "createProducer", "target": "peer", "id": 10, "kind": "audio", "transportId": 1, "paused": false,
		"rtpParameters": map[string]any{
			"codecs":           []any{map[string]any{"name": "opus", "mimeType": "audio/opus", "clockRate": 48000, "payloadType": 111, "channels": 2}},
			"headerExtensions": []any{}, "encodings": []any{map[string]any{"ssrc": 11}},
			"rtcp":             map[string]any{"cname": "x", "reducedSize": true, "mux": true},
		},
	})
	for i := 0; i < n; i++ {
		p := join(fmt.Sprintf("listener-%d", i))
		request(tb, onPeer(p), map[string]any{"method": "createTransport", "target": "peer", "id": 100 + i, "direction": "recv"})
		cs := p.Consumers()
		if len(cs) != 1 {
			tb.Fatalf("listener %d has %d consumers", i, len(cs))
		}
		request(tb, onPeer(p), map[string]any{"method": "enableConsumer", "target": "peer", "id": cs[0].ID(), "transportId": 100 + i, "paused": false})
	}
	return room, alice.Producers()[0]
}

// heapInUse is the live heap after two collections.
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// audioListenerCost returns the live heap bytes and goroutines one audio
// listener adds (its peer, receive transport before DTLS, consumer),
// measured over n listeners.
func audioListenerCost(tb testing.TB, n int) (bytes float64, goroutines float64) {
	s := newTestServer(tb)
	before, g0 := heapInUse(), runtime.NumGoroutine()
	room, _ := audioRoom(tb, s, "cost", n)
	after, g1 := heapInUse(), runtime.NumGoroutine()
	runtime.KeepAlive(room)
	return float64(after-before) / float64(n), float64(g1-g0) / float64(n)
}

// TestAudioListenerMemory: what an audio listener costs the server (peer,
// receive transport before DTLS, consumer), as live heap and goroutines per
// listener over 200; bounded so that per-consumer state does not creep back
// (a consumer holds no buffers until it retransmits).
func TestAudioListenerMemory(t *testing.T) {
	b, g := audioListenerCost(t, 200)
	t.Logf("per audio listener: %.0f B live heap, %.2f goroutines", b, g)
	if b > 12<<10 || g > 0.05 {
		t.Errorf("per audio listener: %.0f B live heap (want <= 12 KiB), %.2f goroutines (want none)", b, g)
	}
}

// BenchmarkAudioListenerMemory reports B/listener: the live heap one audio
// listener adds to the server before its DTLS handshake.
func BenchmarkAudioListenerMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		per, _ := audioListenerCost(b, 200)
		b.ReportMetric(per, "B/listener")
	}
}
