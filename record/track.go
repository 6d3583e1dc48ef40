package record

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
)

// Timing of a track's loop.
const (
	tickInterval   = 20 * time.Millisecond  // longest wait for a datagram before NACKs, PLIs and reports are looked at
	pliInterval    = 500 * time.Millisecond // between two key-frame requests while waiting for one
	reportInterval = time.Second            // receiver reports
	anchorWait     = 1500 * time.Millisecond
)

// track receives one producer's media from its RtpStreamer on a UDP
// socket of its own, answers like a browser would (NACK for gaps, PLI
// while it needs a key frame, receiver reports) and hands the frames,
// timed on the wall clock, to the multiplexer. Its fields belong to its
// goroutine (run) until that ends.
type track struct {
	rec      *Recording
	index    int
	kind     string
	producer uint32
	codec    codec
	streamer *sfu.RtpStreamer
	conn     *net.UDPConn
	peerAddr netip.AddrPort // where the streamer sends from (or the relay): RTCP goes there

	ssrc, rtxSSRC uint32
	pt, rtxPT     uint8
	senderSSRC    uint32

	jitter  *jitterBuffer
	asm     *assembler
	clock   *mediaClock
	pending []pendingFrame
	frames  []frame // scratch

	firstAt          time.Time
	firstExt         int64
	lastExt          int64 // of the last frame
	lastPLI, lastRR  time.Time
	lastSR           uint32 // middle 32 bits of the last sender report's NTP time
	lastSRAt         time.Time
	priorExp, priorR uint64

	packets, retransmitted, plis, nacks uint64
}

// listenLoopback opens the track's socket on the loopback interface,
// with a receive buffer big enough for key-frame bursts.
func listenLoopback() (*net.UDPConn, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		if conn, err = net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err != nil {
			return nil, fmt.Errorf("record: socket: %w", err)
		}
	}
	_ = conn.SetReadBuffer(1 << 20)
	return conn, nil
}

// pendingFrame waits for the clock's anchor.
type pendingFrame struct {
	ext int64
	f   frame
}

// run is the track's goroutine: it ends when the recording stops or the
// streamer closes (the producer closed), after flushing what it holds.
func (t *track) run() {
	defer t.rec.wg.Done()
	done := t.streamer.Transport().Plain().Done()
	buf := make([]byte, 1600)
	t.service(time.Now())
	for {
		select {
		case <-t.rec.quit:
			t.finish(false)
			return
		case <-done:
			t.finish(true)
			return
		default:
		}
		_ = t.conn.SetReadDeadline(time.Now().Add(tickInterval))
		n, from, err := t.conn.ReadFromUDPAddrPort(buf)
		now := time.Now()
		switch {
		case err == nil:
			if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) == t.peerAddr {
				t.receive(buf[:n], now)
			}
		case errors.Is(err, net.ErrClosed):
			t.rec.log.Warn("recording: socket closed", "kind", t.kind)
			t.finish(false)
			return
		default: // the deadline (a tick), or an ICMP error surfacing
		}
		t.service(now)
	}
}

// receive handles one datagram from the streamer.
func (t *track) receive(b []byte, now time.Time) {
	if len(b) < 2 {
		return
	}
	if b[1] >= 192 && b[1] <= 223 { // RTCP (RFC 5761)
		t.receiveRTCP(b, now)
		return
	}
	p := &rtp.Packet{}
	if err := p.Unmarshal(append([]byte(nil), b...)); err != nil {
		return
	}
	switch {
	case p.SSRC == t.rtxSSRC && t.rtxSSRC != 0 && p.PayloadType == t.rtxPT:
		if len(p.Payload) < 2 {
			return // padding
		}
		p.SequenceNumber = uint16(p.Payload[0])<<8 | uint16(p.Payload[1])
		p.Payload = p.Payload[2:]
		p.SSRC, p.PayloadType = t.ssrc, t.pt
		t.retransmitted++
	case p.SSRC != t.ssrc || p.PayloadType != t.pt:
		return
	}
	t.packets++
	if t.firstAt.IsZero() {
		t.firstAt, t.firstExt = now, t.clock.extend(p.Timestamp)
		t.rec.log.Debug("recording: first packet", "kind", t.kind, "after", now.Sub(t.rec.mux.created))
	}
	t.jitter.push(p, now)
}

// receiveRTCP reads the streamer's sender reports: they anchor the clock.
func (t *track) receiveRTCP(b []byte, now time.Time) {
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		return
	}
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == t.ssrc {
			if t.clock.onSenderReport(sr.NTPTime, sr.RTPTime) {
				t.rec.log.Info("recording: clock re-anchored by a sender report", "kind", t.kind)
			}
			t.lastSR, t.lastSRAt = uint32(sr.NTPTime>>16), now
		}
	}
}

