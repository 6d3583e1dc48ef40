package record

import "encoding/binary"

// A fragmented MP4 (ISO/IEC 14496-12) writer, just what a recording of
// H264 and Opus needs: the header (ftyp, moov with empty sample tables and
// mvex) is written when the file starts, then each fragment (moof + mdat)
// as soon as it is complete, so that a crash or a full disk leaves every
// fragment written playable. No MP4 library is served to this project's
// build (mp4ff and go-mp4 were both refused by the module proxy), and the
// boxes needed are few: they are written here.

// Fragments start on a key frame of the first video track at least
// fragmentMin after the previous one, or every fragmentMax at the latest
// (without video: every fragmentMin).
const (
	fragmentMin = 1000 // ms
	fragmentMax = 4000 // ms
)

// mp4Track is one track of the MP4 writer.
type mp4Track struct {
	id        uint32 // from 1
	codec     codec
	timescale uint32
	width     int
	height    int
	sps, pps  []byte // H264: the first key frame's, for the avcC

	pending  *mp4Sample  // the last sample: its duration is known when the next comes
	samples  []mp4Sample // complete samples of the fragment being built
	lastDur  uint32
	baseTime uint64 // decode time of samples[0]

	dataOffsetAt int // where the trun's data offset sits in the moof being written
}

// mp4Sample is one frame of a track, timed in the track's timescale.
type mp4Sample struct {
	dts  uint64
	dur  uint32
	key  bool
	data []byte
}

// mp4Writer writes a fragmented MP4 file.
type mp4Writer struct {
	file      *fileWriter
	tracks    []*mp4Track
	main      int // index of the track whose key frames start fragments; -1 without video
	seq       uint32
	fragStart int64 // ms: pts of the first sample of the fragment being built; -1 when empty
}

// newMP4Writer writes the header of a file of those tracks; main is the
// index of the video track whose key frames start fragments (-1: none).
func newMP4Writer(file *fileWriter, tracks []*mp4Track, main int) *mp4Writer {
	w := &mp4Writer{file: file, tracks: tracks, main: main, fragStart: -1}
	for i, t := range tracks {
		t.id = uint32(i + 1)
		t.timescale = uint32(t.codec.clockRate)
	}
	var b []byte
	b = box(b, "ftyp", func(b []byte) []byte {
		b = append(b, "isom"...)
		b = binary.BigEndian.AppendUint32(b, 0x200)
		return append(b, "isomiso6iso2avc1mp41"...)
	})
	b = box(b, "moov", w.moov)
	_, _ = w.file.Write(b)
	return w
}

// write adds a frame of track i at pts (ms from the file's start);
// pts increases strictly within a track.
func (w *mp4Writer) write(i int, key bool, pts int64, data []byte) {
	t := w.tracks[i]
	if (i == w.main && key || w.main < 0) && w.fragStart >= 0 && pts-w.fragStart >= fragmentMin ||
		w.fragStart >= 0 && pts-w.fragStart >= fragmentMax {
		w.flush(false)
	}
	dts := uint64(pts) * uint64(t.timescale) / 1000
	if p := t.pending; p != nil {
		if dts <= p.dts {
			dts = p.dts + 1
		}
		p.dur = uint32(dts - p.dts)
		t.lastDur = p.dur
		if len(t.samples) == 0 {
			t.baseTime = p.dts
		}
		t.samples = append(t.samples, *p)
	}
	t.pending = &mp4Sample{dts: dts, key: key, data: data}
	if w.fragStart < 0 {
		w.fragStart = pts
	}
}

// flush writes the fragment built (last: with each track's pending
// sample too, given the track's previous duration).
func (w *mp4Writer) flush(last bool) {
	if last {
		for _, t := range w.tracks {
			if p := t.pending; p != nil {
				p.dur = t.lastDur
				if p.dur == 0 {
					p.dur = t.timescale / 50 // a lone frame: 20 ms
				}
				if len(t.samples) == 0 {
					t.baseTime = p.dts
				}
				t.samples = append(t.samples, *p)
				t.pending = nil
			}
		}
	}
	w.fragStart = -1 // set again by the next write
	var size int
	for _, t := range w.tracks {
		for _, s := range t.samples {
			size += len(s.data)
		}
	}
	if size == 0 {
		return
	}
	w.seq++
	moof := box(nil, "moof", w.moof)
	// The data offsets in each trun count from the moof's start: the
	// mdat header follows the moof, then each track's samples in order.
	off := len(moof) + 8
	for _, t := range w.tracks {
		if len(t.samples) == 0 {
			continue
		}
		binary.BigEndian.PutUint32(moof[t.dataOffsetAt:], uint32(off))
		for _, s := range t.samples {
			off += len(s.data)
		}
	}
	mdat := binary.BigEndian.AppendUint32(make([]byte, 0, 8), uint32(8+size))
	mdat = append(mdat, "mdat"...)
	_, _ = w.file.Write(moof)
	_, _ = w.file.Write(mdat)
	for _, t := range w.tracks {
		for _, s := range t.samples {
			_, _ = w.file.Write(s.data)
		}
		t.samples = t.samples[:0]
	}
}

