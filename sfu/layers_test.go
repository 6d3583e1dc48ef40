package sfu

import (
	"math/rand"
	"testing"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// simulcastFixture is a producer with low/medium/high streams at the given
// bitrates and one consumer of it on a receive transport, without network.
type simulcastFixture struct {
	p     *Producer
	c     *Consumer
	more  []*Consumer // further consumers on the transport, see addConsumer
	t     *Transport
	rates [3]uint64
	now   time.Time
}

// simulcastEncodings are three SSRC encodings low, medium, high.
func simulcastEncodings() []rtpparams.EncodingParameters {
	return []rtpparams.EncodingParameters{{SSRC: 1, Profile: "low"}, {SSRC: 2, Profile: "medium"}, {SSRC: 3, Profile: "high"}}
}

func newSimulcastFixture() *simulcastFixture {
	f := &simulcastFixture{rates: [3]uint64{150_000, 500_000, 1_500_000}, now: zeroTime}
	f.p = &Producer{kind: "video"}
	f.p.streams = newStreams(simulcastEncodings(), false)
	f.p.peer = &Peer{name: "alice"}
	f.c = &Consumer{id: 7, kind: "video", producer: f.p, peer: &Peer{name: "bob", notify: func(any) {}}}
	f.c.current.Store(-1)
	f.c.target.Store(int32(f.p.initialStream("default")))
	f.c.active.Store(true)
	f.t = &Transport{rcv: &recvSide{}}
	f.t.rcv.remote.first = f.now.Add(-time.Minute) // past the receiver's bootstrap
	f.t.consumersBySSRC.Store(&map[uint32]*Consumer{100: f.c})
	f.c.transport.Store(f.t)
	return f
}

// tick advances the clock, keeps every stream live at its rate and runs
// the layer choice.
func (f *simulcastFixture) tick(d time.Duration) {
	f.now = f.now.Add(d)
	for _, c := range append([]*Consumer{f.c}, f.more...) {
		for i, s := range c.producer.streams {
			s.lastPacketAt.Store(f.now.UnixNano())
			s.bitrate.mu.Lock()
			s.bitrate.at, s.bitrate.bps = f.now, f.rates[i]
			s.bitrate.mu.Unlock()
		}
	}
	f.t.updateLayers(f.now)
}

// addConsumer puts a consumer of another simulcast producer (same layer
// rates) on the fixture's transport.
func (f *simulcastFixture) addConsumer(id uint32) *Consumer {
	p := &Producer{kind: "video", peer: &Peer{name: "carol"}}
	p.streams = newStreams(simulcastEncodings(), false)
	c := &Consumer{id: id, kind: "video", producer: p, peer: f.c.peer}
	c.current.Store(-1)
	c.target.Store(int32(p.initialStream("default")))
	c.active.Store(true)
	c.transport.Store(f.t)
	m := copyMap(*f.t.consumersBySSRC.Load())
	m[uint32(200+len(f.more))] = c
	f.t.consumersBySSRC.Store(&m)
	f.more = append(f.more, c)
	return c
}

// drop makes the receiver report its estimate falling from one rate to
// another, then runs a tick.
func (f *simulcastFixture) drop(from, to uint64) {
	f.t.rcv.remote.onREMB(from, f.now)
	f.t.rcv.remote.onREMB(to, f.now)
	f.tick(500 * time.Millisecond)
}

// expect fails unless the consumer's target profile is want.
func (f *simulcastFixture) expect(t *testing.T, want, when string) {
	t.Helper()
	if got := f.target(); got != want {
		t.Fatalf("%s: %s, want %s", when, got, want)
	}
}

func (f *simulcastFixture) target() string {
	i := f.c.target.Load()
	if i < 0 {
		return "none"
	}
	return f.p.streams[i].profile
}

func TestLayersFollowPreferenceAndActivity(t *testing.T) {
	f := newSimulcastFixture()
	f.tick(500 * time.Millisecond)
	if got := f.target(); got != "high" {
		t.Fatalf("default preference on a clear path: %s, want high", got)
	}
	if err := f.p.SetPreferredProfile("medium"); err != nil {
		t.Fatal(err)
	}
	f.tick(500 * time.Millisecond)
	if got := f.target(); got != "medium" {
		t.Fatalf("producer prefers medium, consumer default: %s", got)
	}
	f.c.setPreferredLocked("low")
	f.tick(500 * time.Millisecond)
	if got := f.target(); got != "low" {
		t.Fatalf("preferred low: %s", got)
	}
	if f.p.SetPreferredProfile("best") == nil {
		t.Fatal("invalid profile accepted")
	}
	f.c.setPreferredLocked("medium")
	f.rates[1] = 0
	f.p.streams[1].lastPacketAt.Store(0)
	f.now = f.now.Add(500 * time.Millisecond)
	for _, i := range []int{0, 2} {
		f.p.streams[i].lastPacketAt.Store(f.now.UnixNano())
	}
	f.t.updateLayers(f.now)
	if got := f.target(); got != "low" {
		t.Fatalf("preferred medium with medium silent: %s, want low", got)
	}
	// Every stream silent: the consumer reports none.
	f.c.current.Store(0)
	var notified []protocol.ConsumerEffectiveProfileChanged
	f.c.peer.notify = func(m any) {
		if n, ok := m.(protocol.ConsumerEffectiveProfileChanged); ok {
			notified = append(notified, n)
		}
	}
	for _, s := range f.p.streams {
		s.lastPacketAt.Store(0)
	}
	f.now = f.now.Add(2 * time.Second)
	f.t.updateLayers(f.now)
	if got := f.target(); got != "none" || f.c.effective.Load() == nil || *f.c.effective.Load() != "none" {
		t.Fatalf("all silent: target %s", got)
	}
	if len(notified) != 1 || notified[0].Profile != "none" || notified[0].ID != 7 {
		t.Fatalf("notifications: %+v", notified)
	}
}

// TestLayersBackOffOnAThinLink: a link that carries medium but not high.
// Each failed upgrade to high doubles the wait before the next try, so
// over ten minutes the consumer tries high only a handful of times and
// otherwise stays on medium.
func TestLayersBackOffOnAThinLink(t *testing.T) {
	f := newSimulcastFixture()
	f.tick(500 * time.Millisecond)
	var tries []time.Duration
	start := f.now
	onHigh := 0
	for f.now.Sub(start) < 10*time.Minute {
		if f.target() == "high" {
			onHigh++
			// The receiver's estimator sees the queue and reports ~85 % of
			// the 800 kb/s link a second later.
			f.t.rcv.remote.onREMB(2_000_000, f.now)
			f.t.rcv.remote.onREMB(680_000, f.now)
		}
		prev := f.target()
		f.tick(500 * time.Millisecond)
		if prev != "high" && f.target() == "high" {
			tries = append(tries, f.now.Sub(start))
		}
	}
	if f.target() != "medium" && f.target() != "high" {
		t.Fatalf("settled on %s, want medium", f.target())
	}
	if len(tries) > 12 || len(tries) < 3 {
		t.Fatalf("%d upgrade tries in 10 min: %v", len(tries), tries)
	}
	for i := 2; i < len(tries); i++ {
		if gap, prev := tries[i]-tries[i-1], tries[i-1]-tries[max(0, i-2)]; gap+time.Second < prev && gap < layerHoldMax {
			t.Fatalf("wait shrank between tries: %v", tries)
		}
	}
	if share := float64(onHigh) / float64(20*60); share > 0.05 {
		t.Fatalf("on the failing high layer %.0f%% of the time", share*100)
	}
	t.Logf("upgrade tries at %v", tries)
}

func TestLayersDowngradeOnLoss(t *testing.T) {
	f := newSimulcastFixture()
	f.tick(500 * time.Millisecond)
	f.c.remoteFraction.Store(128) // 50 % lost
	f.c.reports.Add(1)
	f.tick(500 * time.Millisecond)
	f.expect(t, "high", "one lossy report")
	f.c.reports.Add(1)
	f.tick(500 * time.Millisecond)
	if got := f.target(); got == "high" {
		t.Fatalf("still on high with 50%% loss")
	}
}

func TestLayersUpgradeAgainWhenQuiet(t *testing.T) {
	f := newSimulcastFixture()
	f.tick(500 * time.Millisecond)
	f.drop(2_000_000, 200_000)
	f.expect(t, "low", "after a drop to 200 kb/s")
	for i := 0; i < 60 && f.target() != "high"; i++ {
		f.tick(500 * time.Millisecond)
	}
	if got := f.target(); got != "high" {
		t.Fatalf("path quiet for 30 s: %s, want high again", got)
	}
}

// TestLayersSettleAfterADowngrade: reports right after a downgrade (the
// queue draining) do not push the consumer further down; later ones do.
func TestLayersSettleAfterADowngrade(t *testing.T) {
	f := newSimulcastFixture()
	f.tick(500 * time.Millisecond)
	f.drop(2_000_000, 600_000)
	f.expect(t, "medium", "after a drop to 600 kb/s")
	f.t.rcv.remote.onREMB(300_000, f.now)
	f.tick(500 * time.Millisecond)
	if got := f.target(); got != "medium" {
		t.Fatalf("a report 0.5 s after the downgrade moved it to %s", got)
	}
	f.tick(2 * time.Second)
	f.drop(600_000, 200_000)
	f.expect(t, "low", "a later drop to 200 kb/s")
}

// TestLayersProbeBeforeUpgrading: a consumer with RTX probes with padding
// before moving up; it moves up only if the probe passes, and a failed
// probe leaves the video alone and doubles the wait.
func TestLayersProbeBeforeUpgrading(t *testing.T) {
	f := newSimulcastFixture()
	f.c.rtxSSRC, f.c.absSendTimeID = 9999, 3
	f.tick(500 * time.Millisecond)
	f.drop(2_000_000, 600_000)
	f.expect(t, "medium", "after the drop")
	// Wait for the probe to start: the target must not move meanwhile.
	for i := 0; i < 40 && f.t.rcv.layers.probing == nil; i++ {
		f.tick(500 * time.Millisecond)
	}
	if f.t.rcv.layers.probing != f.c || f.target() != "medium" {
		t.Fatalf("probing %v, target %s", f.t.rcv.layers.probing != nil, f.target())
	}
	if bps := f.c.layers.probeBps; bps != f.rates[2]-f.rates[1] {
		t.Fatalf("probe at %d b/s, want the extra %d of high", bps, f.rates[2]-f.rates[1])
	}
	// The receiver reports congestion during the probe: no switch.
	f.t.rcv.remote.onREMB(700_000, f.now)
	f.t.rcv.remote.onREMB(550_000, f.now)
	f.tick(500 * time.Millisecond)
	if f.t.rcv.layers.probing != nil || f.target() != "medium" || f.c.probesFailed.Load() != 1 {
		t.Fatalf("after a failed probe: probing %v target %s failed %d", f.t.rcv.layers.probing != nil, f.target(), f.c.probesFailed.Load())
	}
	hold := f.c.layers.holdUntil.Sub(f.now)
	if hold < 2*layerHoldMin-time.Second {
		t.Fatalf("hold after a failed probe %v, want doubled", hold)
	}
	// The next probe passes: the consumer moves up when it ends.
	for i := 0; i < 80 && f.t.rcv.layers.probing == nil; i++ {
		f.tick(500 * time.Millisecond)
	}
	if f.t.rcv.layers.probing == nil {
		t.Fatal("no second probe")
	}
	for i := 0; i < 10 && f.target() != "high"; i++ {
		f.tick(500 * time.Millisecond)
	}
	if got := f.target(); got != "high" {
		t.Fatalf("after a clean probe: %s, want high", got)
	}
}

func profileOfTarget(c *Consumer) string {
	if i := c.target.Load(); i >= 0 {
		return c.producer.streams[i].profile
	}
	return "none"
}

// TestLayersShareTheBudget: two simulcast consumers on one transport; a
// drop lowers the highest stream first, one layer at a time, until both
// fit, and never more than needed.
func TestLayersShareTheBudget(t *testing.T) {
	f := newSimulcastFixture()
	other := f.addConsumer(8)
	f.tick(500 * time.Millisecond)
	if profileOfTarget(f.c) != "high" || profileOfTarget(other) != "high" {
		t.Fatalf("start: %s %s", profileOfTarget(f.c), profileOfTarget(other))
	}
	// 1.7 Mb/s reported: room for 2 Mb/s = one high (1.5) + one medium (0.5).
	f.drop(3_500_000, 1_700_000)
	got := []string{profileOfTarget(f.c), profileOfTarget(other)}
	if !(got[0] == "high" && got[1] == "medium" || got[0] == "medium" && got[1] == "high") {
		t.Fatalf("after 1.7 Mb/s: %v, want one high and one medium", got)
	}
	// 600 kb/s after the settle time: room 706 kb/s = medium + low.
	f.tick(2 * time.Second)
	f.drop(1_700_000, 600_000)
	got = []string{profileOfTarget(f.c), profileOfTarget(other)}
	if !(got[0] == "medium" && got[1] == "low" || got[0] == "low" && got[1] == "medium") {
		t.Fatalf("after 600 kb/s: %v, want one medium and one low", got)
	}
}

// TestLayersIgnoreABootstrappingReceiver: Chrome's first REMBs follow its
// small incoming rate and can dip; far below what it receives, they are
// not congestion.
func TestLayersIgnoreABootstrappingReceiver(t *testing.T) {
	f := newSimulcastFixture()
	f.t.rcv.remote.first = time.Time{}
	f.tick(500 * time.Millisecond)
	f.t.rcv.remote.onREMB(300_000, f.now) // the receiver's first REMB
	f.tick(time.Second)
	f.drop(2_000_000, 600_000)
	f.expect(t, "high", "a drop 1.5 s after the first REMB")
	f.tick(5 * time.Second)
	f.drop(500_000, 300_000)
	f.expect(t, "high", "a dip from 500 kb/s while receiving 1.5 Mb/s")
	f.tick(2 * time.Second)
	f.drop(2_000_000, 600_000)
	f.expect(t, "medium", "a drop from 2 Mb/s to 600 kb/s")
}

// TestLayersUpgradeUnderRandomLoss: the receiver's path loses 10 % of the
// packets at random (receiver reports between about 5 and 15 %, often two
// in a row above 10 %), which retransmission repairs and a lower layer
// would not lessen. After a real drop to low the consumer climbs back to
// high once the estimate recovers, about as fast as on a clean path (12.5 s
// here, probes included).
func TestLayersUpgradeUnderRandomLoss(t *testing.T) {
	for seed := int64(1); seed <= 6; seed++ {
		f := newSimulcastFixture()
		f.c.rtxSSRC, f.c.absSendTimeID = 9999, 3 // upgrades probe first
		f.tick(500 * time.Millisecond)
		f.drop(2_000_000, 200_000)
		f.expect(t, "low", "after a drop to 200 kb/s")
		rng := rand.New(rand.NewSource(seed))
		start := f.now
		for i := 0; i < 40 && f.target() != "high"; i++ {
			if i%2 == 0 { // a receiver report a second, over 100 packets
				lost := 0
				for range 100 {
					if rng.Float64() < 0.1 {
						lost++
					}
				}
				f.c.remoteFraction.Store(uint32(lost * 256 / 100))
				f.c.reports.Add(1)
			}
			f.tick(500 * time.Millisecond)
		}
		if got := f.target(); got != "high" {
			t.Fatalf("seed %d: after %v of 10 %% random loss: %s, want high", seed, f.now.Sub(start), got)
		}
	}
}

// TestRetransmissionsDoNotKeepAStreamActive: a sender that stops a
// simulcast layer still answers NACKs for it over RTX for a while; those
// retransmissions must not keep the layer active, or its consumers wait
// for them to end before moving to a layer that is still sent (bob froze
// 3-4 s when a 300 kb/s cap made Chromium drop its upper layers).
func TestRetransmissionsDoNotKeepAStreamActive(t *testing.T) {
	st := newStreams([]rtpparams.EncodingParameters{{SSRC: 1000, RTX: &rtpparams.RTXParameters{SSRC: 1001}}}, true)[0]
	t0 := time.Unix(1_700_000_000, 0)
	media := []byte{0x80, 96, 0, 10, 0, 0, 0, 1, 0, 0, 0x03, 0xe8, 1, 2, 3}
	if pkt, _ := st.onPacket(media, false, 96, t0); pkt == nil || !st.active(t0) {
		t.Fatal("a media packet did not make the stream active")
	}
	// RTX: original sequence number 10 in the first two payload bytes.
	rtx := []byte{0x80, 97, 0, 1, 0, 0, 0, 2, 0, 0, 0x03, 0xe9, 0, 10, 1, 2, 3}
	later := t0.Add(streamInactiveAfter)
	if pkt, _ := st.onPacket(rtx, true, 96, later); pkt == nil {
		t.Fatal("the retransmission was not decoded")
	}
	if st.active(later) {
		t.Fatalf("a stream whose last media packet is %v old is active because of a retransmission", streamInactiveAfter)
	}
}
