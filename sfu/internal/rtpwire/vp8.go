package rtpwire

// VP8Descriptor locates the rewritable fields of a VP8 payload descriptor
// (RFC 7741) in a packet: offsets are absolute in the packet, 0 when the
// field is absent.
type VP8Descriptor struct {
	PictureIDAt int    // offset of the picture id; 0: absent
	Long        bool   // 15-bit picture id (M bit)
	PictureID   uint16 // as received
	TL0At       int    // offset of TL0PICIDX; 0: absent
	TL0         uint8  // TL0PICIDX as received
}

// ParseVP8Descriptor reads the descriptor of the payload p that starts at
// offset off of its packet. A truncated descriptor yields the zero value.
func ParseVP8Descriptor(p []byte, off int) VP8Descriptor {
	var d VP8Descriptor
	if len(p) < 2 || p[0]&0x80 == 0 { // no extension byte
		return d
	}
	x := p[1]
	i := 2
	if x&0x80 != 0 { // I
		if len(p) <= i {
			return VP8Descriptor{}
		}
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return VP8Descriptor{}
			}
			d.PictureIDAt, d.Long, d.PictureID = off+i, true, uint16(p[i]&0x7f)<<8|uint16(p[i+1])
			i += 2
		} else {
			d.PictureIDAt, d.PictureID = off+i, uint16(p[i])
			i++
		}
	}
	if x&0x40 != 0 { // L
		if len(p) <= i {
			return VP8Descriptor{}
		}
		d.TL0At, d.TL0 = off+i, p[i]
	}
	return d
}

// Rewrite writes the picture id and TL0PICIDX shifted by a consumer's
// offsets into pkt (the packet the descriptor was parsed from, or a copy)
// and returns the values written (0 for absent fields).
func (d VP8Descriptor) Rewrite(pkt []byte, pidOffset uint16, tl0Offset uint8) (pid uint16, tl0 uint8) {
	if d.PictureIDAt > 0 {
		if d.Long {
			pid = (d.PictureID + pidOffset) & 0x7fff
			pkt[d.PictureIDAt], pkt[d.PictureIDAt+1] = 0x80|byte(pid>>8), byte(pid)
		} else {
			pid = (d.PictureID + pidOffset) & 0x7f
			pkt[d.PictureIDAt] = byte(pid)
		}
	}
	if d.TL0At > 0 {
		tl0 = d.TL0 + tl0Offset
		pkt[d.TL0At] = tl0
	}
	return pid, tl0
}
