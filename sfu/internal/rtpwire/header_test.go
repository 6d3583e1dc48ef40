package rtpwire

import (
	"bytes"
	"math/big"
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

// TestPutAbsSendTimeToday checks the value at today's clock, where the
// nanoseconds since 1970 shifted by 18 no longer fit 64 bits: it must be
// the exact 6.18 fixed-point time modulo 64 s, and advance smoothly across
// the point where the shifted product used to wrap.
func TestPutAbsSendTimeToday(t *testing.T) {
	exact := func(at time.Time) uint32 {
		n := new(big.Int).Lsh(big.NewInt(at.UnixNano()), 18)
		n.Div(n, big.NewInt(1e9))
		return uint32(new(big.Int).And(n, big.NewInt(0xffffff)).Uint64())
	}
	read := func(at time.Time) uint32 {
		var v [3]byte
		PutAbsSendTime(v[:], at)
		return uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
	}
	// 2026-12-08 and the first 2^46 ns boundary after it (where the old
	// computation jumped), with a millisecond on either side.
	day := time.Date(2026, 12, 8, 1, 0, 0, 123_456_789, time.UTC)
	wrap := time.Unix(0, (day.UnixNano()>>46+1)<<46)
	for _, at := range []time.Time{day, wrap.Add(-time.Millisecond), wrap, wrap.Add(time.Millisecond)} {
		if got, want := read(at), exact(at); got != want {
			t.Errorf("at %v: abs-send-time %#x, want %#x", at, got, want)
		}
	}
	if d := (read(wrap.Add(time.Millisecond)) - read(wrap.Add(-time.Millisecond))) & 0xffffff; d < 520 || d > 526 {
		t.Errorf("2 ms across %v advanced abs-send-time by %d (1/2^18 s units), want about 524", wrap, d)
	}
}
