package rtpparams

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
)

// RandomID returns a random integer in [10000000, 99999999], mediasoup's
// utils.randomNumber, used for consumer ids and SSRCs.
func RandomID() uint32 { return 10000000 + rand.Uint32N(90000000) }

// IsRTX reports whether the codec is an RTX codec.
func (c CodecParameters) IsRTX() bool { return strings.EqualFold(c.Name, "rtx") }

// HasFeedback reports whether the codec lists an rtcp-fb entry.
func (c CodecParameters) HasFeedback(typ, param string) bool {
	for _, f := range c.RTCPFeedback {
		if f.Type == typ && f.Parameter == param {
			return true
		}
	}
	return false
}

// MediaCodec returns the first non-RTX codec.
func (p Parameters) MediaCodec() (CodecParameters, bool) {
	for _, c := range p.Codecs {
		if !c.IsRTX() {
			return c, true
		}
	}
	return CodecParameters{}, false
}

// RTXPayloadType returns the payload type of the RTX codec whose apt is
// mediaPT.
func (p Parameters) RTXPayloadType(mediaPT int) (int, bool) {
	for _, c := range p.Codecs {
		if c.IsRTX() {
			if apt, ok := number(c.Parameters["apt"]); ok && int(apt) == mediaPT {
				return c.PayloadType, true
			}
		}
	}
	return 0, false
}

// ProducerMapping is docs/protocol.md, "Producer mapping": pairs [producer value, room value].
type ProducerMapping struct {
	CodecPayloadTypes  [][2]int
	HeaderExtensionIDs [][2]int
}

var validProfiles = map[string]bool{"low": true, "medium": true, "high": true}

// MapProducer validates producer parameters for kind (CheckParameters and
// the mapping rules of docs/validation.md) against the room and
// maps payload types and header extension ids to the room's (docs/protocol.md, "createProducer",
// "Producer mapping", "Simulcast encodings"). The caller prefixes errors with "wrong RTP parameters: Error: "
// as mediasoup's Node layer does. A header extension whose URI the room
// does not offer is refused, as mediasoup 2.6.19 refuses it
// (mediasoup-client only sends the room's), except the RID extensions
// (rtp-stream-id, repaired-rtp-stream-id) of encodings identified by
// encodingId, which route the producer's streams and are never forwarded.
// One the room offers only for the other kind is dropped, not mapped.
func MapProducer(kind Kind, p Parameters, room Capabilities) (ProducerMapping, error) {
	var m ProducerMapping
	if len(p.Codecs) == 0 {
		return m, errors.New("empty rtpParameters.codecs")
	}
	for i, c := range p.Codecs {
		if j := strings.IndexByte(c.MimeType, '/'); j > 0 && Kind(strings.ToLower(c.MimeType[:j])) != kind {
			return m, fieldErr(fmt.Sprintf("rtpParameters.codecs[%d].mimeType", i), "codec kind mismatch [name:%s, kind:%s]", c.Name, kind)
		}
	}
	if err := CheckParameters(p); err != nil {
		return m, err
	}
	mediaCount := 0
	for i, c := range p.Codecs {
		if c.IsRTX() {
			continue
		}
		mediaCount++
		matched := false
		for _, rc := range room.Codecs {
			if rc.Name == "rtx" {
				continue
			}
			if codecsMatch(kind, c.Name, c.ClockRate, c.Channels, c.Parameters,
				rc.Kind, rc.Name, rc.ClockRate, rc.Channels, rc.Parameters) {
				m.CodecPayloadTypes = append(m.CodecPayloadTypes, [2]int{c.PayloadType, rc.PreferredPayloadType})
				matched = true
				break
			}
		}
		if !matched {
			return m, fieldErr(fmt.Sprintf("rtpParameters.codecs[%d]", i), "unsupported codec [name:%s, payloadType:%d]", c.Name, c.PayloadType)
		}
	}
	if mediaCount == 0 {
		return m, errors.New("no media codec in rtpParameters.codecs")
	}
	for i, c := range p.Codecs {
		if !c.IsRTX() {
			continue
		}
		apt, _ := number(c.Parameters["apt"]) // CheckParameters: present, naming a media codec
		roomMedia := -1
		for _, pair := range m.CodecPayloadTypes {
			if pair[0] == int(apt) {
				roomMedia = pair[1]
			}
		}
		found := false
		for _, rc := range room.Codecs {
			if rc.Name == "rtx" {
				if rapt, ok := number(rc.Parameters["apt"]); ok && int(rapt) == roomMedia {
					m.CodecPayloadTypes = append(m.CodecPayloadTypes, [2]int{c.PayloadType, rc.PreferredPayloadType})
					found = true
					break
				}
			}
		}
		if !found {
			return m, fieldErr(fmt.Sprintf("rtpParameters.codecs[%d]", i), "no RTX codec found in capabilities [apt:%d]", int(apt))
		}
	}
	ridRouted := false
	for _, e := range p.Encodings {
		ridRouted = ridRouted || e.EncodingID != ""
	}
	for i, e := range p.HeaderExtensions {
		offered := false
		for _, re := range room.HeaderExtensions {
			if re.URI != e.URI {
				continue
			}
			offered = true
			if re.Kind == "" || re.Kind == kind {
				m.HeaderExtensionIDs = append(m.HeaderExtensionIDs, [2]int{e.ID, re.PreferredID})
				break
			}
		}
		if !offered && !(ridRouted && (e.URI == URIRtpStreamID || e.URI == URIRepairedStreamID)) {
			return m, fieldErr(fmt.Sprintf("rtpParameters.headerExtensions[%d].uri", i),
				"unsupported header extension [uri:%q, id:%d] (not in the room's capabilities)", e.URI, e.ID)
		}
	}
	if len(p.Encodings) == 0 {
		return m, errors.New("empty rtpParameters.encodings")
	}
	if err := checkEncodingIDs(p); err != nil {
		return m, err
	}
	if len(p.Encodings) == 1 {
		if pr := p.Encodings[0].Profile; pr != "" && pr != "default" {
			return m, fieldErr("rtpParameters.encodings[0].profile", "invalid single encoding with non default profile")
		}
	} else {
		seen := map[string]bool{}
		for i, e := range p.Encodings {
			f := fmt.Sprintf("rtpParameters.encodings[%d].profile", i)
			if !validProfiles[e.Profile] {
				return m, fieldErr(f, "invalid encoding.profile %s in simulcast (low, medium or high)", Clip(e.Profile))
			}
			if seen[e.Profile] {
				return m, fieldErr(f, "duplicated encoding.profile %q", e.Profile)
			}
			seen[e.Profile] = true
		}
	}
	return m, nil
}

