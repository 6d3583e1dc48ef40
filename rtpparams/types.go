// Package rtpparams holds mediasoup v2 RTP capabilities and RTP parameters,
// and the pure functions that build room capabilities, validate a joining
// peer's capabilities and turn producer parameters into consumer parameters.
//
// JSON produced by these types has the same keys and JSON types as mediasoup
// 2.6.19 emits (see docs/protocol.md, "RTP parameter negotiation"). Codec parameters are kept as decoded
// JSON values, so numeric fmtp values stay JSON numbers.
package rtpparams

import "encoding/json"

// Kind is a media kind: "audio" or "video" (mediasoup also accepts "depth").
type Kind = string

// Media kinds.
const (
	KindAudio Kind = "audio"
	KindVideo Kind = "video"
	KindDepth Kind = "depth"
)

// RTCPFeedback is one rtcp-fb entry, e.g. {"type":"nack","parameter":"pli"}.
type RTCPFeedback struct {
	Type      string `json:"type"`
	Parameter string `json:"parameter,omitempty"`
}

// CodecCapability is one codec of an RTP capability set (room or peer).
// RTCPFeedback and Parameters use omitzero: nil is omitted, an empty
// non-nil value is emitted as [] or {} (mediasoup emits "rtcpFeedback": []
// for opus and no key at all for rtx).
type CodecCapability struct {
	Kind                 Kind           `json:"kind,omitempty"`
	Name                 string         `json:"name"`
	MimeType             string         `json:"mimeType"`
	PreferredPayloadType int            `json:"preferredPayloadType"`
	ClockRate            int            `json:"clockRate"`
	Channels             int            `json:"channels,omitempty"`
	Parameters           map[string]any `json:"parameters,omitzero"`
	RTCPFeedback         []RTCPFeedback `json:"rtcpFeedback,omitzero"`
}

// HeaderExtensionCapability is one RTP header extension of a capability set.
// PreferredEncrypt is a pointer because the room emits it (false) while
// peer capabilities omit it.
type HeaderExtensionCapability struct {
	Kind             Kind   `json:"kind,omitempty"`
	URI              string `json:"uri"`
	PreferredID      int    `json:"preferredId"`
	PreferredEncrypt *bool  `json:"preferredEncrypt,omitempty"`
}

// Capabilities is an RTP capability set: the room's (queryRoom) or a
// peer's receive capabilities (join).
type Capabilities struct {
	Codecs           []CodecCapability           `json:"codecs"`
	HeaderExtensions []HeaderExtensionCapability `json:"headerExtensions"`
	FecMechanisms    []string                    `json:"fecMechanisms"`
}

// CodecParameters is one codec of RTP parameters (producer or consumer).
type CodecParameters struct {
	Name         string         `json:"name"`
	MimeType     string         `json:"mimeType"`
	ClockRate    int            `json:"clockRate"`
	PayloadType  int            `json:"payloadType"`
	Channels     int            `json:"channels,omitempty"`
	RTCPFeedback []RTCPFeedback `json:"rtcpFeedback,omitzero"`
	Parameters   map[string]any `json:"parameters,omitzero"`
}

// HeaderExtensionParameters maps a header extension URI to an id.
// Parameters (rarely sent) are checked like codec parameters and not
// forwarded.
type HeaderExtensionParameters struct {
	URI        string         `json:"uri"`
	ID         int            `json:"id"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// RTXParameters names the RTX stream of an encoding.
type RTXParameters struct {
	SSRC uint32 `json:"ssrc"`
}

// EncodingParameters is one encoding (RTP stream) of RTP parameters.
type EncodingParameters struct {
	SSRC       uint32         `json:"ssrc,omitempty"`
	RTX        *RTXParameters `json:"rtx,omitempty"`
	Profile    string         `json:"profile,omitempty"`
	EncodingID string         `json:"encodingId,omitempty"`
}

// RTCPParameters are the RTCP settings of RTP parameters.
type RTCPParameters struct {
	CNAME       string `json:"cname,omitempty"`
	ReducedSize bool   `json:"reducedSize"`
	Mux         bool   `json:"mux"`

	// cnameGiven records that decoded JSON had a "cname" string, so that
	// an empty one is told from an absent one (CheckParameters).
	cnameGiven bool
}

// UnmarshalJSON decodes RTCP parameters, remembering whether "cname" was
// given as a string.
func (r *RTCPParameters) UnmarshalJSON(b []byte) error {
	var v struct {
		CNAME       *string `json:"cname"`
		ReducedSize bool    `json:"reducedSize"`
		Mux         bool    `json:"mux"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = RTCPParameters{ReducedSize: v.ReducedSize, Mux: v.Mux}
	if v.CNAME != nil {
		r.CNAME, r.cnameGiven = *v.CNAME, true
	}
	return nil
}

// Parameters are RTP parameters: what a producer sends, or what a consumer
// receives.
type Parameters struct {
	MuxID            string                      `json:"muxId,omitempty"`
	Codecs           []CodecParameters           `json:"codecs"`
	HeaderExtensions []HeaderExtensionParameters `json:"headerExtensions"`
	Encodings        []EncodingParameters        `json:"encodings"`
	RTCP             *RTCPParameters             `json:"rtcp,omitempty"`
}
