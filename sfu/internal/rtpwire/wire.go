// Package rtpwire owns the byte-level RTP work of the media plane's hot
// path: big-endian field access, payload-type and header-extension id
// rewriting, header-extension lookup, abs-send-time stamping, payload
// bounds, RTX (RFC 4588) building and decoding. Payload descriptors (key
// frames, layers, picture ids) are codec's (the top-level package).
//
// Everything here works on its arguments only (the current time included,
// passed in): no state, no locks, no allocation. Callers own the buffers;
// functions that write expect them large enough, as documented.
package rtpwire

// PutUint16 writes v big-endian into b[0:2], without allocation.
func PutUint16(b []byte, v uint16) { b[0], b[1] = byte(v>>8), byte(v) }

// PutUint32 writes v big-endian into b[0:4], without allocation.
func PutUint32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// Uint16 reads a big-endian uint16 from b[0:2].
func Uint16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// Uint32 reads a big-endian uint32 from b[0:4].
func Uint32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}
