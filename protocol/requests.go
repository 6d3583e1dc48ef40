package protocol

import (
	"encoding/json"

	"github.com/gosoup/gosoup/rtpparams"
)

// Request envelope fields every client request carries.
type Request struct {
	Method string `json:"method"`
	Target string `json:"target"`
}

// QueryRoomRequest asks for the room's RTP capabilities.
type QueryRoomRequest struct {
	Request
}

// JoinRequest joins a peer to the room.
type JoinRequest struct {
	Request
	PeerName        string                 `json:"peerName"`
	RTPCapabilities rtpparams.Capabilities `json:"rtpCapabilities"`
	Spy             bool                   `json:"spy"`
	AppData         json.RawMessage        `json:"appData,omitempty"`
}

// DtlsFingerprint is one certificate fingerprint.
type DtlsFingerprint struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"value"`
}

// DtlsParameters are a DTLS role and fingerprints.
type DtlsParameters struct {
	Role         string            `json:"role"`
	Fingerprints []DtlsFingerprint `json:"fingerprints"`
}

// PlainRtpParameters are the remote address of a plain RTP transport.
type PlainRtpParameters struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
	// gosoup additions (mediasoup v2 has only ip and port): the remote's
	// RTCP port when RTCP is not muxed, the local address to bind, comedia
	// (learn the remote from its first packet) and rtcpMux (default true).
	RTCPPort int    `json:"rtcpPort,omitempty"`
	LocalIP  string `json:"localIP,omitempty"`
	Comedia  bool   `json:"comedia,omitempty"`
	RTCPMux  *bool  `json:"rtcpMux,omitempty"`
}

// CreateTransportRequest creates a WebRtcTransport with a client-chosen id.
type CreateTransportRequest struct {
	Request
	ID                 uint32              `json:"id"`
	Direction          string              `json:"direction"`
	Options            json.RawMessage     `json:"options,omitempty"`
	AppData            json.RawMessage     `json:"appData,omitempty"`
	DtlsParameters     *DtlsParameters     `json:"dtlsParameters,omitempty"`
	PlainRtpParameters *PlainRtpParameters `json:"plainRtpParameters,omitempty"`
}

// RestartTransportRequest asks for new ICE credentials.
type RestartTransportRequest struct {
	Request
	ID uint32 `json:"id"`
}

// CreateProducerRequest creates a producer with a client-chosen id.
type CreateProducerRequest struct {
	Request
	ID            uint32               `json:"id"`
	Kind          string               `json:"kind"`
	TransportID   uint32               `json:"transportId"`
	Paused        bool                 `json:"paused"`
	AppData       json.RawMessage      `json:"appData,omitempty"`
	RTPParameters rtpparams.Parameters `json:"rtpParameters"`
}

// EnableConsumerRequest starts a consumer on a receive transport.
type EnableConsumerRequest struct {
	Request
	ID               uint32 `json:"id"`
	TransportID      uint32 `json:"transportId"`
	Paused           bool   `json:"paused"`
	PreferredProfile string `json:"preferredProfile,omitempty"`
}

// Profiles a client may prefer.
var preferredProfiles = map[string]bool{"default": true, "low": true, "medium": true, "high": true}

// DecodeRequest decodes m into the typed request struct for m.Method.
func DecodeRequest(m *Message) (any, error) {
	if m.Notification {
		return nil, NewError("%q is a notification, not a request", m.Method)
	}
	if err := m.checkTarget(); err != nil {
		return nil, err
	}
	f := m.fields()
	env := Request{Method: m.Method, Target: m.Target}
	var err error
	switch m.Method {
	case "queryRoom":
		return &QueryRoomRequest{Request: env}, nil
	case "join":
		r := &JoinRequest{Request: env}
		if r.PeerName, err = f.str("peerName", true); err != nil {
			return nil, NewTypeError("peerName must be a string")
		}
		if err = checkPeerName(r.PeerName); err != nil {
			return nil, err
		}
		if _, err = f.object("rtpCapabilities", &r.RTPCapabilities, true); err != nil {
			return nil, err
		}
		if err = checkRTPCapabilities(r.RTPCapabilities); err != nil {
			return nil, err
		}
		if r.Spy, err = f.boolean("spy"); err != nil {
			return nil, err
		}
		r.AppData = f.appData()
		return r, nil
	case "createTransport":
		r := &CreateTransportRequest{Request: env}
		if r.ID, err = f.id("id"); err != nil {
			return nil, err
		}
		if r.Direction, err = f.str("direction", true); err != nil {
			return nil, err
		}
		if r.Direction != "send" && r.Direction != "recv" {
			return nil, NewTypeError(`direction must be "send" or "recv"`)
		}
		if f.has("options") {
			var o map[string]any
			if _, err = f.object("options", &o, false); err != nil {
				return nil, err
			}
			if err = checkTransportOptions(f["options"]); err != nil {
				return nil, err
			}
			r.Options = f["options"]
		}
		var d DtlsParameters
		if ok, err := f.object("dtlsParameters", &d, false); err != nil {
			return nil, err
		} else if ok {
			if err := CheckDtlsParameters("dtlsParameters", &d); err != nil {
				return nil, err
			}
			r.DtlsParameters = &d
		}
		var pr PlainRtpParameters
		if ok, err := f.object("plainRtpParameters", &pr, false); err != nil {
			return nil, err
		} else if ok {
			if err := checkPlainRtpParameters("plainRtpParameters", &pr); err != nil {
				return nil, err
			}
			r.PlainRtpParameters = &pr
		}
		r.AppData = f.appData()
		return r, nil
	case "restartTransport":
		r := &RestartTransportRequest{Request: env}
		if r.ID, err = f.id("id"); err != nil {
			return nil, err
		}
		return r, nil
	case "createProducer":
		r := &CreateProducerRequest{Request: env}
		if r.ID, err = f.id("id"); err != nil {
			return nil, err
		}
		if r.Kind, err = f.str("kind", true); err != nil {
			return nil, err
		}
		if err = checkKind(r.Kind); err != nil {
			return nil, err
		}
		if r.TransportID, err = f.id("transportId"); err != nil {
			return nil, err
		}
		if r.Paused, err = f.boolean("paused"); err != nil {
			return nil, err
		}
		if _, err = f.object("rtpParameters", &r.RTPParameters, true); err != nil {
			return nil, err
		}
		r.AppData = f.appData()
		return r, nil
	case "enableConsumer":
		r := &EnableConsumerRequest{Request: env}
		if r.ID, err = f.id("id"); err != nil {
			return nil, err
		}
		if r.TransportID, err = f.id("transportId"); err != nil {
			return nil, err
		}
		if r.Paused, err = f.boolean("paused"); err != nil {
			return nil, err
		}
		if r.PreferredProfile, err = f.str("preferredProfile", false); err != nil {
			return nil, err
		}
		if r.PreferredProfile != "" && !preferredProfiles[r.PreferredProfile] {
			return nil, NewTypeError("invalid preferredProfile %s", rtpparams.Clip(r.PreferredProfile))
		}
		return r, nil
	}
	return nil, NewError("unknown request method %s", rtpparams.Clip(m.Method))
}