// ConsumableParameters re-expresses producer parameters in room terms
// (docs/protocol.md, "Consumable parameters"): room codecs each followed by the room RTX codec, extensions
// with room ids minus mid, encodings and rtcp copied.
func ConsumableParameters(kind Kind, p Parameters, room Capabilities, m ProducerMapping) Parameters {
	out := Parameters{Codecs: []CodecParameters{}, HeaderExtensions: []HeaderExtensionParameters{}}
	for _, c := range p.Codecs {
		if c.IsRTX() {
			continue
		}
		roomPT := -1
		for _, pair := range m.CodecPayloadTypes {
			if pair[0] == c.PayloadType {
				roomPT = pair[1]
				break
			}
		}
		for _, rc := range room.Codecs {
			if rc.PreferredPayloadType != roomPT || rc.Name == "rtx" {
				continue
			}
			out.Codecs = append(out.Codecs, CodecParameters{
				Name: rc.Name, MimeType: rc.MimeType, ClockRate: rc.ClockRate, PayloadType: rc.PreferredPayloadType,
				Channels: rc.Channels, RTCPFeedback: rc.RTCPFeedback, Parameters: copyParams(rc.Parameters),
			})
			for _, rx := range room.Codecs {
				if apt, ok := number(rx.Parameters["apt"]); rx.Name == "rtx" && ok && int(apt) == roomPT {
					out.Codecs = append(out.Codecs, CodecParameters{
						Name: rx.Name, MimeType: rx.MimeType, ClockRate: rx.ClockRate, PayloadType: rx.PreferredPayloadType,
						Parameters: copyParams(rx.Parameters),
					})
				}
			}
			break
		}
	}
	for _, e := range p.HeaderExtensions {
		if e.URI == URIMid || e.URI == URITransportCC { // per transport, not per stream
			continue
		}
		for _, pair := range m.HeaderExtensionIDs {
			if pair[0] == e.ID {
				out.HeaderExtensions = append(out.HeaderExtensions, HeaderExtensionParameters{URI: e.URI, ID: pair[1]})
				break
			}
		}
	}
	out.Encodings = append([]EncodingParameters(nil), p.Encodings...)
	if p.RTCP != nil {
		r := *p.RTCP
		out.RTCP = &r
	}
	return out
}

