package sfu

import (
	"time"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
	"github.com/gosoup/gosoup/transport"
)

// receiveRTP is the hot path: route the packet to its stream, let the
// stream account for it, rewrite it once in room terms, fan it out to the
// active consumers. It allocates nothing.
func (p *Producer) receiveRTP(pkt []byte, ssrc uint32, b *transport.Batch) {
	st, isRTX := p.streamFor(ssrc)
	if st == nil {
		return
	}
	now := time.Now()
	p.observeTransportWide(pkt, ssrc, now)
	pkt, nacks := st.onPacket(pkt, isRTX, p.mediaPT, now)
	if len(nacks) > 0 {
		p.sendNack(st, nacks)
	}
	if pkt == nil {
		return
	}
	if p.levels != nil {
		p.levels.observe(pkt, p.audioLevelID)
	}
	if p.paused.Load() {
		return
	}
	p.fanOut(pkt, st, isRTX, now, b)
}

// observeTransportWide feeds what concerns the whole send transport:
// transport-cc arrival times and the receive-side bandwidth estimator
// (every packet counts, RTX padding included: senders pad to probe).
func (p *Producer) observeTransportWide(pkt []byte, ssrc uint32, now time.Time) {
	if p.srcTCCID != 0 {
		if v := rtpwire.FindExtension(pkt, p.srcTCCID); len(v) == 2 {
			if f := p.transport.snd.tcc.Load(); f != nil {
				f.record(ssrc, rtpwire.Uint16(v), now)
			}
		}
	}
	if e := p.estimator; e != nil && p.srcAbsSendTimeID != 0 {
		if v := rtpwire.FindExtension(pkt, p.srcAbsSendTimeID); len(v) == 3 {
			e.OnPacket(now, uint32(v[0])<<16|uint32(v[1])<<8|uint32(v[2]), len(pkt))
		}
	}
}

// fanOut rewrites a media packet of stream st once into the producer's
// scratch buffer (room payload type and extension ids, fresh
// abs-send-time), keeps it for retransmissions, parses its payload
// descriptor with the stream's codec (key frames answer the stream's
// key-frame requests; its layer counted unless it came as RTX) and hands it
// to every active consumer.
func (p *Producer) fanOut(pkt []byte, st *producerStream, isRTX bool, now time.Time, b *transport.Batch) {
	cs := p.activeConsumers() // paused and disabled consumers are not visited
	slot := p.slot.Load()
	if ps := p.pipes.Load(); len(cs) == 0 && slot == nil && (ps == nil || len(*ps) == 0) {
		return
	}
	n, payOff, payLen := rtpwire.RewriteRTP(p.scratch[:], pkt, &p.ptMap, &p.extMap)
	if n < 0 {
		return
	}
	buf := p.scratch[:n]
	seq := rtpwire.Uint16(buf[2:])
	if st.rtx != nil {
		st.rtx.Store(seq, buf, payOff)
		if d := seq - st.newestStored; d < 0x8000 || !st.storedAny {
			st.newestStored, st.storedAny = seq, true
		}
	}
	var d codec.Info
	if st.desc != nil {
		d = st.desc.Parse(buf[payOff:payOff+payLen], payOff)
		if isRTX {
			// A retransmitted key frame is no place to switch or resync at:
			// Chromium probes the path with RTX copies of old packets, old
			// key frames among them, and a consumer switched on one would
			// restart its numbering in the past (a gap of 66-313 packets and
			// a 2.8 s stall seen on H264 simulcast switched down).
			d.KeyFrame = false
		}
		if st.keyFrames.onPacket(d.KeyFrame, now.UnixNano()) && p.canRequestKeyFrame(st) {
			p.sendPLI(st) // the last request went unanswered
		}
		if !isRTX {
			// Not retransmissions: Chromium probes the path with RTX copies
			// of old packets, which would inflate a layer's rate.
			st.layers.onPacket(d, n)
		}
	}
	if p.absSendTimeID != 0 {
		if v := rtpwire.FindExtension(buf, p.absSendTimeID); len(v) == 3 {
			rtpwire.PutAbsSendTime(v, now)
		}
	}
	ts := rtpwire.Uint32(pkt[4:])
	p.writePipes(buf, st)
	for _, c := range cs {
		if c.active.Load() {
			c.forward(buf, st, seq, ts, d, now, b)
		}
	}
	if slot != nil {
		slot.forward(p, buf, st, seq, ts, now, b)
	}
}

