package sfu

import (
	"runtime"
	"sync"
	"time"
)

// tickInterval is the report clock's period: transport-cc feedback goes
// out every tick, REMB drops are checked every other one, layers every
// fifth, receiver and sender reports every tenth.
const tickInterval = 100 * time.Millisecond

// reportClock runs every transport's periodic work (RTCP reports, REMB,
// transport-cc feedback, layer choice, probes) from a few shared
// goroutines, one per core, instead of a goroutine and a ticker per
// transport: an idle receiver then costs no goroutine stack and its timer
// no wake-up of its own. A transport stays on one shard, so its ticks
// never overlap.
type reportClock struct {
	shards []clockShard
	wg     sync.WaitGroup
}

// clockShard is one goroutine's transports.
type clockShard struct {
	mu   sync.Mutex
	ts   map[*Transport]struct{}
	stop chan struct{}
}

func newReportClock() *reportClock {
	c := &reportClock{shards: make([]clockShard, runtime.GOMAXPROCS(0))}
	c.wg.Add(len(c.shards))
	for i := range c.shards {
		s := &c.shards[i]
		s.ts = map[*Transport]struct{}{}
		s.stop = make(chan struct{})
		go c.run(s)
	}
	return c
}

func (c *reportClock) shard(t *Transport) *clockShard {
	return &c.shards[int(t.id%uint32(len(c.shards)))]
}

// add starts ticking t.
func (c *reportClock) add(t *Transport) {
	s := c.shard(t)
	s.mu.Lock()
	s.ts[t] = struct{}{}
	s.mu.Unlock()
}

// remove stops ticking t; a tick in progress may still finish.
func (c *reportClock) remove(t *Transport) {
	if c == nil {
		return // a server built by hand in a test
	}
	s := c.shard(t)
	s.mu.Lock()
	delete(s.ts, t)
	s.mu.Unlock()
}

// close stops the shards and waits for them.
func (c *reportClock) close() {
	for i := range c.shards {
		close(c.shards[i].stop)
	}
	c.wg.Wait()
}

func (c *reportClock) run(s *clockShard) {
	defer c.wg.Done()
	tk := time.NewTicker(tickInterval)
	defer tk.Stop()
	var batch []*Transport // reused: no allocation per tick once grown
	for {
		select {
		case <-s.stop:
			return
		case now := <-tk.C:
			s.mu.Lock()
			batch = batch[:0]
			for t := range s.ts {
				batch = append(batch, t)
			}
			s.mu.Unlock()
			for _, t := range batch {
				t.tick(now)
			}
			clear(batch) // drop references to closed transports
		}
	}
}