// ConsumerParameters is docs/protocol.md, "Consumer parameters": the consumable parameters a peer with
// capabilities caps can receive, with one encoding on fresh random SSRCs.
// ok is false when the peer can receive none of the media codecs; such a
// consumer is "unsupported" (mediasoup creates it but the client cannot
// receive it; gosoup does not create it).
func ConsumerParameters(consumable Parameters, caps Capabilities) (Parameters, bool) {
	out := Parameters{Codecs: []CodecParameters{}, HeaderExtensions: []HeaderExtensionParameters{}}
	keptMedia := map[int]bool{}
	for _, c := range consumable.Codecs {
		for _, cc := range caps.Codecs {
			if cc.PreferredPayloadType != c.PayloadType {
				continue
			}
			if c.IsRTX() {
				if apt, ok := number(c.Parameters["apt"]); !ok || !keptMedia[int(apt)] {
					break
				}
			} else {
				keptMedia[c.PayloadType] = true
			}
			nc := c
			nc.Parameters = copyParams(c.Parameters)
			nc.RTCPFeedback = nil
			if cc.RTCPFeedback != nil {
				nc.RTCPFeedback = append([]RTCPFeedback{}, cc.RTCPFeedback...)
			} else if !c.IsRTX() {
				nc.RTCPFeedback = []RTCPFeedback{}
			}
			out.Codecs = append(out.Codecs, nc)
			break
		}
	}
	if len(out.Codecs) == 0 || out.Codecs[0].IsRTX() {
		return out, false
	}
	for _, e := range consumable.HeaderExtensions {
		for _, ce := range caps.HeaderExtensions {
			if ce.PreferredID == e.ID && ce.URI == e.URI {
				out.HeaderExtensions = append(out.HeaderExtensions, e)
				break
			}
		}
	}
	enc := EncodingParameters{SSRC: RandomID()}
	for _, c := range out.Codecs {
		if c.IsRTX() {
			enc.RTX = &RTXParameters{SSRC: RandomID()}
			break
		}
	}
	out.Encodings = []EncodingParameters{enc}
	if consumable.RTCP != nil {
		r := *consumable.RTCP
		out.RTCP = &r
	}
	return out, true
}

// checkEncodingIDs checks how encodings identify their streams: each by an
// SSRC, or each by an encodingId (RID, as Firefox and WHIP publishers send
// simulcast) that the rtp-stream-id header extension then carries.
func checkEncodingIDs(p Parameters) error {
	ridOnly := 0
	seen := map[string]bool{}
	for i, e := range p.Encodings {
		if e.EncodingID != "" {
			if !validRID(e.EncodingID) {
				return fmt.Errorf("invalid rtpParameters.encodings[%d].encodingId %q (1 to 16 letters, digits, '-' or '_')", i, e.EncodingID)
			}
			if seen[e.EncodingID] {
				return fmt.Errorf("duplicated rtpParameters.encodings[%d].encodingId %q", i, e.EncodingID)
			}
			seen[e.EncodingID] = true
		}
		if e.SSRC == 0 {
			if e.EncodingID == "" {
				return fmt.Errorf("rtpParameters.encodings[%d] has neither ssrc nor encodingId", i)
			}
			ridOnly++
		}
	}
	if ridOnly > 0 && ridOnly < len(p.Encodings) {
		return errors.New("rtpParameters.encodings mixes encodings with an ssrc and encodings with only an encodingId")
	}
	if ridOnly > 0 {
		for _, e := range p.HeaderExtensions {
			if e.URI == URIRtpStreamID {
				return nil
			}
		}
		return fmt.Errorf("rtpParameters.headerExtensions lacks %s, which encodings with only an encodingId need", URIRtpStreamID)
	}
	return nil
}

// validRID reports whether id is a RID as RFC 8851 spells it, short enough
// for a one-byte header extension.
func validRID(id string) bool {
	if len(id) == 0 || len(id) > 16 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
