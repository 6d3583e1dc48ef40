package whip

import (
	"sort"

	"github.com/gosoup/gosoup/rtpparams"
)

// A WHEP player's offer chooses its own header-extension ids, while the
// SFU forwards packets with the room's ids: each consumer of the player
// renumbers them on the way out (sfu.Consumer.RenumberHeaderExtensions).
// The renumbering is one permutation of the ids 1..14 per media kind:
// every extension the player and the room both have takes the player's
// id, and every other room extension a packet may carry moves to an id
// the offer does not use at all (so that the player never reads it as one
// of its own).

// playExt is an extension the answer keeps: the offer's id and the
// room's.
type playExt struct {
	offerExt
	roomID int
}

// notPlayed are the extensions a player never gets: they describe the
// sender's own connection or streams (the SFU drops transport-wide-cc,
// rtp-stream-id and repaired-rtp-stream-id from forwarded packets, and its
// packets' sdes:mid is the publisher's, not the player's section).
var notPlayed = map[string]bool{
	rtpparams.URIMid: true, rtpparams.URIRtpStreamID: true, rtpparams.URIRepairedStreamID: true,
	rtpparams.URITransportCC: true,
}

// playExts chooses the extensions of section m of offer o that a player
// receives, and the renumbering (room id → the offer's) its consumers of
// that kind apply; nil when the ids already agree. When the offer uses so
// many ids that the room's other extensions have nowhere to go, only
// extensions whose ids agree are kept, with no renumbering.
func playExts(o *offer, m *mediaOffer, caps rtpparams.Capabilities) ([]playExt, map[int]int) {
	roomIDs := map[string]int{} // URI → room id, for this kind
	var forwarded []int         // room ids a forwarded packet may carry
	seen := map[int]bool{}
	for _, re := range caps.HeaderExtensions {
		if re.Kind != "" && re.Kind != m.kind || notPlayed[re.URI] && re.URI != rtpparams.URIMid || re.PreferredID < 1 || re.PreferredID > 14 {
			continue
		}
		if !seen[re.PreferredID] {
			seen[re.PreferredID] = true
			forwarded = append(forwarded, re.PreferredID)
		}
		if !notPlayed[re.URI] {
			roomIDs[re.URI] = re.PreferredID
		}
	}
	sort.Ints(forwarded)
	offerUsed := map[int]bool{}
	for _, om := range o.media {
		for _, e := range om.exts {
			offerUsed[e.id] = true
		}
	}
	var keep []playExt
	ids := map[int]int{}
	taken := map[int]bool{}
	for _, e := range m.exts {
		rid, ok := roomIDs[e.uri]
		if !ok || e.id < 1 || e.id > 14 || taken[e.id] {
			continue
		}
		if _, dup := ids[rid]; dup {
			continue
		}
		keep = append(keep, playExt{offerExt: e, roomID: rid})
		ids[rid], taken[e.id] = e.id, true
	}
	free := 1
	for _, rid := range forwarded {
		if _, ok := ids[rid]; ok {
			continue
		}
		if !offerUsed[rid] && !taken[rid] {
			ids[rid], taken[rid] = rid, true // stays where it is, unread by the player
			continue
		}
		for free <= 14 && (offerUsed[free] || taken[free]) {
			free++
		}
		if free > 14 {
			return sameIDExts(keep), nil
		}
		ids[rid], taken[free] = free, true
	}
	identity := true
	for from, to := range ids {
		identity = identity && from == to
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i].id < keep[j].id })
	if identity {
		return keep, nil
	}
	return keep, ids
}

// sameIDExts keeps the extensions whose offer id is the room's.
func sameIDExts(exts []playExt) []playExt {
	var out []playExt
	for _, e := range exts {
		if e.id == e.roomID {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}
