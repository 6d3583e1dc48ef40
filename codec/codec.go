// Package codec reads what forwarding needs from a video packet's payload
// descriptor, one implementation per codec behind the Descriptor
// interface: whether the packet starts a frame and a key frame, its
// temporal and spatial layer, and where its picture id and TL0PICIDX sit
// so that a consumer's numbering can rewrite them in place.
//
// Like rtpwire, everything here works on its arguments only: no state, no
// locks, no allocation (Info is a value, parsed onto the caller's stack).
// The one exception is DDReader, the AV1 dependency descriptor reader,
// which keeps its stream's last template structure (still allocating
// nothing).
package codec

import "strings"

// Descriptor parses the payload descriptor of one codec's RTP packets.
type Descriptor interface {
	// Parse reads the payload p, which starts at offset off of its packet
	// (so that Info's offsets are absolute). A truncated or malformed
	// descriptor yields what could be read: never a key frame, no
	// rewritable fields.
	Parse(p []byte, off int) Info
}

// Info is what one packet's payload descriptor says. Offsets are absolute
// in the packet the payload was parsed from; 0 means the field is absent.
type Info struct {
	KeyFrame     bool  // the packet starts or carries a key frame (decodable alone)
	StartOfFrame bool  // first packet of a frame (of a layer frame, with SVC)
	EndOfFrame   bool  // last packet of a layer frame (VP9's E bit; only VP9 says it)
	LayerSync    bool  // the frame depends on no earlier frame of its own or a higher temporal layer, only on lower ones (VP8 Y, VP9 U): a receiver can start its layer here
	HasTID       bool  // TID is present
	HasSID       bool  // SID is present
	TID          uint8 // temporal layer id (0: base)
	SID          uint8 // spatial layer id (0: base)

	PictureIDAt   int    // offset of the picture id; 0: absent
	PictureIDLong bool   // 15-bit picture id (M bit); else 7-bit
	PictureID     uint16 // as received
	TL0At         int    // offset of TL0PICIDX; 0: absent
	TL0           uint8  // TL0PICIDX as received
}

// PictureIDMask is the range of the picture id: 0x7fff for a 15-bit one,
// 0x7f for a 7-bit one.
func (d Info) PictureIDMask() uint16 {
	if d.PictureIDLong {
		return 0x7fff
	}
	return 0x7f
}

// Rewrite writes picture id pid (masked to the field's width) and
// TL0PICIDX tl0 into pkt, the packet the descriptor was parsed from or a
// copy of it; absent fields are left alone. VP8 and VP9 share the layout
// of both fields (RFC 7741, RFC 9628).
func (d Info) Rewrite(pkt []byte, pid uint16, tl0 uint8) {
	if d.PictureIDAt > 0 {
		if d.PictureIDLong {
			pid &= 0x7fff
			pkt[d.PictureIDAt], pkt[d.PictureIDAt+1] = 0x80|byte(pid>>8), byte(pid)
		} else {
			pkt[d.PictureIDAt] = byte(pid & 0x7f)
		}
	}
	if d.TL0At > 0 {
		pkt[d.TL0At] = tl0
	}
}

// For returns the descriptor of a codec by MIME type ("video/VP8",
// "video/vp9", "video/H264", "video/AV1"; case-insensitive); nil for a
// codec forwarding knows nothing of (audio among them): then nothing waits
// for key frames.
func For(mimeType string) Descriptor {
	switch strings.ToLower(mimeType) {
	case "video/vp8":
		return VP8{}
	case "video/vp9":
		return VP9{}
	case "video/h264":
		return H264{}
	case "video/av1":
		return AV1{}
	}
	return nil
}

// pictureID reads the 7- or 15-bit picture id (M bit) at p[i] of a VP8 or
// VP9 descriptor into d and returns the index after it; -1 when p is too
// short.
func pictureID(p []byte, i, off int, d *Info) int {
	if len(p) <= i {
		return -1
	}
	if p[i]&0x80 != 0 {
		if len(p) <= i+1 {
			return -1
		}
		d.PictureIDAt, d.PictureIDLong, d.PictureID = off+i, true, uint16(p[i]&0x7f)<<8|uint16(p[i+1])
		return i + 2
	}
	d.PictureIDAt, d.PictureID = off+i, uint16(p[i])
	return i + 1
}
