package sfu

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// vp8Temporal writes a one-packet VP8 frame into the benchFanout packet:
// 15-bit picture id, TL0PICIDX, TID with or without the Y bit.
func vp8Temporal(pkt []byte, seq, pid uint16, tl0, tid uint8, sync, key bool) {
	rtpwire.PutUint16(pkt[2:], seq)
	rtpwire.PutUint32(pkt[4:], uint32(seq)*3000)
	y := byte(0)
	if sync {
		y = 0x20
	}
	hdr := byte(0x01) // inter frame
	if key {
		hdr = 0x00
	}
	copy(pkt[20:], []byte{0x90, 0xE0, 0x80 | byte(pid>>8), byte(pid), tl0, tid<<6 | y, hdr})
}

type sentVP8 struct {
	seq      uint16
	pid      uint16
	tl0, tid uint8
}

func readVP8(q rtp.Packet) sentVP8 {
	return sentVP8{seq: q.SequenceNumber, pid: rtpwire.Uint16(q.Payload[2:]) & 0x7fff, tl0: q.Payload[4], tid: q.Payload[5] >> 6}
}

// TestTemporalLayersDroppedWithoutGap: a consumer limited to TL1 gets TL0
// and TL1 frames only, numbered without gaps (sequence numbers, picture
// ids, TL0PICIDX), so its decoder sees a whole stream at a lower frame
// rate; raised, it takes TL2 from the next layer-sync frame on; lowered,
// from the next frame.
func TestTemporalLayersDroppedWithoutGap(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done)
	c := (*p.consumers.Load())[0]
	read := consumerSink(t, p, c)
	p.streams[0].nacks = nil
	c.setLayerTargets(spatialAll, 1)
	// The libwebrtc pattern for three temporal layers: 0 2 1 2 0 2 1 2 ...
	pattern := []uint8{0, 2, 1, 2}
	seq, pid, tl0 := uint16(1000), uint16(300), uint8(50)
	var got []sentVP8
	send := func(frames int, syncTL2 bool) {
		for i := 0; i < frames; i++ {
			tid := pattern[int(pid)%4]
			if tid == 0 {
				tl0++
			}
			vp8Temporal(pkt, seq, pid, tl0, tid, syncTL2 && tid == 2 || tid == 1, seq == 1000)
			p.receiveRTP(pkt, 1111, batch)
			batch.Flush()
			seq++
			pid++
		}
	}
	collect := func(n int) {
		for range n {
			got = append(got, readVP8(read()))
		}
	}
	send(8, false) // pid 300..307: TL0, TL1 at 300, 302, 304, 306
	collect(4)
	for i, g := range got {
		if g.tid > 1 {
			t.Fatalf("TL%d forwarded to a TL1 consumer: %+v", g.tid, got)
		}
		if i > 0 && (g.seq != got[i-1].seq+1 || g.pid != got[i-1].pid+1) {
			t.Fatalf("gap in the numbering: %+v", got)
		}
		if i > 0 && g.tid == 0 && g.tl0 != got[i-1].tl0+1 {
			t.Fatalf("TL0PICIDX not continuous: %+v", got)
		}
	}
	// Raised to every layer: TL2 frames without Y stay out (they may
	// reference TL2 frames the receiver never got).
	c.setLayerTargets(spatialAll, temporalAll)
	send(4, false) // 308 TL0, 309 TL2, 310 TL1, 311 TL2
	got = got[:0]
	collect(2)
	if got[0].tid != 0 || got[1].tid != 1 {
		t.Fatalf("TL2 without layer sync forwarded: %+v", got)
	}
	send(4, true) // 312 TL0, 313 TL2 (Y), 314 TL1, 315 TL2 (Y)
	got = got[:0]
	collect(4)
	if got[1].tid != 2 || got[3].tid != 2 || got[1].pid != got[0].pid+1 || got[3].seq != got[0].seq+3 {
		t.Fatalf("after a TL2 sync frame: %+v", got)
	}
	// Lowered to TL0 only: from the next frame.
	c.setLayerTargets(spatialAll, 0)
	last := got[3]
	send(8, true)
	got = got[:0]
	collect(2)
	if got[0].tid != 0 || got[1].tid != 0 || got[0].seq != last.seq+1 || got[0].pid != last.pid+1 || got[1].pid != got[0].pid+1 || got[1].tl0 != got[0].tl0+1 {
		t.Fatalf("TL0 only after %+v: %+v", last, got)
	}
}

