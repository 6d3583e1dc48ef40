package rtpwire

import "time"

// FindExtension returns the value of header extension id in an RTP packet
// (one-byte or two-byte form), without allocating; nil when absent or
// malformed.
func FindExtension(pkt []byte, id uint8) []byte {
	if len(pkt) < 12 || pkt[0]&0x10 == 0 || id == 0 {
		return nil
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < off+4 {
		return nil
	}
	profile := Uint16(pkt[off:])
	end := off + 4 + 4*int(Uint16(pkt[off+2:]))
	if end > len(pkt) {
		return nil
	}
	ext := pkt[off+4 : end]
	oneByte := profile == 0xBEDE
	for i := 0; i < len(ext); {
		if ext[i] == 0 {
			i++
			continue
		}
		var eid, l, hdr int
		if oneByte {
			eid, l, hdr = int(ext[i]>>4), int(ext[i]&0x0f)+1, 1
			if eid == 15 {
				return nil
			}
		} else {
			if i+1 >= len(ext) {
				return nil
			}
			eid, l, hdr = int(ext[i]), int(ext[i+1]), 2
		}
		if i+hdr+l > len(ext) {
			return nil
		}
		if eid == int(id) {
			return ext[i+hdr : i+hdr+l]
		}
		i += hdr + l
	}
	return nil
}

// PutAbsSendTime writes now as a 6.18 fixed-point abs-send-time (seconds,
// 24 bits) into v[0:3], so receivers estimate the bandwidth of the path
// from us to them.
func PutAbsSendTime(v []byte, now time.Time) {
	// 6.18 fixed-point seconds, modulo 64 s. Seconds and the fraction are
	// shifted apart: the nanoseconds since 1970 shifted by 18 overflow
	// 64 bits (which made the value jump every 2^46 ns, about 19.5 h).
	ns := uint64(now.UnixNano())
	t := uint32((ns/1e9<<18 | (ns%1e9)<<18/1e9) & 0xffffff)
	v[0], v[1], v[2] = byte(t>>16), byte(t>>8), byte(t)
}

// PayloadBounds returns where the payload of an RTP packet starts and
// ends (padding excluded); ok is false when the header does not fit.
func PayloadBounds(pkt []byte) (off, end int, ok bool) {
	if len(pkt) < 12 {
		return 0, 0, false
	}
	off = 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 {
		if len(pkt) < off+4 {
			return 0, 0, false
		}
		off += 4 + 4*int(Uint16(pkt[off+2:]))
	}
	end = len(pkt)
	if pkt[0]&0x20 != 0 && end > 0 {
		end -= int(pkt[end-1])
	}
	if off > end {
		return 0, 0, false
	}
	return off, end, true
}
