package rtpseq

import "sync/atomic"

// HistorySize is how many outgoing sequence numbers a History remembers
// (as many as a producer stream's retransmission buffer keeps).
const HistorySize = 512

// History remembers, for each of the last HistorySize outgoing sequence
// numbers, the incoming one it carried and the picture id and TL0PICIDX it
// was sent with, so that a NACKed packet is sent again as it was. One
// writer (the media plane); readers anywhere.
type History struct {
	ring [HistorySize]atomic.Uint64
}

// Sent is what one outgoing sequence number carried.
type Sent struct {
	In        uint16 // incoming sequence number
	PictureID uint16 // as sent, when the packet had one
	TL0       uint8  // as sent, when the packet had one
	Padding   bool   // a padding packet filling a dropped packet's number
}

const entryValid = 1

// Put records what outgoing sequence number out carried.
func (h *History) Put(out uint16, s Sent) {
	e := uint64(out)<<48 | uint64(s.In)<<32 | uint64(s.PictureID)<<16 | uint64(s.TL0)<<8 | entryValid
	if s.Padding {
		e |= 2
	}
	h.ring[out%HistorySize].Store(e)
}

// Get returns what out carried; false when it is not remembered.
func (h *History) Get(out uint16) (Sent, bool) {
	e := h.ring[out%HistorySize].Load()
	if e&entryValid == 0 || uint16(e>>48) != out {
		return Sent{}, false
	}
	return Sent{In: uint16(e >> 32), PictureID: uint16(e >> 16), TL0: uint8(e >> 8), Padding: e&2 != 0}, true
}

// Reset forgets everything (a new run whose packets cannot be resent).
func (h *History) Reset() {
	for i := range h.ring {
		h.ring[i].Store(0)
	}
}
