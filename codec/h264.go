package codec

// H264 is the H264 payload (RFC 6184): no descriptor, no layers; key
// frames are told by their NAL units.
type H264 struct{}

// Parse implements Descriptor: a key frame is an IDR slice or an SPS in a
// single NAL unit, a STAP-A or the first fragment of an FU-A; a packet
// starts a frame unless it continues an FU-A (the access unit boundary
// itself is not in the payload).
func (H264) Parse(p []byte, _ int) Info {
	var d Info
	if len(p) < 1 {
		return d
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		d.KeyFrame, d.StartOfFrame = true, true
	case 24: // STAP-A
		d.StartOfFrame = true
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if t := p[i] & 0x1f; t == 5 || t == 7 {
				d.KeyFrame = true
				break
			}
			i += size
		}
	case 28: // FU-A
		if len(p) >= 2 && p[1]&0x80 != 0 {
			d.StartOfFrame = true
			d.KeyFrame = p[1]&0x1f == 5 || p[1]&0x1f == 7
		}
	case 0, 25, 26, 27, 29, 30, 31: // reserved, STAP-B, MTAP, FU-B
	default:
		d.StartOfFrame = true
	}
	return d
}
