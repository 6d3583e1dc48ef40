package codec

// AV1 is the AV1 RTP payload (AOM "RTP Payload Format For AV1"): its
// aggregation header tells a new coded video sequence (a key frame) and
// whether the packet continues an OBU. Layers are carried by the
// dependency descriptor header extension, which this package does not
// read yet: AV1 packets have no layer ids here.
type AV1 struct{}

// Parse implements Descriptor from the aggregation header (Z Y W W N - - -).
func (AV1) Parse(p []byte, _ int) Info {
	var d Info
	if len(p) < 2 { // the header and at least one byte of OBU
		return d
	}
	h := p[0]
	d.StartOfFrame = h&0x80 == 0 // Z: the first OBU element continues one
	d.KeyFrame = d.StartOfFrame && h&0x08 != 0
	return d
}