// vp9SVC writes a one-packet VP9 layer frame (non-flexible mode) into the
// benchFanout packet: picture id, TID, SID, TL0PICIDX; marker on the top
// spatial layer.
func vp9SVC(pkt []byte, seq, pid uint16, sid, tid, tl0 uint8, key, last bool) {
	rtpwire.PutUint16(pkt[2:], seq)
	rtpwire.PutUint32(pkt[4:], uint32(pid)*3000)
	pkt[1] &^= 0x80
	if last {
		pkt[1] |= 0x80
	}
	b0 := byte(0x80 | 0x20 | 0x08 | 0x04) // I L B E
	if !key {
		b0 |= 0x40 // P
	}
	copy(pkt[20:], []byte{b0, 0x80 | byte(pid>>8), byte(pid), tid<<5 | 0x10 | sid<<1, tl0, 0xAA})
}

// TestSVCSpatialLayers: a consumer of a single-stream VP9 SVC producer
// targeted at spatial layer 1 gets layers 0 and 1 of each picture, the
// picture's end marked on layer 1, the numbering without gaps, and shows
// the medium profile; raised to layer 2 it waits for a key picture.
func TestSVCSpatialLayers(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done)
	p.streams[0].desc = codec.VP9{}
	c := (*p.consumers.Load())[0]
	read := consumerSink(t, p, c)
	p.streams[0].nacks = nil
	c.setLayerTargets(1, temporalAll)
	seq := uint16(500)
	picture := func(pid uint16, key bool) {
		for sid := uint8(0); sid < 3; sid++ {
			vp9SVC(pkt, seq, pid, sid, 0, uint8(pid), key, sid == 2)
			p.receiveRTP(pkt, 1111, batch)
			batch.Flush()
			seq++
		}
	}
	picture(40, true)
	picture(41, false)
	var got []rtp.Packet
	for range 4 {
		got = append(got, read())
	}
	for i, q := range got {
		sid := q.Payload[3] >> 1 & 7
		if int(sid) != i%2 || q.Marker != (sid == 1) || (i > 0 && q.SequenceNumber != got[i-1].SequenceNumber+1) {
			t.Fatalf("packet %d: sid %d marker %v seq %d", i, sid, q.Marker, q.SequenceNumber)
		}
	}
	if pidOf := func(q rtp.Packet) uint16 { return rtpwire.Uint16(q.Payload[1:]) & 0x7fff }; pidOf(got[0]) != pidOf(got[1]) || pidOf(got[2]) != pidOf(got[0])+1 {
		t.Fatal("a picture's spatial layers do not share its picture id")
	}
	if e := c.effective.Load(); e == nil || *e != profileMedium {
		t.Fatalf("effective profile %v, want medium", e)
	}
	if p.svcLayers() != 3 || p.streams[0].temporalLayers() != 1 {
		t.Fatalf("layers seen: %d spatial, %d temporal", p.svcLayers(), p.streams[0].temporalLayers())
	}
	c.setLayerTargets(2, temporalAll)
	picture(42, false) // no key picture: still layers 0 and 1
	picture(43, true)
	var sids []uint8
	for range 5 {
		sids = append(sids, read().Payload[3]>>1&7)
	}
	if want := []uint8{0, 1, 0, 1, 2}; string(sids) != string(want) {
		t.Fatalf("spatial layers after raising the target: %v, want %v", sids, want)
	}
	if e := c.effective.Load(); *e != profileHigh {
		t.Fatalf("effective profile %s, want high", *e)
	}
}

// setLayerRates makes stream st measure bps[t] on temporal layer t of
// spatial layer sid, at now.
func setLayerRates(st *producerStream, sid int, now time.Time, bps ...uint64) {
	st.lastPacketAt.Store(now.UnixNano())
	st.layers.temporal.Store(uint32(len(bps)))
	for t, r := range bps {
		m := &st.layers.meters[sid][t]
		m.mu.Lock()
		m.at, m.bps = now, r
		m.mu.Unlock()
	}
}

// TestSVCPreferenceSelectsSpatialLayer: preferred low, medium and high
// select spatial layers 0, 1 and 2 of an L3T3 producer, every temporal
// layer on a clear path; its ladder has the nine (spatial, temporal)
// steps.
func TestSVCPreferenceSelectsSpatialLayer(t *testing.T) {
	p := &Producer{kind: "video"}
	p.streams = newStreams([]rtpparams.EncodingParameters{{SSRC: 1}}, false)
	st := p.streams[0]
	now := zeroTime.Add(time.Minute)
	st.layers.spatial.Store(3)
	setLayerRates(st, 0, now, 50_000, 25_000, 25_000)
	setLayerRates(st, 1, now, 150_000, 75_000, 75_000)
	setLayerRates(st, 2, now, 450_000, 225_000, 225_000)
	for pref, want := range map[string]int{"low": 0, "medium": 1, "high": 2, "default": 2} {
		s := p.selectLevel(preferenceRank(pref), levelUnlimited, now)
		if s.stream != 0 || s.sid != want || s.tid != temporalAll {
			t.Errorf("preferred %s: %+v, want spatial layer %d", pref, s, want)
		}
	}
	l := p.ladder(rankHigh, now)
	if l.n != 9 || l.steps[0] != (step{makeLevel(rankLow, 0), 50_000}) || l.steps[8] != (step{topLevel(rankHigh), 1_300_000}) {
		t.Fatalf("ladder %+v", l.steps[:l.n])
	}
	if s := p.selectLevel(rankHigh, makeLevel(rankMedium, 1), now); s.sid != 1 || s.tid != 1 || p.rate(s, now) != 300_000 {
		t.Fatalf("medium at TL1: %+v", s)
	}
	if l := p.ladder(rankLow, now); l.n != 3 {
		t.Fatalf("preferring low: %d steps", l.n)
	}
}

