package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gosoup/gosoup/codec"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/transport"
)

// Audio slots (docs/protocol.md, "Audio slots"): with K slots, a room
// offers its peers, instead of a consumer per audio producer, K consumers
// of a room-level peer named AudioSlotsPeerName, and forwards into slot i
// the i-th of the K loudest current speakers. A consumer keeps its SSRC
// across switches; its sequence numbers and timestamps continue (the send
// stream resynchronises as on a simulcast switch).

// AudioSlotsPeerName is the name of the room-level peer whose producers
// are the audio slots.
const AudioSlotsPeerName = "audio-slots"

const (
	// slotInterval is how often slots are reassigned from the audio levels
	// of that interval: a speaker's first words reach the listeners within
	// about two intervals.
	slotInterval = 50 * time.Millisecond
	// slotThreshold is the level (dBov) above which a producer speaks.
	slotThreshold = -80
	// slotQuiet is how long a slot's speaker must have been quiet before
	// a new speaker takes the slot.
	slotQuiet = 500 * time.Millisecond
	// maxAudioSlots bounds K.
	maxAudioSlots = 16
)

// AudioSlot is the mediasoup notification (method "audioSlot") that tells
// a peer which peer a slot now carries; mediasoup-client logs and ignores
// it, an application may use it to label the slot.
type AudioSlot struct {
	Slot       int    // 0..K-1, as the slot producer's appData "slot"
	ConsumerID uint32 // the peer's consumer of the slot
	PeerName   string // the speaker forwarded; "" for none
	ProducerID uint32 // the speaker's producer; 0 for none
}

// MarshalJSON encodes the notification with its mediasoup header.
func (n AudioSlot) MarshalJSON() ([]byte, error) {
	var peer any
	if n.PeerName != "" {
		peer = n.PeerName
	}
	return json.Marshal(map[string]any{
		"method": "audioSlot", "target": "peer", "notification": true,
		"slot": n.Slot, "consumerId": n.ConsumerID, "speakerPeerName": peer, "speakerProducerId": n.ProducerID,
		"peerName": AudioSlotsPeerName,
	})
}

// audioSlots is a room's slots and their assignment.
type audioSlots struct {
	room  *Room
	peer  *Peer // the room-level peer; not in room.peers
	slots []*audioSlot
	pt    int // the slots' payload type (room terms)

	// The detector's goroutine only.
	loudAt map[*Producer]time.Time

	freshMu sync.Mutex
	fresh   []*Peer // joined since the last assignment: told what the slots carry then
}

// audioSlot is one slot: a producer of the slot peer, whose consumers
// receive the packets of the real producer it is assigned.
type audioSlot struct {
	index int
	prod  *Producer

	mu     sync.Mutex // serializes forwarding into the slot and switching it
	source *Producer  // guarded by mu
}

// EnableAudioSlots turns audio slots on for the room with k slots (k = 0
// leaves them off). It must be called before the room is used: before
// the first peer joins and before anything subscribes to its active
// speaker (a signaling socket does at once; for rooms of the signaling
// server, use Config.RoomAudioSlots).
func (r *Room) EnableAudioSlots(k int) error {
	if k < 0 || k > maxAudioSlots {
		return fmt.Errorf("audio slots: %d is not in 0..%d", k, maxAudioSlots)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("audio slots: room closed")
	}
	if len(r.peers) > 0 || r.slots != nil || r.speaker != nil {
		return errors.New("audio slots: set before the room is used, once")
	}
	if k == 0 {
		return nil
	}
	s, err := newAudioSlots(r, k)
	if err != nil {
		return err
	}
	r.slots = s
	return nil
}

// AudioSlots returns the number of audio slots of the room (0: off).
func (r *Room) AudioSlots() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.slots == nil {
		return 0
	}
	return len(r.slots.slots)
}

