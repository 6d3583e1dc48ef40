package cluster

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gosoup/gosoup/sfu"
)

// croom is the member's part in one open sfu.Room: the model of its local
// peers that it publishes (this file) and the mirrors of the other nodes'
// peers (mirror.go).
type croom struct {
	m     *Member
	room  *sfu.Room
	id    string
	epoch string // this node's incarnation of the room: receivers resync when it changes

	syncMu sync.Mutex // serializes start and join
	joined bool       // subscribed and synced once (under syncMu)

	mu          sync.Mutex
	stop        func() // cancels the observer
	detached    bool
	seq         uint64
	dirty       bool // the state in Redis is stale: write it at the next poll
	local       []*localPeer
	localByPeer map[*sfu.Peer]*localPeer
	spies       map[*sfu.Peer]bool
	remote      map[*sfu.Peer]bool // remote peers, until their PeerClosed event
	mirrors     map[string]*mirror // by node id
	lastJoin    time.Time
}

// localPeer is a visible local peer and its producers, as published.
type localPeer struct {
	peer      *sfu.Peer
	state     peerState
	producers map[uint32]*sfu.Producer
}

func newCroom(m *Member, room *sfu.Room, epoch string) *croom {
	return &croom{
		m: m, room: room, id: room.ID(), epoch: epoch, dirty: true,
		localByPeer: map[*sfu.Peer]*localPeer{},
		spies:       map[*sfu.Peer]bool{},
		remote:      map[*sfu.Peer]bool{},
		mirrors:     map[string]*mirror{},
		lastJoin:    time.Now(),
	}
}

// start observes the room and takes in the local peers it already has
// (WHIP or ingest peers of a room found by the poll).
func (cr *croom) start() {
	stop := cr.room.Observe(sfu.Observer{
		NewPeer:         cr.onNewPeer,
		PeerClosed:      cr.onPeerClosed,
		NewProducer:     cr.onNewProducer,
		ProducerClosed:  cr.onProducerClosed,
		ProducerPaused:  func(p *sfu.Producer) { cr.onProducerPause(p, true) },
		ProducerResumed: func(p *sfu.Producer) { cr.onProducerPause(p, false) },
		RoomClosed:      func(*sfu.Room) { cr.m.detach(cr, false) },
	})
	cr.mu.Lock()
	cr.stop = stop
	cr.mu.Unlock()
	for _, p := range cr.room.Peers() {
		cr.onNewPeer(p)
		for _, prod := range p.Producers() {
			cr.onNewProducer(prod)
		}
	}
	if cr.room.Closed() {
		cr.m.detach(cr, false)
	}
}

// hasLocal reports whether local peers (spies included) are in the room
// or one joined lately (its join may still be on its way).
func (cr *croom) hasLocal(now time.Time, grace time.Duration) bool {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	return len(cr.local) > 0 || len(cr.spies) > 0 || now.Sub(cr.lastJoin) < grace
}

// publishLocked numbers a delta of the local state and queues it.
func (cr *croom) publishLocked(msg *message) {
	if cr.detached {
		return
	}
	cr.seq++
	msg.From, msg.Room, msg.Epoch, msg.Seq = cr.m.id, cr.id, cr.epoch, cr.seq
	ch := cr.m.k.roomChannel(cr.id)
	if !cr.m.pub.push(outItem{room: cr, channel: ch, payload: cr.m.sealed(ch, msg)}) {
		cr.dirty = true // the receivers see the gap and read the state the poll writes
	}
}

// stateLocked is the local state as stored in Redis.
func (cr *croom) stateLocked() roomState {
	st := roomState{Node: cr.m.id, Epoch: cr.epoch, Seq: cr.seq, Peers: make([]peerState, 0, len(cr.local))}
	for _, lp := range cr.local {
		st.Peers = append(st.Peers, lp.state)
	}
	return st
}

// stateField names a field of a state hash for sealing: a sealed value is
// valid in that field of that key only.
func stateField(key, field string) string { return key + "#" + field }

