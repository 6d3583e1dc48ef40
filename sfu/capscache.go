package sfu

import (
	"encoding/json"
	"weak"

	"github.com/gosoup/gosoup/rtpparams"
)

// capsCacheSize bounds the distinct capabilities a room shares.
const capsCacheSize = 16

// capsCache shares equal peer capabilities among a room's peers. The peers
// of a room nearly all join with the same capabilities (their client
// library derives them from the room's), and a decoded copy (codecs with
// their parameter maps and feedback, header extensions) is about 3 KB per
// peer, the biggest piece of an audio listener's own state. Entries are
// weak: capabilities no peer holds any more are collected, and their
// entries make room for others. Guarded by the room lock.
type capsCache map[string]weak.Pointer[rtpparams.Capabilities]

// intern returns capabilities equal to caps (the same JSON), shared when a
// peer of the room already has them. Nobody modifies a peer's
// capabilities, which are only read to build consumers' parameters.
func (c *capsCache) intern(caps rtpparams.Capabilities) *rtpparams.Capabilities {
	b, err := json.Marshal(caps)
	if err != nil {
		return &caps
	}
	key := string(b)
	if p := (*c)[key].Value(); p != nil {
		return p
	}
	if *c == nil {
		*c = capsCache{}
	}
	if len(*c) >= capsCacheSize {
		for k, w := range *c {
			if w.Value() == nil {
				delete(*c, k)
			}
		}
	}
	p := &caps
	if len(*c) < capsCacheSize {
		(*c)[key] = weak.Make(p)
	}
	return p
}
