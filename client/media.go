package client

import (
	"github.com/gosoup/gosoup/rtpparams"

	"encoding/binary"
	"time"

	"github.com/pion/rtp"
)

// Room header extension ids the media sources write (the room's ids,
// which the client also declares as its send ids).
const (
	audioLevelURI  = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	absSendTimeURI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
	rtpStreamIDURI = rtpparams.URIRtpStreamID
)

// absSendTime encodes a time as the 24-bit 6.18 fixed point seconds of the
// abs-send-time extension.
func absSendTime(t time.Time) []byte {
	ns := uint64(t.UnixNano())
	v := (ns/1e9<<18 | (ns%1e9)<<18/1e9) & 0xFFFFFF // shifted whole, ns overflows 64 bits
	return []byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

// Source produces the RTP packets of a synthetic media track at a real
// rate: opus-sized audio frames every 20 ms, or VP8 frames at 30 fps split
// into packets of at most 1200 bytes, with a key frame every 2 s. Payloads
// carry valid VP8 payload descriptors, so the server detects key frames
// as with a browser.
type Source struct {
	Kind     string
	Bitrate  int // video bits per second (audio: fixed ~64 kb/s)
	extIDs   map[string]uint8
	seq      uint16
	ts       uint32
	frame    int
	payloads [][]byte
}

// NewSource returns a source for kind ("audio" or "video").
func NewSource(kind string, videoBitrate int) *Source {
	if videoBitrate <= 0 {
		videoBitrate = 500_000
	}
	return &Source{Kind: kind, Bitrate: videoBitrate, seq: uint16(time.Now().UnixNano()), extIDs: map[string]uint8{}}
}

// Interval is the time between two frames.
func (s *Source) Interval() time.Duration {
	if s.Kind == "audio" {
		return 20 * time.Millisecond
	}
	return time.Second / 30
}

// NextFrame returns the packets of the next frame.
func (s *Source) NextFrame(now time.Time) []*rtp.Packet {
	var sizes []int
	key := false
	if s.Kind == "audio" {
		sizes = []int{160}
	} else {
		key = s.frame%60 == 0
		bytes := s.Bitrate / 8 / 30
		if key {
			bytes *= 4
		}
		for bytes > 0 {
			n := min(bytes, 1200)
			sizes = append(sizes, n)
			bytes -= n
		}
	}
	pkts := make([]*rtp.Packet, 0, len(sizes))
	for i, n := range sizes {
		payload := make([]byte, max(n, 16))
		if s.Kind == "video" {
			// Chrome-like VP8 payload descriptor: X=1, I=1, 15-bit picture id.
			pid := uint16(s.frame) & 0x7fff
			payload[0] = 0x80
			if i == 0 {
				payload[0] |= 0x10 // S=1, partition 0
			}
			payload[1], payload[2], payload[3] = 0x80, 0x80|byte(pid>>8), byte(pid)
			if i == 0 {
				if key {
					// frame tag (key, show_frame), start code, 640x360
					copy(payload[4:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01})
				} else {
					copy(payload[4:], []byte{0x11, 0x02, 0x00})
				}
			}
		} else {
			payload[0] = 0xf8 // opus TOC: CELT FB 20 ms
		}
		p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: s.ts, Marker: i == len(sizes)-1}, Payload: payload}
		if id := s.extIDs[absSendTimeURI]; id != 0 {
			_ = p.Header.SetExtension(id, absSendTime(now))
		}
		if id := s.extIDs[audioLevelURI]; id != 0 {
			_ = p.Header.SetExtension(id, []byte{0x80 | 30}) // voice, -30 dBov
		}
		s.seq++
		pkts = append(pkts, p)
	}
	if s.Kind == "audio" {
		s.ts += 960
	} else {
		s.ts += 3000
	}
	s.frame++
	return pkts
}

// Run sends the source on the producer until stop closes.
func (s *Source) Run(pr *Producer, stop <-chan struct{}) {
	s.extIDs = pr.extIDs
	tk := time.NewTicker(s.Interval())
	defer tk.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			for _, p := range s.NextFrame(now) {
				_ = pr.WriteRTP(p)
			}
		}
	}
}

// ReadRaw reads the next packet of the consumer into b without
// allocating; it returns the sequence number and timestamp.
func (c *Consumer) ReadRaw(b []byte, deadline time.Time) (n int, seq uint16, ts uint32, err error) {
	select {
	case <-c.ready:
	case <-time.After(time.Until(deadline)):
		return 0, 0, 0, errNotReady
	}
	if c.err != nil {
		return 0, 0, 0, c.err
	}
	tr := c.receiver.Track()
	_ = tr.SetReadDeadline(deadline)
	n, _, err = tr.Read(b)
	if err != nil || n < 12 {
		return n, 0, 0, err
	}
	return n, binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint32(b[4:]), nil
}
