package main

import (
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
		opts.Cluster = admin.RedisCluster{URL: c.cluster.redis, Prefix: c.cluster.redisPrefix, Secret: c.cluster.loaded}
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