func newAudioSlots(r *Room, k int) (*audioSlots, error) {
	var codec *rtpparams.CodecCapability
	for i, c := range r.caps.Codecs {
		if c.Kind == rtpparams.KindAudio && !strings.EqualFold(c.Name, "rtx") {
			codec = &r.caps.Codecs[i]
			break
		}
	}
	if codec == nil {
		return nil, errors.New("audio slots: the room has no audio codec")
	}
	params := rtpparams.Parameters{
		Codecs: []rtpparams.CodecParameters{{Name: codec.Name, MimeType: codec.MimeType, ClockRate: codec.ClockRate,
			PayloadType: codec.PreferredPayloadType, Channels: codec.Channels, Parameters: codec.Parameters, RTCPFeedback: codec.RTCPFeedback}},
		HeaderExtensions: []rtpparams.HeaderExtensionParameters{},
		Encodings:        []rtpparams.EncodingParameters{{SSRC: 1}}, // each slot gets its own
		RTCP:             &rtpparams.RTCPParameters{CNAME: AudioSlotsPeerName, Mux: true},
	}
	for _, e := range r.caps.HeaderExtensions {
		if e.Kind == rtpparams.KindAudio && e.URI != rtpparams.URITransportCC {
			params.HeaderExtensions = append(params.HeaderExtensions, rtpparams.HeaderExtensionParameters{URI: e.URI, ID: e.PreferredID})
		}
	}
	m, err := rtpparams.MapProducer(rtpparams.KindAudio, params, r.caps)
	if err != nil {
		return nil, fmt.Errorf("audio slots: %w", err)
	}
	appData, _ := json.Marshal(map[string]any{"audioSlots": k})
	s := &audioSlots{room: r, pt: codec.PreferredPayloadType, loudAt: map[*Producer]time.Time{}}
	s.peer = newPeer(r, AudioSlotsPeerName, &rtpparams.Capabilities{}, false, appData, nil)
	for i := range k {
		p := params
		p.Encodings = []rtpparams.EncodingParameters{{SSRC: rtpparams.RandomID()}}
		ad, _ := json.Marshal(map[string]any{"source": "audio-slot", "slot": i})
		prod := &Producer{
			id: rtpparams.RandomID(), peer: s.peer, kind: rtpparams.KindAudio, rtpParameters: p,
			consumable: rtpparams.ConsumableParameters(rtpparams.KindAudio, p, r.caps, m),
			appData:    ad, clockRate: uint32(codec.ClockRate), done: make(chan struct{}),
			streams: newStreams(p.Encodings, false),
		}
		prod.consumers.Store(&[]*Consumer{})
		s.peer.producers = append(s.peer.producers, prod)
		s.slots = append(s.slots, &audioSlot{index: i, prod: prod})
	}
	return s, nil
}

// slotSource reports whether prod is audio the slots carry instead of
// offering it as a consumer: it sends ssrc-audio-level in the slots'
// codec.
func (s *audioSlots) slotSource(prod *Producer) bool {
	if s == nil || prod.kind != rtpparams.KindAudio || prod.levels == nil || prod.peer == s.peer {
		return false
	}
	mc, ok := prod.consumable.MediaCodec()
	return ok && mc.PayloadType == s.pt
}

// consumersLocked creates peer p's consumers of the slots (join, under
// the room lock); the next assignment tells p what each carries, after
// its join response.
func (s *audioSlots) consumersLocked(p *Peer) []*Consumer {
	var out []*Consumer
	for _, sl := range s.slots {
		if c := p.newConsumerLocked(sl.prod); c != nil {
			out = append(out, c)
		}
	}
	s.freshMu.Lock()
	s.fresh = append(s.fresh, p)
	s.freshMu.Unlock()
	return out
}

// notifyFresh tells the peers that joined since the last assignment what
// each slot carries (the detector's goroutine).
func (s *audioSlots) notifyFresh() {
	s.freshMu.Lock()
	fresh := s.fresh
	s.fresh = nil
	s.freshMu.Unlock()
	for _, p := range fresh {
		for _, sl := range s.slots {
			sl.mu.Lock()
			src := sl.source
			sl.mu.Unlock()
			if src == nil {
				continue
			}
			for _, c := range *sl.prod.consumers.Load() {
				if c.peer == p {
					p.notify(slotNotification(sl.index, c.id, src))
				}
			}
		}
	}
}

