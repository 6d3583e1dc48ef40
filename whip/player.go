package whip

import (
	"sync"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu"
)

// player decides what a WHEP session plays: of the consumers the room gives
// its peer, one audio and one video flow (resumed), the others stay enabled
// but paused. With a peer named, it plays that peer; otherwise the room's
// active speaker (its audio, and its video when it has one), else whom it
// played before, else the first peer that sends. A switch is a
// pauseConsumer and a resumeConsumer.
//
// The room's player sends each kind on one stream (sfu.SendGroup): its
// consumers take turns on the group's SSRCs and continue its numbering, so
// the answer names the stream (with its RTX when offered) and a source
// switch is not a new stream for the browser. In a room with audio slots
// it plays the slot that carries the followed peer (else the one playing,
// else the first).
//
// Every consumer is enabled with the payload types of the player's offer
// (sfu.Consumer.SetPayloadTypes): a browser that made the offer receives
// with its own numbering, not the room's. A player of a named peer that
// offered RTX gets it (playPlan.withRTX): the stream chosen when the
// answer is written is then named in it with its RTX SSRC, and stays
// the one played of its kind while it lives (pinned).
//
// Only the session goroutine (and, before it starts, the POST that creates
// the session) calls the player, except stop.
type player struct {
	s        *session
	target   string      // the peer played, "" for the room
	pt       map[int]int // room payload type → the offer's
	rtxPT    map[int]int // room media payload type → the offer's RTX for it
	extIDs   map[string]map[int]int
	kinds    map[string]bool
	pinned   map[string]bool // kinds whose stream the answer names: no switch while it lives
	list     []*playConsumer
	focus    string // the peer followed
	selected map[string]*playConsumer
	// The room's player: one outgoing stream per kind whose source
	// changes (sfu.SendGroup), and what each audio slot carries (consumer
	// id → speaker's peer name).
	groups map[string]*sfu.SendGroup
	slots  map[uint32]string

	cancel   func() // the speaker subscription
	stopOnce sync.Once
}

// playConsumer is a consumer of the player's peer, enabled on its
// transport.
type playConsumer struct {
	id            uint32
	kind          string
	peer          string
	ssrc, rtxSSRC uint32
}

func newPlayer(s *session, target string, plan *playPlan) *player {
	p := &player{s: s, target: target, pt: plan.pt, rtxPT: plan.rtxPT, extIDs: plan.extIDs, kinds: plan.kinds, pinned: map[string]bool{},
		focus: target, selected: map[string]*playConsumer{}, groups: map[string]*sfu.SendGroup{}, slots: map[uint32]string{}}
	if target == "" {
		for kind := range plan.kinds {
			p.groups[kind] = sfu.NewSendGroup()
		}
	}
	return p
}

// begin takes the consumers of the join response and, for the room,
// follows its active speaker.
func (p *player) begin(jr protocol.JoinResponse) {
	if p.target == "" {
		var cur *sfu.Producer
		cur, p.cancel = p.s.room.SubscribeActiveSpeaker(func(speaker *sfu.Producer) { p.s.notify(speakerChange{speakerName(speaker)}) })
		p.focus = speakerName(cur)
	}
	for _, peer := range jr.Peers {
		for _, c := range peer.Consumers {
			p.add(c)
		}
	}
	p.reselect()
}

// stop ends the speaker subscription; safe from any goroutine, twice.
func (p *player) stop() {
	p.stopOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
	})
}

// handle applies one notification of the peer.
func (p *player) handle(n any) {
	switch n := n.(type) {
	case protocol.NewConsumer:
		p.add(protocol.ConsumerData(n))
	case protocol.ConsumerClosed:
		p.remove(func(c *playConsumer) bool { return c.id == n.ID })
	case protocol.PeerClosed:
		if p.target != "" && n.Name == p.target {
			p.s.end(true, "the peer played left")
			return
		}
		p.remove(func(c *playConsumer) bool { return c.peer == n.Name })
	case sfu.AudioSlot:
		p.slots[n.ConsumerID] = n.PeerName
	case speakerChange:
		if n.peerName == "" || n.peerName == p.focus || p.target != "" {
			return
		}
		p.s.log.Debug("active speaker", "peer", n.peerName)
		p.focus = n.peerName
	default:
		return
	}
	p.reselect()
}

