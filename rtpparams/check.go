package rtpparams

import "fmt"

// encodingProfiles are the encoding profiles of RTP parameters ("" is none).
var encodingProfiles = map[string]bool{"": true, "default": true, "low": true, "medium": true, "high": true}

// CheckParameters checks the structure of RTP parameters as mediasoup's
// worker checks RtpParameters, and refuses what no browser sends
// (docs/validation.md, "RTP parameters"). The error is a *FieldError
// naming the field under "rtpParameters". Empty codec and encoding lists
// pass: MapProducer refuses them, while updateProducer may carry them.
func CheckParameters(p Parameters) error {
	const f = "rtpParameters"
	if p.MuxID != "" && (!isToken(p.MuxID) || len(p.MuxID) > MaxTextLength) {
		return fieldErr(f+".muxId", "invalid MID %s", Clip(p.MuxID))
	}
	if len(p.Codecs) > MaxListLength {
		return fieldErr(f+".codecs", "%d codecs, limit %d", len(p.Codecs), MaxListLength)
	}
	cs := make([]codec, len(p.Codecs))
	for i, c := range p.Codecs {
		cs[i] = codec{name: c.Name, mimeType: c.MimeType, pt: c.PayloadType, clockRate: c.ClockRate,
			channels: c.Channels, feedback: c.RTCPFeedback, params: c.Parameters}
		if err := checkCodec(fmt.Sprintf("%s.codecs[%d]", f, i), "payloadType", cs[i]); err != nil {
			return err
		}
	}
	if err := checkCodecList(f+".codecs", "payloadType", cs, true); err != nil {
		return err
	}
	if len(p.HeaderExtensions) > MaxListLength {
		return fieldErr(f+".headerExtensions", "%d header extensions, limit %d", len(p.HeaderExtensions), MaxListLength)
	}
	ids := map[int]int{}
	for i, e := range p.HeaderExtensions {
		ef := fmt.Sprintf("%s.headerExtensions[%d]", f, i)
		if !isURI(e.URI) {
			return fieldErr(ef+".uri", "invalid header extension uri %s", Clip(e.URI))
		}
		if e.ID < 1 || e.ID > MaxHeaderExtID {
			return fieldErr(ef+".id", "invalid header extension id %d (1 to %d)", e.ID, MaxHeaderExtID)
		}
		if j, dup := ids[e.ID]; dup {
			return fieldErr(ef+".id", "duplicated header extension id %d (also headerExtensions[%d])", e.ID, j)
		}
		ids[e.ID] = i
		if err := checkParameterMap(ef+".parameters", e.Parameters); err != nil {
			return err
		}
	}
	if len(p.Encodings) > MaxEncodings {
		return fieldErr(f+".encodings", "%d encodings, limit %d", len(p.Encodings), MaxEncodings)
	}
	ssrcs := map[uint32]string{}
	seeSSRC := func(field string, ssrc uint32) error {
		if other, dup := ssrcs[ssrc]; dup {
			return fieldErr(field, "duplicated ssrc %d (also %s)", ssrc, other)
		}
		ssrcs[ssrc] = field
		return nil
	}
	for i, e := range p.Encodings {
		ef := fmt.Sprintf("%s.encodings[%d]", f, i)
		if e.SSRC != 0 {
			if err := seeSSRC(ef+".ssrc", e.SSRC); err != nil {
				return err
			}
		}
		if e.RTX != nil {
			if e.RTX.SSRC == 0 {
				return fieldErr(ef+".rtx.ssrc", "missing ssrc of the RTX stream")
			}
			if err := seeSSRC(ef+".rtx.ssrc", e.RTX.SSRC); err != nil {
				return err
			}
		}
		if !encodingProfiles[e.Profile] {
			return fieldErr(ef+".profile", "invalid encoding.profile %s (default, low, medium or high)", Clip(e.Profile))
		}
	}
	if p.RTCP != nil {
		if p.RTCP.cnameGiven && p.RTCP.CNAME == "" {
			return fieldErr(f+".rtcp.cname", "empty (leave it out or give one)")
		}
		if msg := CheckText(p.RTCP.CNAME, MaxCNAMELength); msg != "" {
			return fieldErr(f+".rtcp.cname", "%s", msg)
		}
	}
	return nil
}

// CheckCapabilities checks the structure of a peer's RTP capabilities
// (join): every codec and header extension well formed, payload types
// unique (docs/validation.md, "RTP capabilities"). The error is a
// *FieldError naming the field under "rtpCapabilities". Whether the
// capabilities fit the room is ValidatePeerCapabilities' business.
func CheckCapabilities(c Capabilities) error {
	const f = "rtpCapabilities"
	if len(c.Codecs) > MaxListLength {
		return fieldErr(f+".codecs", "%d codecs, limit %d", len(c.Codecs), MaxListLength)
	}
	cs := make([]codec, len(c.Codecs))
	for i, cc := range c.Codecs {
		cf := fmt.Sprintf("%s.codecs[%d]", f, i)
		if cc.Kind != KindAudio && cc.Kind != KindVideo {
			return fieldErr(cf+".kind", "kind %s is not \"audio\" or \"video\"", Clip(cc.Kind))
		}
		cs[i] = codec{kind: cc.Kind, name: cc.Name, mimeType: cc.MimeType, pt: cc.PreferredPayloadType,
			clockRate: cc.ClockRate, channels: cc.Channels, feedback: cc.RTCPFeedback, params: cc.Parameters}
		if err := checkCodec(cf, "preferredPayloadType", cs[i]); err != nil {
			return err
		}
	}
	// An RTX codec whose media codec the peer left out is tolerated here:
	// it can never be used (ConsumerParameters drops it).
	if err := checkCodecList(f+".codecs", "preferredPayloadType", cs, false); err != nil {
		return err
	}
	if len(c.HeaderExtensions) > MaxListLength {
		return fieldErr(f+".headerExtensions", "%d header extensions, limit %d", len(c.HeaderExtensions), MaxListLength)
	}
	for i, e := range c.HeaderExtensions {
		ef := fmt.Sprintf("%s.headerExtensions[%d]", f, i)
		if e.Kind != KindAudio && e.Kind != KindVideo {
			return fieldErr(ef+".kind", "kind %s is not \"audio\" or \"video\"", Clip(e.Kind))
		}
		if !isURI(e.URI) {
			return fieldErr(ef+".uri", "invalid header extension uri %s", Clip(e.URI))
		}
		if e.PreferredID < 1 || e.PreferredID > MaxHeaderExtID {
			return fieldErr(ef+".preferredId", "invalid header extension id %d (1 to %d)", e.PreferredID, MaxHeaderExtID)
		}
	}
	if len(c.FecMechanisms) > MaxListLength {
		return fieldErr(f+".fecMechanisms", "%d entries, limit %d", len(c.FecMechanisms), MaxListLength)
	}
	for i, m := range c.FecMechanisms {
		if !isToken(m) || len(m) > MaxTextLength {
			return fieldErr(fmt.Sprintf("%s.fecMechanisms[%d]", f, i), "invalid fec mechanism %s", Clip(m))
		}
	}
	return nil
}
