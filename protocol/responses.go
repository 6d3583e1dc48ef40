package protocol

import (
	"encoding/json"

	"github.com/gosoup/gosoup/rtpparams"
)

// QueryRoomResponse answers queryRoom.
type QueryRoomResponse struct {
	RTPCapabilities            rtpparams.Capabilities `json:"rtpCapabilities"`
	MandatoryCodecPayloadTypes []int                  `json:"mandatoryCodecPayloadTypes"`
}

// ConsumerData is a consumer as the join response and newConsumer carry
// it.
type ConsumerData struct {
	ID               uint32               `json:"id"`
	Kind             string               `json:"kind"`
	RTPParameters    rtpparams.Parameters `json:"rtpParameters"`
	Paused           bool                 `json:"paused"`
	PreferredProfile string               `json:"preferredProfile"`
	EffectiveProfile *string              `json:"effectiveProfile"`
	AppData          json.RawMessage      `json:"appData,omitempty"`
	PeerName         string               `json:"peerName"`
}

// PeerData is another peer in the join response.
type PeerData struct {
	Consumers []ConsumerData  `json:"consumers"`
	Name      string          `json:"name"`
	AppData   json.RawMessage `json:"appData,omitempty"`
}

// JoinResponse answers join.
type JoinResponse struct {
	Peers []PeerData `json:"peers"`
}

// IceParameters are the server's ICE credentials.
type IceParameters struct {
	IceLite          bool   `json:"iceLite"`
	Password         string `json:"password"`
	UsernameFragment string `json:"usernameFragment"`
}

// IceCandidate is one server ICE candidate.
type IceCandidate struct {
	Family     string `json:"family"`
	Foundation string `json:"foundation"`
	IP         string `json:"ip"`
	Port       int    `json:"port"`
	Priority   uint32 `json:"priority"`
	Protocol   string `json:"protocol"`
	TCPType    string `json:"tcpType,omitempty"`
	Type       string `json:"type"`
}

// CreateTransportResponse answers createTransport.
type CreateTransportResponse struct {
	IceParameters  IceParameters  `json:"iceParameters"`
	IceCandidates  []IceCandidate `json:"iceCandidates"`
	DtlsParameters DtlsParameters `json:"dtlsParameters"`
}

// RestartTransportResponse answers restartTransport.
type RestartTransportResponse struct {
	IceParameters IceParameters `json:"iceParameters"`
}

// EnableConsumerResponse answers enableConsumer.
type EnableConsumerResponse struct {
	Paused           bool    `json:"paused"`
	PreferredProfile string  `json:"preferredProfile"`
	EffectiveProfile *string `json:"effectiveProfile"`
}
