package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/rtp/codecs/vp9"

	"github.com/gosoup/gosoup/rtpparams"
)

// ErrUnsupportedCodec is returned for a codec the recorder cannot write,
// or for a peer whose video codecs need different containers (H264 with
// VP8 or VP9).
var ErrUnsupportedCodec = errors.New("codec not supported for recording")

// codec is what the recorder needs to know of a track's codec.
type codec struct {
	mime      string // as negotiated, e.g. "video/VP8"
	webmID    string // Matroska CodecID; "" for H264 (MP4 only)
	video     bool
	h264      bool
	clockRate int
	channels  int
}

// codecOf returns the codec of a consumer's media codec parameters.
func codecOf(c rtpparams.CodecParameters) (codec, error) {
	out := codec{mime: c.MimeType, clockRate: c.ClockRate, channels: c.Channels}
	switch strings.ToLower(c.MimeType) {
	case "audio/opus":
		out.webmID = "A_OPUS"
		if out.channels == 0 {
			out.channels = 2
		}
	case "video/vp8":
		out.webmID, out.video = "V_VP8", true
	case "video/vp9":
		out.webmID, out.video = "V_VP9", true
	case "video/h264":
		out.video, out.h264 = true, true
	default:
		return codec{}, fmt.Errorf("%w: %s", ErrUnsupportedCodec, c.MimeType)
	}
	if out.clockRate <= 0 {
		return codec{}, fmt.Errorf("%s: clock rate %d", c.MimeType, c.ClockRate)
	}
	return out, nil
}

// depacketizer returns pion's depacketizer of the codec.
func (c codec) depacketizer() rtp.Depacketizer {
	switch c.webmID {
	case "V_VP8":
		return &codecs.VP8Packet{}
	case "V_VP9":
		return &codecs.VP9Packet{}
	}
	if c.h264 {
		return &codecs.H264Packet{} // its IsPartitionHead only: h264Frame depacketizes
	}
	switch c.webmID {
	default:
		return &codecs.OpusPacket{}
	}
}

// frame is one encoded frame (a sample) of a track.
type frame struct {
	ts            uint32 // RTP timestamp
	data          []byte
	key           bool
	width, height int           // video key frames, when the header says
	sps, pps      []byte        // H264 key frames: the parameter sets (the frame's, or the last seen)
	span          time.Duration // RTP time since the track's previous frame (0: unknown)
}

// assembler builds frames from a track's packets, given in sequence order
// with the gaps the jitter buffer gave up, with pion's depacketizers: a
// video frame is the packets of one timestamp from a partition head to
// the marker; an audio packet is a frame. For video it keeps the output
// decodable: frames are dropped from the start and after a loss until a
// key frame, and wantKeyFrame says when to ask the sender for one.
//
// (pion's samplebuilder was the first choice; in v4.2.26 its Flush, and
// its purges, can wrap its buffer window when the last frame spans three
// packets or more, which then costs seconds of CPU per call: reproduced
// with a 750-packet FFmpeg VP8 stream. The jitter buffer already orders
// the packets and knows the gaps, so assembling here is simple.)
type assembler struct {
	codec   codec
	depack  rtp.Depacketizer
	cur     []*rtp.Packet // the frame being built
	needKey bool
	out     []frame
	sps     []byte // H264: the last parameter sets seen
	pps     []byte

	// Counters.
	frames, keyFrames, dropped uint64
}

func newAssembler(c codec) *assembler {
	return &assembler{codec: c, depack: c.depacketizer(), needKey: c.video}
}

// wantKeyFrame reports whether video frames are being dropped for want of
// a key frame.
func (a *assembler) wantKeyFrame() bool { return a.needKey }

// lost records that packets were lost before the next one: the frame
// being built is incomplete, and for video what follows may refer to
// what was lost.
func (a *assembler) lost() {
	if len(a.cur) > 0 {
		a.cur = a.cur[:0]
		a.dropped++
	}
	if a.codec.video {
		a.needKey = true
	}
}

