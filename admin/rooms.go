package admin

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu"
)

// Cluster is what the API knows of the other nodes of a cluster (--redis):
// the room directory they publish. Without it the answers are this node's.
type Cluster interface {
	// Rooms reads the rooms of every node: for each, the nodes taking
	// part and their local visible peers.
	Rooms(ctx context.Context) ([]ClusterRoom, error)
}

// ClusterRoom is one room of the cluster's directory.
type ClusterRoom struct {
	ID    string
	Home  string // the node holding the room's home claim
	Nodes []ClusterNode
}

// ClusterNode is one node's part in a room: its local visible peers, and
// where it is reached (its signaling URL, whose host also serves its admin
// API).
type ClusterNode struct {
	Node  string
	URL   string
	Peers []string
}

// clusterTimeout bounds a read of the cluster's directory.
const clusterTimeout = 3 * time.Second

// RoomList answers GET /admin/rooms.
type RoomList struct {
	// Node is the id of the node that answered.
	Node string `json:"node"`
	// Cluster: the list covers every node of the cluster; false: this
	// node's rooms only (no cluster, or reading it failed: ClusterError).
	Cluster      bool          `json:"cluster"`
	ClusterError string        `json:"clusterError,omitempty"`
	Rooms        []RoomSummary `json:"rooms"`
}

// RoomSummary is one room: its visible peers over all nodes and each
// node's part.
type RoomSummary struct {
	ID    string `json:"id"`
	Peers int    `json:"peers"`
	// Home is the node holding the room's home claim (cluster only).
	Home  string        `json:"home,omitempty"`
	Nodes []NodeSummary `json:"nodes"`
}

// NodeSummary is one node's part in a room. Spies, producers and
// consumers are known for the answering node only.
type NodeSummary struct {
	Node      string `json:"node"`
	URL       string `json:"url,omitempty"`
	Peers     int    `json:"peers"`
	Spies     *int   `json:"spies,omitempty"`
	Producers *int   `json:"producers,omitempty"`
	Consumers *int   `json:"consumers,omitempty"`
}

// RoomDetail answers GET /admin/rooms/{room}.
type RoomDetail struct {
	ID   string `json:"id"`
	Node string `json:"node"`
	// Local: the answering node takes part in the room, and Peers show
	// their transports, producers and consumers as this node has them
	// (a remote peer's producers are the pipes that feed this node).
	// Otherwise Peers are the names and nodes of the cluster directory.
	Local bool         `json:"local"`
	Peers []PeerDetail `json:"peers"`
}

// PeerDetail is one peer of a room.
type PeerDetail struct {
	Name    string          `json:"name"`
	Node    string          `json:"node,omitempty"`
	AppData json.RawMessage `json:"appData,omitempty"`
	Spy     bool            `json:"spy"`
	// Remote: the peer is connected to another node (Node).
	Remote     bool              `json:"remote"`
	Transports []TransportDetail `json:"transports"`
	Producers  []ProducerDetail  `json:"producers"`
	Consumers  []ConsumerDetail  `json:"consumers"`
}

// TransportDetail is a transport and its transportStats object.
type TransportDetail struct {
	ID        uint32                 `json:"id"`
	Kind      string                 `json:"kind"`      // "webrtc" or "plain"
	Direction string                 `json:"direction"` // "send" or "recv"
	Closed    bool                   `json:"closed"`
	AppData   json.RawMessage        `json:"appData,omitempty"`
	Stats     protocol.TransportStat `json:"stats"`
}

// ProducerDetail is a producer, who paused it, and its inbound-rtp stats
// (one per stream).
type ProducerDetail struct {
	ID             uint32                    `json:"id"`
	Kind           string                    `json:"kind"`
	PeerName       string                    `json:"peerName"`
	TransportID    uint32                    `json:"transportId"`
	Paused         bool                      `json:"paused"`
	PausedByServer bool                      `json:"pausedByServer"`
	PausedByClient bool                      `json:"pausedByClient"`
	Consumers      int                       `json:"consumers"`
	AppData        json.RawMessage           `json:"appData,omitempty"`
	Stats          []protocol.InboundRTPStat `json:"stats"`
}

