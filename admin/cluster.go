package admin

import (
	"context"

	"github.com/gosoup/gosoup/cluster"
)

// RedisCluster is the Cluster of the nodes sharing a Redis server
// (--redis): it reads the room directory the cluster members keep there,
// as "gosoup cluster status" does, once per request.
type RedisCluster struct {
	// URL is the Redis server (redis:// or rediss://).
	URL string
	// Prefix is the cluster's key prefix; empty: cluster.DefaultPrefix.
	Prefix string
	// Secret is the cluster secret the entries are verified with.
	Secret string
}

// Rooms reads the rooms of every live node, with each node's visible
// peers and signaling URL.
func (c RedisCluster) Rooms(ctx context.Context) ([]ClusterRoom, error) {
	st, err := cluster.ReadStatus(ctx, c.URL, c.Prefix, c.Secret)
	if err != nil {
		return nil, err
	}
	urls := map[string]string{}
	for _, n := range st.Nodes {
		urls[n.ID] = n.SignalingURL
	}
	out := make([]ClusterRoom, 0, len(st.Rooms))
	for _, r := range st.Rooms {
		cr := ClusterRoom{ID: r.ID, Home: r.Home}
		for _, n := range r.Nodes {
			cr.Nodes = append(cr.Nodes, ClusterNode{Node: n.Node, URL: urls[n.Node], Peers: n.Peers})
		}
		out = append(out, cr)
	}
	return out, nil
}
