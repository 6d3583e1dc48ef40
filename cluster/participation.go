package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gosoup/gosoup/sfu"
)

// BeforeJoin is the signaling's hook before a local peer joins room: the
// member takes part in the room from now on and, the first time, creates
// the other nodes' peers and producers in it, so that the joining peer's
// join response lists them. It waits for Redis at most a few seconds
// (then the peers come later, as newPeer); it never refuses the join.
func (m *Member) BeforeJoin(ctx context.Context, room *sfu.Room, peerName string, spy bool) error {
	cr := m.attach(room)
	if cr == nil {
		return nil
	}
	cr.mu.Lock()
	cr.lastJoin = time.Now()
	cr.mu.Unlock()
	timeout := joinTimeout
	if !m.redisUp.Load() {
		timeout = redisDownJoinTimeout // the join should not wait for an outage
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := cr.join(ctx); err != nil {
		m.log.Warn("cluster: joining a room without the other nodes' state; the poll will catch up",
			"room", room.ID(), "peer", peerName, "err", err)
	}
	cr.replaceRemote(peerName)
	return nil
}

// replaceRemote closes a remote peer that has the name of a peer joining
// here: as on one node, where a new connection of a peer replaces the
// old one, the newest wins (the peer moved to this node; its old node
// drops it soon, until then its mirror waits).
func (cr *croom) replaceRemote(name string) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, mi := range cr.mirrors {
		if mi.peers[name] != nil {
			cr.m.log.Info("cluster: a peer joining here replaces its remote namesake", "room", cr.id, "peer", name, "remoteNode", mi.node)
			cr.closeRemotePeerLocked(mi, name, nil, false)
			mi.dirty = true
		}
	}
}

// attach returns the member's part in room, creating it; nil once closed.
func (m *Member) attach(room *sfu.Room) *croom {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	old := m.rooms[room.ID()]
	if old != nil && old.room == room {
		m.mu.Unlock()
		return old
	}
	m.counter++
	cr := newCroom(m, room, fmt.Sprintf("%s.%d", m.epoch, m.counter))
	cr.syncMu.Lock() // others wait in join until it is started
	m.rooms[cr.id] = cr
	m.mu.Unlock()
	if old != nil {
		m.detach(old, false) // a closed room of the same id
	}
	cr.start()
	cr.syncMu.Unlock()
	return cr
}

// join subscribes to the room's channel, writes our state and claims the
// room's home, then reads and mirrors the other nodes' states: once.
func (cr *croom) join(ctx context.Context) error {
	cr.syncMu.Lock()
	defer cr.syncMu.Unlock()
	if cr.joined {
		return nil
	}
	cr.mu.Lock()
	detached := cr.detached
	cr.mu.Unlock()
	if detached {
		return nil
	}
	m := cr.m
	if err := m.bus.subscribe(ctx, m.k.roomChannel(cr.id)); err != nil {
		return err
	}
	pipe := m.rdb.Pipeline()
	cr.writeState(ctx, pipe)
	pipe.Eval(ctx, claimHome, []string{m.k.home(cr.id)}, m.homeValue(cr.id), m.cfg.TTL.Milliseconds())
	pipe.SAdd(ctx, m.k.rooms(), cr.id)
	nodes := pipe.SMembers(ctx, m.k.roomNodes(cr.id))
	if _, err := pipe.Exec(ctx); err != nil {
		cr.markDirty()
		return fmt.Errorf("write room state: %w", err)
	}
	states, _, err := m.readStates(ctx, cr.id, nodes.Val())
	if err != nil {
		return err
	}
	cr.mu.Lock()
	for _, st := range states {
		if !cr.detached {
			cr.applyStateLocked(st)
		}
	}
	cr.mu.Unlock()
	cr.joined = true
	return nil
}