// close writes the last fragment and closes the file.
func (w *mp4Writer) close() {
	w.flush(true)
	_ = w.file.Close()
}

// box appends a box of type typ whose body body appends.
func box(b []byte, typ string, body func([]byte) []byte) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b = append(b, typ...)
	b = body(b)
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// fullBox appends a full box (version and flags).
func fullBox(b []byte, typ string, version byte, flags uint32, body func([]byte) []byte) []byte {
	return box(b, typ, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint32(b, uint32(version)<<24|flags)
		return body(b)
	})
}

// matrix is the identity transformation of mvhd and tkhd.
var matrix = []uint32{0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000}

func (w *mp4Writer) moov(b []byte) []byte {
	b = fullBox(b, "mvhd", 0, 0, func(b []byte) []byte {
		b = append(b, make([]byte, 8)...)             // creation, modification time
		b = binary.BigEndian.AppendUint32(b, 1000)    // timescale
		b = binary.BigEndian.AppendUint32(b, 0)       // duration: fragments say
		b = binary.BigEndian.AppendUint32(b, 0x10000) // rate 1.0
		b = binary.BigEndian.AppendUint16(b, 0x100)   // volume 1.0
		b = append(b, make([]byte, 10)...)            // reserved
		for _, m := range matrix {
			b = binary.BigEndian.AppendUint32(b, m)
		}
		b = append(b, make([]byte, 24)...) // pre_defined
		return binary.BigEndian.AppendUint32(b, uint32(len(w.tracks)+1))
	})
	for _, t := range w.tracks {
		b = box(b, "trak", t.trak)
	}
	return box(b, "mvex", func(b []byte) []byte {
		for _, t := range w.tracks {
			b = fullBox(b, "trex", 0, 0, func(b []byte) []byte {
				b = binary.BigEndian.AppendUint32(b, t.id)
				b = binary.BigEndian.AppendUint32(b, 1) // sample description index
				return append(b, make([]byte, 12)...)   // default duration, size, flags
			})
		}
		return b
	})
}

func (t *mp4Track) trak(b []byte) []byte {
	b = fullBox(b, "tkhd", 0, 3, func(b []byte) []byte { // enabled, in movie
		b = append(b, make([]byte, 8)...) // creation, modification time
		b = binary.BigEndian.AppendUint32(b, t.id)
		b = append(b, make([]byte, 4+4+8)...)   // reserved, duration, reserved
		b = binary.BigEndian.AppendUint16(b, 0) // layer
		b = binary.BigEndian.AppendUint16(b, 0) // alternate group
		if t.codec.video {
			b = binary.BigEndian.AppendUint16(b, 0)
		} else {
			b = binary.BigEndian.AppendUint16(b, 0x100)
		}
		b = append(b, 0, 0)
		for _, m := range matrix {
			b = binary.BigEndian.AppendUint32(b, m)
		}
		b = binary.BigEndian.AppendUint32(b, uint32(t.width)<<16)
		return binary.BigEndian.AppendUint32(b, uint32(t.height)<<16)
	})
	return box(b, "mdia", func(b []byte) []byte {
		b = fullBox(b, "mdhd", 0, 0, func(b []byte) []byte {
			b = append(b, make([]byte, 8)...)
			b = binary.BigEndian.AppendUint32(b, t.timescale)
			b = binary.BigEndian.AppendUint32(b, 0)
			b = binary.BigEndian.AppendUint16(b, 0x55c4) // "und"
			return append(b, 0, 0)
		})
		b = fullBox(b, "hdlr", 0, 0, func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			if t.codec.video {
				b = append(b, "vide"...)
			} else {
				b = append(b, "soun"...)
			}
			b = append(b, make([]byte, 12)...)
			return append(b, "gosoup\x00"...)
		})
		return box(b, "minf", t.minf)
	})
}

