package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
)

// Status is a cluster as Redis shows it.
type Status struct {
	Nodes []NodeInfo   `json:"nodes"` // live nodes by id
	Rooms []RoomStatus `json:"rooms"` // rooms with at least one node, by id
	At    time.Time    `json:"at"`
	Stale []string     `json:"staleNodes,omitempty"` // in the node set without a live registration
	// Refused counts the entries that failed verification with the
	// secret (written with another secret, or forged): not shown.
	Refused int `json:"refused,omitempty"`
}

// RoomStatus is one room of the directory.
type RoomStatus struct {
	ID    string     `json:"id"`
	Home  string     `json:"home,omitempty"` // the node holding the home claim
	Nodes []RoomNode `json:"nodes"`
}

// RoomNode is one node's part in a room: its local (visible) peers.
type RoomNode struct {
	Node  string   `json:"node"`
	Peers []string `json:"peers"`
}

// ReadStatus reads the nodes and rooms of the cluster with this key
// prefix (DefaultPrefix when empty) from the Redis server at redisURL,
// verifying every entry with the cluster secret: entries that fail are
// left out (counted in Status.Refused).
func ReadStatus(ctx context.Context, redisURL, prefix, secret string) (*Status, error) {
	seal, err := newSealer(secret)
	if err != nil {
		return nil, err
	}
	opt, err := redisOptions(redisURL, nil)
	if err != nil {
		return nil, err
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	opt.MaxRetries, opt.DialerRetries = -1, 1
	opt.DisableIdentity = true
	setRedisLogger(slog.New(slog.DiscardHandler)) // errors come back as errors
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if prefix == "" {
		prefix = DefaultPrefix
	}
	g := newGuard(seal, slog.New(slog.DiscardHandler))
	st, err := readStatus(ctx, rdb, keys{prefix: prefix}, g)
	if st != nil {
		for _, n := range g.refused() {
			st.Refused += int(n)
		}
	}
	return st, err
}

func readStatus(ctx context.Context, rdb *redis.Client, k keys, g *guard) (*Status, error) {
	nodes, stale, _, err := readNodes(ctx, rdb, k, g)
	if err != nil {
		return nil, err
	}
	st := &Status{At: time.Now(), Stale: stale}
	for _, n := range nodes {
		st.Nodes = append(st.Nodes, *n)
	}
	slices.SortFunc(st.Nodes, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
	ids, err := rdb.SMembers(ctx, k.rooms()).Result()
	if err != nil {
		return nil, fmt.Errorf("read rooms: %w", err)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rs, err := readRoom(ctx, rdb, k, g, id)
		if err != nil {
			return nil, err
		}
		if len(rs.Nodes) > 0 {
			st.Rooms = append(st.Rooms, rs)
		}
	}
	return st, nil
}

// readRoom reads a room's home and its nodes' states.
func readRoom(ctx context.Context, rdb *redis.Client, k keys, g *guard, id string) (RoomStatus, error) {
	rs := RoomStatus{ID: id}
	home, err := rdb.Get(ctx, k.home(id)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return rs, fmt.Errorf("read home of %q: %w", id, err)
	}
	if err == nil {
		if b, ok := g.check(kindHome, k.home(id), home); ok {
			rs.Home = string(b)
		}
	}
	members, err := rdb.SMembers(ctx, k.roomNodes(id)).Result()
	if err != nil {
		return rs, fmt.Errorf("read nodes of %q: %w", id, err)
	}
	slices.Sort(members)
	for _, n := range members {
		s, err := rdb.HGet(ctx, k.roomState(id, n), "s").Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return rs, fmt.Errorf("read state of %q on %s: %w", id, n, err)
		}
		state, err := openState(g, k, id, n, s)
		if err != nil {
			continue
		}
		rn := RoomNode{Node: n, Peers: []string{}}
		for _, p := range state.Peers {
			rn.Peers = append(rn.Peers, p.Name)
		}
		rs.Nodes = append(rs.Nodes, rn)
	}
	return rs, nil
}

// WriteText prints the status as two tables.
func (s *Status) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "NODE\tSIGNALING\tMEDIA\tROOMS\tPEERS\tPKT/S\tCPU%%\tPIPES\tSTATE\tUP\n")
	for _, n := range s.Nodes {
		state := "ready"
		if n.Draining {
			state = "draining"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%.0f\t%.1f\t%d\t%s\t%s\n", n.ID, dash(n.SignalingURL), dash(n.MediaAddress),
			n.Rooms, n.Peers, n.PacketsPerSecond, n.CPU, n.Pipes, state, s.At.Sub(n.Started).Round(time.Second))
	}
	if len(s.Nodes) == 0 {
		fmt.Fprintf(tw, "(no live node)\n")
	}
	fmt.Fprintf(tw, "\nROOM\tHOME\tNODES (PEERS)\n")
	for _, r := range s.Rooms {
		var parts []string
		for _, n := range r.Nodes {
			parts = append(parts, fmt.Sprintf("%s (%s)", n.Node, strings.Join(n.Peers, ", ")))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.ID, dash(r.Home), strings.Join(parts, "; "))
	}
	if len(s.Rooms) == 0 {
		fmt.Fprintf(tw, "(no room)\n")
	}
	if s.Refused > 0 {
		fmt.Fprintf(tw, "\n%d entries in Redis fail verification with this cluster secret (written with another secret, or forged): not shown\n", s.Refused)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write status: %w", err)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
