package sfu

import (
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

// RID-only simulcast (Firefox, and WHIP publishers): a producer's
// encodings name an encodingId (RID) instead of an SSRC. Each stream's SSRC
// is learned from the first packet of an unknown SSRC that carries the
// stream's RID in the rtp-stream-id header extension; its RTX SSRC from
// repaired-rtp-stream-id when the sender has it, else from the original
// sequence number an RTX packet carries, which only the stream that lost
// that packet waits for. From then on the streams are routed by SSRC like
// any other. A stream never seen stays inactive, as a silent SSRC layer.

// ridRouting is what a producer needs to recognise its RID streams.
type ridRouting struct {
	ridExtID      uint8 // the sender's rtp-stream-id id, 0 when absent
	repairedExtID uint8 // the sender's repaired-rtp-stream-id id, 0 when absent
	rtxPT         int16 // the sender's RTX payload type, -1 when none
}

func newRIDRouting(p rtpparams.Parameters) ridRouting {
	r := ridRouting{rtxPT: -1}
	for _, e := range p.HeaderExtensions {
		if e.ID <= 0 || e.ID >= 15 {
			continue
		}
		switch e.URI {
		case rtpparams.URIRtpStreamID:
			r.ridExtID = uint8(e.ID)
		case rtpparams.URIRepairedStreamID:
			r.repairedExtID = uint8(e.ID)
		}
	}
	if mc, ok := p.MediaCodec(); ok {
		if pt, ok := p.RTXPayloadType(mc.PayloadType); ok {
			r.rtxPT = int16(pt)
		}
	}
	return r
}

// waitsForSSRCs reports whether a RID stream of the producer has not shown
// its SSRC, or its RTX SSRC when the sender has RTX, yet.
func (p *Producer) waitsForSSRCs() bool {
	for _, st := range p.streams {
		if st.rid == "" {
			continue
		}
		if st.ssrc.Load() == 0 || (p.rid.rtxPT >= 0 && st.rtxSSRC.Load() == 0) {
			return true
		}
	}
	return false
}

// matchRID tries to make ssrc, unknown so far, one of the producer's RID
// streams (or their RTX) and reports whether it did. Media plane only
// (a transport's packets are handled one at a time); no allocation.
func (p *Producer) matchRID(pkt []byte, ssrc uint32) bool {
	isRTX := p.rid.rtxPT >= 0 && int16(pkt[1]&0x7f) == p.rid.rtxPT
	var rid []byte
	switch {
	case isRTX && p.rid.repairedExtID != 0:
		rid = rtpwire.FindExtension(pkt, p.rid.repairedExtID)
	case !isRTX && p.rid.ridExtID != 0:
		rid = rtpwire.FindExtension(pkt, p.rid.ridExtID)
	}
	if len(rid) > 0 {
		for _, st := range p.streams {
			if st.rid == "" || st.rid != string(rid) {
				continue
			}
			if isRTX {
				return st.rtxSSRC.CompareAndSwap(0, ssrc)
			}
			return st.ssrc.CompareAndSwap(0, ssrc)
		}
		return false
	}
	if !isRTX {
		return false
	}
	// An RTX packet without a RID repairs the one stream that lost the
	// sequence number it carries.
	off, end, ok := rtpwire.PayloadBounds(pkt)
	if !ok || end-off < 2 {
		return false // padding (bandwidth probes) says nothing
	}
	osn := rtpwire.Uint16(pkt[off:])
	var match *producerStream
	for _, st := range p.streams {
		if st.rid == "" || st.rtxSSRC.Load() != 0 || st.nacks == nil || !st.nacks.Pending(osn) {
			continue
		}
		if match != nil {
			return false // ambiguous: wait for another
		}
		match = st
	}
	return match != nil && match.rtxSSRC.CompareAndSwap(0, ssrc)
}

// learnSSRC routes a packet of an unknown SSRC to the producer whose RID
// stream it is, learning the SSRC; nil when none claims it.
func (t *Transport) learnSSRC(pkt []byte, ssrc uint32) *Producer {
	ps := t.ridProducers.Load()
	if ps == nil {
		return nil
	}
	for _, p := range *ps {
		if !p.matchRID(pkt, ssrc) {
			continue
		}
		t.ssrcMu.Lock()
		defer t.ssrcMu.Unlock()
		select {
		case <-p.done:
			return nil // closed meanwhile: its SSRCs are no longer routed
		default:
		}
		m := copyMap(*t.producersBySSRC.Load())
		if m[ssrc] != nil {
			return nil
		}
		m[ssrc] = p
		t.producersBySSRC.Store(&m)
		if !p.waitsForSSRCs() {
			t.setRIDProducer(p, false)
		}
		p.peer.logger().Debug("RID stream matched", "producer", p.id, "ssrc", ssrc)
		return p
	}
	return nil
}

// setRIDProducer adds p to or removes it from the producers waiting for
// SSRCs. The caller holds ssrcMu.
func (t *Transport) setRIDProducer(p *Producer, waiting bool) {
	var next []*Producer
	if old := t.ridProducers.Load(); old != nil {
		for _, x := range *old {
			if x != p {
				next = append(next, x)
			}
		}
	}
	if waiting {
		next = append(next, p)
	}
	if len(next) == 0 {
		t.ridProducers.Store(nil)
		return
	}
	t.ridProducers.Store(&next)
}
