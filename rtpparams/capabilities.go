package rtpparams

import (
	"errors"
	"fmt"
	"strings"
)

// MediaCodec is one entry of a room's media codec list (mediasoup's
// RoomMediaCodec).
type MediaCodec struct {
	Kind       Kind
	Name       string
	MimeType   string
	ClockRate  int
	Channels   int
	Parameters map[string]any
}

// number returns a numeric JSON-ish value as float64 (Go ints or float64).
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// packetizationMode is H264's packetization-mode, 0 when absent. A string
// value never equals a number, as mediasoup's !== comparison.
func packetizationMode(p map[string]any) any {
	v, ok := p["packetization-mode"]
	if !ok {
		return 0.0
	}
	if n, ok := number(v); ok {
		return n
	}
	return v
}

// codecsMatch is mediasoup's matchCodecs: kind (when both given), name
// (case-insensitive), clock rate, audio channels and H264 packetization
// mode.
func codecsMatch(aKind Kind, aName string, aClock, aChannels int, aParams map[string]any,
	bKind Kind, bName string, bClock, bChannels int, bParams map[string]any) bool {
	if aKind != "" && bKind != "" && aKind != bKind {
		return false
	}
	if !strings.EqualFold(aName, bName) || aClock != bClock {
		return false
	}
	kind := aKind
	if kind == "" {
		kind = bKind
	}
	if kind == KindAudio {
		ac, bc := max(aChannels, 1), max(bChannels, 1)
		if ac != bc {
			return false
		}
	}
	if strings.EqualFold(aName, "H264") && packetizationMode(aParams) != packetizationMode(bParams) {
		return false
	}
	return true
}

func copyParams(p map[string]any) map[string]any {
	out := make(map[string]any, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// NewRoomCapabilities builds room capabilities as mediasoup 2.6.19
// (docs/protocol.md, "Room capabilities").
func NewRoomCapabilities(codecs []MediaCodec, exts []HeaderExtensionCapability) (Capabilities, error) {
	if len(codecs) == 0 {
		return Capabilities{}, errors.New("mediaCodecs must be a non-empty array")
	}
	caps := Capabilities{Codecs: []CodecCapability{}, HeaderExtensions: []HeaderExtensionCapability{}, FecMechanisms: []string{}}
	dyn := dynamicPayloadTypes()
	next := 0
	takePT := func() (int, error) {
		if next >= len(dyn) {
			return 0, errors.New("no more dynamic payload types available")
		}
		pt := dyn[next]
		next++
		return pt, nil
	}
	for _, mc := range codecs {
		if mc.Kind == "" || mc.Name == "" || mc.ClockRate <= 0 {
			return Capabilities{}, errors.New("invalid RTCCodecCapability")
		}
		var sup *supportedCodec
		for _, s := range supportedCodecs() {
			if codecsMatch(mc.Kind, mc.Name, mc.ClockRate, mc.Channels, mc.Parameters,
				s.kind, s.name, s.clockRate, s.channels, s.parameters) {
				s := s
				sup = &s
				break
			}
		}
		if sup == nil {
			return Capabilities{}, fmt.Errorf("RoomMediaCodec not supported [name:%s]", mc.Name)
		}
		c := CodecCapability{
			Kind:         sup.kind,
			Name:         sup.name,
			MimeType:     string(sup.kind) + "/" + sup.name,
			ClockRate:    sup.clockRate,
			Parameters:   copyParams(sup.parameters),
			RTCPFeedback: append([]RTCPFeedback{}, sup.rtcpFeedback...),
		}
		if sup.kind == KindAudio {
			c.Channels = sup.channels
			if mc.Channels > 0 {
				c.Channels = mc.Channels
			}
			if c.Channels == 0 {
				c.Channels = 1
			}
		}
		for k, v := range mc.Parameters {
			c.Parameters[k] = v
		}
		if sup.staticPT >= 0 {
			c.PreferredPayloadType = sup.staticPT
		} else {
			pt, err := takePT()
			if err != nil {
				return Capabilities{}, err
			}
			c.PreferredPayloadType = pt
		}
		caps.Codecs = append(caps.Codecs, c)
		if c.Kind == KindVideo {
			pt, err := takePT()
			if err != nil {
				return Capabilities{}, err
			}
			caps.Codecs = append(caps.Codecs, CodecCapability{
				Kind: c.Kind, Name: "rtx", MimeType: string(c.Kind) + "/rtx", PreferredPayloadType: pt,
				ClockRate: c.ClockRate, Parameters: map[string]any{"apt": c.PreferredPayloadType},
			})
		}
	}
	caps.HeaderExtensions = append(caps.HeaderExtensions, exts...)
	// With the transport-wide-cc extension, codecs offer transport-cc
	// feedback so that senders negotiate it (mediasoup 2.6.19 had neither).
	for _, e := range exts {
		if e.URI != URITransportCC {
			continue
		}
		for i := range caps.Codecs {
			c := &caps.Codecs[i]
			if c.Kind == e.Kind && !strings.EqualFold(c.Name, "rtx") {
				c.RTCPFeedback = append(c.RTCPFeedback, RTCPFeedback{Type: "transport-cc"})
			}
		}
	}
	return caps, nil
}

// ValidatePeerCapabilities checks that a joining peer's capabilities are a
// subset of the room's (mediasoup's assertCapabilitiesSubset).
func ValidatePeerCapabilities(peer, room Capabilities) error {
	for _, pc := range peer.Codecs {
		found := false
		for _, rc := range room.Codecs {
			if rc.PreferredPayloadType != pc.PreferredPayloadType {
				continue
			}
			if strings.EqualFold(pc.Name, "rtx") && strings.EqualFold(rc.Name, "rtx") && pc.ClockRate == rc.ClockRate {
				found = true
				break
			}
			if codecsMatch(pc.Kind, pc.Name, pc.ClockRate, pc.Channels, pc.Parameters,
				rc.Kind, rc.Name, rc.ClockRate, rc.Channels, rc.Parameters) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unsupported codec [name:%s, preferredPayloadType:%d]", pc.Name, pc.PreferredPayloadType)
		}
	}
	for _, pe := range peer.HeaderExtensions {
		found := false
		for _, re := range room.HeaderExtensions {
			if re.Kind == pe.Kind && re.URI == pe.URI && re.PreferredID == pe.PreferredID {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("unsupported header extension [kind:%s, uri:%s]", pe.Kind, pe.URI)
		}
	}
	return nil
}
