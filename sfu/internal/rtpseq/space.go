// Package rtpseq maps the numbers of a forwarded stream (RTP sequence
// numbers, picture ids, TL0PICIDX) to a consumer's own: continuous across
// source switches, and without gaps when packets or frames are dropped
// inside a stream. History remembers what each outgoing sequence number
// carried, for retransmissions.
//
// A Space belongs to one goroutine (the media plane); History may be read
// from any. Nothing allocates.
package rtpseq

import "math/bits"

// Window is how many values behind the newest one a Space remembers: an
// older value (a late or retransmitted packet) is refused. Smaller spaces
// remember half their range.
const Window = 1024

const words = Window / 64

// staleRestart is how many values in a row older than the window a Space
// refuses before it takes the source as restarted: a numbering that
// jumped by more than half its range looks older than the window, and
// would otherwise be refused for good.
const staleRestart = 32

// Space maps one incoming number space of mask+1 values (0x10000 for
// sequence numbers, 0x8000 or 0x80 for picture ids, 0x100 for TL0PICIDX)
// to an outgoing one. A value newer than every one seen maps to itself
// plus an offset; dropping the newest value lowers the offset, so the next
// value takes its number. A late value maps to what it would have had in
// order: the same number on every arrival (out of order, retransmitted).
//
// The zero Space is unusable: make one with NewSpace.
type Space struct {
	mask    uint32
	window  uint32
	started bool
	offset  uint32 // out = in + offset for a value newer than maxIn
	maxIn   uint32 // newest value seen (forwarded or dropped)
	floor   uint32 // first value since the last Resync: older ones are refused
	inRun   bool   // the run since floor is shorter than the window: floor matters
	stale   int    // values in a row refused for being older than the window
	seen    [words]uint64
	dropped [words]uint64
}

// NewSpace returns a space of mask+1 values; mask is 2^n - 1, n in 2..16.
func NewSpace(mask uint32) Space {
	s := Space{}
	s.setMask(mask)
	return s
}

func (s *Space) setMask(mask uint32) {
	s.mask = mask
	s.window = min(Window, (mask+1)/2)
}

// Mask returns the space's mask.
func (s *Space) Mask() uint32 { return s.mask }

// Started reports whether a value was ever mapped or resynchronised.
func (s *Space) Started() bool { return s.started }

// Last returns the outgoing value of the newest incoming one (after a
// drop of the newest, the number before the one the next value gets).
func (s *Space) Last() uint32 { return (s.maxIn + s.offset) & s.mask }

// Resync starts a new run at incoming value in: in maps to Last()+1, so
// the outgoing numbering continues; values older than in are refused. The
// first Resync keeps the source's numbering.
func (s *Space) Resync(in uint32) { s.ResyncMask(in, s.mask) }

// ResyncMask is Resync into a space of another width (a source whose
// picture ids are 7-bit after 15-bit ones): the numbering continues modulo
// the new range.
func (s *Space) ResyncMask(in, mask uint32) {
	next := s.Last() + 1
	s.setMask(mask)
	in &= mask
	if !s.started {
		s.started, next = true, in
	}
	s.offset = (next - in) & mask
	s.maxIn = (in - 1) & mask
	s.floor, s.inRun, s.stale = in, true, 0
	s.seen, s.dropped = [words]uint64{}, [words]uint64{}
}

// Newer reports whether in is newer than every value seen (not late, not
// a repeat): the packets a forwarder may take decisions on.
func (s *Space) Newer(in uint32) bool {
	d := (in - s.maxIn) & s.mask
	return !s.started || d != 0 && d <= s.mask/2
}

// Map returns the outgoing value of in, a value to forward; false when in
// is older than the window or than the last Resync, or was dropped.
func (s *Space) Map(in uint32) (uint32, bool) {
	in &= s.mask
	if !s.started {
		s.Resync(in)
	}
	if d := (in - s.maxIn) & s.mask; d != 0 && d <= s.mask/2 {
		s.advance(in, d)
		s.set(&s.seen, in)
		return (in + s.offset) & s.mask, true
	}
	if s.restarted(in) {
		return s.Last(), true
	}
	if !s.inWindow(in) || s.has(&s.dropped, in) {
		return 0, false
	}
	s.set(&s.seen, in)
	return s.late(in), true
}

