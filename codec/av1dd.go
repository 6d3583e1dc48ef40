package codec

import "errors"

// The AV1 Dependency Descriptor (AOM "RTP Payload Format For AV1",
// appendix A) is an RTP header extension
// (https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension)
// that tells, codec-neutrally, which frame a packet belongs to and which
// spatial and temporal layer that frame is. Every packet carries three
// mandatory bytes (start and end of frame, a template id, a frame number);
// the template dependency structure, sent with key frames, maps template
// ids to layers and holds until the next one. DDReader keeps a stream's
// structure; ParseDDMandatory reads the three bytes alone.

// URIDependencyDescriptor is the header extension's URI in SDP (a=extmap).
const URIDependencyDescriptor = "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

// Limits of the template dependency structure (the syntax allows no more).
const (
	DDMaxTemplates     = 64 // template ids are 6 bits
	DDMaxSpatialIDs    = 4
	DDMaxTemporalIDs   = 8
	DDMaxDecodeTargets = 32 // dt_cnt_minus_one is 5 bits
)

// Errors of a descriptor that cannot be read. Each is returned as is (no
// wrapping: reading a packet allocates nothing).
var (
	ErrDDTruncated       = errors.New("av1 dependency descriptor: truncated")
	ErrDDNoStructure     = errors.New("av1 dependency descriptor: no template structure received yet")
	ErrDDUnknownTemplate = errors.New("av1 dependency descriptor: template id not in the structure")
	ErrDDTooManyLayers   = errors.New("av1 dependency descriptor: more than 4 spatial, 8 temporal layers or 64 templates")
)

// DependencyDescriptor is what one packet's descriptor says.
type DependencyDescriptor struct {
	StartOfFrame bool   // first packet of the frame
	EndOfFrame   bool   // last packet of the frame
	TemplateID   uint8  // frame_dependency_template_id
	FrameNumber  uint16 // frame_number (wraps)

	// Set by DDReader from the structure in effect (false from
	// ParseDDMandatory).
	HasLayers  bool
	SpatialID  uint8
	TemporalID uint8

	NewStructure bool // the packet carried a template dependency structure (sent with key frames)
	// ActiveDecodeTargets is the bitmask of decode targets the sender
	// produces (bit i: decode target i), when the packet says it or
	// carries a structure (then all of its targets are active).
	HasActiveDecodeTargets bool
	ActiveDecodeTargets    uint32
}

// DDTemplate is one frame dependency template of a structure.
type DDTemplate struct {
	SpatialID  uint8
	TemporalID uint8
}

// DDResolution is a spatial layer's render size in pixels.
type DDResolution struct{ Width, Height uint16 }

// DDStructure is a template dependency structure: how template ids map to
// layers, how many decode targets there are and, when sent, each spatial
// layer's resolution. Fixed-size arrays: holding or copying one allocates
// nothing.
type DDStructure struct {
	TemplateIDOffset uint8 // template_id_offset: template i has id (offset+i) % 64
	DecodeTargets    int   // 1..32
	Chains           int   // 0..DecodeTargets
	TemplateCount    int   // 1..64
	Templates        [DDMaxTemplates]DDTemplate
	ResolutionCount  int // 0, or the number of spatial layers
	Resolutions      [DDMaxSpatialIDs]DDResolution
}

// SpatialLayers is the number of spatial layers the structure describes
// (templates are ordered by spatial id, so the last has the highest).
func (s *DDStructure) SpatialLayers() int {
	if s.TemplateCount == 0 {
		return 0
	}
	return int(s.Templates[s.TemplateCount-1].SpatialID) + 1
}

// template returns the template that id names.
func (s *DDStructure) template(id uint8) (DDTemplate, bool) {
	i := (int(id) + DDMaxTemplates - int(s.TemplateIDOffset)) % DDMaxTemplates
	if i >= s.TemplateCount {
		return DDTemplate{}, false
	}
	return s.Templates[i], true
}

// ParseDDMandatory reads the mandatory fields of a descriptor (the
// extension's payload b, without the RTP extension element header).
func ParseDDMandatory(b []byte) (DependencyDescriptor, error) {
	if len(b) < 3 {
		return DependencyDescriptor{}, ErrDDTruncated
	}
	return DependencyDescriptor{
		StartOfFrame: b[0]&0x80 != 0,
		EndOfFrame:   b[0]&0x40 != 0,
		TemplateID:   b[0] & 0x3f,
		FrameNumber:  uint16(b[1])<<8 | uint16(b[2]),
	}, nil
}

// DDReader reads the dependency descriptors of one RTP stream, keeping the
// last template structure received. The zero value is ready; it is not
// safe for concurrent use. Reading allocates nothing.
type DDReader struct {
	have      bool
	structure DDStructure
	scratch   DDStructure // a structure being read: kept only once whole
}

// Structure returns the structure in effect; false before one arrived.
func (r *DDReader) Structure() (*DDStructure, bool) { return &r.structure, r.have }

// Reset forgets the structure (for a new sender on the stream).
func (r *DDReader) Reset() { r.have = false }

