package rtpwire

// BuildRTX turns a stored packet (in dst[:n], payload at off) into an RTX
// packet (RFC 4588) in place: RTX payload type pt and SSRC, the RTX
// sequence number rtxSeq, and the original sequence number osn before the
// payload. dst needs room for n+2 bytes. It returns the new length.
func BuildRTX(dst []byte, n, off int, pt uint8, ssrc uint32, rtxSeq, osn uint16) int {
	copy(dst[off+2:n+2], dst[off:n])
	PutUint16(dst[off:], osn)
	dst[1] = dst[1]&0x80 | pt
	PutUint16(dst[2:], rtxSeq)
	PutUint32(dst[8:], ssrc)
	return n + 2
}

// DecodeRTX turns a sender's RTX packet (RFC 4588) back into the original
// media packet, written into dst: media payload type pt, media SSRC ssrc,
// the original sequence number it carries, padding dropped. It returns
// dst's prefix holding the packet, or nil for padding-only packets,
// malformed ones and packets longer than dst.
func DecodeRTX(dst, pkt []byte, pt uint8, ssrc uint32) []byte {
	off, end, ok := PayloadBounds(pkt)
	if !ok || end-off < 2 {
		return nil
	}
	if len(pkt) > len(dst) {
		return nil
	}
	osn := Uint16(pkt[off:])
	n := copy(dst, pkt[:off])
	n += copy(dst[n:], pkt[off+2:end])
	dst[0] &^= 0x20 // padding dropped
	dst[1] = dst[1]&0x80 | pt
	PutUint16(dst[2:], osn)
	PutUint32(dst[8:], ssrc)
	return dst[:n]
}
