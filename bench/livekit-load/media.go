package main

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// The same synthetic media as gosoup's load generator (client/media.go of
// the main module): opus-sized audio, one 160-byte packet every 20 ms;
// VP8 at 30 fps, bitrate/8/30 bytes a frame (4× for the key frame every
// 2 s) split into packets of at most 1200 bytes, each with a Chrome-like
// VP8 payload descriptor (X=1, I=1, 15-bit picture id) and a real VP8
// frame tag, so that an SFU detects key frames as with a browser.

const (
	audioLevelURI  = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	absSendTimeURI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
)

type source struct {
	kind    string
	bitrate int
	seq     uint16
	ts      uint32
	frame   int
}

func newSource(kind string, bitrate int) *source {
	if bitrate <= 0 {
		bitrate = 500_000
	}
	return &source{kind: kind, bitrate: bitrate, seq: uint16(time.Now().UnixNano())}
}

func (s *source) interval() time.Duration {
	if s.kind == "audio" {
		return 20 * time.Millisecond
	}
	return time.Second / 30
}

// frameSizes returns the payload sizes of the next frame and whether it
// is a key frame.
func (s *source) frameSizes() ([]int, bool) {
	if s.kind == "audio" {
		return []int{160}, false
	}
	key := s.frame%60 == 0
	bytes := s.bitrate / 8 / 30
	if key {
		bytes *= 4
	}
	var sizes []int
	for bytes > 0 {
		n := min(bytes, 1200)
		sizes = append(sizes, n)
		bytes -= n
	}
	return sizes, key
}

// send writes the next frame on t.
func (s *source) send(t *rawTrack, now time.Time, buf []byte) (sent int) {
	sizes, key := s.frameSizes()
	for i, n := range sizes {
		payload := buf[:max(n, 16)]
		clear(payload)
		if s.kind == "video" {
			pid := uint16(s.frame) & 0x7fff
			payload[0] = 0x80
			if i == 0 {
				payload[0] |= 0x10
			}
			payload[1], payload[2], payload[3] = 0x80, 0x80|byte(pid>>8), byte(pid)
			if i == 0 {
				if key {
					copy(payload[4:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01})
				} else {
					copy(payload[4:], []byte{0x11, 0x02, 0x00})
				}
			}
		} else {
			payload[0] = 0xf8
		}
		if t.write(s.seq, s.ts, i == len(sizes)-1, now, payload) == nil {
			sent++
		}
		s.seq++
	}
	if s.kind == "audio" {
		s.ts += 960
	} else {
		s.ts += 3000
	}
	s.frame++
	return sent
}

// rawTrack is a webrtc.TrackLocal that writes the source's packets as they
// are (like gosoup-load's producers), with the negotiated SSRC, payload
// type and header extension ids.
type rawTrack struct {
	id, stream string
	kind       webrtc.RTPCodecType
	codec      webrtc.RTPCodecCapability

	mu       sync.Mutex
	w        webrtc.TrackLocalWriter
	ssrc     uint32
	pt       uint8
	absID    uint8
	levelID  uint8
	hdr      rtp.Header
	bound    chan struct{}
	boundSet bool
}

func newRawTrack(kind string) *rawTrack {
	t := &rawTrack{id: kind, stream: "load", bound: make(chan struct{})}
	if kind == "audio" {
		t.kind = webrtc.RTPCodecTypeAudio
		t.codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}
	} else {
		t.kind = webrtc.RTPCodecTypeVideo
		t.codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	}
	return t
}

func (t *rawTrack) ID() string                       { return t.id }
func (t *rawTrack) RID() string                      { return "" }
func (t *rawTrack) StreamID() string                 { return t.stream }
func (t *rawTrack) Kind() webrtc.RTPCodecType        { return t.kind }
func (t *rawTrack) Codec() webrtc.RTPCodecCapability { return t.codec }

func (t *rawTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	for _, c := range ctx.CodecParameters() {
		if strings.EqualFold(c.MimeType, t.codec.MimeType) {
			t.mu.Lock()
			defer t.mu.Unlock()
			t.w, t.ssrc, t.pt = ctx.WriteStream(), uint32(ctx.SSRC()), uint8(c.PayloadType)
			for _, e := range ctx.HeaderExtensions() {
				switch e.URI {
				case absSendTimeURI:
					t.absID = uint8(e.ID)
				case audioLevelURI:
					if t.kind == webrtc.RTPCodecTypeAudio {
						t.levelID = uint8(e.ID)
					}
				}
			}
			if !t.boundSet {
				t.boundSet = true
				close(t.bound)
			}
			return c, nil
		}
	}
	return webrtc.RTPCodecParameters{}, fmt.Errorf("codec %s not negotiated", t.codec.MimeType)
}

func (t *rawTrack) Unbind(webrtc.TrackLocalContext) error {
	t.mu.Lock()
	t.w = nil
	t.mu.Unlock()
	return nil
}

var errUnbound = fmt.Errorf("track not bound")

func (t *rawTrack) write(seq uint16, ts uint32, marker bool, now time.Time, payload []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.w == nil {
		return errUnbound
	}
	h := &t.hdr
	*h = rtp.Header{Version: 2, PayloadType: t.pt, SequenceNumber: seq, Timestamp: ts, SSRC: t.ssrc, Marker: marker,
		Extensions: h.Extensions[:0]}
	if t.absID != 0 {
		ns := uint64(now.UnixNano())
		v := (ns/1e9<<18 | (ns%1e9)<<18/1e9) & 0xFFFFFF // shifted whole, ns overflows 64 bits
		_ = h.SetExtension(t.absID, []byte{byte(v >> 16), byte(v >> 8), byte(v)})
	}
	if t.levelID != 0 {
		_ = h.SetExtension(t.levelID, []byte{0x80 | 30})
	}
	_, err := t.w.WriteRTP(h, payload)
	return err
}