// detach ends the member's part in a room: its channel, its state in
// Redis, its remote peers and pipes. announce publishes the departure of
// the local peers still there (the member closes under them).
func (m *Member) detach(cr *croom, announce bool) {
	m.mu.Lock()
	if m.rooms[cr.id] == cr {
		delete(m.rooms, cr.id)
	}
	m.mu.Unlock()
	cr.mu.Lock()
	if cr.detached {
		cr.mu.Unlock()
		return
	}
	if announce {
		for _, lp := range cr.local {
			cr.publishLocked(&message{Type: msgPeerClosed, PeerName: lp.state.Name})
		}
	}
	cr.detached = true
	stop := cr.stop
	for _, mi := range cr.mirrors {
		for name, rp := range mi.peers {
			for id := range rp.producers {
				m.send(m.k.nodeChannel(mi.node), &message{
					Type: msgUnpipe, From: m.id, Room: cr.id, PeerName: name, ProducerID: id})
			}
		}
		cr.dropMirrorLocked(mi, false)
	}
	cr.mu.Unlock()
	if stop != nil {
		stop()
	}
	ctx, cancel := context.WithTimeout(m.ctx, redisTimeout)
	m.bus.unsubscribe(ctx, m.k.roomChannel(cr.id))
	cancel()
	id, k, me, home := cr.id, m.k, m.id, m.homeValue(cr.id)
	m.pub.push(outItem{extra: func(ctx context.Context, p redis.Pipeliner) {
		p.Del(ctx, k.roomState(id, me))
		p.SRem(ctx, k.roomNodes(id), me)
		p.Eval(ctx, releaseHome, []string{k.home(id)}, home)
		p.Eval(ctx, forgetRoom, []string{k.rooms(), k.home(id), k.roomNodes(id)}, id)
	}})
	m.closePipes(func(pk pipeKey) bool { return pk.room == id })
}

// roomByID returns the member's part in the room with this id, or nil.
func (m *Member) roomByID(id string) *croom {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[id]
}

// attached returns the member's rooms.
func (m *Member) attached() []*croom {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*croom, 0, len(m.rooms))
	for _, cr := range m.rooms {
		out = append(out, cr)
	}
	return out
}

// readState returns node's state of a room, nil when it has none; a
// state that fails verification is an error (what is mirrored of it is
// kept).
func (m *Member) readState(room, node string) (*roomState, error) {
	ctx, cancel := context.WithTimeout(m.ctx, redisTimeout)
	defer cancel()
	sts, refused, err := m.readStates(ctx, room, []string{node})
	if err == nil && refused > 0 {
		err = errors.New("room state refused")
	}
	if err != nil || len(sts) == 0 {
		return nil, err
	}
	return sts[0], nil
}

// readStates returns the states of a room of the given nodes (ours
// skipped) that have one, and how many were refused.
func (m *Member) readStates(ctx context.Context, room string, nodes []string) (out []*roomState, refused int, err error) {
	pipe := m.rdb.Pipeline()
	var cmds []*redis.StringCmd
	var from []string
	for _, n := range nodes {
		if n != m.id {
			cmds = append(cmds, pipe.HGet(ctx, m.k.roomState(room, n), "s"))
			from = append(from, n)
		}
	}
	if len(cmds) == 0 {
		return nil, 0, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, 0, fmt.Errorf("read room states: %w", err)
	}
	for i, c := range cmds {
		s, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read room state: %w", err)
		}
		st, err := m.openState(room, from[i], s)
		if err != nil {
			refused++
			continue
		}
		out = append(out, st)
	}
	return out, refused, nil
}

// openState verifies and decodes node's state of room (its "s" field);
// a state that fails is refused.
func (m *Member) openState(room, node, s string) (*roomState, error) {
	return openState(m.g, m.k, room, node, s)
}

// openState verifies and decodes a state hash's "s" field; a state that
// fails (another secret, forged, another node's) is refused.
func openState(g *guard, k keys, room, node, s string) (*roomState, error) {
	key := k.roomState(room, node)
	b, ok := g.check(kindState, stateField(key, "s"), s)
	if !ok {
		return nil, errors.New("room state refused")
	}
	var st roomState
	if err := json.Unmarshal(b, &st); err != nil || st.Node != node {
		err = fmt.Errorf("decode room state of %s: node %q, %v", node, st.Node, err)
		g.refuse(kindState, key, err)
		return nil, err
	}
	return &st, nil
}

// homeValue is this node's home claim of room: its id, sealed.
func (m *Member) homeValue(room string) string { return m.g.seal(m.k.home(room), []byte(m.id)) }
