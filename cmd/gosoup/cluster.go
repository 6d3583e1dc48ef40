package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/gosoup/gosoup/cluster"
	"github.com/gosoup/gosoup/sfu"
)

// clusterConfig lets several gosoup nodes share rooms through a Redis
// server (package cluster). Without --redis the server is one node alone.
type clusterConfig struct {
	redis        string
	redisPrefix  string
	nodeID       string
	advertiseURL string
}

// register defines the cluster flags on fs.
func (cc *clusterConfig) register(fs *flag.FlagSet) {
	fs.Var(&redisURLValue{p: &cc.redis}, "redis",
		"`URL` of the Redis server the nodes of a cluster share (redis://host:6379): a room spans the nodes its peers connect to; empty: this node alone")
	fs.Var(checked(&cc.redisPrefix, cluster.DefaultPrefix, checkNotEmpty), "redis-prefix",
		"`prefix` of the cluster's Redis keys and channels (another prefix is another cluster on the same Redis)")
	fs.Var(checked(&cc.nodeID, "", checkNodeID), "node-id",
		"this node's `id` in the cluster, unique among its nodes (default: host name and --listen port)")
	fs.Var(checked(&cc.advertiseURL, "", checkAdvertiseURL), "advertise-url",
		"`URL` (ws:// or wss://) where clients reach this node's signaling, shown by gosoup cluster status (default: from --listen)")
}

// redisURLValue is the --redis flag: its String hides a password (the
// effective configuration is logged).
type redisURLValue struct{ p *string }

func (v *redisURLValue) String() string {
	if v == nil || v.p == nil || *v.p == "" {
		return ""
	}
	u, err := url.Parse(*v.p)
	if err != nil {
		return "REDACTED"
	}
	return u.Redacted()
}

func (v *redisURLValue) Set(s string) error {
	if s != "" {
		u, err := url.Parse(s)
		if err != nil {
			return errors.New("not a URL (redis://host:port)")
		}
		if u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix" {
			return errors.New("want a redis://, rediss:// or unix:// URL")
		}
	}
	*v.p = s
	return nil
}

func checkNodeID(s string) error {
	if len(s) > 128 {
		return errors.New("longer than 128 bytes")
	}
	return nil
}

func checkAdvertiseURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return errors.New("want ws://host:port or wss://host:port")
	}
	return nil
}

// startCluster starts this node's cluster member when --redis is set; it
// returns nil without it. addr is the bound --listen address.
func (c *config) startCluster(srv *sfu.Server, addr net.Addr, tls bool, log *slog.Logger) (*cluster.Member, error) {
	cc := c.cluster
	if cc.redis == "" {
		return nil, nil
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil, fmt.Errorf("cluster: listen address: %w", err)
	}
	id := cc.nodeID
	if id == "" {
		name, err := os.Hostname()
		if err != nil || name == "" {
			name = "gosoup"
		}
		id = name + "-" + port
	}
	adv := cc.advertiseURL
	if adv == "" {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			if ips := srv.AnnouncedIPs(); len(ips) > 0 {
				host = ips[0]
			}
		}
		scheme := "ws"
		if tls {
			scheme = "wss"
		}
		adv = scheme + "://" + net.JoinHostPort(host, port) + "/"
	}
	m, err := cluster.Start(context.Background(), srv, cluster.Config{
		RedisURL: cc.redis, NodeID: id, SignalingURL: adv, Prefix: cc.redisPrefix, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cluster.RegisterMetrics(m)
	log.Info("cluster member", "node", id, "advertise", adv, "prefix", cc.redisPrefix, "rtcPort", strconv.Itoa(srv.RTCPort()))
	return m, nil
}

// clusterDrain adds the cluster member (if any) to the drain: the node is
// shown draining in the registry while its calls end.
type clusterDrain struct {
	drainable
	member *cluster.Member
}

func (d clusterDrain) Drain() {
	d.drainable.Drain()
	if d.member != nil {
		d.member.Drain()
	}
}

// withCluster returns close preceded by the member's Close (it leaves the
// rooms and deregisters the node), or close alone without a member.
func withCluster(member *cluster.Member, close func()) func() {
	if member == nil {
		return close
	}
	return func() {
		member.Close()
		close()
	}
}
