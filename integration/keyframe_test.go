package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/sfu"
)

// TestKeyFrameRequestRetried: a consumer starts while its sender sends no
// key frame; gosoup keeps asking (PLI about every 500 ms, not per packet)
// and forwards from the first key frame, then stops asking.
func TestKeyFrameRequestRetried(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := startGosoup(t)
	alice := join(ctx, t, g, "kf", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	key := false
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // inter frames every 10 ms until key is set
		defer close(done)
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for seq := uint16(0); ; seq++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			payload := make([]byte, 200)
			payload[0], payload[1] = 0x10, 0x01
			mu.Lock()
			if key {
				payload[1], key = 0x00, false
			}
			mu.Unlock()
			_ = prod.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 3000, Marker: true}, Payload: payload})
		}
	}()
	defer func() { close(stop); <-done }()
	bob := join(ctx, t, g, "kf", "bob")
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	cons, err := recv.Consume(ctx, bob.JoinPeers[0].Consumers[0])
	if err != nil {
		t.Fatal(err)
	}
	var sp *sfu.Producer
	for _, r := range g.SFU.Rooms() {
		if p := r.PeerByName("alice"); p != nil && len(p.Producers()) == 1 {
			sp = p.Producers()[0]
		}
	}
	plis := func() uint64 { return sp.GetStats()[0].PliCount }
	start := plis()
	if _, err := cons.ReadRTP(time.Now().Add(2500 * time.Millisecond)); err == nil {
		t.Fatal("a packet was forwarded before any key frame")
	}
	retries := plis() - start
	if retries < 3 || retries > 8 {
		t.Fatalf("%d key-frame requests in 2.5 s without a key frame, want about one per 500 ms", retries)
	}
	mu.Lock()
	key = true
	mu.Unlock()
	pkt, err := cons.ReadRTP(time.Now().Add(2 * time.Second))
	if err != nil || pkt.Payload[1]&0x01 != 0 {
		t.Fatalf("first forwarded packet: %v (key frame expected)", err)
	}
	after := plis()
	time.Sleep(1500 * time.Millisecond)
	if n := plis() - after; n != 0 {
		t.Fatalf("%d more key-frame requests once the key frame came", n)
	}
	t.Logf("%d key-frame requests in 2.5 s while waiting; none after the key frame", retries)
}
