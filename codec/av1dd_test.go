package codec

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// bitString turns "1 0110 ..." (spaces ignored) into bytes, zero-padded.
func bitString(s string) []byte {
	s = strings.ReplaceAll(s, " ", "")
	out := make([]byte, (len(s)+7)/8)
	for i, c := range s {
		if c == '1' {
			out[i/8] |= 0x80 >> (i % 8)
		}
	}
	return out
}

func TestDDMandatory(t *testing.T) {
	d, err := ParseDDMandatory([]byte{0x80 | 0x40 | 5, 0x12, 0x34})
	want := DependencyDescriptor{StartOfFrame: true, EndOfFrame: true, TemplateID: 5, FrameNumber: 0x1234}
	if err != nil || d != want {
		t.Fatalf("got %+v, %v; want %+v", d, err, want)
	}
	d, _ = ParseDDMandatory([]byte{0x3f, 0xff, 0xff})
	if d.StartOfFrame || d.EndOfFrame || d.TemplateID != 63 || d.FrameNumber != 0xffff {
		t.Fatalf("got %+v", d)
	}
	for _, b := range [][]byte{nil, {0x80}, {0x80, 0x00}} {
		if _, err := ParseDDMandatory(b); !errors.Is(err, ErrDDTruncated) {
			t.Fatalf("%x: %v, want truncated", b, err)
		}
	}
}

// A one-layer structure with a 640x360 resolution, written bit by bit as
// the specification lays it out.
func TestDDReaderStructureByHand(t *testing.T) {
	b := bitString("1 1 000000 0000000000000001" + // start, end, template 0, frame 1
		"1 0 0 0 0" + // structure present; no active targets, custom dtis, fdiffs, chains
		"000000 00000" + // template_id_offset 0, one decode target
		"11" + // template_layers: no more templates
		"10" + // template_dtis: switch
		"0" + // template_fdiffs: none
		"0" + // template_chains: ns(2) = 0 chains
		"1 0000001001111111 0000000101100111") // resolutions: 640x360
	var r DDReader
	if _, ok := r.Structure(); ok {
		t.Fatal("structure before any")
	}
	d, err := r.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	want := DependencyDescriptor{StartOfFrame: true, EndOfFrame: true, FrameNumber: 1, HasLayers: true,
		NewStructure: true, HasActiveDecodeTargets: true, ActiveDecodeTargets: 1}
	if d != want {
		t.Fatalf("got  %+v\nwant %+v", d, want)
	}
	s, ok := r.Structure()
	if !ok || s.TemplateCount != 1 || s.DecodeTargets != 1 || s.SpatialLayers() != 1 ||
		s.ResolutionCount != 1 || s.Resolutions[0] != (DDResolution{640, 360}) {
		t.Fatalf("structure %+v", s)
	}
	// the next packets carry the mandatory fields only
	if d, err := r.Read([]byte{0x80, 0, 2}); err != nil || !d.HasLayers || d.FrameNumber != 2 || d.NewStructure {
		t.Fatalf("mandatory only: %+v, %v", d, err)
	}
	if _, err := r.Read([]byte{0x81, 0, 3}); !errors.Is(err, ErrDDUnknownTemplate) {
		t.Fatalf("template 1 of a one-template structure: %v", err)
	}
	r.Reset()
	if d, err := r.Read([]byte{0x80, 0, 4}); !errors.Is(err, ErrDDNoStructure) || d.FrameNumber != 4 || !d.StartOfFrame {
		t.Fatalf("after reset: %+v, %v", d, err)
	}
}

// ddTemplate is a template as the test writer lays it out.
type ddTemplate struct {
	sid, tid uint8
	dtis     []uint8 // one per decode target
	fdiffs   []uint8 // 1..16
	chains   []uint8 // one per chain
}

// ddStructure is what the test writer encodes.
type ddStructure struct {
	offset      uint8
	dts, chains int
	protectedBy []int // per decode target, < chains
	templates   []ddTemplate
	resolutions []DDResolution
}

// bitWriter is the test side of bitReader.
type bitWriter struct {
	b []byte
	n int
}

func (w *bitWriter) put(v uint32, bits int) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 == 1 {
			w.b[w.n/8] |= 0x80 >> (w.n % 8)
		}
		w.n++
	}
}

func (w *bitWriter) flag(f bool) {
	if f {
		w.put(1, 1)
	} else {
		w.put(0, 1)
	}
}

