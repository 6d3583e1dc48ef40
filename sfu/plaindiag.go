package sfu

import (
	"sync/atomic"
	"time"
)

// plainSilence is how long a plain send transport may receive nothing
// before gosoup logs that its tool sends nothing (wrong address or port).
const plainSilence = 10 * time.Second

// plainDiag counts and reports, once each, what a tool sends wrong to a
// plain send transport: packets of an SSRC no producer has, or with a
// payload type the producer did not declare. The counts also go to the
// server's /metrics. Media plane, atomics only.
type plainDiag struct {
	unknownSSRC, badPayloadType atomic.Uint64
	loggedSSRC, loggedPT        atomic.Bool
	silence                     *time.Timer
}

// PlainDropped returns how many RTP packets from a plain transport's
// remote were dropped for an unknown SSRC or an undeclared payload type
// (after the transport's own counts of wrong sources and malformed
// datagrams, Plain().Counters()).
func (t *Transport) PlainDropped() (unknownSSRC, badPayloadType uint64) {
	l := t.plainLink()
	if l == nil || l.diag == nil {
		return 0, 0
	}
	return l.diag.unknownSSRC.Load(), l.diag.badPayloadType.Load()
}

// checkPlainRTP reports whether a plain transport's packet can be
// forwarded, counting and logging (once per transport and cause) the
// packets that cannot.
func (t *Transport) checkPlainRTP(d *plainDiag, pkt []byte) bool {
	ssrc := uint32(pkt[8])<<24 | uint32(pkt[9])<<16 | uint32(pkt[10])<<8 | uint32(pkt[11])
	prod := (*t.producersBySSRC.Load())[ssrc]
	if prod == nil {
		if t.ridProducers.Load() != nil {
			return true // maybe a RID stream not matched yet
		}
		d.unknownSSRC.Add(1)
		t.peer.counters().plainDropped.Add(1)
		if d.loggedSSRC.CompareAndSwap(false, true) {
			t.peer.logger().Warn("plain transport: RTP with an SSRC no producer declared (dropped, counted; logged once)",
				"transport", t.id, "ssrc", ssrc)
		}
		return false
	}
	if _, isRTX := prod.streamFor(ssrc); isRTX {
		return true // RTX carries its own payload type
	}
	if pt := pkt[1] & 0x7f; prod.ptMap[pt] < 0 {
		d.badPayloadType.Add(1)
		t.peer.counters().plainDropped.Add(1)
		if d.loggedPT.CompareAndSwap(false, true) {
			t.peer.logger().Warn("plain transport: RTP with a payload type the producer did not declare (dropped, counted; logged once)",
				"transport", t.id, "ssrc", ssrc, "payloadType", pt, "producer", prod.id)
		}
		return false
	}
	return true
}

// watchSilence logs when a plain send transport received nothing for
// plainSilence after its creation.
func (t *Transport) watchSilence(l *plainLink) {
	l.diag.silence = time.AfterFunc(plainSilence, func() {
		if l.BytesReceived() == 0 {
			t.peer.logger().Warn("plain transport: nothing received yet; is the tool sending to the right address and port?",
				"transport", t.id, "after", plainSilence, "port", l.LocalPort())
		}
	})
}
