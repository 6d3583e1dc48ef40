package sfu

import (
	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

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
	if err := c.configurableLocked(); err != nil {
		return err
	}
	c.payloadType = media
	if rtx != 0 && c.rtxSSRC != 0 {
		c.rtxPayloadType = rtx
	}
	return nil
}

// configurableLocked refuses a change to a consumer's sending identity
// (payload types, SSRCs, extension ids) once it is closed or enabled.
// Room lock held.
func (c *Consumer) configurableLocked() error {
	if c.closed {
		return protocol.NewInvalidStateError("Consumer closed")
	}
	if c.enabled {
		return protocol.NewInvalidStateError("Consumer already enabled")
	}
	return nil
}

// extRenumber is a consumer's header-extension renumbering: a permutation
// of the one-byte ids (fwd), and its inverse (back) that restores the
// packet for the next consumer.
type extRenumber struct{ fwd, back [16]uint8 }

// RenumberHeaderExtensions makes the consumer send the header extensions
// of its packets with the receiver's ids instead of the room's: ids maps a
// room id to the receiver's (both 1..14, no receiver id twice). Room ids
// not in ids are moved to the ids left over (in order), so the caller
// should map every room id the packets may carry, sending the extensions
// the receiver did not negotiate to ids it does not use. An identity
// mapping (or an empty one) changes nothing and costs nothing. It is for
// receivers that chose their own numbering, such as a WHEP player whose
// SDP offer did; it must be called before the consumer is enabled.
// Padding probes then carry abs-send-time with the receiver's id.
func (c *Consumer) RenumberHeaderExtensions(ids map[int]int) error {
	x, err := newExtRenumber(ids)
	if err != nil {
		return err
	}
	r := c.peer.room
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := c.configurableLocked(); err != nil {
		return err
	}
	c.extIDs = x
	for _, e := range c.rtpParameters.HeaderExtensions {
		if e.URI == rtpparams.URIAbsSendTime && e.ID > 0 && e.ID < 15 && x != nil {
			c.absSendTimeID = x.fwd[e.ID]
		}
	}
	return nil
}

// newExtRenumber completes ids (room id → receiver id) into a permutation
// of 1..14; nil for the identity.
func newExtRenumber(ids map[int]int) (*extRenumber, error) {
	var x extRenumber
	used := [16]bool{}
	for from, to := range ids {
		if from < 1 || from > 14 || to < 1 || to > 14 {
			return nil, protocol.NewTypeError("header extension ids must be 1..14 (got %d -> %d)", from, to)
		}
		if used[to] {
			return nil, protocol.NewTypeError("header extension id %d given twice", to)
		}
		used[to], x.fwd[from] = true, uint8(to)
	}
	next, identity := 1, true
	for from := 1; from <= 14; from++ {
		if x.fwd[from] == 0 {
			for used[next] {
				next++
			}
			x.fwd[from], used[next] = uint8(next), true
		}
		x.back[x.fwd[from]] = uint8(from)
		identity = identity && x.fwd[from] == uint8(from)
	}
	if identity {
		return nil, nil
	}
	return &x, nil
}