// ns writes v < n as ns(n).
func (w *bitWriter) ns(v, n uint32) {
	bits := 0
	for x := n; x != 0; x >>= 1 {
		bits++
	}
	m := uint32(1)<<bits - n
	if v < m {
		w.put(v, bits-1)
		return
	}
	v += m
	w.put(v>>1, bits-1)
	w.put(v&1, 1)
}

// ddFrame is one packet's descriptor for the writer.
type ddFrame struct {
	start, end     bool
	template       uint8 // index into the structure's templates
	frame          uint16
	structure      *ddStructure // attached
	active         *uint32
	customDTIs     []uint8
	customFdiffs   []uint32 // 1..4096
	customChains   []uint8
	forceExtended  bool
	structureInUse *ddStructure // the structure the ids refer to
}

func writeDD(f ddFrame) []byte {
	s := f.structureInUse
	w := &bitWriter{}
	w.flag(f.start)
	w.flag(f.end)
	w.put(uint32((int(f.template)+int(s.offset))%64), 6)
	w.put(uint32(f.frame), 16)
	ext := f.structure != nil || f.active != nil || f.customDTIs != nil || f.customFdiffs != nil || f.customChains != nil || f.forceExtended
	if !ext {
		return w.b
	}
	w.flag(f.structure != nil)
	w.flag(f.active != nil)
	w.flag(f.customDTIs != nil)
	w.flag(f.customFdiffs != nil)
	w.flag(f.customChains != nil)
	if st := f.structure; st != nil {
		w.put(uint32(st.offset), 6)
		w.put(uint32(st.dts-1), 5)
		for i, t := range st.templates {
			idc := uint32(3)
			if i+1 < len(st.templates) {
				next := st.templates[i+1]
				switch {
				case next.sid == t.sid && next.tid == t.tid:
					idc = 0
				case next.sid == t.sid:
					idc = 1
				default:
					idc = 2
				}
			}
			w.put(idc, 2)
		}
		for _, t := range st.templates {
			for _, d := range t.dtis {
				w.put(uint32(d), 2)
			}
		}
		for _, t := range st.templates {
			for _, fd := range t.fdiffs {
				w.flag(true)
				w.put(uint32(fd-1), 4)
			}
			w.flag(false)
		}
		w.ns(uint32(st.chains), uint32(st.dts+1))
		if st.chains > 0 {
			for _, p := range st.protectedBy {
				w.ns(uint32(p), uint32(st.chains))
			}
			for _, t := range st.templates {
				for _, c := range t.chains {
					w.put(uint32(c), 4)
				}
			}
		}
		w.flag(st.resolutions != nil)
		for _, r := range st.resolutions {
			w.put(uint32(r.Width-1), 16)
			w.put(uint32(r.Height-1), 16)
		}
	}
	if f.active != nil {
		w.put(*f.active, s.dts)
	}
	for _, d := range f.customDTIs {
		w.put(uint32(d), 2)
	}
	if f.customFdiffs != nil {
		for _, fd := range f.customFdiffs {
			size := uint32(1)
			for (fd-1)>>(4*size) != 0 {
				size++
			}
			w.put(size, 2)
			w.put(fd-1, 4*int(size))
		}
		w.put(0, 2)
	}
	for _, c := range f.customChains {
		w.put(uint32(c), 8)
	}
	return w.b
}

// randomStructure makes a valid structure: 1-4 spatial layers of 1-8
// temporal layers, 1-3 templates each, at most 64 templates.
func randomStructure(rng *rand.Rand) *ddStructure {
	s := &ddStructure{offset: uint8(rng.IntN(64)), dts: 1 + rng.IntN(32)}
	s.chains = rng.IntN(s.dts + 1)
	for range s.dts {
		if s.chains > 0 {
			s.protectedBy = append(s.protectedBy, rng.IntN(s.chains))
		}
	}
	spatial := 1 + rng.IntN(DDMaxSpatialIDs)
	for sid := 0; sid < spatial; sid++ {
		temporal := 1 + rng.IntN(DDMaxTemporalIDs)
		for tid := 0; tid < temporal; tid++ {
			for range 1 + rng.IntN(3) {
				if len(s.templates) == DDMaxTemplates {
					break
				}
				t := ddTemplate{sid: uint8(sid), tid: uint8(tid)}
				for range s.dts {
					t.dtis = append(t.dtis, uint8(rng.IntN(4)))
				}
				for range rng.IntN(4) {
					t.fdiffs = append(t.fdiffs, uint8(1+rng.IntN(16)))
				}
				for range s.chains {
					t.chains = append(t.chains, uint8(rng.IntN(16)))
				}
				s.templates = append(s.templates, t)
			}
		}
	}
	// the last template's layer is the highest: spatial layers count
	if rng.IntN(2) == 0 {
		last := s.templates[len(s.templates)-1].sid
		for range int(last) + 1 {
			s.resolutions = append(s.resolutions, DDResolution{uint16(1 + rng.IntN(65535)), uint16(1 + rng.IntN(65535))})
		}
	}
	return s
}

