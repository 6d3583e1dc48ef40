package cluster

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"
)

// Defaults of Config.
const (
	DefaultPrefix   = "gosoup:"
	DefaultTTL      = 3 * time.Second
	DefaultInterval = time.Second
)

// Config configures a Member.
type Config struct {
	// RedisURL is the Redis server: redis://[user:password@]host:port[/db]
	// (rediss:// for TLS).
	RedisURL string
	// Secret is the cluster secret (at least MinSecretLen bytes), the same
	// on every node: what a node writes to Redis is authenticated with it
	// and the pipes' SRTP keys are derived from it. A node with another
	// secret shares nothing with the others. Required.
	Secret string
	// TLS, when set, replaces the TLS configuration of a rediss:// URL
	// (e.g. RootCAs of a private CA); default: the system's roots and the
	// URL's host name (skip_verify=true in the URL skips the check).
	TLS *tls.Config
	// NodeID names this node in the cluster; unique among the nodes.
	NodeID string
	// SignalingURL is where clients reach this node's signaling (shown by
	// "gosoup cluster status"; a load balancer or the application may use
	// it to send users to a node).
	SignalingURL string
	// MediaAddress is this node's media address (host:port), informative;
	// default: the first announced IP and the RTC port.
	MediaAddress string
	// Prefix starts every Redis key and channel; default DefaultPrefix.
	// Nodes of one cluster share it; another prefix is another cluster.
	Prefix string
	// TTL is how long the registration and the room state of a node that
	// stopped refreshing stay in Redis; default DefaultTTL.
	TTL time.Duration
	// Interval is the period of the refresh and of the poll of the other
	// nodes; default DefaultInterval. A dead node is dropped within about
	// TTL + Interval.
	Interval time.Duration
	// Logger receives logs; default slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.RedisURL == "" {
		return c, errors.New("cluster: no Redis URL")
	}
	if c.NodeID == "" {
		return c, errors.New("cluster: no node id")
	}
	if c.Secret == "" {
		return c, errors.New("cluster: no cluster secret: the nodes authenticate what they write to Redis with it")
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval >= c.TTL {
		return c, errors.New("cluster: the interval must be shorter than the TTL")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// keys names the Redis keys and channels of one cluster (see the package
// documentation).
type keys struct{ prefix string }

func (k keys) nodes() string                { return k.prefix + "nodes" }
func (k keys) node(id string) string        { return k.prefix + "node:" + id }
func (k keys) rooms() string                { return k.prefix + "rooms" }
func (k keys) home(room string) string      { return k.prefix + "room:" + room + ":home" }
func (k keys) roomNodes(room string) string { return k.prefix + "room:" + room + ":nodes" }
func (k keys) roomState(room, node string) string {
	return k.prefix + "room:" + room + ":state:" + node
}

// roomChannel carries the changes of every node's local peers of a room.
func (k keys) roomChannel(room string) string { return k.prefix + "room:" + room }

// nodeChannel carries requests to one node.
func (k keys) nodeChannel(id string) string { return k.prefix + "to:" + id }
