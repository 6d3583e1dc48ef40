package cluster

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gosoup/gosoup/sfu"
)

// pipeKey names a pipe: one per producer and receiving node.
type pipeKey struct {
	room     string
	producer uint32
	node     string
}

// pipeOut is a pipe this node sends.
type pipeOut struct {
	out     *sfu.PipeOut
	addr    string
	nonce   []byte // its keys' nonce
	at      int64  // the newest request it answers (Unix ms)
	missing int    // polls in a row that found the receiving node out of the room
}

// handlePipe answers a node's request to pipe one of our producers to it.
func (m *Member) handlePipe(msg *message) {
	reply := &message{Type: msgPipeAck, From: m.id, Room: msg.Room, PeerName: msg.PeerName, ProducerID: msg.ProducerID}
	if err := m.startPipe(msg); err != nil {
		m.log.Info("cluster: pipe refused", "room", msg.Room, "producer", msg.ProducerID, "to", msg.From, "err", err)
		reply.Error = err.Error()
	}
	m.send(m.k.nodeChannel(msg.From), reply)
}

// startPipe starts the pipe msg asks for; a repeated request for a pipe
// already running to the same address with the same nonce changes
// nothing, a newer one with another address or nonce replaces it, an
// older one (a replay) is refused.
func (m *Member) startPipe(msg *message) error {
	if msg.Pipe == nil {
		return errors.New("no pipe address")
	}
	addr, err := msg.Pipe.addr()
	if err != nil {
		return err
	}
	keys, err := m.g.pipeKeys(msg.Pipe.Nonce)
	if err != nil {
		return err
	}
	cr := m.roomByID(msg.Room)
	if cr == nil {
		return fmt.Errorf("room %q is not on node %s", msg.Room, m.id)
	}
	prod := cr.localProducer(msg.PeerName, msg.ProducerID)
	if prod == nil {
		return fmt.Errorf("no producer %d of peer %q on node %s", msg.ProducerID, msg.PeerName, m.id)
	}
	k := pipeKey{room: msg.Room, producer: msg.ProducerID, node: msg.From}
	m.pipesMu.Lock()
	defer m.pipesMu.Unlock()
	if m.pipesClosed {
		return errors.New("node closing")
	}
	if cur := m.pipes[k]; cur != nil {
		if cur.addr == msg.Pipe.Addr && bytes.Equal(cur.nonce, msg.Pipe.Nonce) {
			cur.at = max(cur.at, msg.At)
			return nil
		}
		if msg.At < cur.at {
			return errors.New("pipe request older than the one running (a replay?)")
		}
		cur.out.Close()
		delete(m.pipes, k)
	}
	out, err := prod.PipeTo(addr, keys)
	if err != nil {
		return fmt.Errorf("pipe to %s: %w", addr, err)
	}
	po := &pipeOut{out: out, addr: msg.Pipe.Addr, nonce: msg.Pipe.Nonce, at: msg.At}
	m.pipes[k] = po
	m.log.Debug("cluster: piping", "room", msg.Room, "producer", msg.ProducerID, "to", msg.From, "addr", addr)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-out.Done():
		case <-m.ctx.Done():
			out.Close()
		}
		m.pipesMu.Lock()
		if m.pipes[k] == po {
			delete(m.pipes, k)
		}
		m.pipesMu.Unlock()
	}()
	return nil
}

// handleUnpipe stops a pipe its receiving node no longer needs.
func (m *Member) handleUnpipe(msg *message) {
	m.closePipes(func(k pipeKey) bool {
		return k.room == msg.Room && k.producer == msg.ProducerID && k.node == msg.From
	})
}

// handlePipeAck records the origin's answer to a pipe request.
func (m *Member) handlePipeAck(msg *message) {
	cr := m.roomByID(msg.Room)
	if cr == nil {
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	mi := cr.mirrors[msg.From]
	if mi == nil {
		return
	}
	rp := mi.peers[msg.PeerName]
	if rp == nil {
		return
	}
	rpr := rp.producers[msg.ProducerID]
	if rpr == nil {
		return
	}
	if msg.Error != "" {
		m.log.Info("cluster: pipe refused by its origin", "room", msg.Room, "producer", msg.ProducerID, "remoteNode", msg.From, "err", msg.Error)
		mi.dirty = true // the origin's state tells what is left
		return
	}
	rpr.acked = true
}

// handlePipeClosed: the origin stopped a pipe to us; the poll asks for
// it again while its producer is mirrored here.
func (m *Member) handlePipeClosed(msg *message) {
	cr := m.roomByID(msg.Room)
	if cr == nil {
		return
	}
	cr.mu.Lock()
	defer cr.mu.Unlock()
	if mi := cr.mirrors[msg.From]; mi != nil {
		for _, rp := range mi.peers {
			if rpr := rp.producers[msg.ProducerID]; rpr != nil {
				rpr.acked = false
			}
		}
	}
}

// closePipes closes the pipes whose key matches.
func (m *Member) closePipes(match func(pipeKey) bool) {
	m.pipesMu.Lock()
	var outs []*sfu.PipeOut
	for k, po := range m.pipes {
		if match(k) {
			outs = append(outs, po.out)
			delete(m.pipes, k)
		}
	}
	m.pipesMu.Unlock()
	for _, o := range outs {
		o.Close()
	}
}

// pipeTargets returns the receiving node of every pipe by room.
func (m *Member) pipeTargets() map[string][]string {
	m.pipesMu.Lock()
	defer m.pipesMu.Unlock()
	out := map[string][]string{}
	for k := range m.pipes {
		out[k.room] = append(out[k.room], k.node)
	}
	return out
}

// checkPipes closes the pipes to nodes that were found out of the room
// (gone, or left it) in two polls in a row; inRoom answers from the poll.
func (m *Member) checkPipes(inRoom func(room, node string) bool) {
	m.pipesMu.Lock()
	var outs []*sfu.PipeOut
	for k, po := range m.pipes {
		if inRoom(k.room, k.node) {
			po.missing = 0
			continue
		}
		if po.missing++; po.missing >= 2 {
			m.log.Info("cluster: closing a pipe to a node out of the room", "room", k.room, "producer", k.producer, "remoteNode", k.node)
			outs = append(outs, po.out)
			delete(m.pipes, k)
			m.send(m.k.nodeChannel(k.node), &message{
				Type: msgPipeClosed, From: m.id, Room: k.room, ProducerID: k.producer})
		}
	}
	m.pipesMu.Unlock()
	for _, o := range outs {
		o.Close()
	}
}
