package codec

// VP9 is the VP9 payload descriptor (RFC 9628), flexible and non-flexible
// mode.
type VP9 struct{}

// Parse implements Descriptor. A key frame starts a frame (B) without
// inter-picture prediction (P=0) on the base spatial layer. The U bit
// (switching up point) is LayerSync: libwebrtc sets it on a frame that
// references no earlier frame of its temporal layer or a higher one.
func (VP9) Parse(p []byte, off int) Info {
	var d Info
	if len(p) < 1 {
		return d
	}
	b := p[0]
	hasPID, inter, hasLayers, flexible, begin, end := b&0x80 != 0, b&0x40 != 0, b&0x20 != 0, b&0x10 != 0, b&0x08 != 0, b&0x04 != 0
	i := 1
	if hasPID {
		if i = pictureID(p, i, off, &d); i < 0 {
			return Info{}
		}
	}
	if hasLayers {
		if len(p) <= i {
			return Info{}
		}
		d.HasTID, d.TID = true, p[i]>>5
		d.HasSID, d.SID = true, p[i]>>1&0x07
		d.LayerSync = p[i]&0x10 != 0 // U: switching up point
		i++
		if !flexible {
			if len(p) <= i {
				return Info{}
			}
			d.TL0At, d.TL0 = off+i, p[i]
		}
	}
	d.StartOfFrame, d.EndOfFrame = begin, end
	d.KeyFrame = begin && !inter && d.SID == 0
	return d
}