// writeState adds the writing of the local state to pipe (nothing once
// detached).
func (cr *croom) writeState(ctx context.Context, pipe redis.Pipeliner) {
	cr.mu.Lock()
	if cr.detached {
		cr.mu.Unlock()
		return
	}
	st := cr.stateLocked()
	b, err := json.Marshal(st)
	cr.dirty = false
	cr.mu.Unlock()
	if err != nil {
		cr.m.log.Error("cluster: encode room state", "room", cr.id, "err", err)
		return
	}
	k, ttl := cr.m.k, cr.m.cfg.TTL
	key := k.roomState(cr.id, cr.m.id)
	pipe.HSet(ctx, key, "v", cr.m.g.seal(stateField(key, "v"), []byte(version(st.Epoch, st.Seq))),
		"s", cr.m.g.seal(stateField(key, "s"), b))
	pipe.PExpire(ctx, key, ttl)
	pipe.SAdd(ctx, k.roomNodes(cr.id), cr.m.id)
	pipe.PExpire(ctx, k.roomNodes(cr.id), ttl)
}

func (cr *croom) onNewPeer(p *sfu.Peer) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.detached || cr.remote[p] || cr.localByPeer[p] != nil || cr.spies[p] || p.Closed() {
		return
	}
	if p.Spy() {
		cr.spies[p] = true
		return
	}
	lp := &localPeer{peer: p, state: peerState{Name: p.Name(), AppData: p.AppData()}, producers: map[uint32]*sfu.Producer{}}
	cr.local = append(cr.local, lp)
	cr.localByPeer[p] = lp
	cr.publishLocked(&message{Type: msgPeer, Peer: &peerState{Name: lp.state.Name, AppData: lp.state.AppData}})
}

func (cr *croom) onPeerClosed(p *sfu.Peer) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if cr.remote[p] {
		delete(cr.remote, p)
		return
	}
	delete(cr.spies, p)
	lp := cr.localByPeer[p]
	if lp == nil {
		return
	}
	delete(cr.localByPeer, p)
	cr.local = slices.DeleteFunc(cr.local, func(x *localPeer) bool { return x == lp })
	cr.publishLocked(&message{Type: msgPeerClosed, PeerName: lp.state.Name})
}

func (cr *croom) onNewProducer(prod *sfu.Producer) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	lp := cr.localByPeer[prod.Peer()]
	if lp == nil || lp.producers[prod.ID()] != nil || cr.detached {
		return // a remote peer's pipe producer, or known
	}
	ps := producerState{ID: prod.ID(), Kind: prod.Kind(), RTPParameters: prod.PipeParameters(),
		Paused: prod.Paused(), AppData: producerAppData(prod)}
	lp.producers[ps.ID] = prod
	lp.state.Producers = append(slices.Clip(lp.state.Producers), ps)
	cr.publishLocked(&message{Type: msgProducer, PeerName: lp.state.Name, Producer: &ps})
}

func (cr *croom) onProducerClosed(prod *sfu.Producer) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	lp := cr.localByPeer[prod.Peer()]
	if lp == nil || lp.producers[prod.ID()] != prod {
		return
	}
	delete(lp.producers, prod.ID())
	if prod.Peer().Closed() {
		// The peer is leaving: its peerClosed follows and takes the
		// producer with it, as on one node (no consumerClosed then).
		return
	}
	lp.state.Producers = slices.DeleteFunc(slices.Clone(lp.state.Producers), func(x producerState) bool { return x.ID == prod.ID() })
	cr.publishLocked(&message{Type: msgProducerClosed, PeerName: lp.state.Name, ProducerID: prod.ID()})
}

func (cr *croom) onProducerPause(prod *sfu.Producer, paused bool) {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	lp := cr.localByPeer[prod.Peer()]
	if lp == nil || lp.producers[prod.ID()] != prod {
		return
	}
	i := slices.IndexFunc(lp.state.Producers, func(x producerState) bool { return x.ID == prod.ID() })
	if i < 0 || lp.state.Producers[i].Paused == paused {
		return
	}
	lp.state.Producers = slices.Clone(lp.state.Producers)
	lp.state.Producers[i].Paused = paused
	typ := msgProducerResumed
	if paused {
		typ = msgProducerPaused
	}
	cr.publishLocked(&message{Type: typ, PeerName: lp.state.Name, ProducerID: prod.ID()})
}

// localProducer returns the local producer with this id of the named
// peer, or nil.
func (cr *croom) localProducer(peerName string, id uint32) *sfu.Producer {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	for _, lp := range cr.local {
		if lp.state.Name == peerName {
			return lp.producers[id]
		}
	}
	return nil
}

// producerAppData returns the appData a producer was created with.
func producerAppData(p *sfu.Producer) json.RawMessage { return p.AppData() }
