package sfu

import (
	"time"

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
					c.producer.requestKeyFrame(false)
				}
			}
		case *rtcp.FullIntraRequest:
			for _, e := range p.FIR {
				if c := consumers[e.SSRC]; c != nil {
					c.firCount.Add(1)
					if c.active.Load() {
						c.producer.requestKeyFrame(false)
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
		case *rtcp.SenderReport:
			if prod := (*t.producersBySSRC.Load())[p.SSRC]; prod != nil {
				prod.recv.lastSRNTP.Store(uint32(p.NTPTime >> 16))
				prod.recv.lastSRTime.Store(time.Now().UnixNano())
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

// sendReports sends an SR (+SDES) per consumer that sent media and an RR
// per producer stream on this transport.
func (t *Transport) sendReports(now time.Time) {
	var pkts []rtcp.Packet
	for _, c := range *t.consumersBySSRC.Load() {
		s := &c.send
		if s.packets.Load() == 0 {
			continue
		}
		c.lastSRNTP.Store(uint32(ntpTime(now) >> 16))
		rtpTs := s.reportTs.Load()
		if s.clockRate > 0 {
			el := now.Sub(time.Unix(0, s.reportAt.Load()))
			rtpTs += uint32(el.Milliseconds()) * (s.clockRate / 1000)
		}
		pkts = append(pkts,
			&rtcp.SenderReport{
				SSRC: c.ssrc, NTPTime: ntpTime(now), RTPTime: rtpTs,
				PacketCount: uint32(s.packets.Load()), OctetCount: uint32(s.bytes.Load()),
			},
			&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
				Source: c.ssrc, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: c.cname}},
			}}},
		)
	}
	seen := map[*Producer]bool{}
	var capped []uint32
	for _, prod := range *t.producersBySSRC.Load() {
		if seen[prod] {
			continue
		}
		seen[prod] = true
		capped = append(capped, prod.mediaSSRC)
		if rr := prod.receiverReport(now); rr != nil {
			pkts = append(pkts, rr)
		}
	}
	if max := t.maxBitrate.Load(); max > 0 && len(capped) > 0 {
		pkts = append(pkts, &rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 1, Bitrate: float32(max), SSRCs: capped})
	}
	for len(pkts) > 0 {
		n := min(len(pkts), 10)
		if b, err := rtcp.Marshal(pkts[:n]); err == nil {
			_ = t.wt.WriteRTCP(b)
		}
		pkts = pkts[n:]
	}
}

// receiverReport builds the RR of the producer's forwarded stream. Only
// the report goroutine of the producer's transport calls it.
func (p *Producer) receiverReport(now time.Time) *rtcp.ReceiverReport {
	s := &p.recv
	received := s.packets.Load()
	if received == 0 {
		return nil
	}
	maxSeq := s.maxSeq.Load()
	expected := maxSeq - s.baseSeq.Load() + 1
	lost := int64(expected) - int64(received)
	if lost < 0 {
		lost = 0
	}
	expInterval := expected - s.priorExpected
	recvInterval := received - s.priorReceived
	s.priorExpected, s.priorReceived = expected, received
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(lostInterval << 8 / int64(expInterval))
	}
	var dlsr uint32
	lsr := s.lastSRNTP.Load()
	if at := s.lastSRTime.Load(); at != 0 {
		dlsr = uint32(now.Sub(time.Unix(0, at)).Seconds() * 65536)
	}
	return &rtcp.ReceiverReport{
		SSRC: 1,
		Reports: []rtcp.ReceptionReport{{
			SSRC: p.mediaSSRC, FractionLost: fraction, TotalLost: uint32(min(lost, 0x7fffff)),
			LastSequenceNumber: maxSeq, LastSenderReport: lsr, Delay: dlsr,
		}},
	}
}

// onReceptionReport records what the receiver of a consumer reports: loss
// and, from LSR/DLSR, the round-trip time.
func (c *Consumer) onReceptionReport(r rtcp.ReceptionReport, now time.Time) {
	c.remoteLost.Store(r.TotalLost)
	c.remoteFraction.Store(uint32(r.FractionLost))
	if r.LastSenderReport == 0 {
		return
	}
	nowNTP := uint32(ntpTime(now) >> 16)
	rtt := nowNTP - r.LastSenderReport - r.Delay // 1/65536 s
	if int32(rtt) >= 0 {
		c.rttMicros.Store(int64(rtt) * 1000000 / 65536)
	}
}
