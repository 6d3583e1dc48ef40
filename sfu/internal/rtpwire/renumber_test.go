package rtpwire

import (
	"bytes"
	"testing"

	"github.com/pion/rtp"
)

// swap13 exchanges ids 1 and 3 and moves 2 to 9 (and 9 to 2).
func swap13() (fwd, back [16]uint8) {
	for i := range fwd {
		fwd[i] = uint8(i)
	}
	fwd[1], fwd[3], fwd[2], fwd[9] = 3, 1, 9, 2
	for i, v := range fwd {
		back[v] = uint8(i)
	}
	return fwd, back
}

func TestRenumberExtensions(t *testing.T) {
	fwd, back := swap13()
	for _, twoByte := range []bool{false, true} {
		h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}
		if twoByte {
			h.Extension, h.ExtensionProfile = true, 0x1000
		}
		_ = h.SetExtension(1, []byte{0x80})
		_ = h.SetExtension(3, []byte{9, 8, 7})
		_ = h.SetExtension(2, []byte{5})
		raw, err := (&rtp.Packet{Header: h, Payload: []byte{0xAA, 0xBB}}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		orig := bytes.Clone(raw)
		RenumberExtensions(raw, &fwd)
		if len(raw) != len(orig) {
			t.Fatal("length changed")
		}
		if got := FindExtension(raw, 1); !bytes.Equal(got, []byte{9, 8, 7}) {
			t.Errorf("two-byte %v: id 1 (was 3) = %v", twoByte, got)
		}
		if got := FindExtension(raw, 3); !bytes.Equal(got, []byte{0x80}) {
			t.Errorf("two-byte %v: id 3 (was 1) = %v", twoByte, got)
		}
		if got := FindExtension(raw, 9); !bytes.Equal(got, []byte{5}) {
			t.Errorf("two-byte %v: id 9 (was 2) = %v", twoByte, got)
		}
		var p rtp.Packet
		if err := p.Unmarshal(raw); err != nil || !bytes.Equal(p.Payload, []byte{0xAA, 0xBB}) {
			t.Errorf("two-byte %v: renumbered packet unreadable: %v %v", twoByte, err, p.Payload)
		}
		RenumberExtensions(raw, &back)
		if !bytes.Equal(raw, orig) {
			t.Errorf("two-byte %v: inverse did not restore:\n%x\n%x", twoByte, raw, orig)
		}
	}
}

func TestRenumberExtensionsLeavesOthers(t *testing.T) {
	fwd, _ := swap13()
	for _, pkt := range [][]byte{
		{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 1},                         // no extension
		{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9, 0x10, 1},       // block longer than the packet
		{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x12, 0x34, 0, 1, 0x10, 1, 2, 3}, // unknown profile
	} {
		orig := bytes.Clone(pkt)
		RenumberExtensions(pkt, &fwd)
		if !bytes.Equal(pkt, orig) {
			t.Errorf("changed %x to %x", orig, pkt)
		}
	}
}

func FuzzRenumberExtensions(f *testing.F) {
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 1, 0x10, 1, 0x30, 0})
	f.Add([]byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 1, 1, 7, 0})
	fwd, back := swap13()
	f.Fuzz(func(t *testing.T, pkt []byte) {
		orig := bytes.Clone(pkt)
		RenumberExtensions(pkt, &fwd)
		if len(pkt) != len(orig) || !bytes.Equal(pkt[:min(len(pkt), 12)], orig[:min(len(orig), 12)]) {
			t.Fatal("header or length changed")
		}
		RenumberExtensions(pkt, &back)
		if !bytes.Equal(pkt, orig) {
			t.Fatalf("not restored: %x -> %x", orig, pkt)
		}
	})
}

// BenchmarkRenumberExtensions is the cost a renumbering consumer adds per
// packet (renumber, then restore), for a packet with audio level and
// abs-send-time.
func BenchmarkRenumberExtensions(b *testing.B) {
	fwd, back := swap13()
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 1}
	_ = h.SetExtension(1, []byte{0x80})
	_ = h.SetExtension(3, []byte{9, 8, 7})
	raw, err := (&rtp.Packet{Header: h, Payload: make([]byte, 1000)}).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		RenumberExtensions(raw, &fwd)
		RenumberExtensions(raw, &back)
	}
}
