package rtpwire

import "testing"

func TestKeyFrameDetection(t *testing.T) {
	cases := []struct {
		name string
		f    KeyFrameDetector
		p    []byte
		want bool
	}{
		{"vp8 key", isVP8KeyFrame, []byte{0x10, 0x00}, true},
		{"vp8 delta", isVP8KeyFrame, []byte{0x10, 0x01}, false},
		{"vp8 not start", isVP8KeyFrame, []byte{0x00, 0x00}, false},
		{"vp8 ext picture id 15 bit", isVP8KeyFrame, []byte{0x90, 0x80, 0x81, 0x23, 0x00}, true},
		{"vp8 ext all", isVP8KeyFrame, []byte{0x90, 0xF0, 0x05, 0x01, 0x20, 0x00}, true},
		{"vp8 truncated", isVP8KeyFrame, []byte{0x90}, false},
		{"h264 idr", isH264KeyFrame, []byte{0x65}, true},
		{"h264 sps", isH264KeyFrame, []byte{0x67}, true},
		{"h264 non-idr", isH264KeyFrame, []byte{0x41}, false},
		{"h264 stap-a sps", isH264KeyFrame, []byte{0x78, 0, 2, 0x67, 0x42, 0, 2, 0x68, 0}, true},
		{"h264 fu-a idr start", isH264KeyFrame, []byte{0x7c, 0x85}, true},
		{"h264 fu-a idr middle", isH264KeyFrame, []byte{0x7c, 0x05}, false},
		{"vp9 key, no layers", isVP9KeyFrame, []byte{0x88}, true},
		{"vp9 inter", isVP9KeyFrame, []byte{0xC8}, false},
		{"vp9 not beginning", isVP9KeyFrame, []byte{0x80}, false},
		{"vp9 key, layers, sid 0", isVP9KeyFrame, []byte{0xA8, 0x81, 0x02, 0x00}, true},
		{"vp9 key, layers, sid 1", isVP9KeyFrame, []byte{0xA8, 0x81, 0x02, 0x02}, false},
	}
	for _, c := range cases {
		if got := c.f(c.p); got != c.want {
			t.Errorf("%s: got %v", c.name, got)
		}
	}
}
