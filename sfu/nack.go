package sfu

import "github.com/pion/rtcp"

// sendNack asks the producer's sender for lost packets; sent NACKs count
// in the producer's stats and the peer's metrics.
func (p *Producer) sendNack(st *producerStream, pairs []rtcp.NackPair) {
	nack := rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: st.ssrc.Load(), Nacks: pairs}
	b, err := nack.Marshal()
	if err != nil {
		return
	}
	if p.transport.writeRTCP(b) == nil {
		p.nackCount.Add(1)
		p.peer.counters().nacksSent.Add(1)
	}
}
