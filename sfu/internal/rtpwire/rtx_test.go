package rtpwire

import (
	"testing"

	"github.com/pion/rtp"
)

func TestBuildRTX(t *testing.T) {
	orig := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 500, Timestamp: 9000, SSRC: 77, Marker: true}, Payload: []byte{1, 2, 3, 4}}
	_ = orig.Header.SetExtension(3, []byte{7, 7, 7})
	raw, _ := orig.Marshal()
	buf := make([]byte, 1600)
	n := copy(buf, raw)
	off := n - len(orig.Payload)
	n = BuildRTX(buf, n, off, 102, 4242, 9, 500)
	var got rtp.Packet
	if err := got.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	if got.PayloadType != 102 || got.SSRC != 4242 || got.SequenceNumber != 9 || got.Timestamp != 9000 || !got.Marker {
		t.Fatalf("header %+v", got.Header)
	}
	if string(got.Payload) != string([]byte{0x01, 0xf4, 1, 2, 3, 4}) || string(got.GetExtension(3)) != string([]byte{7, 7, 7}) {
		t.Fatalf("payload %v ext %v", got.Payload, got.GetExtension(3))
	}
}

// TestDecodeRTX is sfu's TestDecodeRTX on the byte work alone, plus a
// packet longer than the destination.
func TestDecodeRTX(t *testing.T) {
	dst := make([]byte, 1600)
	rtx := []byte{0x80, 97, 0, 9, 0, 0, 0x23, 0x28, 0, 0, 0x08, 0xae, 0x01, 0xf4, 0xAA, 0xBB}
	out := DecodeRTX(dst, rtx, 96, 1111)
	if out == nil || out[1]&0x7f != 96 || Uint16(out[2:]) != 500 || Uint32(out[8:]) != 1111 || len(out) != 14 || out[12] != 0xAA {
		t.Fatalf("decoded %x", out)
	}
	probe := []byte{0xA0, 97, 0, 10, 0, 0, 0, 0, 0, 0, 0x08, 0xae, 0, 0, 0, 4} // padding only
	if DecodeRTX(dst, probe, 96, 1111) != nil {
		t.Fatal("padding-only probe decoded")
	}
	if DecodeRTX(dst[:len(rtx)-1], rtx, 96, 1111) != nil {
		t.Fatal("decoded into a destination too short")
	}
}
