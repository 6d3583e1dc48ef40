package protocol

// IceSelectedTuple is the transport's selected ICE tuple.
type IceSelectedTuple struct {
	LocalIP    string `json:"localIP"`
	LocalPort  int    `json:"localPort"`
	Protocol   string `json:"protocol"`
	RemoteIP   string `json:"remoteIP"`
	RemotePort int    `json:"remotePort"`
}

// AvailableBw is a REMB estimate with the SSRCs it covers.
type AvailableBw struct {
	Bitrate    uint64   `json:"bitrate"`
	MaxBitrate *uint64  `json:"maxBitrate,omitempty"`
	SSRCs      []uint32 `json:"ssrcs"`
}

// TransportStat is the "transport" stats object.
type TransportStat struct {
	Type                  string            `json:"type"`
	ID                    uint32            `json:"id"`
	Timestamp             int64             `json:"timestamp"`
	BytesReceived         uint64            `json:"bytesReceived"`
	BytesSent             uint64            `json:"bytesSent"`
	IceSelectedTuple      *IceSelectedTuple `json:"iceSelectedTuple,omitempty"`
	DtlsState             string            `json:"dtlsState"`
	IceConnectionState    string            `json:"iceConnectionState"`
	LocalAvailableSendBw  *AvailableBw      `json:"localAvailableSendBw,omitempty"`
	RemoteAvailableSendBw *AvailableBw      `json:"remoteAvailableSendBw,omitempty"`
}

// RTPStreamStat holds the fields inbound-rtp and outbound-rtp stats share.
type RTPStreamStat struct {
	Type             string  `json:"type"`
	ID               string  `json:"id"`
	Timestamp        int64   `json:"timestamp"`
	SSRC             uint32  `json:"ssrc"`
	Kind             string  `json:"kind"`
	MediaType        string  `json:"mediaType"`
	MimeType         string  `json:"mimeType"`
	Bitrate          uint64  `json:"bitrate"`
	ByteCount        uint64  `json:"byteCount"`
	PacketCount      uint64  `json:"packetCount"`
	PacketsLost      uint64  `json:"packetsLost"`
	PacketsDiscarded uint64  `json:"packetsDiscarded"`
	PacketsRepaired  uint64  `json:"packetsRepaired"`
	FractionLost     float64 `json:"fractionLost"`
	NackCount        uint64  `json:"nackCount"`
	PliCount         uint64  `json:"pliCount"`
	FirCount         uint64  `json:"firCount"`
	SliCount         uint64  `json:"sliCount"`
}

// InboundRTPStat is an "inbound-rtp" stats object.
type InboundRTPStat struct {
	RTPStreamStat
	Jitter      uint32 `json:"jitter"`
	TransportID uint32 `json:"transportId,omitempty"`
	// gosoup's own, present for a video stream whose payload descriptors
	// carry layers: how many temporal (TID) and spatial (SID) layers it
	// has, and the bitrate of its temporal layers cumulated (TL0, TL0+TL1,
	// ...).
	TemporalLayers int      `json:"temporalLayers,omitempty"`
	SpatialLayers  int      `json:"spatialLayers,omitempty"`
	LayerBitrates  []uint64 `json:"layerBitrates,omitempty"`
}

// OutboundRTPStat is an "outbound-rtp" stats object.
type OutboundRTPStat struct {
	RTPStreamStat
	RoundTripTime float64 `json:"roundTripTime"`
	TransportID   uint32  `json:"transportId"`
	InboundRTPID  string  `json:"inboundRtpId"`
}