// forward sends one rewritten packet of stream st, whose payload
// descriptor says d, to the consumer's transport if st is the stream the
// consumer forwards, switching streams on a key frame of the target one,
// and if the packet's layers are the consumer's (layerSelect.admit);
// packets of other layers are skipped without a gap.
func (c *Consumer) forward(buf []byte, st *producerStream, seq uint16, ts uint32, d codec.Info, now time.Time, b *transport.Batch) {
	t := c.transport.Load()
	if t == nil || !t.link.Connected() {
		return
	}
	waitKey := st.desc != nil && !d.KeyFrame
	cur, tgt := c.current.Load(), c.target.Load()
	if int(tgt) == st.index && cur != tgt {
		if waitKey {
			c.producer.requestStreamKeyFrame(st)
			return // switch on a key frame of the target stream only
		}
		c.current.Store(tgt)
		cur = tgt
		c.resync.Store(true)
		if !d.HasSID {
			c.setEffective(st.profile)
		}
	} else if int(cur) != st.index {
		return
	}
	if c.resync.Load() {
		if waitKey {
			c.producer.requestStreamKeyFrame(st)
			return // wait for a key frame so the receiver can decode at once
		}
		c.resync.Store(false)
		c.send.resync(st, seq, ts, d, now)
		c.restartLayers()
		defer c.replayNewer(st, seq, now, b) // after this packet
		if d.HasSID {
			c.setEffective(svcProfile(c.sid))
		}
	}
	if d.HasTID || d.HasSID {
		// Layers change only on packets newer than every one seen: a late
		// one or a sender's RTX copy of an old packet (Chromium probes with
		// them) starts no picture.
		v := c.admit(d, cur != tgt || !c.send.seq.Newer(uint32(seq)))
		if v&layerWantKey != 0 {
			c.producer.requestStreamKeyFrame(st)
		}
		if v&layerSpatialChanged != 0 {
			c.setEffective(svcProfile(c.sid))
		}
		if v&layerSkip != 0 {
			c.skip(t, seq, ts, d, v&layerWholePicture != 0)
			return
		}
		if v&layerEndOfPicture != 0 && buf[1]&0x80 == 0 {
			// The upper spatial layers are not sent: this packet ends the
			// picture for the receiver (RTP marker), for this consumer only.
			buf[1] |= 0x80
			c.write(t, buf, seq, ts, d, now, b)
			buf[1] &^= 0x80
			return
		}
	}
	c.write(t, buf, seq, ts, d, now, b)
}

// replayMax bounds how many stored packets a resync replays (about a large
// key frame's).
const replayMax = 256

// replayNewer forwards the packets of stream st newer than seq that arrived
// before it and were left out while the consumer waited for the key frame
// that starts at seq. Over a path that reorders (jitter), a key frame's
// first packet can come after some of its others; those were never sent to
// the receiver, so no retransmission could fill the gap and it waited
// (about 3 s, Chromium's wait for a frame) for the next key frame: a stall
// at every start and layer switch. They are taken from the stream's
// retransmission buffer, in order. Media plane only.
func (c *Consumer) replayNewer(st *producerStream, seq uint16, now time.Time, b *transport.Batch) {
	if st.rtx == nil || !st.storedAny {
		return
	}
	newest := st.newestStored
	if d := newest - seq; d == 0 || d >= replayMax {
		return
	}
	p := c.producer
	for s := seq + 1; ; s++ {
		if n, off, ok := st.rtx.Get(s, p.replay[:]); ok && off < n {
			buf := p.replay[:n]
			var d codec.Info
			if st.desc != nil {
				d = st.desc.Parse(buf[off:], off)
			}
			c.forward(buf, st, s, rtpwire.Uint32(buf[4:]), d, now, b)
		}
		if s == newest {
			return
		}
	}
}

// setEffective records the profile the consumer now receives and tells its
// client when it changed.
func (c *Consumer) setEffective(profile string) {
	if old := c.effective.Load(); old != nil && *old == profile {
		return
	}
	p := profile
	if old := c.effective.Swap(&p); old != nil && *old == profile {
		return
	}
	c.peer.counters().profileChanges.Add(1)
	c.peer.notify(protocol.ConsumerEffectiveProfileChanged{ID: c.id, PeerName: c.producer.peer.name, Profile: profile})
}
