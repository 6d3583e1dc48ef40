package integration

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// gosoup is a server under test.
type gosoup struct {
	SFU *sfu.Server
	URL string // ws://127.0.0.1:port
}

func startGosoup(t *testing.T) *gosoup {
	t.Helper()
	return startGosoupWith(t, signaling.Options{})
}

// startGosoupWith starts a server whose signaling has these options
// (join tokens, origins, limits).
func startGosoupWith(t *testing.T, opts signaling.Options) *gosoup {
	t.Helper()
	return startGosoupConfig(t, sfu.Config{}, opts)
}

// startGosoupConfig starts a server with this SFU configuration (its RTC
// and Logger are the tests') and signaling options.
func startGosoupConfig(t *testing.T, cfg sfu.Config, opts signaling.Options) *gosoup {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg.RTC = transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIP: "127.0.0.1"}
	cfg.Logger = log
	srv, err := sfu.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServerWithOptions(srv, log, opts)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() {
		hs.Close()
		sig.Close()
		srv.Close()
	})
	return &gosoup{SFU: srv, URL: "ws://" + strings.TrimPrefix(hs.URL, "http://")}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func join(ctx context.Context, t *testing.T, g *gosoup, room, name string) *client.Peer {
	t.Helper()
	p, err := client.Connect(ctx, g.URL, room, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// joinAndConsume joins name to room with a receive transport and consumes
// the first consumer of the first peer its join response lists.
func joinAndConsume(ctx context.Context, t *testing.T, g *gosoup, room, name string) (*client.Peer, client.ConsumerData, *client.Consumer) {
	t.Helper()
	p := join(ctx, t, g, room, name)
	recv, err := p.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cd := p.JoinPeers[0].Consumers[0]
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	return p, cd, cons
}

// vp8Source sends synthetic VP8 packets (a key frame every keyEvery
// packets) every interval until stopped.
type vp8Source struct {
	stop chan struct{}
	wg   sync.WaitGroup
}

func startVP8(p *client.Producer, interval time.Duration, keyEvery int) *vp8Source {
	s := &vp8Source{stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(interval)
		defer tk.Stop()
		seq := uint16(65500) // wraps early on purpose
		ts := uint32(1000)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			payload := make([]byte, 200)
			payload[0] = 0x10 // S=1, PID=0
			payload[1] = 0x01 // inter frame
			if i%keyEvery == 0 {
				payload[1] = 0x00 // key frame
			}
			_ = p.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload})
			seq++
			ts += 3000
		}
	}()
	return s
}

func (s *vp8Source) Stop() {
	close(s.stop)
	s.wg.Wait()
}

func mustJSON(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
}

func jsonUnmarshal(raw json.RawMessage, v any) error { return json.Unmarshal(raw, v) }

func matchPeer(name string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var n struct {
			PeerName string `json:"peerName"`
		}
		return json.Unmarshal(raw, &n) == nil && n.PeerName == name
	}
}

func matchName(name string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var n struct {
			Name string `json:"name"`
		}
		return json.Unmarshal(raw, &n) == nil && n.Name == name
	}
}

// videoPair is alice sending VP8 (a key frame every 10 packets) and bob
// receiving it.
type videoPair struct {
	alice, bob *client.Peer
	send, recv *client.Transport
	prod       *client.Producer
	cd         client.ConsumerData
	cons       *client.Consumer
}

func startVideoPair(ctx context.Context, t *testing.T, g *gosoup, room string) *videoPair {
	t.Helper()
	v := &videoPair{alice: join(ctx, t, g, room, "alice")}
	var err error
	if v.send, err = v.alice.CreateTransport(ctx, "send"); err != nil {
		t.Fatal(err)
	}
	if v.prod, err = v.send.Produce(ctx, "video", 0, false, nil); err != nil {
		t.Fatal(err)
	}
	src := startVP8(v.prod, 10*time.Millisecond, 10)
	t.Cleanup(src.Stop)
	v.bob = join(ctx, t, g, room, "bob")
	if v.recv, err = v.bob.CreateTransport(ctx, "recv"); err != nil {
		t.Fatal(err)
	}
	v.cd = v.bob.JoinPeers[0].Consumers[0]
	if v.cons, err = v.recv.Consume(ctx, v.cd); err != nil {
		t.Fatal(err)
	}
	return v
}