// ConsumerDetail is a consumer, its state and its stats (the producer
// stream it forwards, then its own outbound-rtp stream).
type ConsumerDetail struct {
	ID               uint32 `json:"id"`
	Kind             string `json:"kind"`
	ProducerID       uint32 `json:"producerId"`
	ProducerPeer     string `json:"producerPeer"`
	Enabled          bool   `json:"enabled"`
	TransportID      uint32 `json:"transportId,omitempty"`
	Active           bool   `json:"active"`
	Paused           bool   `json:"paused"`
	PausedByServer   bool   `json:"pausedByServer"`
	PausedByClient   bool   `json:"pausedByClient"`
	SourcePaused     bool   `json:"sourcePaused"`
	PreferredProfile string `json:"preferredProfile"`
	EffectiveProfile string `json:"effectiveProfile,omitempty"`
	Stats            []any  `json:"stats"`
}

// clusterRooms reads the cluster's directory (nil without a cluster).
func (h *Handler) clusterRooms(ctx context.Context) ([]ClusterRoom, error) {
	if h.opts.Cluster == nil {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, clusterTimeout)
	defer cancel()
	rooms, err := h.opts.Cluster.Rooms(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the cluster's rooms: %w", err)
	}
	return rooms, nil
}

// listRooms answers GET /admin/rooms: this node's rooms with live counts,
// merged with the other nodes' parts from the cluster directory.
func (h *Handler) listRooms(w http.ResponseWriter, r *http.Request) {
	out := RoomList{Node: h.opts.NodeID, Rooms: []RoomSummary{}}
	byID := map[string]*RoomSummary{}
	room := func(id string) *RoomSummary {
		if byID[id] == nil {
			byID[id] = &RoomSummary{ID: id, Nodes: []NodeSummary{}}
		}
		return byID[id]
	}
	crooms, err := h.clusterRooms(r.Context())
	if err != nil {
		h.log.Warn("admin: rooms of this node only", "err", err)
		out.ClusterError = err.Error()
	} else {
		out.Cluster = h.opts.Cluster != nil
	}
	for _, lr := range h.localRooms() {
		s := room(lr.ID())
		s.Nodes = append(s.Nodes, h.localPart(lr))
	}
	for _, cr := range crooms {
		s := room(cr.ID)
		s.Home = cr.Home
		for _, n := range cr.Nodes {
			if n.Node == h.opts.NodeID {
				continue // this node's part is counted live above
			}
			s.Nodes = append(s.Nodes, NodeSummary{Node: n.Node, URL: n.URL, Peers: len(n.Peers)})
		}
	}
	for _, s := range byID {
		if len(s.Nodes) == 0 {
			continue // only this node's stale state in the directory
		}
		slices.SortFunc(s.Nodes, func(a, b NodeSummary) int { return cmp.Compare(a.Node, b.Node) })
		for _, n := range s.Nodes {
			s.Peers += n.Peers
		}
		out.Rooms = append(out.Rooms, *s)
	}
	slices.SortFunc(out.Rooms, func(a, b RoomSummary) int { return cmp.Compare(a.ID, b.ID) })
	writeJSON(w, http.StatusOK, out)
}

// localRooms returns this node's open rooms.
func (h *Handler) localRooms() []*sfu.Room {
	var out []*sfu.Room
	for _, r := range h.opts.Server.Rooms() {
		if !r.Closed() {
			out = append(out, r)
		}
	}
	return out
}

// localPart counts this node's own peers of a room (remote peers are
// counted by their node).
func (h *Handler) localPart(room *sfu.Room) NodeSummary {
	var peers, spies, producers, consumers int
	for _, p := range room.Peers() {
		if p.Remote() {
			continue
		}
		if p.Spy() {
			spies++
		} else {
			peers++
		}
		producers += len(p.Producers())
		consumers += len(p.Consumers())
	}
	return NodeSummary{Node: h.opts.NodeID, Peers: peers, Spies: &spies, Producers: &producers, Consumers: &consumers}
}

