package rtpwire

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestFindExtension(t *testing.T) {
	for _, twoByte := range []bool{false, true} {
		h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}
		if twoByte {
			h.Extension, h.ExtensionProfile = true, 0x1000
		}
		_ = h.SetExtension(2, []byte{9, 8, 7})
		_ = h.SetExtension(5, []byte{1})
		raw, err := (&rtp.Packet{Header: h, Payload: []byte{0xAA, 0xBB}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if got := FindExtension(raw, 2); !bytes.Equal(got, []byte{9, 8, 7}) {
			t.Fatalf("two-byte %v: id 2 = %v", twoByte, got)
		}
		if got := FindExtension(raw, 5); !bytes.Equal(got, []byte{1}) {
			t.Fatalf("two-byte %v: id 5 = %v", twoByte, got)
		}
		if FindExtension(raw, 3) != nil || FindExtension(raw, 0) != nil {
			t.Fatalf("two-byte %v: absent id found", twoByte)
		}
		if FindExtension(raw[:15], 2) != nil {
			t.Fatalf("two-byte %v: truncated block read", twoByte)
		}
	}
}

func TestPayloadBounds(t *testing.T) {
	// Extension block of one word, 3 payload bytes, 2 padding bytes.
	pkt := []byte{0xB0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x20, 1, 0, 0, 0xA, 0xB, 0xC, 0, 2}
	if off, end, ok := PayloadBounds(pkt); !ok || off != 20 || end != 23 {
		t.Fatalf("off=%d end=%d ok=%v", off, end, ok)
	}
	if _, _, ok := PayloadBounds(pkt[:14]); ok {
		t.Fatal("truncated extension header accepted")
	}
	if _, _, ok := PayloadBounds([]byte{0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9}); ok {
		t.Fatal("padding longer than the payload accepted")
	}
}

func TestPutAbsSendTime(t *testing.T) {
	var v [3]byte
	PutAbsSendTime(v[:], time.Unix(64+1, 500_000_000)) // 64 s wrap: 1.5 s
	if got := uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2]); got != 3<<17 {
		t.Fatalf("abs-send-time %#x, want %#x", got, 3<<17)
	}
}
