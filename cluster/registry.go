package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// NodeInfo is a node's registration, refreshed every interval.
type NodeInfo struct {
	ID           string `json:"id"`              // Config.NodeID
	Epoch        string `json:"epoch"`           // one per process start
	SignalingURL string `json:"url,omitempty"`   // Config.SignalingURL
	MediaAddress string `json:"media,omitempty"` // Config.MediaAddress
	// Load: local rooms and peers (remote peers not counted), media
	// datagrams received per second (sfu.Counts.PacketsReceived), CPU of
	// the process in percent of one core, pipes sent to other nodes.
	Rooms            int     `json:"rooms"`
	Peers            int     `json:"peers"`
	PacketsPerSecond float64 `json:"pps"`
	CPU              float64 `json:"cpu"`
	Pipes            int     `json:"pipes"`
	// Draining: the node takes no new peers.
	Draining bool      `json:"draining,omitempty"`
	Started  time.Time `json:"started"` // when the member started
	Updated  time.Time `json:"updated"` // when this registration was written
}

// loadSampler turns counters into rates between two samples.
type loadSampler struct {
	at      time.Time
	packets uint64
	cpu     time.Duration
}

// sample returns the packets per second and the CPU percentage since the
// last call (zero the first time).
func (s *loadSampler) sample(now time.Time, packets uint64) (pps, cpu float64) {
	used := processCPU()
	if !s.at.IsZero() {
		if dt := now.Sub(s.at).Seconds(); dt > 0 {
			if packets >= s.packets {
				pps = float64(packets-s.packets) / dt
			}
			cpu = 100 * (used - s.cpu).Seconds() / dt
		}
	}
	s.at, s.packets, s.cpu = now, packets, used
	return pps, cpu
}

// processCPU is the user and system CPU time of the process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// registration is what one refresh learned.
type registration struct {
	lost  bool // our key was gone (first registration, expiry, Redis restarted or flushed)
	other *NodeInfo
}

// register writes info under the node's key with the TTL and returns what
// the key held before: nothing means this node had been forgotten.
// A previous value that fails verification (another secret, a forger) is
// refused and counts as lost.
func register(ctx context.Context, rdb *redis.Client, k keys, g *guard, info *NodeInfo, ttl time.Duration) (registration, error) {
	b, err := json.Marshal(info)
	if err != nil {
		return registration{}, fmt.Errorf("encode node info: %w", err)
	}
	key := k.node(info.ID)
	pipe := rdb.Pipeline()
	prev := pipe.SetArgs(ctx, key, g.seal(key, b), redis.SetArgs{TTL: ttl, Get: true})
	pipe.SAdd(ctx, k.nodes(), info.ID)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return registration{}, fmt.Errorf("register node: %w", err)
	}
	old, err := prev.Result()
	if errors.Is(err, redis.Nil) {
		return registration{lost: true}, nil
	}
	if err != nil {
		return registration{}, fmt.Errorf("register node: %w", err)
	}
	ob, ok := g.check(kindNode, key, old)
	if !ok {
		return registration{lost: true}, nil
	}
	var was NodeInfo
	if json.Unmarshal(ob, &was) == nil && was.Epoch != info.Epoch {
		return registration{lost: true, other: &was}, nil
	}
	return registration{}, nil
}

// deregister removes the node's registration.
func deregister(ctx context.Context, rdb *redis.Client, k keys, id string) error {
	pipe := rdb.Pipeline()
	pipe.Del(ctx, k.node(id))
	pipe.SRem(ctx, k.nodes(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("deregister node: %w", err)
	}
	return nil
}

// readNodes returns the registered nodes whose key has not expired, by
// id, and the ids left in the node set without a key. Entries that fail
// verification are refused and their ids returned apart (neither live
// nor stale: a node with another secret keeps them, a garbled entry of a
// live node is written again by it).
func readNodes(ctx context.Context, rdb *redis.Client, k keys, g *guard) (nodes map[string]*NodeInfo, stale, refused []string, err error) {
	ids, err := rdb.SMembers(ctx, k.nodes()).Result()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read node set: %w", err)
	}
	out := map[string]*NodeInfo{}
	if len(ids) == 0 {
		return out, nil, nil, nil
	}
	ks := make([]string, len(ids))
	for i, id := range ids {
		ks[i] = k.node(id)
	}
	vals, err := rdb.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read nodes: %w", err)
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			stale = append(stale, ids[i])
			continue
		}
		b, ok := g.check(kindNode, ks[i], s)
		if !ok {
			refused = append(refused, ids[i])
			continue
		}
		var n NodeInfo
		if err := json.Unmarshal(b, &n); err != nil || n.ID != ids[i] {
			g.refuse(kindNode, ks[i], fmt.Errorf("decode node info of %q: %v", ids[i], err))
			refused = append(refused, ids[i])
			continue
		}
		out[ids[i]] = &n
	}
	return out, stale, refused, nil
}
