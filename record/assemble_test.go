package record

import (
	"errors"
	"slices"
	"testing"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/rtpparams"
)

var (
	vp8Codec  = codec{mime: "video/VP8", webmID: "V_VP8", video: true, clockRate: 90000}
	opusCodec = codec{mime: "audio/opus", webmID: "A_OPUS", clockRate: 48000, channels: 2}
)

// vp8Frame is a VP8 frame of n bytes whose header says key (with the size
// w×h) or not, filled with fill.
func vp8Frame(key bool, n int, w, h int, fill byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = fill
	}
	b[0], b[1], b[2] = 0x11, 0, 0 // show_frame, inter frame
	if key {
		b[0] = 0x10
		copy(b[3:], vp8StartCode)
		b[6], b[7], b[8], b[9] = byte(w), byte(w>>8), byte(h), byte(h>>8)
	}
	return b
}

// vp8Packets splits a frame into parts RTP packets from seq on (VP8
// payload descriptor: S on the first, marker on the last).
func vp8Packets(f []byte, seq uint16, ts uint32, parts int) []*rtp.Packet {
	var out []*rtp.Packet
	size := (len(f) + parts - 1) / parts
	for i := 0; i < parts; i++ {
		chunk := f[i*size : min(len(f), (i+1)*size)]
		desc := byte(0x00)
		if i == 0 {
			desc = 0x10
		}
		out = append(out, &rtp.Packet{
			Header:  rtp.Header{Version: 2, SequenceNumber: seq + uint16(i), Timestamp: ts, Marker: i == parts-1},
			Payload: append([]byte{desc}, chunk...),
		})
	}
	return out
}

func TestCodecOf(t *testing.T) {
	for _, tc := range []struct {
		mime string
		id   string
		err  error
	}{
		{"audio/opus", "A_OPUS", nil}, {"video/VP8", "V_VP8", nil}, {"video/vp9", "V_VP9", nil},
		{"video/H264", "", nil}, {"audio/PCMU", "", ErrUnsupportedCodec},
	} {
		c, err := codecOf(rtpparams.CodecParameters{MimeType: tc.mime, ClockRate: 90000})
		if !errors.Is(err, tc.err) || c.webmID != tc.id {
			t.Errorf("%s: %q, %v", tc.mime, c.webmID, err)
		}
	}
	if c, err := codecOf(rtpparams.CodecParameters{MimeType: "video/H264", ClockRate: 90000}); err != nil || !c.h264 || !c.video {
		t.Errorf("H264: %+v, %v", c, err)
	}
}

// TestAssemblerWaitsForKeyFramesAndDropsAfterLoss: frames start at a key
// frame; a frame that lost a packet (its start, middle or end) or a whole
// lost frame drops the frames after it until the next key frame, and a
// key frame is wanted meanwhile.
func TestAssemblerWaitsForKeyFramesAndDropsAfterLoss(t *testing.T) {
	a := newAssembler(vp8Codec)
	seq, ts := uint16(1000), uint32(0)
	var got []frame
	gap := false
	// send sends frame number ts/3000 in 3 packets, without those in lose.
	send := func(key bool, lose ...int) {
		pkts := vp8Packets(vp8Frame(key, 3000, 320, 240, byte(ts/3000)), seq, ts, 3)
		for i, p := range pkts {
			if slices.Contains(lose, i) {
				gap = true
				continue
			}
			a.push(p, gap)
			gap = false
		}
		seq += uint16(len(pkts))
		ts += 3000
		got = a.pop(got)
	}
	if !a.wantKeyFrame() {
		t.Fatal("no key frame wanted at the start")
	}
	send(false) // 0: before any key frame: dropped
	send(true)  // 1
	send(false) // 2
	send(false) // 3
	if a.wantKeyFrame() {
		t.Fatal("a key frame is still wanted after one came")
	}
	send(false, 1) // 4 loses its middle packet
	send(false)    // 5: refers to 4, dropped
	if !a.wantKeyFrame() {
		t.Fatal("no key frame wanted after a loss")
	}
	send(true)           // 6
	send(false)          // 7
	send(false, 0)       // 8 loses its start
	send(true)           // 9
	send(false, 2)       // 10 loses its end (marker)
	send(false)          // 11: dropped
	send(true)           // 12
	send(false, 0, 1, 2) // 13 lost whole
	send(false)          // 14: dropped
	send(true)           // 15
	send(false)          // 16
	got = a.flush(got)

	var nums []byte
	for _, f := range got {
		nums = append(nums, f.data[len(f.data)-1])
		if len(f.data) != 3000 {
			t.Errorf("frame %d: %d bytes, want 3000", f.data[len(f.data)-1], len(f.data))
		}
	}
	if want := []byte{1, 2, 3, 6, 7, 9, 12, 15, 16}; !slices.Equal(nums, want) {
		t.Fatalf("frames built %v, want %v", nums, want)
	}
	if !got[0].key || got[0].width != 320 || got[0].height != 240 || got[1].key {
		t.Fatalf("first frame key=%v %dx%d, second key=%v", got[0].key, got[0].width, got[0].height, got[1].key)
	}
	if a.keyFrames != 5 || a.frames != 9 {
		t.Fatalf("%d frames, %d key frames", a.frames, a.keyFrames)
	}
}

func TestAssemblerOpusEveryPacketIsAFrame(t *testing.T) {
	a := newAssembler(opusCodec)
	if a.wantKeyFrame() {
		t.Fatal("audio wants a key frame")
	}
	var got []frame
	for i := 0; i < 10; i++ {
		a.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * 960)}, Payload: []byte{0xfc, byte(i)}}, i == 5)
		got = a.pop(got)
	}
	got = a.flush(got)
	if len(got) != 10 {
		t.Fatalf("%d frames, want 10", len(got))
	}
	for i, f := range got {
		if !f.key || f.ts != uint32(i*960) || f.data[1] != byte(i) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
}

func TestVideoKeyFrameHeaders(t *testing.T) {
	if k, w, h := videoKeyFrame("V_VP8", vp8Frame(true, 20, 1280, 720, 0)); !k || w != 1280 || h != 720 {
		t.Errorf("VP8 key frame: %v %dx%d", k, w, h)
	}
	if k, _, _ := videoKeyFrame("V_VP8", vp8Frame(false, 20, 0, 0, 0)); k {
		t.Error("VP8 inter frame taken for a key frame")
	}
	// VP9 profile 0 key frame 320x240: frame marker, sync code, color
	// config (4 bits), width-1 and height-1 (16 bits each).
	vp9Key := []byte{0x82, 0x49, 0x83, 0x42, 0x00, 0x13, 0xf0, 0x0e, 0xf0, 0, 0, 0}
	if k, w, h := videoKeyFrame("V_VP9", vp9Key); !k || w != 320 || h != 240 {
		t.Errorf("VP9 key frame: %v %dx%d", k, w, h)
	}
	if k, _, _ := videoKeyFrame("V_VP9", []byte{0x86, 0, 0, 0, 0}); k {
		t.Error("VP9 inter frame taken for a key frame")
	}
}