// push adds the next packet; gap: packets before it were lost. The
// packet is kept (not copied).
func (a *assembler) push(p *rtp.Packet, gap bool) {
	if gap {
		a.lost()
	}
	if len(a.cur) > 0 && p.Timestamp != a.cur[0].Timestamp {
		a.complete() // the sender set no marker
	}
	a.cur = append(a.cur, p)
	if !a.codec.video || p.Marker {
		a.complete()
	}
}

// pop appends the frames built since the last call to out.
func (a *assembler) pop(out []frame) []frame {
	out = append(out, a.out...)
	a.out = a.out[:0]
	return out
}

// flush appends the frames built to out; an unfinished frame is dropped
// (the track ends).
func (a *assembler) flush(out []frame) []frame {
	if len(a.cur) > 0 {
		a.cur = a.cur[:0]
		a.dropped++
	}
	return a.pop(out)
}

// complete turns the packets of the current frame into a frame.
func (a *assembler) complete() {
	pkts := a.cur
	a.cur = a.cur[:0]
	if !a.depack.IsPartitionHead(pkts[0].Payload) {
		a.lost() // its start was lost (or came before the first packet)
		a.dropped++
		return
	}
	if a.codec.h264 {
		a.completeH264(pkts)
		return
	}
	var data []byte
	for _, p := range pkts {
		b, err := a.depack.Unmarshal(p.Payload)
		if err != nil {
			a.lost()
			a.dropped++
			return
		}
		data = append(data, b...)
	}
	f := frame{ts: pkts[0].Timestamp, data: data, key: true}
	if a.codec.video {
		f.key, f.width, f.height = videoKeyFrame(a.codec.webmID, data)
		if a.needKey && !f.key {
			a.dropped++
			return
		}
		a.needKey = false
	}
	a.emit(f)
}

// completeH264 turns the packets of an H264 access unit into a frame. A
// key frame carries the parameter sets (its own or the last seen, which
// the MP4 header needs); one before any SPS and PPS is not usable.
func (a *assembler) completeH264(pkts []*rtp.Packet) {
	data, sps, pps, key, err := h264Frame(pkts)
	if err != nil {
		a.lost()
		a.dropped++
		return
	}
	if sps != nil {
		a.sps = append([]byte(nil), sps...)
	}
	if pps != nil {
		a.pps = append([]byte(nil), pps...)
	}
	f := frame{ts: pkts[0].Timestamp, data: data, key: key && a.sps != nil && a.pps != nil}
	if f.key {
		f.sps, f.pps = a.sps, a.pps
		f.width, f.height = spsSize(a.sps)
	}
	if a.needKey && !f.key {
		a.dropped++
		return
	}
	a.needKey = false
	a.emit(f)
}

// emit counts a frame and queues it.
func (a *assembler) emit(f frame) {
	a.frames++
	if f.key {
		a.keyFrames++
	}
	a.out = append(a.out, f)
}

// vp8StartCode follows the frame tag of a VP8 key frame (RFC 6386 9.1).
var vp8StartCode = []byte{0x9d, 0x01, 0x2a}

// videoKeyFrame reports whether a VP8 or VP9 frame is a key frame, and
// its size when the header has it.
func videoKeyFrame(webmID string, data []byte) (key bool, width, height int) {
	if len(data) == 0 {
		return false, 0, 0
	}
	if webmID == "V_VP8" {
		if data[0]&0x01 != 0 {
			return false, 0, 0
		}
		if len(data) >= 10 && bytes.Equal(data[3:6], vp8StartCode) {
			width = int(binary.LittleEndian.Uint16(data[6:8]) & 0x3fff)
			height = int(binary.LittleEndian.Uint16(data[8:10]) & 0x3fff)
		}
		return true, width, height
	}
	var h vp9.Header
	if err := h.Unmarshal(data); err != nil || h.ShowExistingFrame || h.NonKeyFrame {
		return false, 0, 0
	}
	if h.FrameSize != nil {
		width, height = int(h.FrameSize.FrameWidthMinus1)+1, int(h.FrameSize.FrameHeightMinus1)+1
	}
	return true, width, height
}
