package whip

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// WHEP: a player's recvonly offer becomes a peer of the room with one
// receive transport (a spy, unless its join token says otherwise). It
// joins with the receive capabilities of the offer in the room's numbering,
// as mediasoup-client does, gets a consumer of every producer it can
// receive (join response, newConsumer) and enables them on its transport;
// the player (player.go) decides which one of each kind flows.

// playPlan is what a WHEP offer becomes before anything is created.
type playPlan struct {
	secs  []answerSection
	caps  rtpparams.Capabilities // the peer's receive capabilities
	pt    map[int]int            // room payload type → the offer's
	rtxPT map[int]int            // room media payload type → the offer's RTX for it (withRTX)
	// kind → room header-extension id → the offer's (extids.go); nil: the same
	extIDs map[string]map[int]int
	kinds  map[string]bool // kinds with an accepted section
	first  *mediaOffer
}

// planPlay negotiates each section of a WHEP offer with the room: at most
// one audio and one video section receive.
func planPlay(o *offer, caps rtpparams.Capabilities) (*playPlan, error) {
	p := &playPlan{caps: noCapabilities(), pt: map[int]int{}, rtxPT: map[int]int{}, kinds: map[string]bool{}, extIDs: map[string]map[int]int{}}
	var refused []string
	for _, m := range o.media {
		sec := answerSection{m: m, direction: "sendonly"}
		why := ""
		switch {
		case m.kind != "audio" && m.kind != "video":
			why = "only audio and video are played"
		case m.port == 0:
			why = "rejected by the offer (port 0)"
		case m.direction != "recvonly" && m.direction != "sendrecv":
			why = "a WHEP offer receives (a=recvonly); this section says a=" + m.direction
		case p.kinds[m.kind]:
			why = "a second " + m.kind + " section (gosoup plays one stream of each kind)"
		}
		if why == "" {
			sec.codecs = playCodecs(m, caps)
			if len(sec.codecs) == 0 {
				why = fmt.Sprintf("no codec of the room (offered %s; the room has %s)", offeredCodecNames(m), roomCodecNames(caps))
			}
		}
		if why != "" {
			refused = append(refused, fmt.Sprintf("media section %d (%s): %s", m.index, m.kind, why))
			sec.rejected = true
			p.secs = append(p.secs, sec)
			continue
		}
		if m.mid == "" {
			return nil, httpErrorf(http.StatusBadRequest, "media section %d (%s) has no a=mid", m.index, m.kind)
		}
		if !m.rtcpMux {
			return nil, httpErrorf(http.StatusBadRequest, "media section %d (%s) lacks a=rtcp-mux, which WHEP requires", m.index, m.kind)
		}
		p.kinds[m.kind] = true
		if p.first == nil {
			p.first = m
		}
		for _, c := range sec.codecs {
			p.pt[c.room.PreferredPayloadType] = c.offer.pt
			rc := c.room
			rc.RTCPFeedback = c.feedback
			p.caps.Codecs = append(p.caps.Codecs, rc)
		}
		exts, ids := playExts(o, m, caps)
		for _, e := range exts {
			sec.exts = append(sec.exts, e.offerExt)
			p.caps.HeaderExtensions = append(p.caps.HeaderExtensions,
				rtpparams.HeaderExtensionCapability{Kind: m.kind, URI: e.uri, PreferredID: e.roomID})
		}
		p.extIDs[m.kind] = ids
		sec.msid = "gosoup gosoup-" + m.kind
		p.secs = append(p.secs, sec)
	}
	if len(p.kinds) == 0 {
		return nil, httpErrorf(http.StatusBadRequest, "nothing in the offer can be played: %s", strings.Join(refused, "; "))
	}
	if len(p.kinds) > 1 {
		for _, s := range p.secs {
			if !s.rejected && !o.bundled(s.m) {
				return nil, httpErrorf(http.StatusBadRequest, "the offer must bundle its media sections (a=group:BUNDLE): section %d (mid %q) is not in it", s.m.index, s.m.mid)
			}
		}
	}
	return p, nil
}

