package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gosoup/gosoup/sfu"
)

// Stats are the member's cluster figures (for /metrics).
type Stats struct {
	// Nodes is the number of live nodes seen at the last poll, this one
	// included.
	Nodes int
	// PipesOut counts the pipes this node sends; PipesIn the pipe
	// producers it receives on.
	PipesOut, PipesIn int
	// PipedPacketsPerSecond is the rate of RTP packets received over pipes.
	PipedPacketsPerSecond float64
	// RedisUp reports whether the last refresh reached Redis.
	RedisUp bool
	// Refused counts, by kind ("node", "state", "home", "message"), what
	// was read from Redis and failed verification with the cluster
	// secret (written with another secret, or forged): never applied.
	Refused map[string]uint64
}

// updateStats computes the figures of Stats.
func (m *Member) updateStats(now time.Time, up bool) {
	p := &m.poller
	st := &Stats{Nodes: p.nodesSeen, RedisUp: up}
	m.pipesMu.Lock()
	st.PipesOut = len(m.pipes)
	m.pipesMu.Unlock()
	counts := map[*sfu.Producer]uint64{}
	for _, cr := range m.attached() {
		cr.mu.Lock()
		for _, mi := range cr.mirrors {
			for _, rp := range mi.peers {
				for _, rpr := range rp.producers {
					counts[rpr.prod] = 0
				}
			}
		}
		cr.mu.Unlock()
	}
	st.PipesIn = len(counts)
	var total uint64
	for prod := range counts {
		var n uint64
		for _, s := range prod.GetStats() {
			n += s.PacketCount
		}
		counts[prod] = n
		if last, ok := p.piped[prod]; ok && n >= last {
			total += n - last
		}
	}
	if dt := now.Sub(p.pipedAt).Seconds(); !p.pipedAt.IsZero() && dt > 0 {
		st.PipedPacketsPerSecond = float64(total) / dt
	}
	p.piped, p.pipedAt = counts, now
	m.stats.Store(st)
}

// Stats returns the member's figures as of its last poll (PipesOut and
// Refused: now).
func (m *Member) Stats() Stats {
	st := *m.stats.Load()
	m.pipesMu.Lock()
	st.PipesOut = len(m.pipes)
	m.pipesMu.Unlock()
	st.Refused = m.g.refused()
	return st
}

// The member whose figures /metrics shows (collectors registered once per
// process with the default registry, read when scraped).
var (
	metricsMember atomic.Pointer[Member]
	metricsOnce   sync.Once
)

// RegisterMetrics exposes m's figures with the default Prometheus
// registry: gosoup_cluster_nodes, gosoup_cluster_pipes{direction="out"|
// "in"}, gosoup_cluster_piped_packets_per_second, gosoup_cluster_redis_up
// and gosoup_cluster_refused_total{kind}. A later call switches them to
// another member.
func RegisterMetrics(m *Member) {
	metricsMember.Store(m)
	metricsOnce.Do(func() {
		gauge := func(name, help string, labels prometheus.Labels, f func(Stats) float64) {
			prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
				func() float64 {
					if m := metricsMember.Load(); m != nil {
						return f(m.Stats())
					}
					return 0
				}))
		}
		gauge("gosoup_cluster_nodes", "Live nodes of the cluster, this one included.", nil,
			func(s Stats) float64 { return float64(s.Nodes) })
		const pipesHelp = "Pipes: producers of this node sent to other nodes (out), remote producers received here (in)."
		gauge("gosoup_cluster_pipes", pipesHelp, prometheus.Labels{"direction": "out"},
			func(s Stats) float64 { return float64(s.PipesOut) })
		gauge("gosoup_cluster_pipes", pipesHelp, prometheus.Labels{"direction": "in"},
			func(s Stats) float64 { return float64(s.PipesIn) })
		gauge("gosoup_cluster_piped_packets_per_second", "RTP packets per second received over pipes from other nodes.", nil,
			func(s Stats) float64 { return s.PipedPacketsPerSecond })
		for _, kind := range rejectKinds {
			prometheus.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "gosoup_cluster_refused_total",
				Help: "Values read from Redis (node entries, room states, home claims, messages) that failed verification " +
					"with the cluster secret (another secret, or forged), never applied.",
				ConstLabels: prometheus.Labels{"kind": kind},
			}, func() float64 {
				if m := metricsMember.Load(); m != nil {
					return float64(m.g.refused()[kind])
				}
				return 0
			}))
		}
		gauge("gosoup_cluster_redis_up", "1 when the last refresh reached Redis.", nil,
			func(s Stats) float64 {
				if s.RedisUp {
					return 1
				}
				return 0
			})
	})
}
