package sfu

import "github.com/gosoup/gosoup/protocol"

// SetPayloadTypes makes the consumer send its media with payload type
// media, and its RTX with rtx when it has an RTX stream (0 keeps the
// room's), instead of the room's numbering. It is for receivers that
// negotiated their own numbering, such as a WHEP player whose SDP offer
// chose the payload types (mediasoup-client always receives in room
// numbering and never needs it). It must be called before the consumer is
// enabled: the media plane reads the payload types without a lock once the
// consumer forwards.
func (c *Consumer) SetPayloadTypes(media, rtx uint8) error {
	if media > 127 || rtx > 127 {
		return protocol.NewTypeError("invalid payload type")
	}
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed {
		return protocol.NewInvalidStateError("Consumer closed")
	}
	if c.enabled {
		return protocol.NewInvalidStateError("Consumer already enabled")
	}
	c.payloadType = media
	if rtx != 0 && c.rtxSSRC != 0 {
		c.rtxPayloadType = rtx
	}
	return nil
}
