package sfu

import (
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/pion/rtcp"
)

// handleRTCP relays key-frame requests from receivers to producers and
// records sender reports of producers.
func (t *Transport) handleRTCP(pkt []byte) {
	pkts, err := rtcp.Unmarshal(pkt)
	if err != nil {
		return
	}
	consumers := *t.consumersBySSRC.Load()
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.PictureLossIndication:
			if c := consumers[p.MediaSSRC]; c != nil {
				c.pliCount.Add(1)
				if c.active.Load() {
					c.producer.requestStreamKeyFrame(c.wantedStream())
				}
			}
		case *rtcp.FullIntraRequest:
			for _, e := range p.FIR {
				if c := consumers[e.SSRC]; c != nil {
					c.firCount.Add(1)
					if c.active.Load() {
						c.producer.requestStreamKeyFrame(c.wantedStream())
					}
				}
			}
		case *rtcp.TransportLayerNack:
			if c := consumers[p.MediaSSRC]; c != nil {
				c.nackCount.Add(1)
				for _, pair := range p.Nacks {
					pair.Range(func(seq uint16) bool {
						c.retransmit(seq)
						return true
					})
				}
			}
		case *rtcp.ReceiverReport:
			for _, r := range p.Reports {
				if c := consumers[r.SSRC]; c != nil {
					c.onReceptionReport(r, time.Now())
				}
			}
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			if t.rcv != nil { // what a client receives; ignored on a send transport
				t.rcv.remote.onREMB(uint64(p.Bitrate), time.Now())
				t.rcv.remoteREMB.Store(&protocol.AvailableBw{Bitrate: uint64(p.Bitrate), SSRCs: p.SSRCs})
			}
		case *rtcp.SenderReport:
			if prod := (*t.producersBySSRC.Load())[p.SSRC]; prod != nil {
				if st, rtx := prod.streamFor(p.SSRC); st != nil && !rtx {
					st.recv.lastSRNTP.Store(uint32(p.NTPTime >> 16))
					st.recv.lastSRTime.Store(time.Now().UnixNano())
				}
			}
		}
	}
}

// ntpTime converts a wall-clock time to a 64-bit NTP timestamp.
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix()) + 2208988800
	frac := uint64(t.Nanosecond()) * (1 << 32) / 1e9
	return secs<<32 | frac
}

// sendReports sends an SR (+SDES) per consumer that sent media since its
// last report and an RR per producer stream on this transport.
func (t *Transport) sendReports(now time.Time) {
	var pkts []rtcp.Packet
	for _, c := range *t.consumersBySSRC.Load() {
		s := &c.send
		sent := s.packets.Load()
		if sent == c.srPackets {
			// Nothing sent since the last report (never, paused, or a silent
			// source): no sender report (RFC 3550 6.4), so a consumer with
			// nothing to forward costs nothing here either.
			continue
		}
		c.srPackets = sent
		c.lastSRNTP.Store(uint32(ntpTime(now) >> 16))
		rtpTs := s.reportTs.Load()
		if s.clockRate > 0 {
			el := now.Sub(time.Unix(0, s.reportAt.Load()))
			rtpTs += uint32(el.Milliseconds()) * (s.clockRate / 1000)
		}
		pkts = append(pkts,
			&rtcp.SenderReport{
				SSRC: c.ssrc, NTPTime: ntpTime(now), RTPTime: rtpTs,
				PacketCount: uint32(sent), OctetCount: uint32(s.bytes.Load()),
			},
			&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
				Source: c.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: c.cname}},
			}}},
		)
	}
	seen := map[*Producer]bool{}
	var capped []uint32
	var expected, lost int64 // over this interval, every stream
	for _, prod := range *t.producersBySSRC.Load() {
		if seen[prod] {
			continue
		}
		seen[prod] = true
		var reports []rtcp.ReceptionReport
		for _, st := range prod.streams {
			if s := st.ssrc.Load(); s != 0 {
				capped = append(capped, s)
			}
			if r, iv, ok := st.receptionReport(now); ok {
				reports = append(reports, r)
				expected += iv.expected
				lost += iv.lost
			}
		}
		if len(reports) > 0 {
			pkts = append(pkts, &rtcp.ReceiverReport{SSRC: 1, Reports: reports})
		}
	}
	if t.snd != nil {
		t.snd.estimator.OnLoss(expected, lost, now)
	}
	if remb := t.remb(capped); remb != nil {
		pkts = append(pkts, remb)
	}
	for len(pkts) > 0 {
		n := min(len(pkts), 10)
		if b, err := rtcp.Marshal(pkts[:n]); err == nil {
			_ = t.writeRTCP(b)
		}
		pkts = pkts[n:]
	}
}

