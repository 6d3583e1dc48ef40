package sfu

import (
	"sync"
	"time"
)

// bitrateMeter turns a growing byte counter into a bitrate. Each read
// measures from the previous one when at least window has passed since it
// (0: every read), else it returns the last value measured. Control-plane
// readers only (stats reports, layer choice), never the media plane.
type bitrateMeter struct {
	window time.Duration
	mu     sync.Mutex
	bytes  uint64
	at     time.Time
	bps    uint64
}

func (m *bitrateMeter) read(bytes uint64, now time.Time) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.at.IsZero() {
		m.bytes, m.at = bytes, now
		return 0
	}
	el := now.Sub(m.at)
	if el <= 0 || el < m.window {
		return m.bps
	}
	m.bps = 0
	if bytes >= m.bytes {
		m.bps = uint64(float64(bytes-m.bytes) * 8 / el.Seconds())
	}
	m.bytes, m.at = bytes, now
	return m.bps
}

// expectedLost is what a stream's receive statistics say about loss
// (RFC 3550 A.3): packets expected from the sequence numbers seen, and how
// many of them never arrived.
func (s *receiveStats) expectedLost() (expected uint32, lost uint64) {
	received := s.packets.Load()
	if received == 0 {
		return 0, 0
	}
	expected = s.maxSeq.Load() - s.baseSeq.Load() + 1
	if uint64(expected) > received {
		lost = uint64(expected) - received
	}
	return expected, lost
}
