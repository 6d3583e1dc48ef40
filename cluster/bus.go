package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timing of the subscriber.
const (
	// receiveTimeout is how long a read waits before the connection is
	// checked with a PING.
	receiveTimeout = 2 * time.Second
	// retryPause separates reconnection attempts while Redis is away.
	retryPause = 250 * time.Millisecond
)

// bus is the member's one Redis pub/sub connection: the room channels of
// the rooms it takes part in and its own node channel. go-redis
// reconnects and subscribes again after a failure; what was published
// meanwhile is lost, which the members' polls make up for.
type bus struct {
	ps     *redis.PubSub
	log    *slog.Logger
	handle func(channel, payload string) // runs on the receive goroutine, in order

	mu      sync.Mutex
	waiting map[string][]chan struct{} // channel → subscribers waiting for Redis's confirmation
}

func newBus(rdb *redis.Client, log *slog.Logger, handle func(channel, payload string)) *bus {
	return &bus{ps: rdb.Subscribe(context.Background()), log: log, handle: handle, waiting: map[string][]chan struct{}{}}
}

// subscribe subscribes to ch and waits until Redis confirmed it (so that
// everything published on ch from then on is received) or ctx ends. The
// channel stays in the subscription set even on error: go-redis subscribes
// to it when it reconnects.
func (b *bus) subscribe(ctx context.Context, ch string) error {
	w := make(chan struct{})
	b.mu.Lock()
	b.waiting[ch] = append(b.waiting[ch], w)
	b.mu.Unlock()
	err := b.ps.Subscribe(ctx, ch)
	if err == nil {
		select {
		case <-w:
			return nil
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	b.mu.Lock()
	ws := b.waiting[ch]
	for i, x := range ws {
		if x == w {
			b.waiting[ch] = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(b.waiting[ch]) == 0 {
		delete(b.waiting, ch)
	}
	b.mu.Unlock()
	return fmt.Errorf("subscribe %s: %w", ch, err)
}

// unsubscribe leaves ch (it is forgotten even when Redis is away).
func (b *bus) unsubscribe(ctx context.Context, ch string) {
	if err := b.ps.Unsubscribe(ctx, ch); err != nil {
		b.log.Debug("cluster: unsubscribe", "channel", ch, "err", err)
	}
}

// confirmed releases the subscribers waiting for ch.
func (b *bus) confirmed(ch string) {
	b.mu.Lock()
	ws := b.waiting[ch]
	delete(b.waiting, ch)
	b.mu.Unlock()
	for _, w := range ws {
		close(w)
	}
}

// run receives until ctx ends or the bus is closed.
func (b *bus) run(ctx context.Context) {
	for ctx.Err() == nil {
		msg, err := b.ps.ReceiveTimeout(ctx, receiveTimeout)
		if err != nil {
			if errors.Is(err, redis.ErrClosed) || ctx.Err() != nil {
				return
			}
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				_ = b.ps.Ping(ctx) // the answer comes back here; a dead connection fails and is replaced
				continue
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryPause):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.confirmed(m.Channel)
			}
		case *redis.Message:
			b.handle(m.Channel, m.Payload)
		}
	}
}

// close ends the connection; run returns.
func (b *bus) close() { _ = b.ps.Close() }
