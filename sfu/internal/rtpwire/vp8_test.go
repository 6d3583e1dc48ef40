package rtpwire

import "testing"

func TestVP8DescriptorRewrite(t *testing.T) {
	// X=1 S=1; I=1 L=1 T=1; 15-bit picture id 0x1234; TL0PICIDX 200; TID byte.
	pkt := []byte{0xDE, 0xAD, 0x90, 0xE0, 0x80 | 0x12, 0x34, 200, 0x20, 0x00}
	d := ParseVP8Descriptor(pkt[2:], 2)
	if d.PictureIDAt != 4 || !d.Long || d.PictureID != 0x1234 || d.TL0At != 6 || d.TL0 != 200 {
		t.Fatalf("parsed %+v", d)
	}
	pid, tl0 := d.Rewrite(pkt, 0x7fff-0x1234+1, 60) // wraps to 0 and 4
	if pid != 0 || tl0 != 4 || pkt[4] != 0x80 || pkt[5] != 0 || pkt[6] != 4 {
		t.Fatalf("rewritten pid=%d tl0=%d bytes=%x", pid, tl0, pkt)
	}
	// 7-bit picture id wraps at 128.
	short := []byte{0x90, 0x80, 0x7f, 0x00}
	d = ParseVP8Descriptor(short, 0)
	if pid, _ := d.Rewrite(short, 1, 0); pid != 0 || short[2] != 0 {
		t.Fatalf("7-bit wrap: %d %x", pid, short)
	}
	// Truncated descriptors are ignored, not read past the end.
	for _, p := range [][]byte{{0x90}, {0x90, 0x80}, {0x90, 0x80, 0x80}, {0x90, 0x40}} {
		if d := ParseVP8Descriptor(p, 0); d.PictureIDAt != 0 || d.TL0At != 0 {
			t.Fatalf("%x parsed as %+v", p, d)
		}
	}
}

func FuzzVP8Descriptor(f *testing.F) {
	f.Add([]byte{0x90, 0xE0, 0x92, 0x34, 200, 0x20, 0x00}, uint16(5), uint8(3))
	f.Fuzz(func(t *testing.T, p []byte, pidOff uint16, tl0Off uint8) {
		d := ParseVP8Descriptor(p, 0)
		if (d.PictureIDAt > 0 && d.PictureIDAt >= len(p)) || (d.TL0At > 0 && d.TL0At >= len(p)) || (d.Long && d.PictureIDAt+1 >= len(p)) {
			t.Fatalf("offsets out of range: %+v len %d", d, len(p))
		}
		d.Rewrite(p, pidOff, tl0Off)
	})
}