// getRoom answers GET /admin/rooms/{room}.
func (h *Handler) getRoom(w http.ResponseWriter, r *http.Request) {
	roomID := r.PathValue("room")
	crooms, err := h.clusterRooms(r.Context())
	if err != nil {
		h.log.Warn("admin: room of this node only", "room", roomID, "err", err)
	}
	nodeOf := peerNodes(crooms, roomID)
	room := h.records.room(roomID)
	if room == nil {
		out := RoomDetail{ID: roomID, Node: h.opts.NodeID, Peers: []PeerDetail{}}
		nodes := 0
		if cr := findClusterRoom(crooms, roomID); cr != nil {
			for _, n := range cr.Nodes {
				if n.Node == h.opts.NodeID {
					continue // stale: the room is not open here
				}
				nodes++
				for _, name := range n.Peers {
					out.Peers = append(out.Peers, PeerDetail{Name: name, Node: n.Node, Remote: true,
						Transports: []TransportDetail{}, Producers: []ProducerDetail{}, Consumers: []ConsumerDetail{}})
				}
			}
		}
		if nodes == 0 {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no room %q", roomID))
			return
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out := RoomDetail{ID: roomID, Node: h.opts.NodeID, Local: true, Peers: []PeerDetail{}}
	for _, p := range room.Peers() {
		d := peerDetail(p)
		d.Node = h.opts.NodeID
		if p.Remote() {
			d.Node = nodeOf[p.Name()]
		}
		out.Peers = append(out.Peers, d)
	}
	writeJSON(w, http.StatusOK, out)
}

// peerNodes maps the peers of a room in the cluster directory to their
// nodes.
func peerNodes(crooms []ClusterRoom, roomID string) map[string]string {
	out := map[string]string{}
	if cr := findClusterRoom(crooms, roomID); cr != nil {
		for _, n := range cr.Nodes {
			for _, name := range n.Peers {
				out[name] = n.Node
			}
		}
	}
	return out
}

func findClusterRoom(crooms []ClusterRoom, id string) *ClusterRoom {
	for i := range crooms {
		if crooms[i].ID == id {
			return &crooms[i]
		}
	}
	return nil
}

// peerDetail describes a peer and its objects, in id order.
func peerDetail(p *sfu.Peer) PeerDetail {
	d := PeerDetail{Name: p.Name(), AppData: p.AppData(), Spy: p.Spy(), Remote: p.Remote(),
		Transports: []TransportDetail{}, Producers: []ProducerDetail{}, Consumers: []ConsumerDetail{}}
	for _, t := range p.Transports() {
		d.Transports = append(d.Transports, TransportDetail{ID: t.ID(), Kind: t.Kind(), Direction: t.Direction(),
			Closed: t.Closed(), AppData: t.AppData(), Stats: t.Stats()})
	}
	slices.SortFunc(d.Transports, func(a, b TransportDetail) int { return cmp.Compare(a.ID, b.ID) })
	for _, prod := range p.Producers() {
		d.Producers = append(d.Producers, producerDetail(prod))
	}
	slices.SortFunc(d.Producers, func(a, b ProducerDetail) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range p.Consumers() {
		st := c.State()
		d.Consumers = append(d.Consumers, ConsumerDetail{
			ID: c.ID(), Kind: c.Kind(), ProducerID: c.Producer().ID(), ProducerPeer: c.Producer().Peer().Name(),
			Enabled: st.Enabled, TransportID: st.TransportID, Active: st.Active,
			Paused:         st.PausedByServer || st.PausedByClient || st.SourcePaused,
			PausedByServer: st.PausedByServer, PausedByClient: st.PausedByClient, SourcePaused: st.SourcePaused,
			PreferredProfile: st.PreferredProfile, EffectiveProfile: st.EffectiveProfile,
			Stats: c.GetStats(),
		})
	}
	slices.SortFunc(d.Consumers, func(a, b ConsumerDetail) int { return cmp.Compare(a.ID, b.ID) })
	return d
}

// producerDetail describes a producer as it is now.
func producerDetail(p *sfu.Producer) ProducerDetail {
	st := p.State()
	return ProducerDetail{
		ID: p.ID(), Kind: p.Kind(), PeerName: p.Peer().Name(), TransportID: p.Transport().ID(),
		Paused: p.Paused(), PausedByServer: st.PausedByServer, PausedByClient: st.PausedByClient,
		Consumers: st.Consumers, AppData: p.AppData(), Stats: p.GetStats(),
	}
}