func slotNotification(slot int, consumer uint32, src *Producer) AudioSlot {
	n := AudioSlot{Slot: slot, ConsumerID: consumer}
	if src != nil {
		n.PeerName, n.ProducerID = src.peer.name, src.id
	}
	return n
}

// closeLocked closes the slots' consumers (the room closes).
func (s *audioSlots) closeLocked() {
	for _, sl := range s.slots {
		sl.mu.Lock()
		if sl.source != nil {
			sl.source.slot.Store(nil)
			sl.source = nil
		}
		sl.mu.Unlock()
		for _, c := range *sl.prod.consumers.Load() {
			c.closeLocked(false)
		}
		if !sl.prod.closed {
			sl.prod.closed = true
			close(sl.prod.done)
		}
	}
}

// forward sends one packet of src, rewritten in room terms, to the slot's
// consumers if src is the slot's source (media plane; allocation-free).
// A consumer does not get its own peer's audio.
func (sl *audioSlot) forward(src *Producer, buf []byte, st *producerStream, seq uint16, ts uint32, now time.Time, b *transport.Batch) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.source != src {
		return
	}
	for _, c := range sl.prod.activeConsumers() {
		if c.peer != src.peer && c.active.Load() {
			c.forward(buf, st, seq, ts, codec.Info{}, now, b)
		}
	}
}

// assign moves sources in and out of the slots from one interval's
// levels (the detector's goroutine): a speaker not in a slot takes a free
// slot, or the slot whose speaker has been quiet longest (at least
// slotQuiet); a closed or paused source leaves its slot.
func (s *audioSlots) assign(levels []AudioLevel, now time.Time) {
	heard := make(map[*Producer]bool, len(levels))
	for _, l := range levels {
		heard[l.Producer] = true
		if l.Level > slotThreshold && !l.Producer.Paused() {
			s.loudAt[l.Producer] = now
		}
	}
	for p := range s.loudAt {
		if !heard[p] {
			delete(s.loudAt, p) // closed, or no longer a source
		}
	}
	s.notifyFresh() // the state before this round; its switches are told below
	cur := make([]*Producer, len(s.slots))
	in := map[*Producer]int{}
	for i, sl := range s.slots {
		sl.mu.Lock()
		cur[i] = sl.source
		sl.mu.Unlock()
		if cur[i] != nil {
			if !heard[cur[i]] || cur[i].Paused() {
				s.switchSlot(sl, nil)
				cur[i] = nil
				continue
			}
			in[cur[i]] = i
		}
	}
	var speakers []AudioLevel
	for _, l := range levels {
		if _, ok := in[l.Producer]; !ok && l.Level > slotThreshold && !l.Producer.Paused() && s.slotSource(l.Producer) {
			speakers = append(speakers, l)
		}
	}
	sort.SliceStable(speakers, func(i, j int) bool { return speakers[i].Level > speakers[j].Level })
	for _, sp := range speakers {
		best, bestAt := -1, now
		for i, p := range cur {
			if p == nil {
				best = i
				break
			}
			if at := s.loudAt[p]; now.Sub(at) >= slotQuiet && at.Before(bestAt) {
				best, bestAt = i, at
			}
		}
		if best < 0 {
			return // every slot's speaker speaks
		}
		s.switchSlot(s.slots[best], sp.Producer)
		cur[best] = sp.Producer
	}
}

// switchSlot makes src (nil: nobody) the slot's source: the slot's
// consumers resynchronise on src's next packet, so that their numbering
// continues, and every peer with a consumer of the slot is told.
func (s *audioSlots) switchSlot(sl *audioSlot, src *Producer) {
	sl.mu.Lock()
	old := sl.source
	if old == src {
		sl.mu.Unlock()
		return
	}
	if old != nil {
		old.slot.CompareAndSwap(sl, nil)
	}
	sl.source = src
	cs := *sl.prod.consumers.Load()
	for _, c := range cs {
		c.resync.Store(true)
	}
	if src != nil {
		src.slot.Store(sl)
	}
	sl.mu.Unlock()
	for _, c := range cs {
		c.peer.notify(slotNotification(sl.index, c.id, src))
	}
}
