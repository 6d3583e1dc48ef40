package sfu

import (
	"testing"

	"github.com/pion/rtcp"
)

// BenchmarkHandleRTCP is the feedback path: a receiver's compound RR + PLI.
func BenchmarkHandleRTCP(b *testing.B) {
	t := &Transport{}
	t.consumersBySSRC.Store(&map[uint32]*Consumer{})
	t.producersBySSRC.Store(&map[uint32]*Producer{})
	pkt, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 5000, LastSequenceNumber: 100}}},
		&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 5000},
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		t.handleRTCP(pkt)
	}
}
