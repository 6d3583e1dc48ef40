package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
)

// TestChurnReturnsToBaseline: peers join, send media to a watcher and leave,
// 500 times (4 rooms in parallel, watchers renewed every 25 cycles);
// goroutines and heap come back to their baseline.
func TestChurnReturnsToBaseline(t *testing.T) {
	cycles := 500
	if testing.Short() {
		cycles = 100
	}
	const rooms, perWatcher = 4, 25
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	g := startGosoup(t)
	if err := churnBatch(ctx, g, "warmup", 5); err != nil {
		t.Fatal(err)
	}
	g0, h0 := settle(0)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, rooms)
	for r := 0; r < rooms; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			for done := 0; done < cycles/rooms; done += perWatcher {
				if err := churnBatch(ctx, g, fmt.Sprintf("churn%d-%d", r, done), perWatcher); err != nil {
					errs <- err
					return
				}
			}
		}(r)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	g1, h1 := settle(g0)
	t.Logf("%d join/produce/consume/leave cycles in %v: goroutines %d -> %d, heap %.2f MiB -> %.2f MiB, open rooms %d",
		cycles, elapsed.Round(time.Millisecond), g0, g1, float64(h0)/(1<<20), float64(h1)/(1<<20), len(g.SFU.Rooms()))
	if g1 > g0+5 {
		if testing.Verbose() {
			buf := make([]byte, 1<<20)
			_ = os.WriteFile(os.TempDir()+"/churn-goroutines.txt", buf[:runtime.Stack(buf, true)], 0o644)
		}
		t.Errorf("goroutines grew: %d -> %d", g0, g1)
	}
	if h1 > h0+4<<20 {
		t.Errorf("heap grew: %d -> %d", h0, h1)
	}
	if n := len(g.SFU.Rooms()); n != 0 {
		t.Errorf("%d rooms still open", n)
	}
}

// churnBatch runs n cycles in a room with one watcher, then closes it.
func churnBatch(ctx context.Context, g *gosoup, room string, n int) error {
	watcher, err := client.Connect(ctx, g.URL, room, "watcher")
	if err != nil {
		return err
	}
	defer watcher.Close()
	if err := watcher.Join(ctx, nil, false); err != nil {
		return err
	}
	recv, err := watcher.CreateTransport(ctx, "recv")
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := churnCycle(ctx, g, room, fmt.Sprintf("p%d", i), watcher, recv); err != nil {
			return fmt.Errorf("%s cycle %d: %w", room, i, err)
		}
	}
	return watcher.Leave()
}

func churnCycle(ctx context.Context, g *gosoup, room, name string, watcher *client.Peer, recv *client.Transport) error {
	p, err := client.Connect(ctx, g.URL, room, name)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Join(ctx, nil, false); err != nil {
		return err
	}
	send, err := p.CreateTransport(ctx, "send")
	if err != nil {
		return err
	}
	prod, err := send.Produce(ctx, "audio", 0, false, nil)
	if err != nil {
		return err
	}
	note, _, err := watcher.WaitNotification(ctx, 0, "newConsumer", matchPeer(name))
	if err != nil {
		return err
	}
	var cd client.ConsumerData
	if err := jsonUnmarshal(note.Data, &cd); err != nil {
		return err
	}
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		return err
	}
	defer cons.Close()
	stop, sent := make(chan struct{}), make(chan struct{})
	go func() { // send until the watcher got a packet
		defer close(sent)
		for k := 0; ; k++ {
			_ = prod.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(k), Timestamp: uint32(k * 960)}, Payload: []byte{0xf8, 0xff, 0xfe}})
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	_, err = cons.ReadRTP(time.Now().Add(10 * time.Second))
	close(stop)
	<-sent
	if err != nil {
		return errors.New("no media reached the watcher")
	}
	if err := p.Leave(); err != nil {
		return err
	}
	_, _, err = watcher.WaitNotification(ctx, 0, "peerClosed", matchName(name))
	return err
}

// settle waits for goroutines to wind down to want (0: just measure) and
// returns the goroutine count and live heap.
func settle(want int) (int, uint64) {
	var n int
	for i := 0; i < 50; i++ {
		runtime.GC()
		n = runtime.NumGoroutine()
		if want == 0 || n <= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return n, ms.HeapAlloc
}
