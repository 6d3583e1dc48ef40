package rtpwire

// RewriteRTP copies an RTP packet from src into dst (len(dst) >= len(src)+4)
// in room terms: the payload type through ptMap (-1: drop the packet) and
// header extension ids through extMap (0: drop the element). It returns the
// new length and the offset and length of the payload (padding excluded),
// or n = -1 if the packet must be dropped. It allocates nothing.
func RewriteRTP(dst, src []byte, ptMap *[128]int16, extMap *[256]uint8) (n, payloadOff, payloadLen int) {
	if len(src) < 12 || src[0]>>6 != 2 {
		return -1, 0, 0
	}
	pt := ptMap[src[1]&0x7f]
	if pt < 0 {
		return -1, 0, 0
	}
	cc := int(src[0] & 0x0f)
	off := 12 + 4*cc
	if len(src) < off {
		return -1, 0, 0
	}
	copy(dst, src[:off])
	dst[1] = src[1]&0x80 | byte(pt)
	w := off
	payloadStart := off
	if src[0]&0x10 != 0 {
		if len(src) < off+4 {
			return -1, 0, 0
		}
		profile := Uint16(src[off:])
		extEnd := off + 4 + 4*int(Uint16(src[off+2:]))
		if extEnd > len(src) {
			return -1, 0, 0
		}
		payloadStart = extEnd
		w = rewriteExtensions(dst, src[off+4:extEnd], off, profile, extMap)
		if w == off {
			dst[0] &^= 0x10 // nothing left: no extension block
		}
	}
	end := len(src)
	if src[0]&0x20 != 0 {
		pad := int(src[end-1])
		if pad == 0 || end-pad < payloadStart {
			return -1, 0, 0
		}
		end -= pad
	}
	payloadOff = w
	w += copy(dst[w:], src[payloadStart:])
	return w, payloadOff, end - payloadStart
}

// rewriteExtensions writes the mapped elements of an RFC 8285 extension
// block (one-byte 0xBEDE or two-byte 0x100X) at dst[at:], header included,
// padded to 32 bits; it returns the offset after the block, or at when no
// element survived.
func rewriteExtensions(dst, ext []byte, at int, profile uint16, extMap *[256]uint8) int {
	oneByte := profile == 0xBEDE
	if !oneByte && profile&0xFFF0 != 0x1000 {
		return at
	}
	w := at + 4
	for i := 0; i < len(ext); {
		if ext[i] == 0 { // padding
			i++
			continue
		}
		var id, hdr, l int
		if oneByte {
			id, l, hdr = int(ext[i]>>4), int(ext[i]&0x0f)+1, 1
			if id == 15 {
				break
			}
		} else {
			if i+1 >= len(ext) {
				break
			}
			id, l, hdr = int(ext[i]), int(ext[i+1]), 2
		}
		if i+hdr+l > len(ext) {
			break
		}
		if nid := extMap[id]; nid != 0 && (!oneByte || nid < 15) {
			if oneByte {
				dst[w] = nid<<4 | ext[i]&0x0f
			} else {
				dst[w], dst[w+1] = nid, ext[i+1]
			}
			copy(dst[w+hdr:], ext[i+hdr:i+hdr+l])
			w += hdr + l
		}
		i += hdr + l
	}
	if w == at+4 {
		return at
	}
	for (w-at)%4 != 0 {
		dst[w] = 0
		w++
	}
	PutUint16(dst[at:], profile)
	PutUint16(dst[at+2:], uint16((w-at-4)/4))
	return w
}
