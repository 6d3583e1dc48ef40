package sfu

import (
	"testing"
	"time"

	"github.com/gosoup/gosoup/codec"
)

func TestSendStateResyncContinuesSequence(t *testing.T) {
	var s sendState
	s.clockRate = 90000
	s.resync(nil, 65534, 4294966000, codec.Info{}, zeroTime)
	if out, _ := s.number(65534, 4294966000, codec.Info{}, zeroTime); out.seq != 65534 || out.ts != 4294966000 {
		t.Fatalf("first resync must keep the source numbering: %+v", out)
	}
	s.number(65535, 4294967000, codec.Info{}, zeroTime)
	s.resync(nil, 12, 777, codec.Info{}, zeroTime.Add(100e6))
	out, ok := s.number(12, 777, codec.Info{}, zeroTime.Add(100e6))
	if !ok || out.seq != 0 {
		t.Fatalf("seq after wrap = %d, want 0", out.seq)
	}
	if want := uint32(4294967000 + 9000 - 1<<32); out.ts != want {
		t.Fatalf("ts = %d, want %d (100 ms later)", out.ts, want)
	}
}

var zeroTime = time.Unix(1700000000, 0)
