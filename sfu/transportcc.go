package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// transportCC answers a sender that numbers its packets with the
// transport-wide-cc extension with transport-cc feedback (arrival times
// of every packet), so the sender runs its own congestion control; REMB
// then only carries SetMaxBitrate's cap. Built on pion's twcc recorder.
type transportCC struct {
	mu    sync.Mutex
	rec   *twcc.Recorder
	start time.Time
	sent  atomic.Uint64 // feedback packets sent
}

// useTransportCC turns feedback on for the transport (a producer on it
// negotiated transport-wide-cc). Room lock held.
func (t *Transport) useTransportCC() {
	if t.snd.tcc.Load() == nil {
		t.snd.tcc.Store(&transportCC{rec: twcc.NewRecorder(1), start: time.Now()})
	}
}

// record notes a packet's arrival. Media plane.
func (f *transportCC) record(ssrc uint32, seq uint16, now time.Time) {
	f.mu.Lock()
	f.rec.Record(ssrc, seq, now.Sub(f.start).Microseconds())
	f.mu.Unlock()
}

// feedback returns the packets to send now (none when nothing arrived).
func (f *transportCC) feedback() []rtcp.Packet {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.BuildFeedbackPacket()
}

// sendTransportCC sends pending feedback. Report loop.
func (t *Transport) sendTransportCC() {
	if t.snd == nil {
		return
	}
	f := t.snd.tcc.Load()
	if f == nil {
		return
	}
	pkts := f.feedback()
	if len(pkts) == 0 {
		return
	}
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		return
	}
	if t.writeRTCP(b) == nil {
		f.sent.Add(uint64(len(pkts)))
		t.peer.counters().tccFeedback.Add(uint64(len(pkts)))
	}
}

// TransportCCFeedbackSent returns how many transport-cc feedback packets
// the transport sent (0 when its sender did not negotiate transport-cc).
func (t *Transport) TransportCCFeedbackSent() uint64 {
	if t.snd == nil {
		return 0
	}
	if f := t.snd.tcc.Load(); f != nil {
		return f.sent.Load()
	}
	return 0
}
