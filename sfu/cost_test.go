package sfu

import (
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
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
			"rtcp": map[string]any{"cname": "x", "reducedSize": true, "mux": true},
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
	if b > 8<<10 || g > 0.05 {
		t.Errorf("per audio listener: %.0f B live heap (want <= 8 KiB), %.2f goroutines (want none)", b, g)
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

// TestPausedConsumersAreNotVisited: the fan-out list holds only the
// consumers media flows to; a consumer paused by its client, by the server
// or through its producer leaves it, and comes back when resumed.
func TestPausedConsumersAreNotVisited(t *testing.T) {
	s := newTestServer(t)
	room, p := audioRoom(t, s, "paused", 3)
	want := func(what string, n int) {
		t.Helper()
		if got := len(p.activeConsumers()); got != n {
			t.Fatalf("%s: %d consumers in the fan-out, want %d", what, got, n)
		}
	}
	want("all enabled", 3)
	l0 := room.PeerByName("listener-0")
	c0 := l0.Consumers()[0]
	notify := func(peer *Peer, method string, id uint32) {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"method": method, "target": "peer", "notification": true, "id": id})
		m, err := protocol.DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		if err := peer.ReceiveNotification(m); err != nil {
			t.Fatal(err)
		}
	}
	notify(l0, "pauseConsumer", c0.ID())
	want("one paused by its client", 2)
	for _, c := range p.activeConsumers() {
		if c == c0 {
			t.Fatal("the paused consumer is still in the fan-out")
		}
	}
	room.PeerByName("listener-1").Consumers()[0].Pause(nil)
	want("another paused by the server", 1)
	notify(room.PeerByName("alice"), "pauseProducer", p.ID())
	want("producer paused", 0)
	notify(room.PeerByName("alice"), "resumeProducer", p.ID())
	notify(l0, "resumeConsumer", c0.ID())
	want("resumed", 2)
}

// countingLink counts the RTCP packets a transport sends.
type countingLink struct {
	link
	rtcp int
}

func (l *countingLink) WriteRTCP(pkt []byte) error { l.rtcp++; return l.link.WriteRTCP(pkt) }

// TestSilentConsumerSendsNoReports: while a consumer has nothing to send
// (its source is silent, as between DTX packets, or paused), the report
// loop sends no sender report for it; the next packet brings them back.
func TestSilentConsumerSendsNoReports(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	defer done()
	tr := (*p.consumers.Load())[0].transport.Load()
	tr.consumersBySSRC.Store(&map[uint32]*Consumer{5000: (*p.consumers.Load())[0]})
	tr.producersBySSRC.Store(&map[uint32]*Producer{})
	cl := &countingLink{link: tr.link}
	tr.link = cl
	send := func(i int) {
		rtpwire.PutUint16(pkt[2:], uint16(i))
		rtpwire.PutUint32(pkt[4:], uint32(i)*3000)
		p.receiveRTP(pkt, 1111, batch)
		batch.Flush()
	}
	now := time.Now()
	tr.sendReports(now)
	if cl.rtcp != 0 {
		t.Fatalf("%d RTCP packets before anything was sent", cl.rtcp)
	}
	send(1)
	tr.sendReports(now.Add(time.Second))
	if cl.rtcp != 1 {
		t.Fatalf("%d RTCP packets after media, want 1", cl.rtcp)
	}
	for i := 2; i < 5; i++ {
		tr.sendReports(now.Add(time.Duration(i) * time.Second))
	}
	if cl.rtcp != 1 {
		t.Fatalf("%d RTCP packets in silence, want none after the first", cl.rtcp)
	}
	send(2)
	tr.sendReports(now.Add(5 * time.Second))
	if cl.rtcp != 2 {
		t.Fatalf("%d RTCP packets once media came back, want 2", cl.rtcp)
	}
}

// BenchmarkForwardPaused forwards to one active consumer beside 0, 100
// and 1000 paused ones: the time per incoming packet does not grow with
// the paused ones, which the fan-out never visits.
func BenchmarkForwardPaused(b *testing.B) {
	for _, paused := range []int{0, 100, 1000} {
		b.Run(fmt.Sprintf("paused=%d", paused), func(b *testing.B) {
			p, pkt, batch, done := benchFanout(b, 1+paused, "127.0.0.1")
			defer done()
			for _, c := range (*p.consumers.Load())[1:] {
				c.active.Store(false)
			}
			p.refreshForwarding()
			forwardLoop(b, p, pkt, batch)
		})
	}
}