// remb is the REMB toward the sender of a send transport: the receive-side
// estimate, capped by SetMaxBitrate; nil when neither applies.
func (t *Transport) remb(ssrcs []uint32) *rtcp.ReceiverEstimatedMaximumBitrate {
	s := t.snd
	if len(ssrcs) == 0 || s == nil {
		return nil
	}
	bps := uint64(s.maxBitrate.Load())
	if s.estimator.Active() && s.tcc.Load() == nil {
		est, _ := s.estimator.Bitrate()
		if bps == 0 || est < bps {
			bps = est
		}
	}
	if bps == 0 {
		return nil
	}
	s.lastREMB.Store(&protocol.AvailableBw{Bitrate: bps, SSRCs: ssrcs})
	return &rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: float32(bps), SSRCs: ssrcs}
}

// sendREMB sends the REMB alone (the estimate dropped).
func (t *Transport) sendREMB() {
	var ssrcs []uint32
	seen := map[*Producer]bool{}
	for _, prod := range *t.producersBySSRC.Load() {
		if !seen[prod] {
			seen[prod] = true
			for _, st := range prod.streams {
				if s := st.ssrc.Load(); s != 0 {
					ssrcs = append(ssrcs, s)
				}
			}
		}
	}
	if remb := t.remb(ssrcs); remb != nil {
		if b, err := remb.Marshal(); err == nil {
			_ = t.writeRTCP(b)
		}
	}
}

// reportInterval is what a reception report's interval held: packets
// expected and, of them, lost (negative with duplicates).
type reportInterval struct{ expected, lost int64 }

// receptionReport builds the reception report block of a producer
// stream, with its interval's counts. Only the report goroutine of the
// producer's transport calls it.
func (st *producerStream) receptionReport(now time.Time) (rtcp.ReceptionReport, reportInterval, bool) {
	s := &st.recv
	received := s.packets.Load()
	if received == 0 {
		return rtcp.ReceptionReport{}, reportInterval{}, false
	}
	maxSeq := s.maxSeq.Load()
	expected, lost := s.expectedLost()
	expInterval := expected - s.priorExpected
	recvInterval := received - s.priorReceived
	s.priorExpected, s.priorReceived = expected, received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(min(255, lostInterval<<8/int64(expInterval)))
	}
	var dlsr uint32
	lsr := s.lastSRNTP.Load()
	if at := s.lastSRTime.Load(); at != 0 {
		dlsr = uint32(now.Sub(time.Unix(0, at)).Seconds() * 65536)
	}
	return rtcp.ReceptionReport{
		SSRC: st.ssrc.Load(), FractionLost: fraction, TotalLost: uint32(min(lost, 0x7fffff)),
		LastSequenceNumber: maxSeq, LastSenderReport: lsr, Delay: dlsr,
	}, reportInterval{expected: int64(expInterval), lost: int64(expInterval) - int64(recvInterval)}, true
}

// onReceptionReport records what the receiver of a consumer reports: loss
// and, from LSR/DLSR, the round-trip time.
func (c *Consumer) onReceptionReport(r rtcp.ReceptionReport, now time.Time) {
	c.remoteLost.Store(r.TotalLost)
	c.remoteFraction.Store(uint32(r.FractionLost))
	c.reports.Add(1)
	if r.LastSenderReport == 0 {
		return
	}
	nowNTP := uint32(ntpTime(now) >> 16)
	rtt := nowNTP - r.LastSenderReport - r.Delay // 1/65536 s
	if int32(rtt) >= 0 {
		c.rttMicros.Store(int64(rtt) * 1000000 / 65536)
	}
}
