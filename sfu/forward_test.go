package sfu

import (
	"testing"
	"time"

	"github.com/gosoup/gosoup/sfu/internal/rtpwire"
)

func TestSendStateResyncContinuesSequence(t *testing.T) {
	var s sendState
	s.clockRate = 90000
	s.resync(nil, 100, 5000, rtpwire.VP8Descriptor{}, zeroTime)
	if 100+s.seqOffset != 100 {
		t.Fatal("first resync must keep the source numbering")
	}
	s.lastSeq, s.lastTs, s.lastAt = 65535, 4294967000, zeroTime
	s.resync(nil, 12, 777, rtpwire.VP8Descriptor{}, zeroTime.Add(100e6))
	if got := uint16(12) + s.seqOffset; got != 0 {
		t.Fatalf("seq after wrap = %d, want 0", got)
	}
	if got, want := uint32(777)+s.tsOffset, uint32(4294967000+9000-1<<32); got != want {
		t.Fatalf("ts = %d", got)
	}
}

var zeroTime = time.Unix(1700000000, 0)
