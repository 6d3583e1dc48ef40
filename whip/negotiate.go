package whip

import (
	"net/http"
	"sort"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// Codec negotiation between an offer and the room's capabilities, done
// with the same matching rule as producers of mediasoup-client peers
// (rtpparams.MapProducer: name, clock rate, channels, H264 packetization
// mode), H264 offers with the room's profile-level-id preferred.

// codecMatches reports whether the offer's codec oc is the room codec rc.
func codecMatches(kind string, oc offerCodec, rc rtpparams.CodecCapability) bool {
	if oc.isRTX() || oc.name == "" || rc.Kind != kind || strings.EqualFold(rc.Name, "rtx") {
		return false
	}
	p := rtpparams.Parameters{
		Codecs:           []rtpparams.CodecParameters{oc.rtpParameters(kind, nil)},
		HeaderExtensions: []rtpparams.HeaderExtensionParameters{},
		Encodings:        []rtpparams.EncodingParameters{{SSRC: 1}},
	}
	_, err := rtpparams.MapProducer(kind, p, rtpparams.Capabilities{Codecs: []rtpparams.CodecCapability{rc}})
	return err == nil
}

// sameProfile reports whether an H264 offer codec has the room codec's
// profile-level-id (always true for other codecs).
func sameProfile(oc offerCodec, rc rtpparams.CodecCapability) bool {
	want, ok := rc.Parameters["profile-level-id"].(string)
	if !ok || !strings.EqualFold(rc.Name, "H264") {
		return true
	}
	got, _ := oc.params["profile-level-id"].(string)
	return strings.EqualFold(got, want)
}

// roomRTX returns the room's RTX codec for the room payload type pt.
func roomRTX(caps rtpparams.Capabilities, pt int) (rtpparams.CodecCapability, bool) {
	for _, c := range caps.Codecs {
		if !strings.EqualFold(c.Name, "rtx") {
			continue
		}
		if apt, ok := c.Parameters["apt"].(int); ok && apt == pt {
			return c, true
		}
		if apt, ok := c.Parameters["apt"].(float64); ok && int(apt) == pt {
			return c, true
		}
	}
	return rtpparams.CodecCapability{}, false
}

// offerRTX returns the offer's RTX codec for its payload type pt.
func (m *mediaOffer) offerRTX(pt int) (offerCodec, bool) {
	for _, c := range m.codecs {
		if c.isRTX() && c.apt() == pt {
			return c, true
		}
	}
	return offerCodec{}, false
}

// feedback is the rtcp-fb the offer lists for oc that the room codec has
// too, in the room's order.
func feedback(oc offerCodec, rc rtpparams.CodecCapability) []rtpparams.RTCPFeedback {
	out := []rtpparams.RTCPFeedback{}
	for _, rf := range rc.RTCPFeedback {
		for _, of := range oc.feedback {
			if of.Type == rf.Type && of.Parameter == rf.Parameter {
				out = append(out, rf)
				break
			}
		}
	}
	return out
}

// negotiatedCodec is one codec of an answer: the offer's codec (its
// payload type is what the client uses), the room codec it is, and the
// feedback both have.
type negotiatedCodec struct {
	offer    offerCodec
	room     rtpparams.CodecCapability
	feedback []rtpparams.RTCPFeedback
	rtx      *offerCodec // the offer's RTX for it, when the answer keeps RTX
}

// publishCodec chooses what a WHIP client sends in section m: the first
// codec of the offer the room has (an H264 one with the room's profile
// before other H264 ones), with the offer's RTX for it when the room has
// RTX for that codec.
func publishCodec(m *mediaOffer, caps rtpparams.Capabilities) (negotiatedCodec, bool) {
	for _, strict := range []bool{true, false} {
		for _, oc := range m.codecs {
			for _, rc := range caps.Codecs {
				if !codecMatches(m.kind, oc, rc) || (strict && !sameProfile(oc, rc)) {
					continue
				}
				n := negotiatedCodec{offer: oc, room: rc, feedback: feedback(oc, rc)}
				if _, ok := roomRTX(caps, rc.PreferredPayloadType); ok {
					if rtx, ok := m.offerRTX(oc.pt); ok {
						n.rtx = &rtx
					}
				}
				return n, true
			}
		}
	}
	return negotiatedCodec{}, false
}

// playCodecs lists what a WHEP player can receive in section m: every room
// codec of its kind the offer has, in the room's order, each with the
// offer's payload type. RTX is added by playPlan.withRTX.
func playCodecs(m *mediaOffer, caps rtpparams.Capabilities) []negotiatedCodec {
	var out []negotiatedCodec
	for _, rc := range caps.Codecs {
		var best *offerCodec
		for i, oc := range m.codecs {
			if !codecMatches(m.kind, oc, rc) {
				continue
			}
			if sameProfile(oc, rc) {
				best = &m.codecs[i]
				break
			}
			if best == nil {
				best = &m.codecs[i]
			}
		}
		if best != nil {
			out = append(out, negotiatedCodec{offer: *best, room: rc, feedback: feedback(*best, rc)})
		}
	}
	return out
}

// answerExts lists the offer's header extensions of section m the answer
// keeps: those the room has for the kind, and the extra URIs.
func answerExts(m *mediaOffer, caps rtpparams.Capabilities, extra ...string) []offerExt {
	var out []offerExt
	for _, e := range m.exts {
		keep := false
		for _, u := range extra {
			keep = keep || e.uri == u
		}
		for _, re := range caps.HeaderExtensions {
			if re.URI == e.uri && (re.Kind == "" || re.Kind == m.kind) {
				keep = true
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// roomCodecNames lists the room's media codecs for error messages.
func roomCodecNames(caps rtpparams.Capabilities) string {
	var names []string
	for _, c := range caps.Codecs {
		if !strings.EqualFold(c.Name, "rtx") {
			names = append(names, c.Kind+" "+c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// offeredCodecNames lists a section's media codecs for error messages.
func offeredCodecNames(m *mediaOffer) string {
	var names []string
	for _, c := range m.codecs {
		if c.name != "" && !c.isRTX() {
			names = append(names, c.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// errNoCodec is the answer to an offer the room can take nothing of.
func errNoCodec(o *offer, caps rtpparams.Capabilities) error {
	var what []string
	for _, m := range o.media {
		what = append(what, m.kind+" ("+offeredCodecNames(m)+")")
	}
	return httpErrorf(http.StatusBadRequest, "no codec of the offer is in the room: offered %s; the room has %s",
		strings.Join(what, "; "), roomCodecNames(caps))
}
