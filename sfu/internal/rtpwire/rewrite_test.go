package rtpwire

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

func TestRewriteRTPMapsPayloadTypeAndExtensions(t *testing.T) {
	in := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, Timestamp: 99, SSRC: 1234, Marker: true},
		Payload: []byte{1, 2, 3, 4, 5},
	}
	// toffset id 14 (dropped), abs-send-time id 2 (-> 3), mid id 4 (dropped).
	_ = in.Header.SetExtension(14, []byte{0, 0, 1})
	_ = in.Header.SetExtension(2, []byte{9, 9, 9})
	_ = in.Header.SetExtension(4, []byte("0"))
	raw, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var ptMap [128]int16
	for i := range ptMap {
		ptMap[i] = -1
	}
	ptMap[96] = 101
	var extMap [256]uint8
	extMap[2] = 3
	dst := make([]byte, 1600)
	n, off, plen := RewriteRTP(dst, raw, &ptMap, &extMap)
	if n < 0 {
		t.Fatal("dropped")
	}
	var out rtp.Packet
	if err := out.Unmarshal(dst[:n]); err != nil {
		t.Fatal(err)
	}
	if out.PayloadType != 101 || !out.Marker || out.SSRC != 1234 || out.SequenceNumber != 7 {
		t.Fatalf("header %+v", out.Header)
	}
	if got := out.GetExtension(3); !bytes.Equal(got, []byte{9, 9, 9}) {
		t.Fatalf("abs-send-time = %v", got)
	}
	if out.GetExtension(14) != nil || out.GetExtension(4) != nil || len(out.GetExtensionIDs()) != 1 {
		t.Fatalf("extensions = %v", out.GetExtensionIDs())
	}
	if !bytes.Equal(out.Payload, in.Payload) || !bytes.Equal(dst[off:off+plen], in.Payload) {
		t.Fatalf("payload %v", out.Payload)
	}
}

func TestRewriteRTPDropsUnknownPayloadTypeAndGarbage(t *testing.T) {
	var ptMap [128]int16
	for i := range ptMap {
		ptMap[i] = -1
	}
	var extMap [256]uint8
	dst := make([]byte, 1600)
	pkt := []byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xAA}
	if n, _, _ := RewriteRTP(dst, pkt, &ptMap, &extMap); n != -1 {
		t.Fatal("unknown payload type forwarded")
	}
	ptMap[96] = 100
	for _, bad := range [][]byte{
		{},
		{0x80, 96},
		{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9}, // extension longer than packet
		{0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xAA, 50},         // padding longer than packet
		{0x8F, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1},                   // 15 CSRCs missing
	} {
		if n, _, _ := RewriteRTP(dst, bad, &ptMap, &extMap); n != -1 {
			t.Fatalf("malformed %x forwarded", bad)
		}
	}
}

func FuzzRewriteRTP(f *testing.F) {
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x22, 1, 2, 3, 0x10, 0})
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 2, 2, 1, 2, 0xAA})
	var ptMap [128]int16
	var extMap [256]uint8
	extMap[2], extMap[1] = 3, 14
	f.Fuzz(func(t *testing.T, pkt []byte) {
		dst := make([]byte, len(pkt)+8)
		n, off, plen := RewriteRTP(dst, pkt, &ptMap, &extMap)
		if n > len(dst) || (n >= 0 && (off+plen > n || plen < 0)) {
			t.Fatalf("n=%d off=%d plen=%d len=%d", n, off, plen, len(pkt))
		}
	})
}
