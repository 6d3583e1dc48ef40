package codec

// VP8 is the VP8 payload descriptor (RFC 7741).
type VP8 struct{}

// Parse implements Descriptor.
func (VP8) Parse(p []byte, off int) Info {
	var d Info
	if len(p) < 1 {
		return d
	}
	start := p[0]&0x10 != 0 && p[0]&0x07 == 0 // S, partition index 0
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return Info{}
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if i = pictureID(p, i, off, &d); i < 0 {
				return Info{}
			}
		}
		if x&0x40 != 0 { // L
			if len(p) <= i {
				return Info{}
			}
			d.TL0At, d.TL0 = off+i, p[i]
			i++
		}
		if x&0x30 != 0 { // T or K
			if len(p) <= i {
				return Info{}
			}
			if x&0x20 != 0 {
				d.HasTID, d.TID, d.LayerSync = true, p[i]>>6, p[i]&0x20 != 0
			}
			i++
		}
	}
	d.StartOfFrame = start
	// The VP8 payload header's P bit is 0 on a key frame.
	d.KeyFrame = start && len(p) > i && p[i]&0x01 == 0
	return d
}
