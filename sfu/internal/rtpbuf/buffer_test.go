package rtpbuf

import "testing"

func TestRetransmissionBufferWraparound(t *testing.T) {
	r := NewBuffer(Slots)
	dst := make([]byte, 1600)
	for i := 0; i < 3*Slots; i++ {
		seq := uint16(65000 + i) // wraps through 0
		pkt := []byte{0x80, 101, byte(seq >> 8), byte(seq), 0, 0, 0, 0, 0, 0, 0, 1, byte(i)}
		r.Store(seq, pkt, 12)
	}
	count := 3 * Slots
	last := uint16(65000 + count - 1)
	if n, off, ok := r.Get(last, dst); !ok || n != 13 || off != 12 || dst[12] != byte(count-1) {
		t.Fatalf("newest: %d %d %v", n, off, ok)
	}
	if _, _, ok := r.Get(last-Slots, dst); ok {
		t.Fatal("a packet older than the buffer was returned")
	}
	if _, _, ok := r.Get(last-Slots+1, dst); !ok {
		t.Fatal("the oldest kept packet is missing")
	}
	if _, _, ok := r.Get(last+1, dst); ok {
		t.Fatal("a future packet was returned")
	}
}
