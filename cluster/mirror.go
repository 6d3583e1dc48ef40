package cluster

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/gosoup/gosoup/sfu"
)

// mirror is what this node made of another node's state in a room: a
// remote peer per peer there, a pipe producer per producer.
type mirror struct {
	node  string
	epoch string
	seq   uint64
	peers map[string]*remotePeer
	// dirty: something could not be applied (a name taken, a Redis read
	// failed): the poll reads the state again.
	dirty bool
	// touched is when a message or state of the node was last applied: a
	// poll whose reads are older does not drop the mirror.
	touched time.Time
}

// remotePeer is a peer of another node, as a peer of the local room.
type remotePeer struct {
	peer      *sfu.Peer
	producers map[uint32]*remoteProducer
}

// remoteProducer is a pipe producer and the state of its pipe.
type remoteProducer struct {
	prod   *sfu.Producer
	paused bool
	addr   netip.AddrPort
	nonce  []byte    // the public nonce its keys are derived from
	acked  bool      // the origin answered that it pipes
	asked  time.Time // last pipe request
}

// applyDeltaLocked applies a numbered change of node msg.From's state; a
// message of another epoch or after a gap makes it read the whole state.
func (cr *croom) applyDeltaLocked(msg *message) {
	mi := cr.mirrors[msg.From]
	if mi == nil || mi.epoch != msg.Epoch {
		cr.resyncLocked(msg.From)
		return
	}
	if msg.Seq <= mi.seq {
		return // already in the state read
	}
	if msg.Seq != mi.seq+1 {
		cr.resyncLocked(msg.From)
		return
	}
	mi.seq, mi.touched = msg.Seq, time.Now()
	switch msg.Type {
	case msgPeer:
		if msg.Peer != nil && mi.peers[msg.Peer.Name] == nil {
			cr.addRemotePeerLocked(mi, *msg.Peer)
		}
	case msgPeerClosed:
		cr.closeRemotePeerLocked(mi, msg.PeerName, msg.AppData, false)
	case msgProducer:
		rp := mi.peers[msg.PeerName]
		if rp == nil || msg.Producer == nil {
			mi.dirty = true
			return
		}
		if rp.producers[msg.Producer.ID] == nil {
			cr.addPipeProducerLocked(mi, msg.PeerName, rp, *msg.Producer)
		}
	case msgProducerClosed:
		if rp := mi.peers[msg.PeerName]; rp != nil {
			if rpr := rp.producers[msg.ProducerID]; rpr != nil {
				delete(rp.producers, msg.ProducerID)
				rpr.prod.Close()
			}
		}
	case msgProducerPaused, msgProducerResumed:
		if rp := mi.peers[msg.PeerName]; rp != nil {
			if rpr := rp.producers[msg.ProducerID]; rpr != nil {
				rpr.setPaused(msg.Type == msgProducerPaused)
			}
		}
	}
}

// resyncLocked reads node's state of the room and applies it.
func (cr *croom) resyncLocked(node string) {
	st, err := cr.m.readState(cr.id, node)
	if err != nil {
		cr.m.log.Debug("cluster: read room state", "room", cr.id, "remoteNode", node, "err", err)
		if mi := cr.mirrors[node]; mi != nil {
			mi.dirty = true
		}
		return
	}
	if st == nil {
		if mi := cr.mirrors[node]; mi != nil {
			cr.dropMirrorLocked(mi, false)
		}
		return
	}
	cr.applyStateLocked(st)
}

// applyStateLocked makes the mirror of st.Node match st.
func (cr *croom) applyStateLocked(st *roomState) {
	mi := cr.mirrors[st.Node]
	if mi != nil && mi.epoch == st.Epoch && st.Seq < mi.seq {
		return // read before deltas that were applied meanwhile
	}
	if mi != nil && mi.epoch != st.Epoch {
		cr.dropMirrorLocked(mi, true) // the node restarted or reopened the room: its old peers are gone
		mi = nil
	}
	if mi == nil {
		mi = &mirror{node: st.Node, peers: map[string]*remotePeer{}}
		cr.mirrors[st.Node] = mi
	}
	mi.epoch, mi.seq, mi.dirty, mi.touched = st.Epoch, st.Seq, false, time.Now()
	want := make(map[string]*peerState, len(st.Peers))
	for i := range st.Peers {
		want[st.Peers[i].Name] = &st.Peers[i]
	}
	for name := range mi.peers {
		if want[name] == nil {
			cr.closeRemotePeerLocked(mi, name, nil, false)
		}
	}
	for _, ps := range st.Peers {
		rp := mi.peers[ps.Name]
		if rp == nil {
			cr.addRemotePeerLocked(mi, ps)
			continue
		}
		wantProd := make(map[uint32]bool, len(ps.Producers))
		for _, pst := range ps.Producers {
			wantProd[pst.ID] = true
		}
		for id, rpr := range rp.producers {
			if !wantProd[id] {
				delete(rp.producers, id)
				rpr.prod.Close()
			}
		}
		for _, pst := range ps.Producers {
			if rpr := rp.producers[pst.ID]; rpr != nil {
				rpr.setPaused(pst.Paused)
			} else {
				cr.addPipeProducerLocked(mi, ps.Name, rp, pst)
			}
		}
	}
}

