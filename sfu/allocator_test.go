package sfu

import (
	"testing"
	"time"
)

// fakeLayers is a layerConsumer with three live layers (ranks low, medium,
// high) at fixed bitrates: the allocator tested alone, without a Peer, a
// Transport or packets.
type fakeLayers struct {
	id      uint32
	state   consumerLayers
	rates   map[int]uint64 // by rank
	prefers int
	probes  bool
	failed  int
}

func newFakeLayers(id uint32, low, medium, high uint64) *fakeLayers {
	return &fakeLayers{id: id, rates: map[int]uint64{rankLow: low, rankMedium: medium, rankHigh: high},
		prefers: rankHigh, state: consumerLayers{limit: rankHigh}}
}

func (f *fakeLayers) layerID() uint32             { return f.id }
func (f *fakeLayers) layerState() *consumerLayers { return &f.state }
func (f *fakeLayers) preferredRank() int          { return f.prefers }
func (f *fakeLayers) canProbe() bool              { return f.probes }
func (f *fakeLayers) probeFailed()                { f.failed++ }
func (f *fakeLayers) rankAt(limit int, _ time.Time) int {
	return max(rankLow, min(limit, f.prefers))
}
func (f *fakeLayers) rateAt(limit int, now time.Time) uint64 { return f.rates[f.rankAt(limit, now)] }
func (f *fakeLayers) stepDown(rank int, _ time.Time) int {
	if rank > rankLow {
		return rank - 1
	}
	return 0
}
func (f *fakeLayers) stepUp(rank int, _ time.Time) int {
	if rank < rankHigh {
		return rank + 1
	}
	return 0
}

func TestAllocatorFitsTheHighestFirst(t *testing.T) {
	a := &layerAllocator{debug: func(string, ...any) {}}
	big := newFakeLayers(1, 150_000, 500_000, 1_500_000)
	small := newFakeLayers(2, 100_000, 300_000, 800_000)
	now := zeroTime.Add(time.Minute)
	// 1.6 Mb/s reported: room 1.6/0.85 = 1.88 Mb/s for 2.3 Mb/s of streams:
	// the big one drops to medium (0.5 + 0.8 = 1.3 fits), the small stays.
	a.allocate([]layerConsumer{big, small}, 0, 1_600_000, now)
	if big.state.limit != rankMedium || small.state.limit != rankHigh {
		t.Fatalf("limits big %d small %d, want medium and high", big.state.limit, small.state.limit)
	}
	if big.state.backoff != layerHoldMin || !big.state.holdUntil.Equal(now.Add(layerHoldMin)) {
		t.Fatalf("backoff %v hold %v", big.state.backoff, big.state.holdUntil.Sub(now))
	}
	// A second report right after is the queue draining: no further drop.
	a.allocate([]layerConsumer{big, small}, 0, 400_000, now.Add(time.Second))
	if big.state.limit != rankMedium || small.state.limit != rankHigh {
		t.Fatalf("dropped again while settling: big %d small %d", big.state.limit, small.state.limit)
	}
}

func TestAllocatorProbesBeforeUpgradingAndBacksOff(t *testing.T) {
	a := &layerAllocator{debug: func(string, ...any) {}}
	c := newFakeLayers(1, 150_000, 500_000, 1_500_000)
	c.probes = true
	now := zeroTime.Add(time.Minute)
	c.state.limit, c.state.changedAt = rankLow, now.Add(-10*time.Second) // lowered a while ago
	a.allocate([]layerConsumer{c}, 0, 0, now)
	if a.probing != c || c.state.probeTo != rankMedium || c.state.probeBps != 350_000 || c.state.limit != rankLow {
		t.Fatalf("probe %v to %d at %d b/s, limit %d", a.probing != nil, c.state.probeTo, c.state.probeBps, c.state.limit)
	}
	// Congestion during the probe: it stops, the consumer stays and waits.
	a.allocate([]layerConsumer{c}, 0, 200_000, now.Add(time.Second))
	if a.probing != nil || c.failed != 1 || c.state.limit != rankLow || c.state.backoff != layerHoldMin {
		t.Fatalf("after congestion: probing %v failed %d limit %d backoff %v", a.probing != nil, c.failed, c.state.limit, c.state.backoff)
	}
	// After the hold a new probe runs its course and the consumer moves up.
	at := now.Add(time.Second + layerHoldMin + time.Millisecond)
	a.allocate([]layerConsumer{c}, 0, 0, at)
	if a.probing != c {
		t.Fatal("no second probe after the hold")
	}
	a.allocate([]layerConsumer{c}, 0, 0, at.Add(probeDuration))
	if a.probing != nil || c.state.limit != rankMedium {
		t.Fatalf("after a clean probe: probing %v limit %d", a.probing != nil, c.state.limit)
	}
}
