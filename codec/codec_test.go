package codec

import "testing"

func TestKeyFrameAndStart(t *testing.T) {
	cases := []struct {
		name       string
		d          Descriptor
		p          []byte
		key, start bool
	}{
		{"vp8 key", VP8{}, []byte{0x10, 0x00}, true, true},
		{"vp8 delta", VP8{}, []byte{0x10, 0x01}, false, true},
		{"vp8 not start", VP8{}, []byte{0x00, 0x00}, false, false},
		{"vp8 start of partition 1", VP8{}, []byte{0x11, 0x00}, false, false},
		{"vp8 ext picture id 15 bit", VP8{}, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true, true},
		{"vp8 ext all", VP8{}, []byte{0x90, 0xF0, 0x05, 0x01, 0x20, 0x00}, true, true},
		{"vp8 truncated", VP8{}, []byte{0x90}, false, false},
		{"h264 idr", H264{}, []byte{0x65}, true, true},
		{"h264 sps", H264{}, []byte{0x67}, true, true},
		{"h264 non-idr", H264{}, []byte{0x41}, false, true},
		{"h264 stap-a sps", H264{}, []byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0}, true, true},
		{"h264 stap-a pps only", H264{}, []byte{0x78, 0, 2, 0x68, 0x42}, false, true},
		{"h264 fu-a idr start", H264{}, []byte{0x7c, 0x85}, true, true},
		{"h264 fu-a idr middle", H264{}, []byte{0x7c, 0x05}, false, false},
		{"vp9 key, no layers", VP9{}, []byte{0x88, 0x01}, true, true},
		{"vp9 inter", VP9{}, []byte{0xC8, 0x01}, false, true},
		{"vp9 not beginning", VP9{}, []byte{0x80}, false, false},
		{"vp9 key, layers, sid 0", VP9{}, []byte{0xA8, 0x81, 0x02, 0x00, 0x07}, true, true},
		{"vp9 key, layers, sid 1", VP9{}, []byte{0xA8, 0x81, 0x02, 0x02, 0x07}, false, true},
		{"vp9 truncated layers", VP9{}, []byte{0xA8, 0x81, 0x02}, false, false},
		{"av1 new sequence", AV1{}, []byte{0x18, 0x0a}, true, true},
		{"av1 inter", AV1{}, []byte{0x10, 0x32}, false, true},
		{"av1 continuation", AV1{}, []byte{0x88, 0x32}, false, false},
	}
	for _, c := range cases {
		d := c.d.Parse(c.p, 0)
		if d.KeyFrame != c.key || d.StartOfFrame != c.start {
			t.Errorf("%s: key %v start %v, want %v %v", c.name, d.KeyFrame, d.StartOfFrame, c.key, c.start)
		}
	}
}

func TestVP8Layers(t *testing.T) {
	// X=1 S=1; I=1 L=1 T=1; 15-bit picture id 0x1234; TL0PICIDX 200; TID 2, Y.
	pkt := []byte{0xDE, 0xAD, 0x90, 0xE0, 0x80 | 0x12, 0x34, 200, 0xA0, 0x01}
	d := VP8{}.Parse(pkt[2:], 2)
	want := Info{StartOfFrame: true, HasTID: true, TID: 2, LayerSync: true, PictureIDAt: 4, PictureIDLong: true, PictureID: 0x1234, TL0At: 6, TL0: 200}
	if d != want {
		t.Fatalf("parsed %+v\nwant   %+v", d, want)
	}
	// The same without Y: TID 1, not a layer sync.
	if d := (VP8{}).Parse([]byte{0x90, 0x20, 0x40, 0x01}, 0); !d.HasTID || d.TID != 1 || d.LayerSync {
		t.Fatalf("TID 1 without Y: %+v", d)
	}
	d.Rewrite(pkt, 0x8000, 4) // a 15-bit id wraps to 0
	if pkt[4] != 0x80 || pkt[5] != 0 || pkt[6] != 4 {
		t.Fatalf("rewritten %x", pkt)
	}
	short := []byte{0x90, 0x80, 0x7f, 0x00}
	d = VP8{}.Parse(short, 0)
	if d.PictureIDMask() != 0x7f {
		t.Fatal("7-bit picture id read as 15-bit")
	}
	if d.Rewrite(short, 0x80, 0); short[2] != 0 {
		t.Fatalf("7-bit wrap: %x", short)
	}
	for _, p := range [][]byte{{0x90}, {0x90, 0x80}, {0x90, 0x80, 0x80}, {0x90, 0x40}, {0x90, 0x20}} {
		if d := (VP8{}).Parse(p, 0); d.PictureIDAt != 0 || d.TL0At != 0 || d.HasTID {
			t.Fatalf("%x parsed as %+v", p, d)
		}
	}
}

