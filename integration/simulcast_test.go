package integration

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
)

// simulcastSource sends three VP8 layers like Chrome's simulcast: each on
// its own SSRC with unrelated sequence numbers, timestamps and picture ids,
// a key frame every 20 packets; payload byte 10 names the layer so the
// receiver can tell which one it gets. Layers can be stopped one by one.
type simulcastSource struct {
	mu      sync.Mutex
	running [3]bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startSimulcast(p *client.Producer) *simulcastSource {
	s := &simulcastSource{stop: make(chan struct{}), running: [3]bool{true, true, true}}
	for layer := 0; layer < 3; layer++ {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			seq := uint16(1000*layer + 65000) // each layer wraps at a different time
			ts := uint32(layer) * 777777
			pid := uint16(layer*9000 + 32700) // 15-bit picture ids wrap too
			for i := 0; ; i++ {
				select {
				case <-s.stop:
					return
				case <-tk.C:
				}
				s.mu.Lock()
				on := s.running[layer]
				s.mu.Unlock()
				if !on {
					continue
				}
				payload := make([]byte, 100+200*layer)
				payload[0], payload[1] = 0x90, 0x80 // X, S; I
				payload[2], payload[3] = 0x80|byte(pid>>8&0x7f), byte(pid)
				payload[4] = 0x01 // inter frame
				if i%20 == 0 {
					payload[4] = 0x00 // key frame
				}
				payload[10] = byte(layer)
				_ = p.WriteLayerRTP(layer, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload})
				seq++
				ts += 3000
				pid = (pid + 1) & 0x7fff
			}
		}()
	}
	return s
}

func (s *simulcastSource) setRunning(layer int, on bool) {
	s.mu.Lock()
	s.running[layer] = on
	s.mu.Unlock()
}

func (s *simulcastSource) Stop() {
	close(s.stop)
	s.wg.Wait()
}

// streamChecker reads a consumer and checks that whatever layer arrives,
// the stream stays one stream: sequence numbers +1, timestamps forward,
// VP8 picture ids +1 (every synthetic packet is a frame).
type streamChecker struct {
	t       *testing.T
	c       *client.Consumer
	started bool
	seq     uint16
	ts      uint32
	pid     uint16
	packets int
}

// next reads one packet and returns its layer.
func (k *streamChecker) next(deadline time.Time) int {
	k.t.Helper()
	pkt, err := k.c.ReadRTP(deadline)
	if err != nil {
		k.t.Fatalf("after %d packets: %v", k.packets, err)
	}
	p := pkt.Payload
	pid := uint16(p[2]&0x7f)<<8 | uint16(p[3])
	if k.started {
		if pkt.SequenceNumber != k.seq+1 {
			k.t.Fatalf("packet %d: seq %d after %d", k.packets, pkt.SequenceNumber, k.seq)
		}
		if d := pkt.Timestamp - k.ts; d == 0 || d >= 1<<31 {
			k.t.Fatalf("packet %d: timestamp %d after %d", k.packets, pkt.Timestamp, k.ts)
		}
		if pid != (k.pid+1)&0x7fff {
			k.t.Fatalf("packet %d: picture id %d after %d", k.packets, pid, k.pid)
		}
	}
	k.started, k.seq, k.ts, k.pid = true, pkt.SequenceNumber, pkt.Timestamp, pid
	k.packets++
	return int(p[10])
}

// until reads until n packets in a row came from layer.
func (k *streamChecker) until(layer, n int, timeout time.Duration) time.Duration {
	k.t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	run := 0
	for run < n {
		if time.Now().After(deadline) {
			k.t.Fatalf("layer %d not received in %v", layer, timeout)
		}
		if k.next(deadline) == layer {
			run++
		} else {
			run = 0
		}
	}
	return time.Since(start)
}

func profileOf(t *testing.T, n client.Notification) string {
	var d struct {
		Profile string `json:"profile"`
	}
	if err := json.Unmarshal(n.Data, &d); err != nil {
		t.Fatal(err)
	}
	return d.Profile
}

// TestSimulcastSwitching: a pion client sends three layers; bob gets the
// high one by default, then the layer he prefers, then the lowest one still
// sending when his layer stops, then "none"; every switch is announced and
// the stream he receives stays continuous on the wire.
func TestSimulcastSwitching(t *testing.T) {
	testSimulcastSwitching(t, (*client.Transport).ProduceSimulcast)
}

// TestRIDSimulcastSwitching is TestSimulcastSwitching with the layers
// signaled by RID only, as Firefox and WHIP publishers do: the server
// learns each layer's SSRC from its first packets.
func TestRIDSimulcastSwitching(t *testing.T) {
	testSimulcastSwitching(t, (*client.Transport).ProduceSimulcastRID)
}

func testSimulcastSwitching(t *testing.T, produce func(*client.Transport, context.Context, bool, any) (*client.Producer, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "sim", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := produce(send, ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := startSimulcast(prod)
	defer src.Stop()
	bob := join(ctx, t, g, "sim", "bob")
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cd := bob.JoinPeers[0].Consumers[0]
	if len(cd.RTPParameters.Encodings) != 1 {
		t.Fatalf("consumer encodings = %+v (simulcast must collapse to one)", cd.RTPParameters.Encodings)
	}
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	k := &streamChecker{t: t, c: cons}
	seen := 0
	expect := func(profile string) {
		t.Helper()
		n, i, err := bob.WaitNotification(ctx, seen, "consumerEffectiveProfileChanged", nil)
		if err != nil {
			t.Fatal(err)
		}
		seen = i
		if got := profileOf(t, n); got != profile {
			t.Fatalf("effective profile %q, want %q", got, profile)
		}
	}

	k.until(2, 20, 5*time.Second)
	expect("high")

	if err := bob.Notify("setConsumerPreferredProfile", map[string]any{"id": cd.ID, "profile": "low"}); err != nil {
		t.Fatal(err)
	}
	took := k.until(0, 20, 5*time.Second)
	expect("low")
	t.Logf("switch high -> low within %v (incl. 20 packets)", took)

	if err := bob.Notify("setConsumerPreferredProfile", map[string]any{"id": cd.ID, "profile": "medium"}); err != nil {
		t.Fatal(err)
	}
	k.until(1, 20, 5*time.Second)
	expect("medium")

	// medium stops sending: bob falls back to the lowest layer still live.
	src.setRunning(1, false)
	k.until(0, 20, 5*time.Second)
	expect("low")

	// Everything stops: "none".
	src.setRunning(0, false)
	src.setRunning(2, false)
	expect("none")

	// high comes back: bob (preferring medium, which is silent) gets it.
	src.setRunning(2, true)
	k.until(2, 20, 5*time.Second)
	expect("high")
	t.Logf("%d packets, one continuous stream across 5 switches", k.packets)
}
