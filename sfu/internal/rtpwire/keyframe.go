package rtpwire

// KeyFrameDetector tells whether an RTP payload starts or carries a key
// frame.
type KeyFrameDetector func(payload []byte) bool

// KeyFrameDetectorFor returns the detector of a codec by its lower-case
// MIME type ("video/vp8", "video/vp9", "video/h264"); nil when the codec
// has none (then a consumer does not wait for a key frame after a resync).
func KeyFrameDetectorFor(mimeType string) KeyFrameDetector {
	switch mimeType {
	case "video/vp8":
		return isVP8KeyFrame
	case "video/h264":
		return isH264KeyFrame
	case "video/vp9":
		return isVP9KeyFrame
	}
	return nil
}

// isVP8KeyFrame parses the VP8 payload descriptor (RFC 7741) and reports a
// key frame at the start of a partition 0.
func isVP8KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	start := p[0]&0x10 != 0
	pid := p[0] & 0x07
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id
			if i = skipPictureID(p, i); i < 0 {
				return false
			}
		}
		if x&0x40 != 0 { // L
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if !start || pid != 0 || len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// isH264KeyFrame reports an IDR slice or SPS in a single NAL unit, STAP-A
// or the first fragment of an FU-A (RFC 6184).
func isH264KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch nal := p[0] & 0x1f; nal {
	case 5, 7:
		return true
	case 24: // STAP-A
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if i >= len(p) {
				break
			}
			if t := p[i] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += size
		}
	case 28: // FU-A
		return len(p) >= 2 && p[1]&0x80 != 0 && (p[1]&0x1f == 5 || p[1]&0x1f == 7)
	}
	return false
}

// isVP9KeyFrame parses the VP9 payload descriptor (RFC 9628): a key frame
// starts a frame (B) without inter-picture prediction (P=0), on the base
// spatial layer.
func isVP9KeyFrame(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b := p[0]
	interPicture, layerIndices, beginning := b&0x40 != 0, b&0x20 != 0, b&0x08 != 0
	if interPicture || !beginning {
		return false
	}
	if !layerIndices {
		return true
	}
	i := 1
	if b&0x80 != 0 { // picture id
		if i = skipPictureID(p, i); i < 0 {
			return false
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]>>1&0x07 == 0 // spatial layer 0
}

// skipPictureID skips the 7- or 15-bit picture id (M bit) at p[i] of a VP8
// or VP9 payload descriptor; -1 when p is too short.
func skipPictureID(p []byte, i int) int {
	if len(p) <= i {
		return -1
	}
	if p[i]&0x80 != 0 {
		return i + 2
	}
	return i + 1
}