// randomFrame makes a descriptor referring to structure s, attaching it
// when attach is set, with random optional parts.
func randomFrame(rng *rand.Rand, s *ddStructure, attach bool) ddFrame {
	f := ddFrame{start: rng.IntN(2) == 0, end: rng.IntN(2) == 0, template: uint8(rng.IntN(len(s.templates))),
		frame: uint16(rng.Uint32()), structureInUse: s, forceExtended: rng.IntN(8) == 0}
	if attach {
		f.structure = s
	}
	if rng.IntN(4) == 0 {
		a := rng.Uint32() & uint32(uint64(1)<<s.dts-1)
		f.active = &a
	}
	if rng.IntN(4) == 0 {
		f.customDTIs = make([]uint8, s.dts)
		for i := range f.customDTIs {
			f.customDTIs[i] = uint8(rng.IntN(4))
		}
	}
	if rng.IntN(4) == 0 {
		f.customFdiffs = []uint32{}
		for range rng.IntN(4) {
			f.customFdiffs = append(f.customFdiffs, 1+uint32(rng.IntN(4096)))
		}
	}
	if rng.IntN(4) == 0 {
		f.customChains = make([]uint8, s.chains)
		for i := range f.customChains {
			f.customChains[i] = uint8(rng.IntN(256))
		}
	}
	return f
}

// checkFrame compares what the reader made of f with what f says.
func checkFrame(t *testing.T, f ddFrame, d DependencyDescriptor, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%+v: %v", f, err)
	}
	tp := f.structureInUse.templates[f.template]
	if d.StartOfFrame != f.start || d.EndOfFrame != f.end || d.FrameNumber != f.frame ||
		!d.HasLayers || d.SpatialID != tp.sid || d.TemporalID != tp.tid || d.NewStructure != (f.structure != nil) {
		t.Fatalf("read %+v from %+v (template %+v)", d, f, tp)
	}
	switch {
	case f.active != nil:
		if !d.HasActiveDecodeTargets || d.ActiveDecodeTargets != *f.active {
			t.Fatalf("active %v %b, want %b", d.HasActiveDecodeTargets, d.ActiveDecodeTargets, *f.active)
		}
	case f.structure != nil:
		if want := uint32(uint64(1)<<f.structure.dts - 1); !d.HasActiveDecodeTargets || d.ActiveDecodeTargets != want {
			t.Fatalf("active with a structure: %b, want %b", d.ActiveDecodeTargets, want)
		}
	case d.HasActiveDecodeTargets:
		t.Fatalf("active decode targets from nowhere: %+v", d)
	}
}

// Property: for random structures and descriptors, the reader gives each
// packet the layers of its template, across structure changes; a packet
// cut short is refused (or, cut in its zero padding, read the same) and
// leaves the reader's structure as it was.
func TestDDReaderProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 3))
	for range 300 {
		var r DDReader
		s := randomStructure(rng)
		for i := range 40 {
			attach := i == 0 || rng.IntN(10) == 0
			if i > 0 && rng.IntN(10) == 0 {
				s, attach = randomStructure(rng), true // a new structure takes effect when sent
			}
			f := randomFrame(rng, s, attach)
			b := writeDD(f)
			for cut := 0; cut < len(b); cut++ {
				rc := r
				d, err := rc.Read(b[:cut])
				switch {
				case cut == 3:
					// the mandatory fields alone: read with the structure in effect
				case err != nil:
					if !errors.Is(err, ErrDDTruncated) {
						t.Fatalf("cut to %d of %d: %v", cut, len(b), err)
					}
					if rc.have != r.have || rc.structure != r.structure {
						t.Fatalf("a refused descriptor changed the reader")
					}
				default: // only zero padding was cut
					checkFrame(t, f, d, err)
				}
			}
			d, err := r.Read(b)
			checkFrame(t, f, d, err)
			got, ok := r.Structure()
			if !ok || got.TemplateCount != len(s.templates) || got.DecodeTargets != s.dts || got.Chains != s.chains ||
				got.TemplateIDOffset != s.offset || got.ResolutionCount != len(s.resolutions) ||
				got.SpatialLayers() != int(s.templates[len(s.templates)-1].sid)+1 {
				t.Fatalf("structure %+v, wrote %+v", got, s)
			}
			for j, tp := range s.templates {
				if got.Templates[j] != (DDTemplate{tp.sid, tp.tid}) {
					t.Fatalf("template %d: %+v, want %+v", j, got.Templates[j], tp)
				}
			}
			for j, res := range s.resolutions {
				if got.Resolutions[j] != res {
					t.Fatalf("resolution %d: %+v, want %+v", j, got.Resolutions[j], res)
				}
			}
		}
	}
}

