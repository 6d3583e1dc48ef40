package sfu

// vp8Descriptor locates the rewritable fields of a VP8 payload descriptor
// (RFC 7741) in a packet: offsets are absolute in the packet, 0 when the
// field is absent.
type vp8Descriptor struct {
	pidAt int    // picture id
	long  bool   // 15-bit picture id (M bit)
	pid   uint16 // as received
	tl0At int    // TL0PICIDX
	tl0   uint8
}

// parseVP8Descriptor reads the descriptor of the payload that starts at
// offset off of its packet.
func parseVP8Descriptor(p []byte, off int) vp8Descriptor {
	var d vp8Descriptor
	if len(p) < 2 || p[0]&0x80 == 0 { // no extension byte
		return d
	}
	x := p[1]
	i := 2
	if x&0x80 != 0 { // I
		if len(p) <= i {
			return vp8Descriptor{}
		}
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return vp8Descriptor{}
			}
			d.pidAt, d.long, d.pid = off+i, true, uint16(p[i]&0x7f)<<8|uint16(p[i+1])
			i += 2
		} else {
			d.pidAt, d.pid = off+i, uint16(p[i])
			i++
		}
	}
	if x&0x40 != 0 { // L
		if len(p) <= i {
			return vp8Descriptor{}
		}
		d.tl0At, d.tl0 = off+i, p[i]
	}
	return d
}

// rewrite writes the picture id and TL0PICIDX shifted by the consumer's
// offsets into pkt and returns the values written.
func (d vp8Descriptor) rewrite(pkt []byte, pidOffset uint16, tl0Offset uint8) (pid uint16, tl0 uint8) {
	if d.pidAt > 0 {
		if d.long {
			pid = (d.pid + pidOffset) & 0x7fff
			pkt[d.pidAt], pkt[d.pidAt+1] = 0x80|byte(pid>>8), byte(pid)
		} else {
			pid = (d.pid + pidOffset) & 0x7f
			pkt[d.pidAt] = byte(pid)
		}
	}
	if d.tl0At > 0 {
		tl0 = d.tl0 + tl0Offset
		pkt[d.tl0At] = tl0
	}
	return pid, tl0
}
