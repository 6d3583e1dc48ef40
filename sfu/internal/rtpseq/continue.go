package rtpseq

// ContinueAfter makes the space continue another one's numbering: as if
// last had been its newest outgoing value, so that the next Resync maps
// its value to last+1. Used when several senders take turns on one
// outgoing stream.
func (s *Space) ContinueAfter(last uint32) {
	s.started = true
	s.maxIn, s.offset = 0, last&s.mask
}
