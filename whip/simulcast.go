package whip

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// Simulcast from WHIP clients: layers named by RID (a=rid and
// a=simulcast:send, the way browsers and OBS send them) become a producer
// with RID-only encodings, each with a profile, exactly as mediasoup-client's
// Firefox handler declares them; gosoup then learns each layer's SSRC from
// the rtp-stream-id header extension (sfu/rid.go). Layers named by SSRC
// (a=ssrc-group:SIM, lowest first as Chrome writes it) become SSRC
// encodings.

// ridProfiles maps a section's RIDs to the profiles low, medium and high.
// Well-known names decide (q/h/f as in the WebRTC samples, l/m/h,
// low/medium/high with any suffix, as mediasoup-client's Firefox handler
// names them); otherwise the order of a=simulcast does, lowest first as
// libwebrtc orders encodings. Two layers are low and high.
func ridProfiles(rids []string) (map[string]string, error) {
	if len(rids) > 3 {
		return nil, httpErrorf(http.StatusBadRequest, "%d simulcast layers offered: gosoup takes at most 3 (low, medium, high)", len(rids))
	}
	out := map[string]string{}
	for _, set := range []map[string]string{
		{"q": "low", "h": "medium", "f": "high"},
		{"l": "low", "m": "medium", "h": "high"},
	} {
		ok := true
		for _, r := range rids {
			ok = ok && set[strings.ToLower(r)] != ""
		}
		if ok {
			for _, r := range rids {
				out[r] = set[strings.ToLower(r)]
			}
			if distinct(out) {
				return out, nil
			}
			clear(out)
		}
	}
	for _, r := range rids {
		l := strings.ToLower(r)
		for _, p := range []string{"low", "medium", "high"} {
			if strings.HasPrefix(l, p) {
				out[r] = p
			}
		}
	}
	if len(out) == len(rids) && distinct(out) {
		return out, nil
	}
	clear(out)
	order := map[int][]string{1: {"high"}, 2: {"low", "high"}, 3: {"low", "medium", "high"}}[len(rids)]
	for i, r := range rids {
		out[r] = order[i]
	}
	return out, nil
}

// distinct reports whether no two RIDs have the same profile.
func distinct(m map[string]string) bool {
	seen := map[string]bool{}
	for _, p := range m {
		if seen[p] {
			return false
		}
		seen[p] = true
	}
	return true
}

// encodings returns the producer encodings of a WHIP section: RID layers,
// SSRC layers, or the one stream, each with its RTX SSRC when the answer
// keeps RTX (hasRTX). ridExt tells whether the answer negotiated
// rtp-stream-id, which RID layers need.
func encodings(m *mediaOffer, hasRTX, ridExt bool) ([]rtpparams.EncodingParameters, error) {
	rtxOf := func(ssrc uint32) *rtpparams.RTXParameters {
		if r, ok := m.fid[ssrc]; ok && hasRTX {
			return &rtpparams.RTXParameters{SSRC: r}
		}
		return nil
	}
	switch {
	case len(m.rids) > 0:
		if !ridExt {
			return nil, httpErrorf(http.StatusBadRequest,
				"media section %d (%s) sends RID layers without the %s header extension", m.index, m.kind, rtpparams.URIRtpStreamID)
		}
		profiles, err := ridProfiles(m.rids)
		if err != nil {
			return nil, err
		}
		out := make([]rtpparams.EncodingParameters, 0, len(m.rids))
		for _, r := range m.rids {
			e := rtpparams.EncodingParameters{EncodingID: r, Profile: profiles[r]}
			if len(m.rids) == 1 {
				e.Profile = ""
			}
			out = append(out, e)
		}
		return out, nil
	case len(m.sim) > 1:
		if len(m.sim) > 3 {
			return nil, httpErrorf(http.StatusBadRequest, "%d simulcast layers offered: gosoup takes at most 3 (low, medium, high)", len(m.sim))
		}
		profiles := map[int][]string{2: {"low", "high"}, 3: {"low", "medium", "high"}}[len(m.sim)]
		out := make([]rtpparams.EncodingParameters, 0, len(m.sim))
		for i, s := range m.sim {
			out = append(out, rtpparams.EncodingParameters{SSRC: s, RTX: rtxOf(s), Profile: profiles[i]})
		}
		return out, nil
	}
	s := m.mediaSSRC()
	if s == 0 {
		return nil, httpErrorf(http.StatusBadRequest,
			"media section %d (%s) names neither an SSRC (a=ssrc) nor RID layers (a=rid): gosoup routes media by SSRC", m.index, m.kind)
	}
	return []rtpparams.EncodingParameters{{SSRC: s, RTX: rtxOf(s)}}, nil
}

// describeLayers is for logs: "high=f medium=h low=q".
func describeLayers(encs []rtpparams.EncodingParameters) string {
	var parts []string
	for _, e := range encs {
		id := e.EncodingID
		if id == "" {
			id = fmt.Sprint(e.SSRC)
		}
		if e.Profile != "" {
			parts = append(parts, e.Profile+"="+id)
		}
	}
	return strings.Join(parts, " ")
}