// withRTX adds RTX to the plan wherever the offer has RTX for a codec the
// room has RTX for, and the codec has NACK feedback: the answer then lists
// the offer's RTX codec, the peer's capabilities the room's (so its
// consumers get an RTX stream), and the player enables them with the
// offer's RTX payload type. The answer names the stream and its RTX (a
// browser drops RTX of a stream it was not told about): the room's
// player's one stream per kind (sfu.SendGroup), or the played peer's
// stream (player.pinned).
func (p *playPlan) withRTX(caps rtpparams.Capabilities) {
	for i := range p.secs {
		s := &p.secs[i]
		if s.rejected {
			continue
		}
		for j := range s.codecs {
			c := &s.codecs[j]
			nack := false
			for _, f := range c.feedback {
				nack = nack || f.Type == "nack" && f.Parameter == ""
			}
			rrtx, ok := roomRTX(caps, c.room.PreferredPayloadType)
			if !ok || !nack {
				continue
			}
			ortx, ok := s.m.offerRTX(c.offer.pt)
			if !ok {
				continue
			}
			c.rtx = &ortx
			p.rtxPT[c.room.PreferredPayloadType] = ortx.pt
			p.caps.Codecs = append(p.caps.Codecs, rrtx)
		}
	}
}

// play creates a WHEP session for offer o (playing peer target, or the
// room's active speaker when target is "") and returns it with the SDP
// answer. On any failure nothing is left.
func (h *Handler) play(roomID string, id identity, o *offer, target string) (*session, []byte, error) {
	room, release, err := h.rooms.AcquireRoom(roomID)
	if err != nil {
		return nil, nil, httpErrorf(http.StatusServiceUnavailable, "%v", err)
	}
	if target != "" && room.PeerByName(target) == nil {
		release()
		return nil, nil, httpErrorf(http.StatusNotFound, "peer %q is not in room %q", target, roomID)
	}
	plan, err := planPlay(o, room.Capabilities())
	if err != nil {
		release()
		return nil, nil, err
	}
	plan.withRTX(room.Capabilities())
	h.replace("whep", roomID, id.name)
	s := newSession(h, "whep", roomID, room, release, id.name)
	fail := func(err error) (*session, []byte, error) {
		s.end(true, "setup failed")
		return nil, nil, err
	}
	jr, err := s.join(plan.caps, id.spy)
	if err != nil {
		return fail(err)
	}
	if err := s.createTransport("recv", o); err != nil {
		return fail(fmt.Errorf("create transport: %w", err))
	}
	s.player = newPlayer(s, target, plan)
	s.player.begin(jr)
	for i := range plan.secs {
		sec := &plan.secs[i]
		if sec.rejected {
			continue
		}
		if g := s.player.groups[sec.m.kind]; g != nil {
			// The room's stream of the kind, whoever plays in it.
			sec.ssrc, sec.rtxSSRC = g.SSRCs()
			if !hasRTX(sec.codecs) {
				sec.rtxSSRC = 0
			}
		} else if c := s.player.selected[sec.m.kind]; c != nil && hasRTX(sec.codecs) && c.rtxSSRC != 0 {
			// The stream and its RTX, named so that the player takes the RTX.
			sec.ssrc, sec.rtxSSRC = c.ssrc, c.rtxSSRC
			s.player.pinned[sec.m.kind] = true
		}
	}
	local, _ := s.transport()
	answer, err := writeAnswer(plan.secs, local, true)
	if err != nil {
		return fail(err)
	}
	s.first = plan.first
	return s, answer, nil
}

// hasRTX reports whether the answer lists RTX for one of codecs.
func hasRTX(codecs []negotiatedCodec) bool {
	for _, c := range codecs {
		if c.rtx != nil {
			return true
		}
	}
	return false
}
