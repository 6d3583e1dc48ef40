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
	"strings"
	"time"

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
	secret       string // --cluster-secret
	secretFile   string // --cluster-secret-file
	loaded       string // the secret of either, once validated
	ttl          time.Duration
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
	fs.StringVar(&cc.secret, "cluster-secret", "",
		"`secret` shared by the nodes of a cluster (at least 16 bytes; required with --redis): what a node writes to Redis is authenticated with it, the pipes' keys derive from it")
	fs.StringVar(&cc.secretFile, "cluster-secret-file", "", "`file` holding the cluster secret (instead of --cluster-secret)")
	fs.Var(durationMin(&cc.ttl, cluster.DefaultTTL, 2*cluster.DefaultInterval), "cluster-ttl",
		"how long a node that stopped refreshing its registration (every second) is still counted in the cluster: after it, the other nodes close its peers (at least 2s; longer rides out a starved node or a slow Redis, shorter notices a dead node sooner)")
}

// secretHint says how to make a cluster secret.
const secretHint = "make one with `openssl rand -hex 32` and give every node the same one " +
	"(--cluster-secret, GOSOUP_CLUSTER_SECRET, the cluster-secret key of the config file, or --cluster-secret-file)"

// validate checks the cluster flags together (with --redis, a cluster
// secret is required) and loads the secret. No message carries it.
func (cc *clusterConfig) validate(src sources) error {
	if err := cc.check(src); err != nil {
		return err
	}
	s, err := cc.readSecret(src)
	cc.loaded = s
	return err
}

func (cc *clusterConfig) check(src sources) error {
	if cc.secret != "" && cc.secretFile != "" {
		return fmt.Errorf("cluster-secret (%s) and cluster-secret-file (%s): use one of them",
			src.of("cluster-secret"), src.of("cluster-secret-file"))
	}
	if cc.redis != "" && cc.secret == "" && cc.secretFile == "" {
		return fmt.Errorf("redis (%s) needs a cluster secret: the nodes authenticate what they write to Redis "+
			"and derive the keys of the media pipes between them from it; %s", src.of("redis"), secretHint)
	}
	if cc.secret != "" && len(cc.secret) < cluster.MinSecretLen {
		return fmt.Errorf("cluster-secret (%s): %d bytes, want at least %d; %s",
			src.of("cluster-secret"), len(cc.secret), cluster.MinSecretLen, secretHint)
	}
	return nil
}

// readSecret returns the cluster secret: --cluster-secret, or the content
// of --cluster-secret-file without surrounding white space.
func (cc *clusterConfig) readSecret(src sources) (string, error) {
	if cc.secretFile == "" {
		return cc.secret, nil
	}
	b, err := os.ReadFile(cc.secretFile)
	if err != nil {
		return "", fmt.Errorf("cluster-secret-file (%s): %w", src.of("cluster-secret-file"), err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) < cluster.MinSecretLen {
		return "", fmt.Errorf("cluster-secret-file (%s): %d bytes, want at least %d; %s",
			src.of("cluster-secret-file"), len(s), cluster.MinSecretLen, secretHint)
	}
	return s, nil
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
// The configuration was validated: the cluster secret is loaded.
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
		id = defaultNodeID(addr)
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
		RedisURL: cc.redis, NodeID: id, SignalingURL: adv, Prefix: cc.redisPrefix, Secret: cc.loaded, TTL: cc.ttl, Logger: log,
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