func (t *mp4Track) minf(b []byte) []byte {
	if t.codec.video {
		b = fullBox(b, "vmhd", 0, 1, func(b []byte) []byte { return append(b, make([]byte, 8)...) })
	} else {
		b = fullBox(b, "smhd", 0, 0, func(b []byte) []byte { return append(b, 0, 0, 0, 0) })
	}
	b = box(b, "dinf", func(b []byte) []byte {
		return fullBox(b, "dref", 0, 0, func(b []byte) []byte {
			b = binary.BigEndian.AppendUint32(b, 1)
			return fullBox(b, "url ", 0, 1, func(b []byte) []byte { return b }) // in this file
		})
	})
	return box(b, "stbl", func(b []byte) []byte {
		b = fullBox(b, "stsd", 0, 0, func(b []byte) []byte {
			b = binary.BigEndian.AppendUint32(b, 1)
			if t.codec.video {
				return box(b, "avc1", t.avc1)
			}
			return box(b, "Opus", t.opus)
		})
		empty := func(b []byte) []byte { return binary.BigEndian.AppendUint32(b, 0) }
		b = fullBox(b, "stts", 0, 0, empty)
		b = fullBox(b, "stsc", 0, 0, empty)
		b = fullBox(b, "stsz", 0, 0, func(b []byte) []byte { return append(b, make([]byte, 8)...) })
		return fullBox(b, "stco", 0, 0, empty)
	})
}

// avc1 is the H264 sample entry with its avcC (the parameter sets of the
// first key frame; they are also kept in the samples, so a change of
// size decodes too).
func (t *mp4Track) avc1(b []byte) []byte {
	b = append(b, make([]byte, 6)...)
	b = binary.BigEndian.AppendUint16(b, 1) // data reference index
	b = append(b, make([]byte, 16)...)
	b = binary.BigEndian.AppendUint16(b, uint16(t.width))
	b = binary.BigEndian.AppendUint16(b, uint16(t.height))
	b = binary.BigEndian.AppendUint32(b, 0x480000) // 72 dpi
	b = binary.BigEndian.AppendUint32(b, 0x480000)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, 1) // frame count
	b = append(b, make([]byte, 32)...)      // compressor name
	b = binary.BigEndian.AppendUint16(b, 0x18)
	b = binary.BigEndian.AppendUint16(b, 0xffff)
	return box(b, "avcC", func(b []byte) []byte {
		profile, compat, level := byte(66), byte(0xe0), byte(31)
		if len(t.sps) >= 4 {
			profile, compat, level = t.sps[1], t.sps[2], t.sps[3]
		}
		b = append(b, 1, profile, compat, level, 0xff) // 4-byte NAL unit lengths
		if t.sps == nil {
			return append(b, 0xe0, 0) // parameter sets in the samples only
		}
		b = append(b, 0xe1)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.sps)))
		b = append(b, t.sps...)
		if t.pps == nil {
			return append(b, 0)
		}
		b = append(b, 1)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.pps)))
		return append(b, t.pps...)
	})
}

// opus is the Opus sample entry with its dOps (Opus in ISOBMFF, 4.3).
func (t *mp4Track) opus(b []byte) []byte {
	b = append(b, make([]byte, 6)...)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, make([]byte, 8)...)
	b = binary.BigEndian.AppendUint16(b, uint16(t.codec.channels))
	b = binary.BigEndian.AppendUint16(b, 16)
	b = append(b, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, 48000<<16)
	return box(b, "dOps", func(b []byte) []byte {
		b = append(b, 0, byte(t.codec.channels))
		b = binary.BigEndian.AppendUint16(b, 0) // pre-skip
		b = binary.BigEndian.AppendUint32(b, 48000)
		b = binary.BigEndian.AppendUint16(b, 0) // output gain
		return append(b, 0)                     // channel mapping family
	})
}

// Sample flags (ISO/IEC 14496-12 8.8.3.1): a key frame depends on no
// other; any other frame does and is not a sync sample.
const (
	sampleKey    = 0x02000000
	sampleNonKey = 0x01010000
)

func (w *mp4Writer) moof(b []byte) []byte {
	b = fullBox(b, "mfhd", 0, 0, func(b []byte) []byte { return binary.BigEndian.AppendUint32(b, w.seq) })
	for _, t := range w.tracks {
		if len(t.samples) == 0 {
			continue
		}
		b = box(b, "traf", func(b []byte) []byte {
			b = fullBox(b, "tfhd", 0, 0x020000, func(b []byte) []byte { // default-base-is-moof
				return binary.BigEndian.AppendUint32(b, t.id)
			})
			b = fullBox(b, "tfdt", 1, 0, func(b []byte) []byte { return binary.BigEndian.AppendUint64(b, t.baseTime) })
			// data offset, then each sample's duration, size and flags
			return fullBox(b, "trun", 0, 0x000701, func(b []byte) []byte {
				b = binary.BigEndian.AppendUint32(b, uint32(len(t.samples)))
				t.dataOffsetAt = len(b)
				b = append(b, 0, 0, 0, 0)
				for _, s := range t.samples {
					b = binary.BigEndian.AppendUint32(b, s.dur)
					b = binary.BigEndian.AppendUint32(b, uint32(len(s.data)))
					if s.key {
						b = binary.BigEndian.AppendUint32(b, sampleKey)
					} else {
						b = binary.BigEndian.AppendUint32(b, sampleNonKey)
					}
				}
				return b
			})
		})
	}
	return b
}
