package sfu

import (
	"time"

	"github.com/gosoup/gosoup/sfu/internal/bwe"
)

// layerConsumer is the narrow view the layer allocator has of one
// consumer with layers to choose from (simulcast streams, temporal or SVC
// spatial layers): the levels (layerselect.go) its producer's live layers
// offer, what each costs, what the consumer prefers, and its bandwidth
// state.
// *Consumer implements it; tests can implement it without a Peer or a
// Transport.
type layerConsumer interface {
	layerID() uint32
	layerState() *consumerLayers
	// levelAt is the level a limit selects now (0: none live).
	levelAt(limit int, now time.Time) int
	// rateAt is the bitrate of what a limit selects now.
	rateAt(limit int, now time.Time) uint64
	// stepDown and stepUp give the next step below or above on the
	// consumer's ladder (layerselect.go: live levels its preference allows,
	// in the order of their bitrates; 0: none).
	stepDown(rank int, now time.Time) int
	stepUp(rank int, now time.Time) int
	// canProbe reports whether the consumer can carry padding probes.
	canProbe() bool
	// probeFailed counts a probe the receiver reported congestion during.
	probeFailed()
}

// layerAllocator shares a receive transport's bandwidth out among its
// consumers with layers (see layers.go for the rules). Only the transport's
// report loop uses it.
type layerAllocator struct {
	lastCongestion time.Time
	lastUpgrade    time.Time
	settleUntil    time.Time // congestion reports before it are not acted on
	probing        layerConsumer
	debug          func(msg string, args ...any)
}

// allocate runs one round over the consumers with layers sim (sorted by
// id). fixed is the bitrate of the transport's consumers without layers;
// budget is what the receiver's path carried when it reported congestion
// this round (0: no congestion).
func (a *layerAllocator) allocate(sim []layerConsumer, fixed, budget uint64, now time.Time) {
	if budget > 0 && a.probing != nil {
		// The padding caused it: stop, and let the queue it built drain
		// before reports count again (as after a downgrade).
		a.abortProbe(now)
		a.settleUntil = now.Add(probeSettle)
	} else if c := a.probing; c != nil && !now.Before(c.layerState().probeUntil) {
		a.finishProbe(now)
	}
	if budget > 0 {
		a.lastCongestion = now
		// Right after a downgrade the receiver still sees the queue the
		// higher layer (and the new layer's key frame) built: reports then
		// understate the path, so the next downgrade waits for them to settle.
		if !now.Before(a.settleUntil) && a.fit(sim, fixed, budget, now) {
			a.settleUntil = now.Add(layerSettle)
		}
	} else if a.probing == nil && now.Sub(a.lastCongestion) >= layerUpgradeQuiet && now.Sub(a.lastUpgrade) >= layerUpgradeQuiet {
		a.upgradeOne(sim, now)
	}
	for _, c := range sim {
		l := c.layerState()
		if l.backoff > 0 && l.upgradedAt.Equal(l.changedAt) && now.Sub(l.changedAt) >= layerStableReset {
			l.backoff = 0
		}
	}
}

// fit lowers limits, highest rates first, one level at a time, until the consumers' streams
// fit what the receiver's path carried: Chrome reports 85 % of it on
// congestion, so budget/0.85 is the room. It reports whether a limit
// dropped.
func (a *layerAllocator) fit(sim []layerConsumer, fixed, budget uint64, now time.Time) (lowered bool) {
	room := float64(budget) / bwe.DecreaseFactor
	total := float64(fixed)
	for _, c := range sim {
		total += float64(c.rateAt(c.layerState().limit, now))
	}
	for total > room {
		var pick layerConsumer
		var pickRate uint64
		for _, c := range sim {
			if c.stepDown(c.levelAt(c.layerState().limit, now), now) == 0 {
				continue
			}
			if r := c.rateAt(c.layerState().limit, now); pick == nil || r > pickRate {
				pick, pickRate = c, r
			}
		}
		if pick == nil {
			return lowered // everyone on the lowest level
		}
		l := pick.layerState()
		next := pick.stepDown(pick.levelAt(l.limit, now), now)
		total -= float64(pickRate) - float64(pick.rateAt(next, now))
		if now.Sub(l.upgradedAt) < layerFailedWithin {
			l.backoff = min(max(2*l.backoff, layerHoldMin), layerHoldMax)
		} else {
			l.backoff = max(l.backoff, layerHoldMin)
		}
		l.limit, l.holdUntil, l.changedAt = next, now.Add(l.backoff), now
		lowered = true
		a.debug("layer limit lowered", "consumer", pick.layerID(), "limit", next, "budget", budget, "backoff", l.backoff)
	}
	return lowered
}

// upgradeOne raises by one level the limit of the consumer that is lowest
// below what it prefers and whose hold time has passed; a consumer that
// can carry padding probes the path first.
func (a *layerAllocator) upgradeOne(sim []layerConsumer, now time.Time) {
	var pick layerConsumer
	pickLevel := 0
	for _, c := range sim {
		l := c.layerState()
		if now.Before(l.holdUntil) || l.limit == levelUnlimited {
			continue // waiting, or nothing limits it
		}
		cur := c.levelAt(l.limit, now)
		up := c.stepUp(cur, now)
		if cur == 0 || up == 0 {
			continue
		}
		if pick == nil || cur < pickLevel {
			pick, pickLevel = c, cur
		}
	}
	if pick == nil {
		return
	}
	l := pick.layerState()
	up := pick.stepUp(pickLevel, now)
	a.lastUpgrade = now
	if pick.canProbe() {
		extra := pick.rateAt(up, now) - min(pick.rateAt(up, now), pick.rateAt(l.limit, now))
		l.probeTo, l.probeUntil, l.probeBps = up, now.Add(probeDuration), min(max(extra, probeMinBps), probeMaxBps)
		a.probing = pick
		a.debug("probing before an upgrade", "consumer", pick.layerID(), "to", up, "bps", l.probeBps)
		return
	}
	l.limit = raised(pick, up, now)
	l.upgradedAt, l.changedAt = now, now
}

// raised is the limit of consumer c moved up to level up: no limit once up
// is the top of its ladder, so that a layer coming live later is taken.
func raised(c layerConsumer, up int, now time.Time) int {
	if c.stepUp(up, now) == 0 {
		return levelUnlimited
	}
	return up
}

// finishProbe moves the probed consumer up: the path carried the padding.
func (a *layerAllocator) finishProbe(now time.Time) {
	c := a.probing
	a.probing = nil
	l := c.layerState()
	if l.probeTo != 0 {
		l.limit = raised(c, l.probeTo, now)
		l.upgradedAt, l.changedAt = now, now
	}
	l.probeTo = 0
	a.lastUpgrade = now
	a.debug("probe passed", "consumer", c.layerID(), "limit", l.limit)
}

// abortProbe stops a probe the receiver reported congestion during: the
// consumer stays and waits twice as long before the next try.
func (a *layerAllocator) abortProbe(now time.Time) {
	c := a.probing
	a.probing = nil
	l := c.layerState()
	l.probeTo = 0
	l.backoff = min(max(2*l.backoff, layerHoldMin), layerHoldMax)
	l.holdUntil = now.Add(l.backoff)
	c.probeFailed()
	a.debug("probe failed", "consumer", c.layerID(), "backoff", l.backoff)
}
