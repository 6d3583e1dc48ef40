package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gosoup/gosoup/sfu"
)

// idleGrace is how long a room without local peers stays attached after
// its last join (the joining peer may still be on its way).
const idleGrace = 5 * time.Second

// poller is the poll goroutine's own state.
type poller struct {
	load       loadSampler
	registered bool
	redisUp    bool
	started    time.Time
	nodesSeen  int
	piped      map[*sfu.Producer]uint64
	pipedAt    time.Time
	polls      int
}

func (p *poller) init(*Member) {
	p.started = time.Now()
	p.redisUp = true // so that a first failure is logged
	p.piped = map[*sfu.Producer]uint64{}
}

// pollLoop polls every interval until the member stops.
func (m *Member) pollLoop() {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
			m.poll()
		}
	}
}

// poll refreshes the node's registration and rooms, drops the nodes that
// are gone, brings the mirrors up to date and checks the pipes.
func (m *Member) poll() {
	m.pollMu.Lock()
	defer m.pollMu.Unlock()
	if m.closing.Load() {
		return // Close deregisters: no refresh after it
	}
	now := time.Now()
	up := m.refresh(now)
	if up {
		m.scanRooms()
		m.observe(now)
		if m.poller.polls++; m.poller.polls%30 == 0 {
			m.cleanRooms()
		}
	}
	for _, cr := range m.attached() {
		if !cr.hasLocal(now, idleGrace) {
			m.detach(cr, false)
		}
	}
	m.updateStats(now, up)
}

// refresh writes the registration and the rooms' state, home and
// membership; it reports whether Redis answered.
func (m *Member) refresh(now time.Time) bool {
	p := &m.poller
	ctx, cancel := context.WithTimeout(m.ctx, redisTimeout)
	defer cancel()
	counts := m.srv.Counts()
	pps, cpu := p.load.sample(now, counts.PacketsReceived)
	rooms := m.attached()
	remote := 0
	for _, cr := range rooms {
		cr.mu.Lock()
		remote += len(cr.remote)
		cr.mu.Unlock()
	}
	m.pipesMu.Lock()
	pipes := len(m.pipes)
	m.pipesMu.Unlock()
	info := &NodeInfo{
		ID: m.id, Epoch: m.epoch, SignalingURL: m.cfg.SignalingURL, MediaAddress: m.cfg.MediaAddress,
		Rooms: counts.Rooms, Peers: max(counts.Peers-remote, 0), PacketsPerSecond: pps, CPU: cpu, Pipes: pipes,
		Draining: m.draining.Load(), Started: p.started, Updated: now,
	}
	reg, err := register(ctx, m.rdb, m.k, m.g, info, m.cfg.TTL)
	if err != nil {
		if p.redisUp {
			m.log.Warn("cluster: Redis unreachable; media goes on, the cluster view is frozen", "err", err)
		}
		p.redisUp = false
		m.redisUp.Store(false)
		return false
	}
	if !p.redisUp {
		m.log.Info("cluster: Redis reachable again")
	}
	p.redisUp = true
	m.redisUp.Store(true)
	if reg.other != nil {
		if p.registered {
			m.log.Error("cluster: another process registers with this node id: give each node its own id",
				"otherEpoch", reg.other.Epoch, "otherMedia", reg.other.MediaAddress)
		} else {
			m.log.Info("cluster: this node id was registered by an earlier process (a restart?)", "otherEpoch", reg.other.Epoch)
		}
	}
	if reg.lost && p.registered {
		m.log.Warn("cluster: our registration was gone (Redis restarted, flushed or unreachable for longer than the TTL): registering again and re-publishing the rooms")
		m.graceUntil.Store(now.Add(m.cfg.TTL + m.cfg.Interval).UnixNano())
		m.markDirty(rooms)
	}
	p.registered = true
	m.refreshRooms(ctx, rooms)
	return true
}