func TestDDReaderRefusals(t *testing.T) {
	// 65 templates: 64 with next_layer_idc 0, then one more
	w := &bitWriter{}
	w.put(0x80, 8)
	w.put(0, 16)
	w.put(0b10000, 5)
	w.put(0, 6)
	w.put(0, 5)
	for range 64 {
		w.put(0, 2)
	}
	w.put(3, 2)
	var r DDReader
	if _, err := r.Read(w.b); !errors.Is(err, ErrDDTooManyLayers) {
		t.Fatalf("65 templates: %v", err)
	}
	// a fifth spatial layer, a ninth temporal layer
	for _, idcs := range [][]uint32{{2, 2, 2, 2}, {1, 1, 1, 1, 1, 1, 1, 1}} {
		w = &bitWriter{}
		w.put(0x80, 8)
		w.put(0, 16)
		w.put(0b10000, 5)
		w.put(0, 11)
		for _, idc := range idcs {
			w.put(idc, 2)
		}
		w.put(3, 2)
		w.put(0, 32)
		if _, err := r.Read(w.b); !errors.Is(err, ErrDDTooManyLayers) {
			t.Fatalf("layers %v: %v", idcs, err)
		}
	}
	if _, ok := r.Structure(); ok {
		t.Fatal("a refused structure was kept")
	}
	// active decode targets without a structure to count them
	if _, err := r.Read([]byte{0x80, 0, 0, 0x40}); !errors.Is(err, ErrDDNoStructure) {
		t.Fatalf("active targets, no structure: %v", err)
	}
}

func TestDDReaderAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := randomStructure(rng)
	withStructure := writeDD(randomFrame(rng, s, true))
	plain := writeDD(ddFrame{template: 0, structureInUse: s})
	var r DDReader
	if n := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(withStructure); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(plain); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per read", n)
	}
}

// FuzzDDReader: whatever the bytes, reading neither panics nor hangs; a
// descriptor read has layers within the limits and a template of the
// structure in effect; a refused one leaves the structure as it was.
func FuzzDDReader(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 8))
	for range 4 {
		s := randomStructure(rng)
		f.Add(writeDD(randomFrame(rng, s, true)), writeDD(randomFrame(rng, s, false)))
	}
	f.Add([]byte{0x80, 0, 0}, []byte{0x80, 0, 1, 0x80})
	f.Fuzz(func(t *testing.T, first, second []byte) {
		var r DDReader
		for _, b := range [][]byte{first, second} {
			before, had := r.Structure()
			saved := *before
			d, err := r.Read(b)
			now, have := r.Structure()
			if err != nil {
				if d.HasLayers || d.NewStructure || have != had || (had && *now != saved) {
					t.Fatalf("refused (%v) but %+v, structure changed %v", err, d, *now != saved)
				}
				continue
			}
			if !have || !d.HasLayers || d.SpatialID >= DDMaxSpatialIDs || d.TemporalID >= DDMaxTemporalIDs {
				t.Fatalf("read %+v, structure %v", d, have)
			}
			if _, ok := now.template(d.TemplateID); !ok || now.TemplateCount < 1 || now.TemplateCount > DDMaxTemplates ||
				now.DecodeTargets < 1 || now.DecodeTargets > DDMaxDecodeTargets || now.Chains > now.DecodeTargets ||
				now.ResolutionCount > DDMaxSpatialIDs || now.SpatialLayers() > DDMaxSpatialIDs {
				t.Fatalf("read %+v with structure %+v", d, now)
			}
		}
	})
}
