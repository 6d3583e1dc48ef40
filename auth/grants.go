package auth

import (
	"fmt"
	"slices"
)

// AllRooms is the room claim of an admin token that is valid for every
// room. Only tokens with the admin grant may carry it.
const AllRooms = "*"

// Kinds a Grants' Publish list may name.
const (
	KindAudio = "audio"
	KindVideo = "video"
)

// Grants is what the bearer of a join token may do. A token minted
// without grants (every token of gosoup before grants existed) is a
// participant: see Participant.
type Grants struct {
	// Publish lists the media kinds ("audio", "video") the bearer may
	// produce; empty: it may not produce.
	Publish []string
	// Subscribe is whether the bearer may receive media (consumers,
	// WHEP playback).
	Subscribe bool
	// Admin is whether the bearer may use the admin API of the token's
	// room (every room with Room "*").
	Admin bool
}

// Participant returns the grants of an ordinary participant: publish
// audio and video, subscribe, no admin API.
func Participant() Grants {
	return Grants{Publish: []string{KindAudio, KindVideo}, Subscribe: true}
}

// CanPublish reports whether media of this kind may be produced.
func (g Grants) CanPublish(kind string) bool { return slices.Contains(g.Publish, kind) }

// String returns the grants as a short list, e.g. "publish=audio,video subscribe".
func (g Grants) String() string {
	s := "publish="
	if len(g.Publish) == 0 {
		s += "none"
	}
	for i, k := range g.Publish {
		if i > 0 {
			s += ","
		}
		s += k
	}
	if g.Subscribe {
		s += " subscribe"
	}
	if g.Admin {
		s += " admin"
	}
	return s
}

// validate checks the kinds of Publish.
func (g Grants) validate() error {
	for _, k := range g.Publish {
		if k != KindAudio && k != KindVideo {
			return fmt.Errorf("publish grant: unknown kind %.16q (want audio or video)", k)
		}
	}
	return nil
}

// grantsClaim is the JSON form of Grants in a token ("grants" claim).
// Absent fields are false or empty: a token that carries the claim says
// everything it grants.
type grantsClaim struct {
	Publish   []string `json:"publish,omitempty"`
	Subscribe bool     `json:"subscribe,omitempty"`
	Admin     bool     `json:"admin,omitempty"`
}

// grantsOf returns the Grants of a decoded claim; nil (a token without a
// "grants" claim) is a participant.
func grantsOf(c *grantsClaim) Grants {
	if c == nil {
		return Participant()
	}
	return Grants{Publish: slices.Clone(c.Publish), Subscribe: c.Subscribe, Admin: c.Admin}
}
