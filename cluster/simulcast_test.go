package cluster

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
)

// sendSimulcast sends the three layers of p (VP8, a key frame every 20
// packets, the layer's index in payload byte 10) every 10 ms until stop.
func sendSimulcast(p *client.Producer, stop <-chan struct{}, wg *sync.WaitGroup) {
	for layer := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			seq, ts, pid := uint16(1000*layer), uint32(layer)*777777, uint16(layer*9000)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				payload := make([]byte, 100+200*layer)
				payload[0], payload[1] = 0x90, 0x80 // X, S; I
				payload[2], payload[3] = 0x80|byte(pid>>8&0x7f), byte(pid)
				payload[4] = 0x01
				if i%20 == 0 {
					payload[4] = 0x00 // key frame
				}
				payload[10] = byte(layer)
				_ = p.WriteLayerRTP(layer, &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload})
				seq, ts, pid = seq+1, ts+3000, (pid+1)&0x7fff
			}
		}()
	}
}

// TestSimulcastAcrossNodes: the three layers of a simulcast producer on
// node 1 reach node 2 in one pipe, where bob's consumer switches between
// them as on one node.
func TestSimulcastAcrossNodes(t *testing.T) {
	r := startRedis(t)
	n1, n2 := startNode(t, r, "n1", "sim:"), startNode(t, r, "n2", "sim:")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alice := joinPeer(ctx, t, n1, "sim", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.ProduceSimulcast(ctx, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	sendSimulcast(prod, stop, &wg)
	defer func() { close(stop); wg.Wait() }()

	bob, err := subscribe(ctx, n2, "sim", "bob", "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bob.peer.Close() })
	layerOf := func(want byte) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for n := 0; n < 20; {
			pkt, err := bob.cons.ReadRTP(deadline)
			if err != nil {
				t.Fatalf("waiting for layer %d: %v", want, err)
			}
			if len(pkt.Payload) > 10 && pkt.Payload[10] == want {
				n++
			}
		}
	}
	profile := func(want string) {
		t.Helper()
		if _, _, err := bob.peer.WaitNotification(ctx, 0, "consumerEffectiveProfileChanged", func(raw json.RawMessage) bool {
			var n struct {
				Profile string `json:"profile"`
			}
			return json.Unmarshal(raw, &n) == nil && n.Profile == want
		}); err != nil {
			t.Fatalf("effective profile %s: %v", want, err)
		}
	}
	layerOf(2)
	profile("high")
	if err := bob.peer.Notify("setConsumerPreferredProfile", map[string]any{"id": bob.cons.Data.ID, "profile": "low"}); err != nil {
		t.Fatal(err)
	}
	layerOf(0)
	profile("low")
	if got := n1.member.Stats().PipesOut; got != 1 {
		t.Errorf("node 1 sends %d pipes, want 1 for the three layers", got)
	}
}
