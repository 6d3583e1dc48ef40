package protocol

import (
	"bytes"
	"encoding/json"
)

// withHeader marshals v (a struct) and prepends method, target "peer" and
// notification true, as mediasoup builds every server notification.
func withHeader(method string, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(`{"method":`)
	m, _ := json.Marshal(method)
	b.Write(m)
	b.WriteString(`,"target":"peer","notification":true`)
	if len(body) > 2 {
		b.WriteByte(',')
		b.Write(body[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// Closed tells a client its peer was closed by the server.
type Closed struct {
	AppData json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n Closed) MarshalJSON() ([]byte, error) { type p Closed; return withHeader("closed", p(n)) }

// TransportClosed tells a client the server closed its transport.
type TransportClosed struct {
	ID      uint32          `json:"id"`
	AppData json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n TransportClosed) MarshalJSON() ([]byte, error) {
	type p TransportClosed
	return withHeader("transportClosed", p(n))
}

// TransportStats carries periodic transport stats.
type TransportStats struct {
	ID    uint32          `json:"id"`
	Stats []TransportStat `json:"stats"`
}

// MarshalJSON adds the notification header.
func (n TransportStats) MarshalJSON() ([]byte, error) {
	type p TransportStats
	return withHeader("transportStats", p(n))
}

// ProducerPaused tells a client the server paused its producer.
type ProducerPaused struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ProducerPaused) MarshalJSON() ([]byte, error) {
	type p ProducerPaused
	return withHeader("producerPaused", p(n))
}

// ProducerResumed tells a client the server resumed its producer.
type ProducerResumed struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ProducerResumed) MarshalJSON() ([]byte, error) {
	type p ProducerResumed
	return withHeader("producerResumed", p(n))
}

// ProducerClosed tells a client the server closed its producer.
type ProducerClosed struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ProducerClosed) MarshalJSON() ([]byte, error) {
	type p ProducerClosed
	return withHeader("producerClosed", p(n))
}

// ProducerStats carries periodic producer stats.
type ProducerStats struct {
	ID    uint32           `json:"id"`
	Stats []InboundRTPStat `json:"stats"`
}

// MarshalJSON adds the notification header.
func (n ProducerStats) MarshalJSON() ([]byte, error) {
	type p ProducerStats
	return withHeader("producerStats", p(n))
}

// NewPeer announces another peer.
type NewPeer struct {
	Name      string          `json:"name"`
	Consumers []ConsumerData  `json:"consumers"`
	AppData   json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n NewPeer) MarshalJSON() ([]byte, error) { type p NewPeer; return withHeader("newPeer", p(n)) }

// PeerClosed tells that another peer left.
type PeerClosed struct {
	Name    string          `json:"name"`
	AppData json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n PeerClosed) MarshalJSON() ([]byte, error) {
	type p PeerClosed
	return withHeader("peerClosed", p(n))
}

// NewConsumer announces a consumer of another peer's producer.
type NewConsumer ConsumerData

// MarshalJSON adds the notification header.
func (n NewConsumer) MarshalJSON() ([]byte, error) { return withHeader("newConsumer", ConsumerData(n)) }

// ConsumerClosed tells a consumer was closed.
type ConsumerClosed struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ConsumerClosed) MarshalJSON() ([]byte, error) {
	type p ConsumerClosed
	return withHeader("consumerClosed", p(n))
}

// ConsumerPaused tells a consumer was paused (its producer or the server).
type ConsumerPaused struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ConsumerPaused) MarshalJSON() ([]byte, error) {
	type p ConsumerPaused
	return withHeader("consumerPaused", p(n))
}

// ConsumerResumed tells a consumer was resumed.
type ConsumerResumed struct {
	ID       uint32          `json:"id"`
	PeerName string          `json:"peerName"`
	AppData  json.RawMessage `json:"appData,omitempty"`
}

// MarshalJSON adds the notification header.
func (n ConsumerResumed) MarshalJSON() ([]byte, error) {
	type p ConsumerResumed
	return withHeader("consumerResumed", p(n))
}

// ConsumerPreferredProfileSet tells the server set a consumer's preferred
// profile.
type ConsumerPreferredProfileSet struct {
	ID       uint32 `json:"id"`
	PeerName string `json:"peerName"`
	Profile  string `json:"profile"`
}

// MarshalJSON adds the notification header.
func (n ConsumerPreferredProfileSet) MarshalJSON() ([]byte, error) {
	type p ConsumerPreferredProfileSet
	return withHeader("consumerPreferredProfileSet", p(n))
}

// ConsumerEffectiveProfileChanged tells the profile now forwarded.
type ConsumerEffectiveProfileChanged struct {
	ID       uint32 `json:"id"`
	PeerName string `json:"peerName"`
	Profile  string `json:"profile"`
}

// MarshalJSON adds the notification header.
func (n ConsumerEffectiveProfileChanged) MarshalJSON() ([]byte, error) {
	type p ConsumerEffectiveProfileChanged
	return withHeader("consumerEffectiveProfileChanged", p(n))
}

// ConsumerStats carries periodic consumer stats.
type ConsumerStats struct {
	ID       uint32 `json:"id"`
	PeerName string `json:"peerName"`
	Stats    []any  `json:"stats"`
}

// MarshalJSON adds the notification header.
func (n ConsumerStats) MarshalJSON() ([]byte, error) {
	type p ConsumerStats
	return withHeader("consumerStats", p(n))
}