// TestLadderOrderedByBitrate: the steps of a simulcast producer whose
// streams carry temporal layers follow their measured bitrates, each step
// down costing less; a stream whole that costs more than the base layer of
// the stream above (as Chromium's medium against high TL0 at 720p) is left
// out, so going down drops frame rate, then resolution.
func TestLadderOrderedByBitrate(t *testing.T) {
	p := &Producer{kind: "video"}
	p.streams = newStreams(simulcastEncodings(), false)
	now := zeroTime.Add(time.Minute)
	setLayerRates(p.streams[0], 0, now, 60_000, 30_000, 50_000)
	setLayerRates(p.streams[1], 0, now, 100_000, 90_000, 150_000)
	setLayerRates(p.streams[2], 0, now, 210_000, 180_000, 330_000)
	var got []int
	for l := p.stepDown(rankHigh, topLevel(rankHigh), now); l != 0; l = p.stepDown(rankHigh, l, now) {
		got = append(got, l)
	}
	want := []int{makeLevel(rankHigh, 1), makeLevel(rankHigh, 0), makeLevel(rankMedium, 1), makeLevel(rankMedium, 0), makeLevel(rankLow, 1), makeLevel(rankLow, 0)}
	if !slices.Equal(got, want) {
		t.Fatalf("steps down from high: %v, want %v", got, want)
	}
	// The high stream gone silent: a limit on it selects the costliest
	// step below it.
	p.streams[2].lastPacketAt.Store(0)
	if s := p.selectLevel(rankHigh, makeLevel(rankHigh, 1), now); s.stream != 1 || s.tid != temporalAll {
		t.Fatalf("high silent, limit high TL1: %+v", s)
	}
}

// TestLayersTemporalUnderCap: a simulcast consumer whose streams carry
// three temporal layers, measured per layer, keeps the high stream at a
// lower frame rate when the receiver's estimate falls between high and
// medium, and its media plane is told which temporal layer to stop at.
func TestLayersTemporalUnderCap(t *testing.T) {
	f := newSimulcastFixture()
	// Each stream's bytes split over TL0, TL1, TL2 as 40 %, 25 %, 35 %.
	share := [3]float64{0.40, 0.25, 0.35}
	measure := func() {
		for i, st := range f.p.streams {
			r := float64(f.rates[i])
			setLayerRates(st, 0, f.now, uint64(r*share[0]), uint64(r*share[1]), uint64(r*share[2]))
		}
	}
	measure()
	f.tick(500 * time.Millisecond)
	f.expect(t, "high", "clear path")
	if got := f.c.tidTarget.Load(); got != 0 {
		t.Fatalf("clear path: temporal target %d, want every layer", got)
	}
	// 1.2 Mb/s reported: room 1.41 Mb/s, high whole is 1.5, high TL0+TL1
	// 0.975.
	measure()
	f.drop(2_000_000, 1_200_000)
	f.expect(t, "high", "estimate between high and medium")
	if got := decodeTarget(f.c.tidTarget.Load(), temporalAll); got != 1 {
		t.Fatalf("temporal target %d, want TL1", got)
	}
	if e := f.c.rateAt(f.c.layers.limit, f.now); e != 975_000 {
		t.Fatalf("rate at the limit %d, want 975000", e)
	}
}

// TestLadderNewLayerNotAtTheBottom: a stream that just came live (its
// rates not measured yet) ranks by its level, so an unlimited consumer
// gets it at once instead of a lower stream.
func TestLadderNewLayerNotAtTheBottom(t *testing.T) {
	p := &Producer{kind: "video"}
	p.streams = newStreams(simulcastEncodings(), false)
	now := zeroTime.Add(time.Minute)
	setLayerRates(p.streams[0], 0, now, 60_000, 30_000, 50_000)
	setLayerRates(p.streams[1], 0, now, 100_000, 90_000, 150_000)
	setLayerRates(p.streams[2], 0, now, 0, 0, 0)
	if s := p.selectLevel(rankHigh, levelUnlimited, now); s.stream != 2 || s.tid != temporalAll {
		t.Fatalf("unlimited with high not measured yet: %+v", s)
	}
	if down := p.stepDown(rankHigh, topLevel(rankHigh), now); down != makeLevel(rankHigh, 1) {
		t.Fatalf("below high whole: %#x", down)
	}
}