// refreshRooms extends the rooms' state and membership keys (writing the
// state when it is stale or gone) and claims or refreshes their homes.
func (m *Member) refreshRooms(ctx context.Context, rooms []*croom) {
	if len(rooms) == 0 {
		return
	}
	pipe := m.rdb.Pipeline()
	expired := make([]*redis.BoolCmd, len(rooms))
	for i, cr := range rooms {
		cr.mu.Lock()
		dirty := cr.dirty
		cr.mu.Unlock()
		if dirty {
			cr.writeState(ctx, pipe)
		} else {
			expired[i] = pipe.PExpire(ctx, m.k.roomState(cr.id, m.id), m.cfg.TTL)
			pipe.SAdd(ctx, m.k.roomNodes(cr.id), m.id)
			pipe.PExpire(ctx, m.k.roomNodes(cr.id), m.cfg.TTL)
		}
		pipe.Eval(ctx, claimHome, []string{m.k.home(cr.id)}, m.homeValue(cr.id), m.cfg.TTL.Milliseconds())
		pipe.SAdd(ctx, m.k.rooms(), cr.id)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		m.markDirty(rooms)
		return
	}
	var gone []*croom
	for i, c := range expired {
		if c != nil && !c.Val() {
			gone = append(gone, rooms[i])
		}
	}
	if len(gone) > 0 {
		pipe := m.rdb.Pipeline()
		for _, cr := range gone {
			cr.writeState(ctx, pipe)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			m.markDirty(gone)
		}
	}
}

// scanRooms takes part in the open rooms that have peers but no part yet
// (WHIP or ingest peers, a join whose hook could not reach Redis).
func (m *Member) scanRooms() {
	for _, room := range m.srv.Rooms() {
		cr := m.roomByID(room.ID())
		if cr == nil || cr.room != room {
			if len(room.Peers()) == 0 {
				continue
			}
			cr = m.attach(room)
			if cr == nil {
				return
			}
		}
		cr.syncMu.Lock()
		joined := cr.joined
		cr.syncMu.Unlock()
		if !joined {
			ctx, cancel := context.WithTimeout(m.ctx, redisTimeout)
			if err := cr.join(ctx); err != nil {
				m.log.Debug("cluster: room not joined yet", "room", cr.id, "err", err)
			}
			cancel()
		}
	}
}

// observe reads the live nodes and the versions of the other nodes'
// states of our rooms, and brings the mirrors and pipes in line.
func (m *Member) observe(now time.Time) {
	ctx, cancel := context.WithTimeout(m.ctx, 2*redisTimeout)
	defer cancel()
	readAt := time.Now()
	nodes, stale, refused, err := readNodes(ctx, m.rdb, m.k, m.g)
	if err != nil {
		m.log.Debug("cluster: read nodes", "err", err)
		return
	}
	// A node whose entry was refused cannot be told alive or gone: what
	// this node has of it is kept (nothing new of it is taken, all of it
	// is verified).
	alive := make(map[string]*NodeInfo, len(nodes)+len(refused))
	for id, n := range nodes {
		alive[id] = n
	}
	for _, id := range refused {
		if alive[id] == nil {
			alive[id] = &NodeInfo{ID: id}
		}
	}
	grace := now.UnixNano() < m.graceUntil.Load()
	if len(stale) > 0 && !grace {
		m.rdb.SRem(ctx, m.k.nodes(), stale)
	}
	m.poller.nodesSeen = len(nodes)
	rooms := m.attached()
	targets := m.pipeTargets()
	pipe := m.rdb.Pipeline()
	members := make([]*redis.StringSliceCmd, len(rooms))
	for i, cr := range rooms {
		members[i] = pipe.SMembers(ctx, m.k.roomNodes(cr.id))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return
	}
	type probe struct {
		room, node, key string
		cmd             *redis.StringCmd
	}
	var probes []probe
	pipe = m.rdb.Pipeline()
	for i, cr := range rooms {
		seen := map[string]bool{}
		check := func(n string) {
			if !seen[n] {
				seen[n] = true
				key := m.k.roomState(cr.id, n)
				probes = append(probes, probe{cr.id, n, key, pipe.HGet(ctx, key, "v")})
			}
		}
		for _, n := range members[i].Val() {
			check(n)
		}
		for _, n := range cr.mirrorNodes() {
			check(n)
		}
		for _, n := range targets[cr.id] {
			check(n)
		}
	}
	versions := map[string]map[string]string{} // room → node → version
	if len(probes) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return
		}
		for _, pr := range probes {
			if sv, err := pr.cmd.Result(); err == nil {
				b, ok := m.g.check(kindState, stateField(pr.key, "v"), sv)
				v := string(b)
				if !ok {
					// Garbled or another secret's: the mirror of it, if
					// any, is kept as it is (not read again, not dropped);
					// garbled in our own state, it is written again.
					v = refusedVersion
				}
				if versions[pr.room] == nil {
					versions[pr.room] = map[string]string{}
				}
				versions[pr.room][pr.node] = v
			}
		}
	}
	for _, cr := range rooms {
		if v := versions[cr.id][m.id]; v != "" {
			if epoch, _, ok := parseVersion(v); !ok || epoch != cr.epoch {
				cr.markDirty() // our state in Redis is not ours: write it again
			}
			delete(versions[cr.id], m.id)
		}
		cr.reconcile(now, readAt, versions[cr.id], alive, grace)
	}
	m.checkPipes(func(room, node string) bool {
		if grace {
			return true
		}
		_, isAlive := alive[node]
		return isAlive && versions[room][node] != ""
	})
}