// Drop removes in from the outgoing numbering. A value newer than every
// one seen takes no number: the next value gets the one it would have had.
// A late value already has one, reserved for it when a newer value was
// mapped: hole is then true the first time, and out is that number, which
// the caller fills (a padding packet) or leaves as a gap.
func (s *Space) Drop(in uint32) (out uint32, hole bool) {
	in &= s.mask
	if !s.started {
		s.Resync(in)
	}
	if d := (in - s.maxIn) & s.mask; d != 0 && d <= s.mask/2 {
		s.advance(in, d)
		s.set(&s.dropped, in)
		s.offset = (s.offset - 1) & s.mask
		return 0, false
	}
	if !s.inWindow(in) || s.has(&s.dropped, in) || s.has(&s.seen, in) {
		return 0, false
	}
	s.set(&s.seen, in)
	return s.late(in), true
}

// restarted counts in, not newer than maxIn, if it is older than the
// window; at the staleRestart-th such value in a row, in becomes the
// newest value, numbered right after Last(), and restarted is true.
func (s *Space) restarted(in uint32) bool {
	if (s.maxIn-in)&s.mask < s.window {
		s.stale = 0
		return false
	}
	if s.stale++; s.stale < staleRestart {
		return false
	}
	next := s.Last() + 1
	s.seen, s.dropped = [words]uint64{}, [words]uint64{}
	s.offset, s.maxIn, s.floor, s.inRun, s.stale = (next-in)&s.mask, in, in, true, 0
	s.set(&s.seen, in)
	return true
}

// late is the outgoing value of in, not newer than maxIn: it would have
// had in+offset but for the values dropped after it.
func (s *Space) late(in uint32) uint32 {
	return (in + s.offset + s.countDropped(in, s.maxIn)) & s.mask
}

// inWindow reports whether in (not newer than maxIn) is within the window
// and not older than the last Resync.
func (s *Space) inWindow(in uint32) bool {
	if (s.maxIn-in)&s.mask >= s.window {
		return false
	}
	if !s.inRun {
		return true
	}
	run := (s.maxIn - s.floor) & s.mask // mask: nothing since the Resync
	return run != s.mask && (in-s.floor)&s.mask <= run
}

// advance makes in, d values after maxIn, the newest: the values between
// are not seen yet.
func (s *Space) advance(in, d uint32) {
	if d >= s.window {
		s.seen, s.dropped = [words]uint64{}, [words]uint64{}
	} else {
		for v := (s.maxIn + 1) & s.mask; ; v = (v + 1) & s.mask {
			s.clear(v)
			if v == in {
				break
			}
		}
	}
	s.maxIn, s.stale = in, 0
	if s.inRun && (in-s.floor)&s.mask >= s.window {
		s.inRun = false
	}
}

func (s *Space) index(v uint32) (int, uint64) {
	i := v & (s.window - 1)
	return int(i / 64), 1 << (i % 64)
}

func (s *Space) set(m *[words]uint64, v uint32) {
	w, b := s.index(v)
	m[w] |= b
}

func (s *Space) has(m *[words]uint64, v uint32) bool {
	w, b := s.index(v)
	return m[w]&b != 0
}

func (s *Space) clear(v uint32) {
	w, b := s.index(v)
	s.seen[w] &^= b
	s.dropped[w] &^= b
}

// countDropped counts the dropped values in (from, to], a range shorter
// than the window.
func (s *Space) countDropped(from, to uint32) uint32 {
	n := uint32(0)
	for v := (from + 1) & s.mask; v != (to+1)&s.mask; {
		i := v & (s.window - 1)
		w, bit := i/64, i%64
		span := min(64-bit, (to-v)&s.mask+1, s.window-i) // to the word's end, the range's or the window's
		word := s.dropped[w] >> bit
		if span < 64 {
			word &= 1<<span - 1
		}
		n += uint32(bits.OnesCount64(word))
		v = (v + span) & s.mask
	}
	return n
}
