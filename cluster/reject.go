package cluster

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of what Redis holds or carries, as counted when refused.
const (
	kindNode    = "node"    // a registry entry (node:ID)
	kindState   = "state"   // a room state (room:R:state:ID, its version or its state)
	kindHome    = "home"    // a room's home claim
	kindMessage = "message" // a message on a room or node channel
)

// rejectKinds lists the kinds in metric order.
var rejectKinds = []string{kindNode, kindState, kindHome, kindMessage}

// rejectLogEvery is the least time between two log lines about refused
// values of one kind and reason.
const rejectLogEvery = 10 * time.Second

// guard opens sealed values and refuses, counts and logs (rate-limited)
// those that fail verification: they are never applied.
type guard struct {
	*sealer
	log *slog.Logger

	counts [4]atomic.Uint64 // by rejectKinds index

	mu     sync.Mutex
	logged map[string]time.Time // kind and reason → last log line
	quiet  map[string]int       // refusals not logged since
}

func newGuard(s *sealer, log *slog.Logger) *guard {
	return &guard{sealer: s, log: log, logged: map[string]time.Time{}, quiet: map[string]int{}}
}

// check opens v read from name; a value that fails is refused (counted,
// logged) and nil returned with ok false.
func (g *guard) check(kind, name, v string) ([]byte, bool) {
	b, err := g.open(name, v)
	if err != nil {
		g.refuse(kind, name, err)
		return nil, false
	}
	return b, true
}

// refuse counts and logs a value of kind found at name that failed
// verification or decoding.
func (g *guard) refuse(kind, name string, err error) {
	for i, k := range rejectKinds {
		if k == kind {
			g.counts[i].Add(1)
		}
	}
	var why string
	switch {
	case errors.Is(err, errOtherSecret):
		why = "written by a node with another --cluster-secret (it and this node share nothing: give every node the same secret) or by a forger"
	case errors.Is(err, errForged):
		why = "forged or corrupted (its MAC does not match this cluster secret)"
	case errors.Is(err, errUnsealed):
		why = "not sealed with a cluster secret (a node of an older version, or a forger)"
	default:
		why = "undecodable although sealed with this secret"
	}
	key := kind + "|" + why
	now := time.Now()
	g.mu.Lock()
	if now.Sub(g.logged[key]) < rejectLogEvery {
		g.quiet[key]++
		g.mu.Unlock()
		return
	}
	g.logged[key] = now
	quiet := g.quiet[key]
	delete(g.quiet, key)
	g.mu.Unlock()
	g.log.Warn("cluster: ignoring a "+kind+" in Redis: "+why, "key", name, "err", err, "alsoIgnoredSinceLastLine", quiet)
}

// Refused returns how many values of each kind failed verification.
func (g *guard) refused() map[string]uint64 {
	out := make(map[string]uint64, len(rejectKinds))
	for i, k := range rejectKinds {
		out[k] = g.counts[i].Load()
	}
	return out
}
