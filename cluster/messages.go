package cluster

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// roomState is what one node has in a room: its local, visible peers in
// join order with their producers. It is stored in the node's state hash
// of the room and is what a receiver's mirror converges to.
type roomState struct {
	Node  string      `json:"node"`
	Epoch string      `json:"epoch"`
	Seq   uint64      `json:"seq"`
	Peers []peerState `json:"peers"`
}

// peerState is a peer as other nodes see it.
type peerState struct {
	Name      string          `json:"name"`
	AppData   json.RawMessage `json:"appData,omitempty"`
	Producers []producerState `json:"producers,omitempty"`
}

// producerState is a producer as other nodes see it: what their pipe
// producer is created with.
type producerState struct {
	ID            uint32               `json:"id"`
	Kind          string               `json:"kind"`
	RTPParameters rtpparams.Parameters `json:"rtpParameters"` // the origin's PipeParameters
	Paused        bool                 `json:"paused"`
	AppData       json.RawMessage      `json:"appData,omitempty"`
}

// Types of the messages on a room channel (deltas of one node's state).
const (
	msgPeer            = "peer"
	msgPeerClosed      = "peerClosed"
	msgProducer        = "producer"
	msgProducerClosed  = "producerClosed"
	msgProducerPaused  = "producerPaused"
	msgProducerResumed = "producerResumed"
)

// Types of the messages on a node channel.
const (
	msgPipe    = "pipe"    // please pipe a producer to me
	msgPipeAck = "pipeAck" // answer to msgPipe
	msgUnpipe  = "unpipe"  // I no longer need that pipe
	// msgPipeClosed: I stopped piping to you (you seemed out of the room);
	// ask again if you still need it.
	msgPipeClosed = "pipeClosed"
)

// message is every message on the channels. Room deltas carry Epoch and
// Seq (the version of the sender's state they lead to), Peer or PeerName
// and Producer or ProducerID; node requests carry Room, PeerName,
// ProducerID and, for msgPipe, Pipe.
type message struct {
	Type       string          `json:"t"`
	From       string          `json:"from"`
	Room       string          `json:"room,omitempty"`
	Epoch      string          `json:"epoch,omitempty"`
	Seq        uint64          `json:"seq,omitempty"`
	Peer       *peerState      `json:"peer,omitempty"`
	PeerName   string          `json:"peerName,omitempty"`
	Producer   *producerState  `json:"producer,omitempty"`
	ProducerID uint32          `json:"producerId,omitempty"`
	AppData    json.RawMessage `json:"appData,omitempty"`
	Pipe       *pipeRequest    `json:"pipe,omitempty"`
	// At is when a pipe request was made (Unix ms): an origin refuses a
	// request older than the one its pipe runs by (a replay).
	At    int64  `json:"at,omitempty"`
	Error string `json:"error,omitempty"`
}

// pipeRequest says where to send a producer's pipe and the public nonce
// its SRTP keys are derived from with the cluster secret (base64 in
// JSON): the keys themselves never travel.
type pipeRequest struct {
	Addr  string `json:"addr"`
	Nonce []byte `json:"nonce"`
}

func newPipeRequest(addr netip.AddrPort, nonce []byte) *pipeRequest {
	return &pipeRequest{Addr: addr.String(), Nonce: nonce}
}

func (r *pipeRequest) addr() (netip.AddrPort, error) {
	a, err := netip.ParseAddrPort(r.Addr)
	if err != nil {
		return a, fmt.Errorf("pipe address: %w", err)
	}
	return a, nil
}

func encode(m *message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("cluster: encode %s: %v", m.Type, err)) // plain structs: cannot fail
	}
	return b
}

func decode(b []byte) (*message, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	if m.Type == "" || m.From == "" {
		return nil, fmt.Errorf("decode message: no type or sender")
	}
	return &m, nil
}

// version is the "v" field of a state hash: epoch and sequence number.
func version(epoch string, seq uint64) string { return epoch + "/" + strconv.FormatUint(seq, 10) }

// parseVersion splits a version; ok is false for a malformed one.
func parseVersion(v string) (epoch string, seq uint64, ok bool) {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(v[i+1:], 10, 64)
	return v[:i], seq, err == nil
}
