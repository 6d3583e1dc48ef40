package rtpbuf

import "sync"

// Slots is how many recent packets a video stream keeps for
// retransmission (about 1.5 s of 720p video); simulcast's lower layers,
// with fewer packets per second, keep a half or a quarter of that (see
// SlotsFor). Powers of two, so that slots stay aligned across the 16-bit
// wraparound.
const Slots = 512

// SlotsFor sizes a stream's buffer by its simulcast profile: "low" a
// quarter of Slots, "medium" a half, anything else all of it.
func SlotsFor(profile string) int {
	switch profile {
	case "low":
		return Slots / 4
	case "medium":
		return Slots / 2
	}
	return Slots
}

// Buffer keeps one shared copy of a stream's recent packets, so that every
// consumer can answer its receiver's NACKs from it (as mediasoup's
// RtpRetransmissionBuffer). Slots are indexed by the sequence number; a
// slot is valid only for the sequence number it holds, which makes the
// 16-bit wraparound harmless. Safe for concurrent use.
type Buffer struct {
	mu    sync.Mutex
	slots []slot
}

type slot struct {
	seq   uint16
	valid bool
	len   uint16
	off   uint16 // payload offset
	data  [1500]byte
}

// NewBuffer returns a buffer of n slots; n must be a power of two.
func NewBuffer(n int) *Buffer {
	return &Buffer{slots: make([]slot, n)}
}

// Len returns the number of slots.
func (r *Buffer) Len() int { return len(r.slots) }

// Store copies pkt, whose payload starts at payloadOff, under sequence
// number seq; packets larger than a slot (1500 bytes) are skipped.
func (r *Buffer) Store(seq uint16, pkt []byte, payloadOff int) {
	if len(pkt) > 1500 {
		return
	}
	r.mu.Lock()
	sl := &r.slots[int(seq)&(len(r.slots)-1)]
	sl.seq, sl.valid, sl.len, sl.off = seq, true, uint16(len(pkt)), uint16(payloadOff)
	copy(sl.data[:], pkt)
	r.mu.Unlock()
}

// Get copies the packet with this sequence number into dst and returns its
// length and payload offset, or ok=false if it is gone or dst has less
// than its length + 2 bytes (the room an RTX header needs).
func (r *Buffer) Get(seq uint16, dst []byte) (n, payloadOff int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sl := &r.slots[int(seq)&(len(r.slots)-1)]
	if !sl.valid || sl.seq != seq || len(dst) < int(sl.len)+2 {
		return 0, 0, false
	}
	return copy(dst, sl.data[:sl.len]), int(sl.off), true
}
