package record

import (
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// testLogger logs to the test when verbose.
func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// newRoom starts an SFU on loopback and returns one of its rooms.
func newRoom(t *testing.T, id string) *sfu.Room {
	t.Helper()
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", AnnouncedIPs: []string{"127.0.0.1"}},
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	room, err := srv.Room(id)
	if err != nil {
		t.Fatal(err)
	}
	return room
}

// request sends a mediasoup request as a client would.
func request(t *testing.T, method, target string, body map[string]any) *protocol.Message {
	t.Helper()
	body["method"], body["target"] = method, target
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	m, err := protocol.DecodeMessage(b)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return m
}

// joinPeer joins a server-made peer with the room's capabilities.
func joinPeer(t *testing.T, room *sfu.Room, name string) *sfu.Peer {
	t.Helper()
	_, peer, err := room.ReceiveRequest(request(t, "join", "room", map[string]any{
		"peerName": name, "rtpCapabilities": room.Capabilities(), "spy": false, "appData": map[string]any{},
	}), func(any) {})
	if err != nil {
		t.Fatal(err)
	}
	return peer
}

// plainProducer is a producer fed over a comedia plain transport.
type plainProducer struct {
	Dst         netip.AddrPort
	RTCPPort    int // when RTCP is not muxed
	PayloadType int
	SSRC        uint32
	Prod        *sfu.Producer
}

// addPlainProducer creates a plain send transport (RTCP muxed) and a
// producer of the room's codec named codecName (with NACK and PLI
// feedback for video).
func addPlainProducer(t *testing.T, peer *sfu.Peer, kind, codecName string, ssrc uint32) plainProducer {
	return addPlainProducerMux(t, peer, kind, codecName, ssrc, true)
}

// addPlainProducerMux is addPlainProducer with RTCP muxed or not.
func addPlainProducerMux(t *testing.T, peer *sfu.Peer, kind, codecName string, ssrc uint32, mux bool) plainProducer {
	t.Helper()
	var c rtpparams.CodecCapability
	for _, cc := range peer.Room().Capabilities().Codecs {
		if cc.Kind == kind && strings.EqualFold(cc.Name, codecName) {
			c = cc
			break
		}
	}
	if c.Name == "" {
		t.Fatalf("the room has no %s", codecName)
	}
	tr, err := peer.CreatePlainRtpTransport(sfu.PlainRtpOptions{Direction: "send", Comedia: true, NoRTCPMux: !mux})
	if err != nil {
		t.Fatal(err)
	}
	fb := []any{}
	if kind == "video" {
		fb = []any{map[string]any{"type": "nack"}, map[string]any{"type": "nack", "parameter": "pli"}}
	}
	cp := map[string]any{"name": c.Name, "mimeType": c.MimeType, "clockRate": c.ClockRate,
		"payloadType": c.PreferredPayloadType, "rtcpFeedback": fb, "parameters": map[string]any{}}
	if c.Parameters != nil {
		cp["parameters"] = c.Parameters
	}
	if c.Channels > 0 {
		cp["channels"] = c.Channels
	}
	id := rtpparams.RandomID()
	if _, err := peer.ReceiveRequest(request(t, "createProducer", "peer", map[string]any{
		"id": id, "kind": kind, "transportId": tr.ID(), "paused": false, "appData": map[string]any{},
		"rtpParameters": map[string]any{"codecs": []any{cp}, "headerExtensions": []any{},
			"encodings": []any{map[string]any{"ssrc": ssrc}},
			"rtcp":      map[string]any{"cname": peer.Name(), "reducedSize": false, "mux": mux}},
	})); err != nil {
		t.Fatalf("createProducer: %v", err)
	}
	l, _ := tr.PlainLocal()
	return plainProducer{Dst: netip.AddrPortFrom(netip.MustParseAddr(l.IP), uint16(l.Port)), RTCPPort: l.RTCPPort,
		PayloadType: c.PreferredPayloadType, SSRC: ssrc, Prod: peer.ProducerByID(id)}
}

// synthSource sends synthetic Opus (20 ms packets) and VP8 (30 frames/s
// of 3 packets, 1200 bytes filled with the frame number, a key frame
// every 2 s or after a PLI) to two plain producers until stopped. Their
// RTP timestamps follow the wall clock, as a browser's capture times do
// (a late tick on a loaded machine leaves a gap, not a slower clock).
type synthSource struct {
	stop chan struct{}
	wg   sync.WaitGroup
	plis atomic.Int64
}

func startSynth(t *testing.T, audio, video plainProducer) *synthSource {
	t.Helper()
	s := &synthSource{stop: make(chan struct{})}
	ac, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(audio.Dst))
	if err != nil {
		t.Fatal(err)
	}
	vc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(video.Dst))
	if err != nil {
		t.Fatal(err)
	}
	var wantKey atomic.Bool
	s.wg.Add(3)
	go func() { // PLIs from the SFU
		defer s.wg.Done()
		b := make([]byte, 1500)
		for {
			n, err := vc.Read(b)
			if err != nil {
				return
			}
			if pkts, err := rtcp.Unmarshal(b[:n]); err == nil {
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						s.plis.Add(1)
						wantKey.Store(true)
					}
				}
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			ts := uint32(time.Since(start)/(20*time.Millisecond)) * 960
			p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: uint8(audio.PayloadType), SequenceNumber: uint16(i),
				Timestamp: ts, SSRC: audio.SSRC}, Payload: []byte{0xfc, 0xff, 0xfe, byte(i)}}
			b, _ := p.Marshal()
			_, _ = ac.Write(b)
		}
	}()
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(time.Second / 30)
		defer tk.Stop()
		seq := uint16(rand.Uint32())
		ts0 := rand.Uint32()
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			ts := ts0 + uint32(time.Since(start)*90/time.Millisecond)
			key := i%60 == 0 || wantKey.Swap(false)
			for _, p := range vp8Packets(vp8Frame(key, 1200, 320, 240, byte(i)), seq, ts, 3) {
				p.Version, p.PayloadType, p.SSRC = 2, uint8(video.PayloadType), video.SSRC
				b, _ := p.Marshal()
				_, _ = vc.Write(b)
			}
			seq += 3
		}
	}()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(s.stop); ac.Close(); vc.Close(); s.wg.Wait() }) })
	return s
}