// TestUnlimitedGetsTheHighestLayer: without a bandwidth limit a consumer
// gets the highest stream whole even while it measures less than the one
// below (it is ramping up), and the allocator does not "upgrade" it.
func TestUnlimitedGetsTheHighestLayer(t *testing.T) {
	f := newSimulcastFixture()
	now := zeroTime.Add(time.Minute)
	setLayerRates(f.p.streams[0], 0, now, 60_000, 30_000, 50_000)
	setLayerRates(f.p.streams[1], 0, now, 100_000, 90_000, 150_000)
	setLayerRates(f.p.streams[2], 0, now, 20_000, 10_000, 10_000)
	if s := f.p.selectLevel(rankHigh, levelUnlimited, now); s.stream != 2 || s.tid != temporalAll {
		t.Fatalf("unlimited while high ramps up: %+v", s)
	}
	a := &layerAllocator{debug: func(string, ...any) {}}
	f.c.layers.limit = levelUnlimited
	a.allocate([]layerConsumer{f.c}, 0, 0, now)
	if f.c.layers.limit != levelUnlimited || a.probing != nil {
		t.Fatalf("unlimited consumer moved: limit %#x, probing %v", f.c.layers.limit, a.probing != nil)
	}
}

// TestTemporalDroppingProperties: VP8 frames of one to three packets in
// the three-layer pattern, some layer-sync, the temporal target changed at
// random between frames. Whatever the changes, the receiver gets whole
// frames only, none above the target in force when it started, with
// sequence numbers +1 per packet, picture ids +1 per frame and TL0PICIDX
// +1 per TL0 frame; a temporal layer the receiver missed frames of comes
// back on a layer-sync frame only.
func TestTemporalDroppingProperties(t *testing.T) {
	p, pkt, batch, done := benchFanout(t, 1, "127.0.0.1")
	t.Cleanup(done)
	c := (*p.consumers.Load())[0]
	read := consumerSinkWithin(t, p, c)
	p.streams[0].nacks = nil
	rng := rand.New(rand.NewPCG(7, 23))
	seq, pid, tl0 := uint16(65000), uint16(0x7ff0), uint8(250)
	target := temporalAll
	var last *sentVP8
	received := 0
	var missed [3]bool // a frame of the layer was not forwarded since the last one that was
	for f := 0; f < 250; f++ {
		if rng.IntN(8) == 0 {
			target = []int{0, 1, temporalAll}[rng.IntN(3)]
			c.setLayerTargets(spatialAll, target)
		}
		tid := []uint8{0, 2, 1, 2}[f%4]
		if tid == 0 {
			tl0++
		}
		sync := tid > 0 && rng.IntN(2) == 0
		n := 1 + rng.IntN(3)
		for i := 0; i < n; i++ {
			vp8Temporal(pkt, seq, pid, tl0, tid, sync, f == 0)
			if i > 0 {
				pkt[20] &^= 0x10 // not the start of the frame
			}
			p.receiveRTP(pkt, 1111, batch)
			batch.Flush()
			seq++
		}
		pid = (pid + 1) & 0x7fff
		// What arrived of this frame: all of its packets or none (the sends
		// are done: a short wait finds what came).
		got := 0
		for {
			q, ok := read(10 * time.Millisecond)
			if !ok {
				break
			}
			s := readVP8(q)
			if last != nil {
				if s.seq != last.seq+1 {
					t.Fatalf("frame %d: seq %d after %d", f, s.seq, last.seq)
				}
				if got == 0 && s.pid != (last.pid+1)&0x7fff {
					t.Fatalf("frame %d: picture id %d after %d", f, s.pid, last.pid)
				}
				if got == 0 && s.tid == 0 && s.tl0 != last.tl0+1 || s.tid > 0 && s.tl0 != last.tl0 {
					t.Fatalf("frame %d: TL0PICIDX %d after %d (TID %d)", f, s.tl0, last.tl0, s.tid)
				}
			}
			if int(s.tid) > target {
				t.Fatalf("frame %d: TL%d forwarded with target %d", f, s.tid, target)
			}
			last = &s
			got++
			received++
		}
		if got != 0 && got != n {
			t.Fatalf("frame %d: %d of its %d packets forwarded", f, got, n)
		}
		switch {
		case got == 0:
			missed[tid] = true
		case missed[tid] && !sync && tid > 0:
			t.Fatalf("frame %d: TL%d back without a layer-sync frame", f, tid)
		default:
			missed[tid] = false
		}
	}
	if received == 0 || received == int(seq-65000) {
		t.Fatalf("%d packets received of %d: nothing dropped or nothing sent", received, seq-65000)
	}
}