// addRemotePeerLocked joins a remote peer to the local room, with its
// producers.
func (cr *croom) addRemotePeerLocked(mi *mirror, ps peerState) {
	p, err := cr.room.JoinRemotePeer(ps.Name, ps.AppData)
	if err != nil {
		// A local peer or another node's peer has the name (it may be
		// on its way out): try again at the next poll.
		cr.m.log.Debug("cluster: remote peer not joined", "room", cr.id, "peer", ps.Name, "remoteNode", mi.node, "err", err)
		mi.dirty = true
		return
	}
	cr.remote[p] = true
	rp := &remotePeer{peer: p, producers: map[uint32]*remoteProducer{}}
	mi.peers[ps.Name] = rp
	for _, pst := range ps.Producers {
		cr.addPipeProducerLocked(mi, ps.Name, rp, pst)
	}
}

// closeRemotePeerLocked closes a remote peer: the local peers get
// peerClosed. abrupt (its node died) closes its producers first, so that
// the local consumers get consumerClosed too.
func (cr *croom) closeRemotePeerLocked(mi *mirror, name string, appData json.RawMessage, abrupt bool) {
	rp := mi.peers[name]
	if rp == nil {
		return
	}
	delete(mi.peers, name)
	if abrupt {
		for _, rpr := range rp.producers {
			rpr.prod.Close()
		}
	}
	rp.peer.Close(appData)
}

// dropMirrorLocked closes every peer of a node and forgets its mirror.
func (cr *croom) dropMirrorLocked(mi *mirror, abrupt bool) {
	for name := range mi.peers {
		cr.closeRemotePeerLocked(mi, name, nil, abrupt)
	}
	delete(cr.mirrors, mi.node)
}

// addPipeProducerLocked creates the pipe producer of a remote producer
// and asks its node to pipe it here.
func (cr *croom) addPipeProducerLocked(mi *mirror, peerName string, rp *remotePeer, pst producerState) {
	// The keys never travel: the origin derives them from the cluster
	// secret and the nonce of the request.
	nonce := newPipeNonce()
	keys, err := cr.m.g.pipeKeys(nonce)
	if err != nil {
		cr.m.log.Error("cluster: pipe keys", "err", err)
		return
	}
	// Created running and paused right after: a producer created paused
	// is paused "by its client", which Resume does not undo.
	prod, addr, err := rp.peer.CreatePipeProducer(sfu.PipeProducerOptions{
		ID: pst.ID, Kind: pst.Kind, RTPParameters: pst.RTPParameters, AppData: pst.AppData, Keys: keys,
	})
	if err != nil {
		cr.m.log.Warn("cluster: pipe producer not created", "room", cr.id, "peer", peerName, "producer", pst.ID, "err", err)
		mi.dirty = true
		return
	}
	rpr := &remoteProducer{prod: prod, addr: addr, nonce: nonce}
	rpr.setPaused(pst.Paused)
	rp.producers[pst.ID] = rpr
	cr.askPipeLocked(mi.node, peerName, rpr)
}

// askPipeLocked (again) asks the origin node to pipe rpr here.
func (cr *croom) askPipeLocked(node, peerName string, rpr *remoteProducer) {
	rpr.asked = time.Now()
	cr.m.send(cr.m.k.nodeChannel(node), &message{
		Type: msgPipe, From: cr.m.id, Room: cr.id, PeerName: peerName, ProducerID: rpr.prod.ID(),
		At: rpr.asked.UnixMilli(), Pipe: newPipeRequest(rpr.addr, rpr.nonce),
	})
}

func (rpr *remoteProducer) setPaused(paused bool) {
	if rpr.paused == paused {
		return
	}
	rpr.paused = paused
	if paused {
		rpr.prod.Pause(nil)
	} else {
		rpr.prod.Resume(nil)
	}
}