// lossRelay sits between a streamer and the recorder: it forwards both
// ways and drops a share of the RTP packets going to the recorder.
type lossRelay struct {
	t    *testing.T
	loss float64
	seed uint64

	mu               sync.Mutex
	forwarded, drops map[string]int
}

func newLossRelay(t *testing.T, loss float64) *lossRelay {
	return &lossRelay{t: t, loss: loss, seed: 7, forwarded: map[string]int{}, drops: map[string]int{}}
}

// via is Options.Via: a relay socket per track.
func (r *lossRelay) via(kind string, recorder netip.AddrPort) (netip.AddrPort, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return netip.AddrPort{}, err
	}
	r.t.Cleanup(func() { conn.Close() })
	r.mu.Lock()
	r.seed++
	rng := rand.New(rand.NewPCG(r.seed, 1))
	r.mu.Unlock()
	go func() {
		var streamer netip.AddrPort
		b := make([]byte, 2000)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(b)
			if err != nil {
				return
			}
			if from == recorder {
				if streamer.IsValid() {
					_, _ = conn.WriteToUDPAddrPort(b[:n], streamer)
				}
				continue
			}
			streamer = from
			isRTP := n >= 12 && (b[1] < 192 || b[1] > 223)
			r.mu.Lock()
			drop := isRTP && rng.Float64() < r.loss
			if drop {
				r.drops[kind]++
			} else {
				r.forwarded[kind]++
			}
			r.mu.Unlock()
			if !drop {
				_, _ = conn.WriteToUDPAddrPort(b[:n], recorder)
			}
		}
	}()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// counts returns the packets forwarded and dropped toward the recorder.
func (r *lossRelay) counts(kind string) (forwarded, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.forwarded[kind], r.drops[kind]
}
