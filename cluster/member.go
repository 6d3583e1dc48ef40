package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gosoup/gosoup/sfu"
)

// Bounds of the member's Redis work.
const (
	// redisTimeout bounds one read or write of the control path.
	redisTimeout = time.Second
	// joinTimeout bounds what BeforeJoin waits for Redis: without it the
	// join goes on with what is known and the poll catches up.
	joinTimeout = 3 * time.Second
	// closeTimeout bounds the flushing and deregistration at Close.
	closeTimeout = 3 * time.Second
	// redisDownJoinTimeout replaces joinTimeout while the last poll found
	// Redis away.
	redisDownJoinTimeout = 200 * time.Millisecond
)

// Member is one node of a cluster: it registers the node in Redis, takes
// part in the rooms that have local peers, mirrors the other nodes' peers
// into them and pipes local producers to the nodes that consume them.
// Its goroutines end at Close.
type Member struct {
	cfg   Config
	k     keys
	id    string
	epoch string
	srv   *sfu.Server
	rdb   *redis.Client
	log   *slog.Logger
	g     *guard // seals what the member writes, checks what it reads
	pub   *publisher
	bus   *bus

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	rooms   map[string]*croom // by room id
	closed  bool
	counter uint64 // rooms attached so far (room epochs)

	pipesMu     sync.Mutex
	pipes       map[pipeKey]*pipeOut
	pipesClosed bool

	draining   atomic.Bool
	redisUp    atomic.Bool  // the last refresh reached Redis
	graceUntil atomic.Int64 // unix ns: do not drop nodes before (our registry was lost)
	stats      atomic.Pointer[Stats]
	poller     poller     // the poll's own state (under pollMu)
	pollMu     sync.Mutex // held by a poll; Close waits for it
	closing    atomic.Bool
}