// service releases what the jitter buffer can, sends the frames on, and
// sends the RTCP that is due.
func (t *track) service(now time.Time) {
	for {
		p, gap := t.jitter.pop(now)
		if p == nil {
			break
		}
		t.assemble(p, gap)
	}
	t.frames = t.asm.pop(t.frames[:0])
	t.deliver(now, false)

	var pkts []rtcp.Packet
	if seqs := t.jitter.nacks(now); len(seqs) > 0 {
		t.nacks += uint64(len(seqs))
		pkts = append(pkts, &rtcp.TransportLayerNack{SenderSSRC: t.senderSSRC, MediaSSRC: t.ssrc,
			Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
	}
	if t.asm.wantKeyFrame() && now.Sub(t.lastPLI) >= pliInterval {
		t.lastPLI = now
		t.plis++
		pkts = append(pkts, &rtcp.PictureLossIndication{SenderSSRC: t.senderSSRC, MediaSSRC: t.ssrc})
	}
	if t.jitter.started && now.Sub(t.lastRR) >= reportInterval {
		t.lastRR = now
		pkts = append(pkts, t.receiverReport(now))
	}
	if len(pkts) > 0 {
		if b, err := rtcp.Marshal(pkts); err == nil {
			_, _ = t.conn.WriteToUDPAddrPort(b, t.peerAddr)
		}
	}
}

// assemble gives the assembler the next packet (padding-only packets
// only carry the news of a gap).
func (t *track) assemble(p *rtp.Packet, gap bool) {
	if len(p.Payload) == 0 {
		if gap {
			t.asm.lost()
		}
		return
	}
	t.asm.push(p, gap)
}

// deliver times the frames in t.frames and gives them to the multiplexer;
// they wait while the clock has no anchor (at most anchorWait after the
// first packet, or until the end).
func (t *track) deliver(now time.Time, final bool) {
	for _, f := range t.frames {
		ext := t.clock.extend(f.ts)
		if t.lastExt != 0 && ext > t.lastExt {
			f.span = time.Duration((ext - t.lastExt) * int64(time.Second) / int64(t.codec.clockRate))
		}
		t.lastExt = ext
		t.pending = append(t.pending, pendingFrame{ext: ext, f: f})
	}
	t.frames = t.frames[:0]
	if !t.clock.anchored && !t.firstAt.IsZero() && (final || now.Sub(t.firstAt) >= anchorWait) {
		t.rec.log.Info("recording: no sender report, timing by arrival", "kind", t.kind)
		t.clock.anchorAtArrival(t.firstExt, t.firstAt)
	}
	if !t.clock.anchored {
		return
	}
	for _, pf := range t.pending {
		t.rec.mux.write(t.index, t.clock.wallOf(pf.ext), pf.f)
	}
	t.pending = t.pending[:0]
}

// receiverReport describes what arrived since the last one.
func (t *track) receiverReport(now time.Time) *rtcp.ReceiverReport {
	j := t.jitter
	expected, received := j.highest-j.base+1, j.received
	lost := int64(expected) - int64(received)
	var fraction uint8
	if de, dr := int64(expected-t.priorExp), int64(received-t.priorR); de > 0 && de > dr {
		fraction = uint8(min(255, (de-dr)*256/de))
	}
	t.priorExp, t.priorR = expected, received
	var dlsr uint32
	if !t.lastSRAt.IsZero() {
		dlsr = uint32(now.Sub(t.lastSRAt).Seconds() * 65536)
	}
	return &rtcp.ReceiverReport{SSRC: t.senderSSRC, Reports: []rtcp.ReceptionReport{{
		SSRC: t.ssrc, FractionLost: fraction, TotalLost: uint32(max(0, min(lost, 0x7fffff))),
		LastSequenceNumber: uint32(j.highest - 1<<16), LastSenderReport: t.lastSR, Delay: dlsr,
	}}}
}

// finish flushes the track into the file, closes its socket and
// streamer, and tells the recording (producerClosed: the track ended on
// its own).
func (t *track) finish(producerClosed bool) {
	t.jitter.drain(t.assemble)
	t.frames = t.asm.flush(t.frames[:0])
	t.deliver(time.Now(), true)
	_ = t.conn.Close()
	t.streamer.Close()
	t.rec.trackEnded(t.index, producerClosed)
}

// newTrack creates the socket and the streamer of one producer.
func (r *Recording) newTrack(room *sfu.Room, i int, prod *sfu.Producer, c codec) (*track, error) {
	conn, err := listenLoopback()
	if err != nil {
		return nil, err
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	dst := local
	if r.opts.Via != nil {
		if dst, err = r.opts.Via(prod.Kind(), local); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("record: via: %w", err)
		}
	}
	so := sfu.RtpStreamerOptions{RemoteIP: dst.Addr().String(), RemotePort: int(dst.Port())}
	if dst.Addr().IsLoopback() {
		so.LocalIP = dst.Addr().String()
	}
	s, err := room.CreateRtpStreamer(prod, so)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("record: %s streamer: %w", prod.Kind(), err)
	}
	t := &track{rec: r, index: i, kind: prod.Kind(), producer: prod.ID(), codec: c, streamer: s, conn: conn,
		jitter: newJitterBuffer(audioJitter), asm: newAssembler(c), clock: newMediaClock(c.clockRate)}
	if c.video {
		t.jitter = newJitterBuffer(videoJitter)
	}
	params := s.Consumer().RTPParameters()
	mc, _ := params.MediaCodec()
	t.pt, t.ssrc = uint8(mc.PayloadType), params.Encodings[0].SSRC
	if rtx := params.Encodings[0].RTX; rtx != nil {
		if pt, ok := params.RTXPayloadType(mc.PayloadType); ok {
			t.rtxSSRC, t.rtxPT = rtx.SSRC, uint8(pt)
		}
	}
	t.senderSSRC = rtpparams.RandomID()
	t.peerAddr = dst
	if r.opts.Via == nil {
		pl, _ := s.Transport().PlainLocal()
		a, err := netip.ParseAddr(pl.IP)
		if err != nil {
			_ = conn.Close()
			s.Close()
			return nil, fmt.Errorf("record: streamer address %q: %w", pl.IP, err)
		}
		t.peerAddr = netip.AddrPortFrom(a.Unmap(), uint16(pl.Port))
	}
	return t, nil
}
