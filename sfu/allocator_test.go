package sfu

import (
	"slices"
	"testing"
	"time"
)

// fakeLayers is a layerConsumer with a fixed ladder of live levels at
// fixed bitrates: the allocator tested alone, without a Peer, a Transport
// or packets.
type fakeLayers struct {
	id     uint32
	state  consumerLayers
	ladder []int          // live levels, by bitrate
	rates  map[int]uint64 // by level
	probes bool
	failed int
}

// newFakeLayers is a consumer of three simulcast streams without temporal
// layers (levels low, medium, high, every temporal layer).
func newFakeLayers(id uint32, low, medium, high uint64) *fakeLayers {
	return newFakeLadder(id, map[int]uint64{topLevel(rankLow): low, topLevel(rankMedium): medium, topLevel(rankHigh): high})
}

func newFakeLadder(id uint32, rates map[int]uint64) *fakeLayers {
	f := &fakeLayers{id: id, rates: rates, state: consumerLayers{limit: levelUnlimited}}
	for l := range rates {
		f.ladder = append(f.ladder, l)
	}
	slices.SortFunc(f.ladder, func(a, b int) int { return int(rates[a]) - int(rates[b]) })
	return f
}

func (f *fakeLayers) layerID() uint32             { return f.id }
func (f *fakeLayers) layerState() *consumerLayers { return &f.state }
func (f *fakeLayers) canProbe() bool              { return f.probes }
func (f *fakeLayers) probeFailed()                { f.failed++ }
func (f *fakeLayers) levelAt(limit int, _ time.Time) int {
	if _, ok := f.rates[limit]; ok {
		return limit
	}
	return f.ladder[len(f.ladder)-1]
}
func (f *fakeLayers) rateAt(limit int, now time.Time) uint64 { return f.rates[f.levelAt(limit, now)] }
func (f *fakeLayers) stepDown(level int, _ time.Time) int {
	if i := slices.Index(f.ladder, level); i > 0 {
		return f.ladder[i-1]
	}
	return 0
}
func (f *fakeLayers) stepUp(level int, _ time.Time) int {
	if i := slices.Index(f.ladder, level); i >= 0 && i+1 < len(f.ladder) {
		return f.ladder[i+1]
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
	if big.state.limit != topLevel(rankMedium) || small.state.limit != levelUnlimited {
		t.Fatalf("limits big %d small %d, want medium and high", big.state.limit, small.state.limit)
	}
	if big.state.backoff != layerHoldMin || !big.state.holdUntil.Equal(now.Add(layerHoldMin)) {
		t.Fatalf("backoff %v hold %v", big.state.backoff, big.state.holdUntil.Sub(now))
	}
	// A second report right after is the queue draining: no further drop.
	a.allocate([]layerConsumer{big, small}, 0, 400_000, now.Add(time.Second))
	if big.state.limit != topLevel(rankMedium) || small.state.limit != levelUnlimited {
		t.Fatalf("dropped again while settling: big %d small %d", big.state.limit, small.state.limit)
	}
}

func TestAllocatorProbesBeforeUpgradingAndBacksOff(t *testing.T) {
	a := &layerAllocator{debug: func(string, ...any) {}}
	c := newFakeLayers(1, 150_000, 500_000, 1_500_000)
	c.probes = true
	now := zeroTime.Add(time.Minute)
	c.state.limit, c.state.changedAt = topLevel(rankLow), now.Add(-10*time.Second) // lowered a while ago
	a.allocate([]layerConsumer{c}, 0, 0, now)
	if a.probing != c || c.state.probeTo != topLevel(rankMedium) || c.state.probeBps != 350_000 || c.state.limit != topLevel(rankLow) {
		t.Fatalf("probe %v to %d at %d b/s, limit %d", a.probing != nil, c.state.probeTo, c.state.probeBps, c.state.limit)
	}
	// Congestion during the probe: it stops, the consumer stays and waits.
	a.allocate([]layerConsumer{c}, 0, 200_000, now.Add(time.Second))
	if a.probing != nil || c.failed != 1 || c.state.limit != topLevel(rankLow) || c.state.backoff != layerHoldMin {
		t.Fatalf("after congestion: probing %v failed %d limit %d backoff %v", a.probing != nil, c.failed, c.state.limit, c.state.backoff)
	}
	// After the hold a new probe runs its course and the consumer moves up.
	at := now.Add(time.Second + layerHoldMin + time.Millisecond)
	a.allocate([]layerConsumer{c}, 0, 0, at)
	if a.probing != c {
		t.Fatal("no second probe after the hold")
	}
	a.allocate([]layerConsumer{c}, 0, 0, at.Add(probeDuration))
	if a.probing != nil || c.state.limit != topLevel(rankMedium) {
		t.Fatalf("after a clean probe: probing %v limit %d", a.probing != nil, c.state.limit)
	}
}

// TestAllocatorLowersFrameRateBeforeResolution: with temporal layers, a
// budget between two streams keeps the higher stream at a lower frame
// rate instead of dropping to the lower stream.
func TestAllocatorLowersFrameRateBeforeResolution(t *testing.T) {
	a := &layerAllocator{debug: func(string, ...any) {}}
	c := newFakeLadder(1, map[int]uint64{
		makeLevel(rankLow, 0): 60_000, makeLevel(rankLow, 1): 100_000, topLevel(rankLow): 150_000,
		makeLevel(rankMedium, 0): 200_000, makeLevel(rankMedium, 1): 330_000, topLevel(rankMedium): 500_000,
		makeLevel(rankHigh, 0): 600_000, makeLevel(rankHigh, 1): 1_000_000, topLevel(rankHigh): 1_500_000,
	})
	now := zeroTime.Add(time.Minute)
	// 1.0 Mb/s reported: room 1.18 Mb/s: high at two of three layers.
	a.allocate([]layerConsumer{c}, 0, 1_000_000, now)
	if c.state.limit != makeLevel(rankHigh, 1) {
		t.Fatalf("limit %#x, want high TL1 %#x", c.state.limit, makeLevel(rankHigh, 1))
	}
	// Much less: past high's base layer, to medium, again at the highest
	// frame rate that fits.
	a.allocate([]layerConsumer{c}, 0, 300_000, now.Add(layerSettle))
	if c.state.limit != makeLevel(rankMedium, 1) {
		t.Fatalf("limit %#x, want medium TL1 %#x", c.state.limit, makeLevel(rankMedium, 1))
	}
	// Upgrades climb the same ladder one step at a time.
	c.state.holdUntil = time.Time{}
	at := now.Add(time.Minute)
	a.allocate([]layerConsumer{c}, 0, 0, at)
	if c.state.limit != topLevel(rankMedium) {
		t.Fatalf("after a quiet minute: limit %#x, want medium whole", c.state.limit)
	}
}
