package rtpwire

// RenumberExtensions rewrites in place the ids of the header extension
// elements of the RTP packet pkt through m (m[id] is the new id; an
// element whose m entry is 0 keeps its id). Elements of a one-byte block
// (0xBEDE) are renumbered, and those of a two-byte block whose id is under
// 16; the packet's length and every other byte stay. Applying the inverse
// of m restores the packet. A malformed block is renumbered up to where it
// stops making sense. It allocates nothing.
func RenumberExtensions(pkt []byte, m *[16]uint8) {
	if len(pkt) < 12 || pkt[0]&0x10 == 0 {
		return
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 {
		return
	}
	profile := Uint16(pkt[off:])
	end := off + 4 + 4*int(Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return
	}
	oneByte := profile == 0xBEDE
	if !oneByte && profile&0xFFF0 != 0x1000 {
		return
	}
	ext := pkt[off+4 : end]
	for i := 0; i < len(ext); {
		if ext[i] == 0 { // padding
			i++
			continue
		}
		if oneByte {
			id := ext[i] >> 4
			if id == 15 {
				return
			}
			if nid := m[id]; nid != 0 && nid < 15 {
				ext[i] = nid<<4 | ext[i]&0x0f
			}
			i += 1 + int(ext[i]&0x0f) + 1
			continue
		}
		if i+1 >= len(ext) {
			return
		}
		if id := ext[i]; id < 16 {
			if nid := m[id]; nid != 0 {
				ext[i] = nid
			}
		}
		i += 2 + int(ext[i+1])
	}
}