// refusedVersion stands for a state version that failed verification.
const refusedVersion = "?"

// mirrorNodes returns the nodes the room has mirrors of.
func (cr *croom) mirrorNodes() []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	out := make([]string, 0, len(cr.mirrors))
	for n := range cr.mirrors {
		out = append(out, n)
	}
	return out
}

// reconcile reads again the states that moved past the mirrors (messages
// lost), drops the mirrors of nodes that are gone (their producers, then
// their peers) or left the room, and asks again for unanswered pipes.
// versions and alive were read from readAt on: a mirror updated since is
// newer than them and kept.
func (cr *croom) reconcile(now, readAt time.Time, versions map[string]string, alive map[string]*NodeInfo, grace bool) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.detached {
		return
	}
	for node, v := range versions {
		if _, ok := alive[node]; !ok {
			continue
		}
		epoch, seq, ok := parseVersion(v)
		if !ok {
			continue
		}
		if mi := cr.mirrors[node]; mi == nil || mi.dirty || mi.epoch != epoch || mi.seq < seq {
			cr.resyncLocked(node)
		}
	}
	for node, mi := range cr.mirrors {
		_, isAlive := alive[node]
		if grace || (isAlive && versions[node] != "") || mi.touched.After(readAt) {
			continue
		}
		if isAlive {
			cr.m.log.Info("cluster: node left the room", "room", cr.id, "remoteNode", node)
		} else {
			cr.m.log.Warn("cluster: node gone: closing its peers", "room", cr.id, "remoteNode", node, "peers", len(mi.peers))
		}
		cr.dropMirrorLocked(mi, !isAlive)
	}
	for node, mi := range cr.mirrors {
		for name, rp := range mi.peers {
			for _, rpr := range rp.producers {
				if !rpr.acked && now.Sub(rpr.asked) >= cr.m.cfg.Interval {
					cr.askPipeLocked(node, name, rpr)
				}
			}
		}
	}
}

// cleanRooms removes from the room directory the rooms that have neither
// a home nor a node any more (their nodes died).
func (m *Member) cleanRooms() {
	ctx, cancel := context.WithTimeout(m.ctx, 2*redisTimeout)
	defer cancel()
	ids, err := m.rdb.SMembers(ctx, m.k.rooms()).Result()
	if err != nil {
		return
	}
	for _, id := range ids {
		if err := m.rdb.Eval(ctx, forgetRoom, []string{m.k.rooms(), m.k.home(id), m.k.roomNodes(id)}, id).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return
		}
	}
}