func TestVP9Layers(t *testing.T) {
	// Non-flexible: I=1 P=1 L=1 B=1; 15-bit picture id 0x0102; TID 2 U SID 1 D; TL0PICIDX 9.
	p := []byte{0xE8, 0x81, 0x02, 2<<5 | 0x10 | 1<<1 | 1, 9, 0xff}
	d := VP9{}.Parse(p, 12)
	want := Info{StartOfFrame: true, HasTID: true, TID: 2, HasSID: true, SID: 1, LayerSync: true,
		PictureIDAt: 13, PictureIDLong: true, PictureID: 0x0102, TL0At: 16, TL0: 9}
	if d != want {
		t.Fatalf("non-flexible: %+v\nwant %+v", d, want)
	}
	// Flexible (F=1): no TL0PICIDX; P_DIFF bytes follow the layer byte.
	p = []byte{0xF8, 0x05, 1<<5 | 2<<1, 0x03}
	d = VP9{}.Parse(p, 0)
	want = Info{StartOfFrame: true, HasTID: true, TID: 1, HasSID: true, SID: 2, PictureIDAt: 1, PictureID: 5}
	if d != want {
		t.Fatalf("flexible: %+v\nwant %+v", d, want)
	}
	// The last packet of a layer frame (E=1) without U: not a switching point.
	if d := (VP9{}).Parse([]byte{0xA4, 0x05, 1<<5 | 2<<1, 0x03}, 0); !d.EndOfFrame || d.StartOfFrame || d.LayerSync || d.TID != 1 || d.SID != 2 {
		t.Fatalf("end of layer frame: %+v", d)
	}
	// Key picture of an L3T3_KEY stream: SID 0 without inter-picture prediction.
	if d := (VP9{}).Parse([]byte{0xAA, 0x07, 0x00, 0x00}, 0); !d.KeyFrame || d.SID != 0 || d.TL0At != 3 {
		t.Fatalf("key picture: %+v", d)
	}
}

func TestFor(t *testing.T) {
	for mime, want := range map[string]Descriptor{"video/VP8": VP8{}, "video/vp9": VP9{}, "video/H264": H264{}, "video/AV1": AV1{}, "audio/opus": nil, "video/rtx": nil} {
		if got := For(mime); got != want {
			t.Errorf("For(%q) = %T", mime, got)
		}
	}
}

func TestParseAllocatesNothing(t *testing.T) {
	p := []byte{0x90, 0xE0, 0x92, 0x34, 200, 0x20, 0x00}
	var d Descriptor = VP8{}
	if n := testing.AllocsPerRun(100, func() { _ = d.Parse(p, 0) }); n != 0 {
		t.Fatalf("%.1f allocations per parse", n)
	}
}

// FuzzDescriptors: no codec reads or points past the payload, whatever it
// is; rewriting at the parsed offsets stays inside the packet.
func FuzzDescriptors(f *testing.F) {
	f.Add([]byte{0x90, 0xE0, 0x92, 0x34, 200, 0x20, 0x00}, uint16(5), uint8(3))
	f.Add([]byte{0xE8, 0x81, 0x02, 0x53, 9, 0xff}, uint16(0x7fff), uint8(1))
	f.Add([]byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0}, uint16(0), uint8(0))
	f.Fuzz(func(t *testing.T, p []byte, pid uint16, tl0 uint8) {
		for _, c := range []Descriptor{VP8{}, VP9{}, H264{}, AV1{}} {
			d := c.Parse(p, 0)
			if (d.PictureIDAt > 0 && d.PictureIDAt >= len(p)) || (d.TL0At > 0 && d.TL0At >= len(p)) || (d.PictureIDLong && d.PictureIDAt+1 >= len(p)) {
				t.Fatalf("%T: offsets out of range: %+v len %d", c, d, len(p))
			}
			if d.PictureIDLong && d.PictureIDAt == 0 {
				t.Fatalf("%T: long picture id without offset", c)
			}
			d.Rewrite(p, pid, tl0)
			if d.PictureIDAt > 0 {
				if got := c.Parse(p, 0); got.PictureID != pid&d.PictureIDMask() || got.PictureIDAt != d.PictureIDAt {
					t.Fatalf("%T: rewrote %d, read back %+v", c, pid, got)
				}
			}
		}
	})
}