// add enables a new consumer, paused, with the offer's payload type.
func (p *player) add(c protocol.ConsumerData) {
	if !p.kinds[c.Kind] || (p.target != "" && c.PeerName != p.target) || len(c.RTPParameters.Codecs) == 0 {
		return
	}
	pt, ok := p.pt[c.RTPParameters.Codecs[0].PayloadType]
	sc := p.s.peer.ConsumerByID(c.ID)
	if !ok || sc == nil || len(c.RTPParameters.Encodings) == 0 {
		return
	}
	rtxPT := p.rtxPT[c.RTPParameters.Codecs[0].PayloadType] // 0: none
	g := p.groups[c.Kind]
	if g != nil {
		if err := sc.JoinSendGroup(g); err != nil {
			p.s.log.Warn("consumer send group", "consumer", c.ID, "err", err)
			return
		}
	}
	if err := sc.SetPayloadTypes(uint8(pt), uint8(rtxPT)); err != nil {
		p.s.log.Warn("consumer payload type", "consumer", c.ID, "err", err)
		return
	}
	if ids := p.extIDs[c.Kind]; ids != nil {
		if err := sc.RenumberHeaderExtensions(ids); err != nil {
			p.s.log.Warn("consumer header extension ids", "consumer", c.ID, "err", err)
			return
		}
	}
	_, err := p.s.request("enableConsumer", map[string]any{
		"id": c.ID, "transportId": p.s.transportID, "paused": true, "preferredProfile": "default",
	})
	if err != nil {
		p.s.log.Warn("enable consumer", "consumer", c.ID, "err", err)
		return
	}
	pc := &playConsumer{id: c.ID, kind: c.Kind, peer: c.PeerName, ssrc: c.RTPParameters.Encodings[0].SSRC}
	if rtx := c.RTPParameters.Encodings[0].RTX; rtx != nil && rtxPT != 0 {
		pc.rtxSSRC = rtx.SSRC
	}
	if g != nil {
		pc.ssrc, pc.rtxSSRC = g.SSRCs()
		if rtxPT == 0 || c.RTPParameters.Encodings[0].RTX == nil {
			pc.rtxSSRC = 0
		}
	}
	p.list = append(p.list, pc)
}

// remove forgets the consumers gone (closed with their producer or peer).
func (p *player) remove(gone func(*playConsumer) bool) {
	kept := p.list[:0]
	for _, c := range p.list {
		if !gone(c) {
			kept = append(kept, c)
		}
	}
	clear(p.list[len(kept):])
	p.list = kept
	for id := range p.slots {
		if !p.listed(id) {
			delete(p.slots, id)
		}
	}
	for k, c := range p.selected {
		if c != nil && gone(c) {
			p.selected[k] = nil
		}
	}
}

// has reports whether a consumer of peer is in the list (an audio slot
// carrying peer counts).
func (p *player) has(peer string) bool {
	for _, c := range p.list {
		if p.carries(c, peer) {
			return true
		}
	}
	return false
}

// carries reports whether c plays peer: a consumer of peer, or the audio
// slot that carries peer now.
func (p *player) carries(c *playConsumer, peer string) bool {
	return c.peer == peer || peer != "" && p.slots[c.id] == peer
}

// listed reports whether consumer id is in the list.
func (p *player) listed(id uint32) bool {
	for _, c := range p.list {
		if c.id == id {
			return true
		}
	}
	return false
}

// reselect makes the consumers chosen for each kind flow, and only them.
func (p *player) reselect() {
	if p.target == "" && !p.has(p.focus) {
		p.focus = ""
		if v := p.selected["video"]; v != nil {
			p.focus = v.peer
		} else if v := p.choose("video"); v != nil {
			p.focus = v.peer
		} else if a := p.choose("audio"); a != nil {
			p.focus = a.peer
		}
	}
	for _, kind := range []string{"audio", "video"} {
		if !p.kinds[kind] {
			continue
		}
		want, cur := p.choose(kind), p.selected[kind]
		if want == cur {
			continue
		}
		if cur != nil {
			if err := p.s.notifyPeer("pauseConsumer", map[string]any{"id": cur.id}); err != nil {
				p.s.log.Debug("pause consumer", "err", err)
			}
		}
		if want != nil {
			if err := p.s.notifyPeer("resumeConsumer", map[string]any{"id": want.id}); err != nil {
				p.s.log.Debug("resume consumer", "err", err)
			}
			p.s.log.Info("WHEP plays", "kind", kind, "from", want.peer)
		}
		p.selected[kind] = want
	}
}

// choose returns the consumer of kind to play: the focused peer's newest,
// else the one playing, else the oldest.
func (p *player) choose(kind string) *playConsumer {
	var first, focused, keep *playConsumer
	for _, c := range p.list {
		if c.kind != kind {
			continue
		}
		if first == nil {
			first = c
		}
		if p.carries(c, p.focus) {
			focused = c
		}
		if c == p.selected[kind] {
			keep = c
		}
	}
	switch {
	case keep != nil && p.pinned[kind]:
		return keep
	case focused != nil:
		return focused
	case keep != nil:
		return keep
	}
	return first
}
