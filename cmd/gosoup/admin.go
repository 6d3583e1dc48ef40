package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"github.com/gosoup/gosoup/admin"
	"github.com/gosoup/gosoup/cluster"
	"github.com/gosoup/gosoup/sfu"
)

// adminHandler is the /admin/ API (ingest, recordings, the operator's
// rooms, peers and producers), authorized by the join keys when there are
// some, else open to loopback clients only. Recordings are written to
// --record-dir (made absolute, so that the API answers full paths). With
// a cluster member, the operator API names the member's node and reads
// the other nodes' rooms from Redis; without, the node is named as
// --node-id would default. Close on the returned handler finalizes the
// recordings still running.
func (c *config) adminHandler(srv *sfu.Server, rooms admin.Rooms, member *cluster.Member, addr net.Addr, log *slog.Logger) *admin.Handler {
	dir := c.recordDir
	if dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		log.Info("recordings enabled", "dir", dir)
	}
	opts := admin.Options{Server: srv, Keys: c.keys, RecordDir: dir, Logger: log, Rooms: rooms, NodeID: c.cluster.nodeID}
	if member != nil {
		opts.NodeID = member.ID()
		opts.Cluster = clusterDirectory{url: c.cluster.redis, prefix: c.cluster.redisPrefix}
	} else if opts.NodeID == "" {
		opts.NodeID = defaultNodeID(addr)
	}
	return admin.New(opts)
}

// defaultNodeID is the node id --node-id defaults to: the host name and
// the --listen port.
func defaultNodeID(addr net.Addr) string {
	name, err := os.Hostname()
	if err != nil || name == "" {
		name = "gosoup"
	}
	_, port, _ := net.SplitHostPort(addr.String())
	return name + "-" + port
}

// clusterDirectory reads the cluster's rooms from Redis for the operator
// API (as gosoup cluster status does).
type clusterDirectory struct{ url, prefix string }

func (d clusterDirectory) Rooms(ctx context.Context) ([]admin.ClusterRoom, error) {
	st, err := cluster.ReadStatus(ctx, d.url, d.prefix)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, n := range st.Nodes {
		urls[n.ID] = n.SignalingURL
	}
	out := make([]admin.ClusterRoom, 0, len(st.Rooms))
	for _, r := range st.Rooms {
		cr := admin.ClusterRoom{ID: r.ID, Home: r.Home}
		for _, n := range r.Nodes {
			cr.Nodes = append(cr.Nodes, admin.ClusterNode{Node: n.Node, URL: urls[n.Node], Peers: n.Peers})
		}
		out = append(out, cr)
	}
	return out, nil
}

// checkRecordDir accepts an empty value (recording off) or an existing
// directory.
func checkRecordDir(s string) error {
	if s == "" {
		return nil
	}
	st, err := os.Stat(s)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return errors.New("not a directory")
	}
	return nil
}
