package sfu

import (
	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu/internal/rtpbuf"
)

// Simulcast profiles in mediasoup's order (docs/protocol.md, "Simulcast
// profiles"): none < default < low < medium < high. A producer stream has
// "default" without simulcast, else low, medium or high; a consumer prefers
// one of default, low, medium, high, and "none" is what it receives when no
// stream is left.
const (
	profileNone    = "none"
	profileDefault = "default"
	profileLow     = "low"
	profileMedium  = "medium"
	profileHigh    = "high"
)

// Profile ranks, for comparing layers.
const (
	rankNone = iota
	rankDefault
	rankLow
	rankMedium
	rankHigh
)

// profileRank orders a profile name; unknown names rank as none.
func profileRank(profile string) int {
	switch profile {
	case profileDefault:
		return rankDefault
	case profileLow:
		return rankLow
	case profileMedium:
		return rankMedium
	case profileHigh:
		return rankHigh
	}
	return rankNone
}

// checkPreferredProfile accepts the profiles a consumer or a producer's
// consumers may prefer.
func checkPreferredProfile(profile string) error {
	if profileRank(profile) == rankNone {
		return protocol.NewTypeError("invalid profile %q", profile)
	}
	return nil
}

// profileBufferSlots sizes a stream's retransmission buffer by its
// profile: low layers carry fewer packets per second.
func profileBufferSlots(profile string) int { return rtpbuf.SlotsFor(profile) }