// Start connects to Redis, registers the node and starts taking part in
// the cluster until Close or ctx ends. Redis being unreachable is not an
// error: the member keeps trying and registers once Redis answers.
func Start(ctx context.Context, srv *sfu.Server, cfg Config) (*Member, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	seal, err := newSealer(cfg.Secret)
	if err != nil {
		return nil, err
	}
	rdb, err := newRedisClient(cfg.RedisURL, cfg.TLS, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if cfg.MediaAddress == "" {
		if ips := srv.AnnouncedIPs(); len(ips) > 0 {
			cfg.MediaAddress = fmt.Sprintf("%s:%d", ips[0], srv.RTCPort())
		}
	}
	m := &Member{
		cfg: cfg, k: keys{prefix: cfg.Prefix}, id: cfg.NodeID, epoch: newEpoch(), srv: srv,
		rdb: rdb, log: cfg.Logger.With("node", cfg.NodeID),
		g:     newGuard(seal, cfg.Logger.With("node", cfg.NodeID)),
		rooms: map[string]*croom{}, pipes: map[pipeKey]*pipeOut{},
	}
	m.ctx, m.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m.pub = newPublisher(m.rdb, m.log, m.markDirty)
	m.bus = newBus(m.rdb, m.log, m.handle)
	m.stats.Store(&Stats{})
	m.poller.init(m)
	m.wg.Add(2)
	go func() { defer m.wg.Done(); m.bus.run(m.ctx) }()
	go func() { defer m.wg.Done(); m.pub.run(m.ctx) }()
	sctx, cancel := context.WithTimeout(m.ctx, joinTimeout)
	if err := m.bus.subscribe(sctx, m.k.nodeChannel(m.id)); err != nil {
		m.log.Warn("cluster: Redis unreachable at start; retrying in the background", "err", err)
	}
	cancel()
	m.poll() // registers now when Redis answers
	m.wg.Add(1)
	go func() { defer m.wg.Done(); m.pollLoop() }()
	go func() {
		select {
		case <-ctx.Done():
			m.Close()
		case <-m.ctx.Done():
		}
	}()
	m.log.Info("cluster: member started", "redis", redactURL(cfg.RedisURL), "epoch", m.epoch, "media", cfg.MediaAddress,
		"secretKeyID", seal.kid)
	return m, nil
}

// ID returns the node id.
func (m *Member) ID() string { return m.id }

// handle dispatches a message from the bus (receive goroutine); one that
// fails verification is refused, never applied.
func (m *Member) handle(channel, payload string) {
	b, ok := m.g.check(kindMessage, channel, payload)
	if !ok {
		return
	}
	msg, err := decode(b)
	if err != nil {
		m.g.refuse(kindMessage, channel, err)
		return
	}
	if msg.From == m.id {
		return // our own room deltas
	}
	if channel == m.k.nodeChannel(m.id) {
		switch msg.Type {
		case msgPipe:
			m.handlePipe(msg)
		case msgPipeAck:
			m.handlePipeAck(msg)
		case msgUnpipe:
			m.handleUnpipe(msg)
		case msgPipeClosed:
			m.handlePipeClosed(msg)
		}
		return
	}
	room, ok := strings.CutPrefix(channel, m.k.prefix+"room:")
	if !ok {
		return
	}
	cr := m.roomByID(room)
	if cr == nil {
		return
	}
	cr.mu.Lock()
	if !cr.detached {
		cr.applyDeltaLocked(msg)
	}
	cr.mu.Unlock()
}

// send queues msg, sealed for channel.
func (m *Member) send(channel string, msg *message) bool {
	return m.pub.push(outItem{channel: channel, payload: m.sealed(channel, msg)})
}

// sealed returns msg encoded and sealed for channel.
func (m *Member) sealed(channel string, msg *message) []byte {
	return []byte(m.g.seal(channel, encode(msg)))
}

// markDirty makes the poll write the rooms' state again.
func (m *Member) markDirty(rooms []*croom) {
	for _, cr := range rooms {
		cr.markDirty()
	}
}

func (cr *croom) markDirty() {
	cr.mu.Lock()
	cr.dirty = true
	cr.mu.Unlock()
}

// Drain marks the node as draining in its registration (it takes no new
// peers; the signaling refuses them). Close deregisters it at the end.
func (m *Member) Drain() { m.draining.Store(true) }

// Close leaves every room (the other nodes see the local peers leave),
// stops the pipes, deregisters the node and ends the member's goroutines,
// waiting for Redis a few seconds at most. Safe to call twice.
func (m *Member) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.wg.Wait()
		return
	}
	m.closed = true
	rooms := make([]*croom, 0, len(m.rooms))
	for _, cr := range m.rooms {
		rooms = append(rooms, cr)
	}
	m.mu.Unlock()
	m.closing.Store(true)
	m.pollMu.Lock() // a poll in progress ends first: none refreshes after the deregistration
	m.pollMu.Unlock()
	for _, cr := range rooms {
		m.detach(cr, true)
	}
	m.stopPipes()
	ctx, cancel := context.WithTimeout(m.ctx, closeTimeout)
	m.pub.flush(ctx)
	if err := deregister(ctx, m.rdb, m.k, m.id); err != nil {
		m.log.Warn("cluster: deregistration failed; the registration expires", "err", err)
	}
	cancel()
	m.stop()
	m.log.Info("cluster: member closed")
}

// stopPipes closes every pipe and refuses new ones.
func (m *Member) stopPipes() {
	m.pipesMu.Lock()
	m.pipesClosed = true
	m.pipesMu.Unlock()
	m.closePipes(func(pipeKey) bool { return true })
}

// stop ends the goroutines and the Redis connections.
func (m *Member) stop() {
	m.cancel()
	m.bus.close()
	m.wg.Wait()
	_ = m.rdb.Close()
}

// newEpoch names one start of the process.
func newEpoch() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redactURL drops a password from a Redis URL for logs.
func redactURL(u string) string {
	if at := strings.LastIndexByte(u, '@'); at >= 0 {
		if i := strings.Index(u, "://"); i >= 0 && i < at {
			return u[:i+3] + "…@" + u[at+1:]
		}
	}
	return u
}