// Read parses one packet's descriptor b. A structure in b replaces the one
// kept, and maps b's own template id. On error the reader keeps what it
// had and the descriptor holds the mandatory fields alone, when they were
// readable: a packet whose template is unknown (its structure was lost)
// still tells where frames start and end.
func (r *DDReader) Read(b []byte) (DependencyDescriptor, error) {
	d, err := ParseDDMandatory(b)
	if err != nil {
		return d, err
	}
	br := bitReader{b: b, pos: 24}
	var customDTIs, customFdiffs, customChains, activePresent, structurePresent bool
	if len(b) > 3 {
		structurePresent = br.flag()
		activePresent = br.flag()
		customDTIs = br.flag()
		customFdiffs = br.flag()
		customChains = br.flag()
	}
	s := &r.structure
	if structurePresent {
		if err := readStructure(&br, &r.scratch); err != nil {
			return d, err
		}
		s = &r.scratch
	} else if !r.have {
		return d, ErrDDNoStructure
	}
	out := d
	if structurePresent {
		out.NewStructure = true
		out.HasActiveDecodeTargets = true
		out.ActiveDecodeTargets = uint32(uint64(1)<<s.DecodeTargets - 1)
	}
	if activePresent {
		out.HasActiveDecodeTargets = true
		out.ActiveDecodeTargets = br.bits(s.DecodeTargets)
	}
	t, ok := s.template(d.TemplateID)
	if !ok {
		return d, ErrDDUnknownTemplate
	}
	// frame_dependency_definition: what follows the template choice is
	// read only to check that the descriptor is whole.
	if customDTIs {
		br.skip(2 * s.DecodeTargets)
	}
	if customFdiffs {
		for n := br.bits(2); n > 0 && !br.short; n = br.bits(2) {
			br.skip(4 * int(n))
		}
	}
	if customChains {
		br.skip(8 * s.Chains)
	}
	if br.short {
		return d, ErrDDTruncated
	}
	if structurePresent {
		r.structure, r.have = r.scratch, true
	}
	out.HasLayers, out.SpatialID, out.TemporalID = true, t.SpatialID, t.TemporalID
	return out, nil
}

// readStructure reads template_dependency_structure() into s.
func readStructure(br *bitReader, s *DDStructure) error {
	*s = DDStructure{}
	s.TemplateIDOffset = uint8(br.bits(6))
	s.DecodeTargets = int(br.bits(5)) + 1
	// template_layers: next_layer_idc 0 same layer, 1 next temporal
	// layer, 2 next spatial layer, 3 no more templates
	var sid, tid uint8
	for {
		if s.TemplateCount == DDMaxTemplates {
			return ErrDDTooManyLayers
		}
		s.Templates[s.TemplateCount] = DDTemplate{SpatialID: sid, TemporalID: tid}
		s.TemplateCount++
		idc := br.bits(2)
		if br.short {
			return ErrDDTruncated
		}
		if idc == 3 {
			break
		}
		switch idc {
		case 1:
			tid++
		case 2:
			sid, tid = sid+1, 0
		}
		if sid >= DDMaxSpatialIDs || tid >= DDMaxTemporalIDs {
			return ErrDDTooManyLayers
		}
	}
	br.skip(2 * s.DecodeTargets * s.TemplateCount)      // template_dtis
	for i := 0; i < s.TemplateCount && !br.short; i++ { // template_fdiffs
		for br.flag() && !br.short {
			br.skip(4)
		}
	}
	s.Chains = int(br.ns(uint32(s.DecodeTargets) + 1)) // template_chains
	if s.Chains > 0 {
		for i := 0; i < s.DecodeTargets; i++ {
			br.ns(uint32(s.Chains)) // decode_target_protected_by
		}
		br.skip(4 * s.Chains * s.TemplateCount)
	}
	if br.flag() { // resolutions_present_flag
		s.ResolutionCount = s.SpatialLayers()
		for i := 0; i < s.ResolutionCount; i++ {
			s.Resolutions[i] = DDResolution{Width: uint16(br.bits(16) + 1), Height: uint16(br.bits(16) + 1)}
		}
	}
	if br.short {
		return ErrDDTruncated
	}
	return nil
}

// bitReader reads big-endian bit fields; reading past the end yields
// zeros and sets short.
type bitReader struct {
	b     []byte
	pos   int // in bits
	short bool
}

// bits reads an n-bit unsigned field, n ≤ 32.
func (r *bitReader) bits(n int) uint32 {
	var v uint32
	for ; n > 0; n-- {
		v <<= 1
		if r.pos >= 8*len(r.b) {
			r.short = true
			continue
		}
		v |= uint32(r.b[r.pos>>3]>>(7-r.pos&7)) & 1
		r.pos++
	}
	return v
}

func (r *bitReader) flag() bool { return r.bits(1) == 1 }

// skip passes n bits.
func (r *bitReader) skip(n int) {
	if r.pos += n; r.pos > 8*len(r.b) {
		r.pos, r.short = 8*len(r.b), true
	}
}

// ns reads a non-symmetric unsigned value below n (ns(n) of the AV1
// specification, 4.10.7).
func (r *bitReader) ns(n uint32) uint32 {
	w := 0
	for x := n; x != 0; x >>= 1 {
		w++
	}
	m := uint32(1)<<w - n
	v := r.bits(w - 1)
	if v < m {
		return v
	}
	return v<<1 - m + r.bits(1)
}
