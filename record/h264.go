package record

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/pion/rtp"

	rtpcodec "github.com/gosoup/gosoup/codec"
)

// H264 NAL unit types (RFC 6184 5.4, H.264 7.4.1).
const (
	nalIDR   = 5
	nalSPS   = 7
	nalPPS   = 8
	nalSTAPA = 24
	nalFUA   = 28
)

var errH264Payload = errors.New("malformed H264 payload")

// h264Frame turns the packets of one access unit (single NAL units,
// STAP-A, FU-A; packetization-mode 1) into an MP4 sample: each NAL unit
// prefixed by its 4-byte length. It also returns the frame's SPS and PPS,
// when it carries them, and whether it is a key frame (codec.H264, the
// detector forwarding uses, on each packet).
func h264Frame(pkts []*rtp.Packet) (data, sps, pps []byte, key bool, err error) {
	var fu []byte // the FU-A being joined
	inFU := false
	add := func(nal []byte) {
		if len(nal) == 0 {
			return
		}
		switch nal[0] & 0x1f {
		case nalSPS:
			sps = nal
		case nalPPS:
			pps = nal
		}
		data = binary.BigEndian.AppendUint32(data, uint32(len(nal)))
		data = append(data, nal...)
	}
	for _, p := range pkts {
		b := p.Payload
		if len(b) == 0 {
			continue
		}
		if (rtpcodec.H264{}).Parse(b, 0).KeyFrame {
			key = true
		}
		switch t := b[0] & 0x1f; {
		case t >= 1 && t < nalSTAPA:
			if inFU {
				return nil, nil, nil, false, fmt.Errorf("%w: FU-A not ended", errH264Payload)
			}
			add(b)
		case t == nalSTAPA:
			if inFU {
				return nil, nil, nil, false, fmt.Errorf("%w: FU-A not ended", errH264Payload)
			}
			for i := 1; i < len(b); {
				if i+2 > len(b) {
					return nil, nil, nil, false, fmt.Errorf("%w: STAP-A size cut", errH264Payload)
				}
				n := int(binary.BigEndian.Uint16(b[i:]))
				i += 2
				if i+n > len(b) {
					return nil, nil, nil, false, fmt.Errorf("%w: STAP-A unit of %d bytes, %d left", errH264Payload, n, len(b)-i)
				}
				add(b[i : i+n])
				i += n
			}
		case t == nalFUA:
			if len(b) < 3 {
				return nil, nil, nil, false, fmt.Errorf("%w: FU-A of %d bytes", errH264Payload, len(b))
			}
			start, end := b[1]&0x80 != 0, b[1]&0x40 != 0
			switch {
			case start && !inFU:
				fu, inFU = append([]byte{b[0]&0xe0 | b[1]&0x1f}, b[2:]...), true
			case !start && inFU:
				fu = append(fu, b[2:]...)
			default:
				return nil, nil, nil, false, fmt.Errorf("%w: FU-A out of order", errH264Payload)
			}
			if end {
				add(fu)
				fu, inFU = nil, false
			}
		default:
			return nil, nil, nil, false, fmt.Errorf("%w: NAL unit type %d", errH264Payload, t)
		}
	}
	if inFU {
		return nil, nil, nil, false, fmt.Errorf("%w: FU-A not ended", errH264Payload)
	}
	if len(data) == 0 {
		return nil, nil, nil, false, fmt.Errorf("%w: no NAL unit", errH264Payload)
	}
	return data, sps, pps, key, nil
}

// bitReader reads an SPS's bits (emulation prevention bytes removed).
type bitReader struct {
	b   []byte
	pos int // in bits
	err bool
}

func (r *bitReader) bit() uint32 {
	if r.pos >= 8*len(r.b) {
		r.err = true
		return 0
	}
	v := r.b[r.pos/8] >> (7 - r.pos%8) & 1
	r.pos++
	return uint32(v)
}

func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

// ue reads an unsigned Exp-Golomb code.
func (r *bitReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 && !r.err {
		zeros++
		if zeros > 31 {
			r.err = true
			return 0
		}
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

// se reads a signed Exp-Golomb code.
func (r *bitReader) se() int32 {
	v := r.ue()
	if v&1 == 1 {
		return int32(v/2 + 1)
	}
	return -int32(v / 2)
}

// spsSize returns the picture size an SPS NAL unit says (H.264 7.3.2.1.1),
// 0, 0 when it cannot be read.
func spsSize(sps []byte) (width, height int) {
	if len(sps) < 4 {
		return 0, 0
	}
	rbsp := make([]byte, 0, len(sps))
	zeros := 0
	for _, c := range sps[1:] { // remove the emulation prevention bytes (00 00 03)
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		rbsp = append(rbsp, c)
	}
	r := &bitReader{b: rbsp}
	profile := r.bits(8)
	r.bits(16) // constraint flags, level
	r.ue()     // seq_parameter_set_id
	chroma := uint32(1)
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		if chroma = r.ue(); chroma == 3 {
			r.bit() // separate_colour_plane_flag
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.bit()           // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bit() == 0 {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := int32(8), int32(8)
				for range size {
					if next != 0 {
						next = (last + r.se() + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue()
	case 1:
		r.bit()
		r.se()
		r.se()
		n := r.ue()
		if n > 255 {
			return 0, 0
		}
		for range n {
			r.se()
		}
	}
	r.ue()  // max_num_ref_frames
	r.bit() // gaps_in_frame_num_value_allowed_flag
	wmbs, hmaps := r.ue()+1, r.ue()+1
	frameMbsOnly := r.bit()
	if frameMbsOnly == 0 {
		r.bit() // mb_adaptive_frame_field_flag
	}
	r.bit() // direct_8x8_inference_flag
	var cl, cr, ct, cb uint32
	if r.bit() == 1 { // frame_cropping_flag
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err || wmbs > 1024 || hmaps > 1024 {
		return 0, 0
	}
	cropX, cropY := uint32(1), 2-frameMbsOnly
	if chroma == 1 || chroma == 2 {
		cropX = 2
	}
	if chroma == 1 {
		cropY *= 2
	}
	w := int(wmbs*16) - int((cl+cr)*cropX)
	h := int(hmaps*16*(2-frameMbsOnly)) - int((ct+cb)*cropY)
	if w <= 0 || h <= 0 {
		return 0, 0
	}
	return w, h
}
