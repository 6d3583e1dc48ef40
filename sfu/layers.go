package sfu

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
)

// Layer choice under bandwidth, per receive transport. Every consumer with
// layers to choose from forwards the highest level (layerselect.go: a
// simulcast stream or SVC spatial layer, and a temporal layer) allowed by
// its preferred profile and by a bandwidth limit. The limit drops at once
// when the receiver reports congestion (its REMB falls, or RTCP receiver
// reports show loss) until the consumers' layers fit, and rises one level
// at a time only after the path has been quiet for a while; a consumer
// whose upgrade failed waits twice as long before the next try (5 s up to
// 60 s): no flapping.
//
// Loss counts as congestion only from about 20 %: a path that loses 10 %
// at random (a radio link) loses as much on a lower layer, retransmission
// repairs it, and each layer switch costs a key frame that takes several
// round trips to arrive whole under such loss. Counted from 10 %, such a
// path kept consumers on their lowest layer (receiver reports go over
// 10 % about every other second) and blocked every upgrade. A queue on
// the path shows first in the receiver's REMB. (mediasoup 2.6 switches
// down when the lost share less half the repaired share passes 35 %.)
const (
	layerHoldMin       = 5 * time.Second
	layerHoldMax       = 60 * time.Second
	layerUpgradeQuiet  = 3 * time.Second  // since the last congestion or upgrade
	layerFailedWithin  = 10 * time.Second // a downgrade this soon after an upgrade means it failed
	layerStableReset   = 30 * time.Second // an upgrade kept this long forgets past failures
	layerLossThreshold = 51               // fraction lost (/256) counted as congestion, about 20 % (see below)
	layerSettle        = 2 * time.Second  // after a downgrade, congestion reports are the queue draining
	probeSettle        = 4 * time.Second  // the same after a failed probe (its padding filled the queue)
	rembBootstrap      = 5 * time.Second  // a receiver's first REMBs, not counted as congestion
)

// consumerLayers is a consumer's bandwidth state; only its transport's
// report loop touches it.
type consumerLayers struct {
	limit       int // highest level the bandwidth allows (layerselect.go); levelUnlimited: any
	holdUntil   time.Time
	backoff     time.Duration
	upgradedAt  time.Time
	changedAt   time.Time
	reportsSeen uint64
	lossy       int // consecutive receiver reports with loss over the threshold
	probeTo     int // level being probed; 0: none
	probeUntil  time.Time
	probeBps    uint64
}

// remoteBandwidth is what a receiver tells us about its path by REMB.
type remoteBandwidth struct {
	mu       sync.Mutex
	bps      uint64
	decrease uint64 // lowest REMB since the last take that fell >5 % below the one before
	before   uint64 // the highest REMB a recorded decrease fell from
	first    time.Time
}

// onREMB records a receiver's estimate.
func (r *remoteBandwidth) onREMB(bps uint64, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.bps
	r.bps = bps
	if r.first.IsZero() {
		r.first = now
	}
	if now.Sub(r.first) < rembBootstrap {
		return // Chrome's estimator starts from its small incoming rate
	}
	if prev > 0 && float64(bps) < 0.95*float64(prev) {
		if r.decrease == 0 || bps < r.decrease {
			r.decrease = bps
		}
		r.before = max(r.before, prev)
	}
}

// takeDecrease returns and clears the recorded decrease: the value it fell
// to and the one it fell from (0, 0 when none).
func (r *remoteBandwidth) takeDecrease() (to, from uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	to, from = r.decrease, r.before
	r.decrease, r.before = 0, 0
	return to, from
}

// streamRate is the bitrate of what a consumer would forward at this
// limit.
func (c *Consumer) streamRate(limit int, now time.Time) uint64 {
	return c.rateAt(limit, now)
}

// prefProfile is the profile the consumer prefers, read without the room
// lock: its own, or when that is "default" its producer's (docs/protocol.md, "Preferred and effective profile").
func (c *Consumer) prefProfile() string {
	if p := c.preferred.Load(); p != nil && *p != profileDefault {
		return *p
	}
	if p := c.producer.preferred.Load(); p != nil {
		return *p
	}
	return profileDefault
}

// updateLayers runs the layer choice for the consumers of a receive
// transport; called by its report loop. It reads what the receiver reports
// (REMB decreases, loss in receiver reports) into a congestion budget, has
// the allocator share the bandwidth out, and points each consumer at the
// stream its limit allows.
func (t *Transport) updateLayers(now time.Time) {
	var sim []*Consumer
	var fixed uint64 // consumers without layers to choose from
	worstLoss := uint32(0)
	for _, c := range *t.consumersBySSRC.Load() {
		if !c.active.Load() || c.transport.Load() != t {
			continue // c.layers belongs to the loop of the consumer's transport
		}
		if n := c.reports.Load(); c.kind == rtpparams.KindVideo && n != c.layers.reportsSeen {
			c.layers.reportsSeen = n // each receiver report counts once
			// Loss counts from the second lossy report in a row: a single
			// one (a stream starting, a burst) is not a congested path.
			if f := c.remoteFraction.Load(); f >= layerLossThreshold {
				if c.layers.lossy++; c.layers.lossy >= 2 {
					worstLoss = max(worstLoss, f)
				}
			} else {
				c.layers.lossy = 0
			}
		}
		if !c.producer.layered() {
			if c.producer.streams[0].active(now) {
				fixed += c.producer.streams[0].currentBitrate(now)
			}
			continue
		}
		if c.layers.limit == 0 {
			c.layers.limit, c.layers.changedAt = levelUnlimited, now
		}
		sim = append(sim, c)
	}
	slices.SortFunc(sim, func(a, b *Consumer) int { return int(a.id) - int(b.id) })

	budget := uint64(0)
	// A receiver whose estimate is still far below what it gets is
	// bootstrapping (Chrome's first REMBs follow its incoming rate), not
	// reporting congestion.
	if to, from := t.rcv.remote.takeDecrease(); to > 0 {
		sent := t.sendRate(now)
		t.debug("receiver estimate fell", "from", from, "to", to, "sending", sent)
		if 2*from >= sent {
			budget = to
		}
	}
	if worstLoss >= layerLossThreshold {
		sent := t.sendRate(now)
		if b := uint64(float64(sent) * (1 - float64(worstLoss)/512)); budget == 0 || b < budget {
			budget = b
		}
	}
	views := make([]layerConsumer, len(sim))
	for i, c := range sim {
		views[i] = c
	}
	if t.rcv.layers.debug == nil {
		t.rcv.layers.debug = t.debug
	}
	t.rcv.layers.allocate(views, fixed, budget, now)
	for _, c := range sim {
		c.applyTarget(now)
	}
}

// debug logs on the owner's logger, if any.
func (t *Transport) debug(msg string, args ...any) {
	if t.peer != nil && t.peer.room.log.Enabled(context.Background(), slog.LevelDebug) {
		t.peer.logger().Debug(msg, append([]any{"transport", t.id}, args...)...)
	}
}

// sendRate is the transport's measured media send bitrate.
func (t *Transport) sendRate(now time.Time) uint64 {
	var sum uint64
	for _, c := range *t.consumersBySSRC.Load() {
		if c.active.Load() {
			sum += c.streamRate(c.layers.limit, now)
		}
	}
	return sum
}
