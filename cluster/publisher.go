package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds of the publisher.
const (
	// maxQueued bounds what waits for Redis; beyond it messages are
	// dropped (room deltas: their rooms' state is rewritten later and the
	// receivers resync; pipe requests are asked again).
	maxQueued = 10000
	// writeTimeout bounds one batch's round trip.
	writeTimeout = 2 * time.Second
)

// outItem is one thing to send: a message on a channel, after writing the
// state of room (when not nil) so that the state a receiver can read is
// never older than the message; and/or extra commands (cleanup).
type outItem struct {
	room    *croom
	channel string
	payload []byte
	extra   func(context.Context, redis.Pipeliner)
	flushed chan struct{} // closed once the batch holding it was sent or failed
}

// publisher sends the member's writes to Redis from one goroutine, in the
// order they were queued, so that the deltas of a room leave in the order
// of its events. Nothing that queues waits for Redis.
type publisher struct {
	rdb *redis.Client
	log *slog.Logger
	// failed is called with the rooms of a batch Redis did not take.
	failed func([]*croom)

	mu      sync.Mutex
	queue   []outItem
	wake    chan struct{}
	failing bool // the last batch failed (logged once per outage)
}

func newPublisher(rdb *redis.Client, log *slog.Logger, failed func([]*croom)) *publisher {
	return &publisher{rdb: rdb, log: log, failed: failed, wake: make(chan struct{}, 1)}
}

// push queues it; it reports false when the queue is full and it was
// dropped (the caller marks its room dirty: it may hold the room's lock).
func (p *publisher) push(it outItem) bool {
	p.mu.Lock()
	if len(p.queue) >= maxQueued && it.flushed == nil {
		p.mu.Unlock()
		return false
	}
	p.queue = append(p.queue, it)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return true
}

// flush waits until what is queued now was sent (or failed), or ctx ends.
func (p *publisher) flush(ctx context.Context) {
	done := make(chan struct{})
	p.push(outItem{flushed: done})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// run sends batches until ctx ends; what is still queued then is dropped
// (flushes are released).
func (p *publisher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			batch := p.queue
			p.queue = nil
			p.mu.Unlock()
			for _, it := range batch {
				if it.flushed != nil {
					close(it.flushed)
				}
			}
			return
		case <-p.wake:
		}
		for {
			p.mu.Lock()
			batch := p.queue
			p.queue = nil
			p.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			p.send(ctx, batch)
		}
	}
}

// send writes one batch in one pipeline: the states of the rooms it
// carries deltas for first, then the messages and commands in order.
func (p *publisher) send(ctx context.Context, batch []outItem) {
	defer func() {
		for _, it := range batch {
			if it.flushed != nil {
				close(it.flushed)
			}
		}
	}()
	var rooms []*croom
	seen := map[*croom]bool{}
	for _, it := range batch {
		if it.room != nil && !seen[it.room] {
			seen[it.room] = true
			rooms = append(rooms, it.room)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	pipe := p.rdb.Pipeline()
	for _, r := range rooms {
		r.writeState(wctx, pipe)
	}
	for _, it := range batch {
		if it.channel != "" {
			pipe.Publish(wctx, it.channel, it.payload)
		}
		if it.extra != nil {
			it.extra(wctx, pipe)
		}
	}
	if pipe.Len() == 0 {
		return
	}
	_, err := pipe.Exec(wctx)
	p.mu.Lock()
	wasFailing := p.failing
	p.failing = err != nil
	p.mu.Unlock()
	if err != nil {
		if !wasFailing {
			p.log.Warn("cluster: Redis write failed; state will be written again", "err", err)
		}
		p.failed(rooms)
		return
	}
	if wasFailing {
		p.log.Info("cluster: Redis writes work again")
	}
}
