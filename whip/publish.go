package whip

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// WHIP: a client's sendonly offer becomes a peer of the room with one send
// transport and a producer per audio or video section, made with the
// requests mediasoup-client sends (join, createTransport, createProducer),
// the producers' rtpParameters in the offer's numbering as a browser's.

// producerPlan is the producer one accepted section becomes.
type producerPlan struct {
	kind   string
	params rtpparams.Parameters
}

// publishPlan is what a WHIP offer becomes, worked out before anything is
// created so that a refused offer leaves nothing behind.
type publishPlan struct {
	secs      []answerSection
	producers []producerPlan
	first     *mediaOffer
}

// planPublish negotiates each section of a WHIP offer with the room.
func planPublish(o *offer, caps rtpparams.Capabilities) (*publishPlan, error) {
	p := &publishPlan{}
	var refused []string
	for _, m := range o.media {
		sec, prod, why, err := planPublishSection(o, m, caps)
		if err != nil {
			return nil, err
		}
		if why != "" {
			refused = append(refused, fmt.Sprintf("media section %d (%s): %s", m.index, m.kind, why))
			sec.rejected = true
		} else {
			p.producers = append(p.producers, prod)
			if p.first == nil {
				p.first = m
			}
		}
		p.secs = append(p.secs, sec)
	}
	if len(p.producers) == 0 {
		return nil, httpErrorf(http.StatusBadRequest, "nothing in the offer can be published: %s", strings.Join(refused, "; "))
	}
	if len(p.producers) > 1 {
		for _, s := range p.secs {
			if !s.rejected && !o.bundled(s.m) {
				return nil, httpErrorf(http.StatusBadRequest, "the offer must bundle its media sections (a=group:BUNDLE): section %d (mid %q) is not in it", s.m.index, s.m.mid)
			}
		}
	}
	return p, nil
}

// planPublishSection negotiates one section: its answer and producer, or
// why it is refused (the answer then rejects it), or an error refusing the
// whole offer.
func planPublishSection(o *offer, m *mediaOffer, caps rtpparams.Capabilities) (answerSection, producerPlan, string, error) {
	sec := answerSection{m: m, direction: "recvonly"}
	switch {
	case m.kind != "audio" && m.kind != "video":
		return sec, producerPlan{}, "only audio and video are published", nil
	case m.port == 0:
		return sec, producerPlan{}, "rejected by the offer (port 0)", nil
	case m.direction != "sendonly" && m.direction != "sendrecv":
		return sec, producerPlan{}, "a WHIP offer sends (a=sendonly); this section says a=" + m.direction, nil
	}
	nc, ok := publishCodec(m, caps)
	if !ok {
		return sec, producerPlan{}, fmt.Sprintf("no codec of the room (offered %s; the room has %s)", offeredCodecNames(m), roomCodecNames(caps)), nil
	}
	if m.mid == "" {
		return sec, producerPlan{}, "", httpErrorf(http.StatusBadRequest, "media section %d (%s) has no a=mid", m.index, m.kind)
	}
	if !m.rtcpMux {
		return sec, producerPlan{}, "", httpErrorf(http.StatusBadRequest, "media section %d (%s) lacks a=rtcp-mux, which WHIP requires", m.index, m.kind)
	}
	var extra []string
	if len(m.rids) > 0 {
		extra = []string{rtpparams.URIRtpStreamID, rtpparams.URIRepairedStreamID}
	}
	exts := answerExts(m, caps, extra...)
	hasRIDExt := false
	hdr := make([]rtpparams.HeaderExtensionParameters, 0, len(exts))
	for _, e := range exts {
		hdr = append(hdr, rtpparams.HeaderExtensionParameters{URI: e.uri, ID: e.id})
		hasRIDExt = hasRIDExt || e.uri == rtpparams.URIRtpStreamID
	}
	encs, err := encodings(m, nc.rtx != nil, hasRIDExt)
	if err != nil {
		return sec, producerPlan{}, "", err
	}
	codecs := []rtpparams.CodecParameters{nc.offer.rtpParameters(m.kind, nc.feedback)}
	if nc.rtx != nil {
		codecs = append(codecs, rtpparams.CodecParameters{
			Name: "rtx", MimeType: m.kind + "/rtx", ClockRate: nc.rtx.clockRate, PayloadType: nc.rtx.pt,
			Parameters: map[string]any{"apt": nc.offer.pt},
		})
	}
	cname := m.cname
	if cname == "" {
		cname = "whip-" + m.mid
	}
	params := rtpparams.Parameters{
		MuxID: m.mid, Codecs: codecs, HeaderExtensions: hdr, Encodings: encs,
		RTCP: &rtpparams.RTCPParameters{CNAME: cname, ReducedSize: m.rtcpRsize, Mux: true},
	}
	if _, err := rtpparams.MapProducer(m.kind, params, caps); err != nil {
		return sec, producerPlan{}, "", httpErrorf(http.StatusBadRequest, "media section %d (%s): %v", m.index, m.kind, err)
	}
	sec.codecs = []negotiatedCodec{nc}
	sec.exts = exts
	if len(m.rids) > 0 {
		sec.rids = m.rids
	}
	return sec, producerPlan{kind: m.kind, params: params}, "", nil
}

// noCapabilities are the receive capabilities of a WHIP peer: it receives
// nothing, so no consumer is made for it.
func noCapabilities() rtpparams.Capabilities {
	return rtpparams.Capabilities{
		Codecs: []rtpparams.CodecCapability{}, HeaderExtensions: []rtpparams.HeaderExtensionCapability{}, FecMechanisms: []string{},
	}
}

// publish creates a WHIP session for offer o and returns it with the SDP
// answer. On any failure nothing is left: the peer leaves and the room
// hold is released.
func (h *Handler) publish(roomID string, id identity, o *offer) (*session, []byte, error) {
	if id.spy {
		return nil, nil, httpErrorf(http.StatusForbidden, "token is for a spy peer: it cannot publish")
	}
	room, release, err := h.rooms.AcquireRoom(roomID)
	if err != nil {
		return nil, nil, httpErrorf(http.StatusServiceUnavailable, "%v", err)
	}
	plan, err := planPublish(o, room.Capabilities())
	if err != nil {
		release()
		return nil, nil, err
	}
	h.replace("whip", roomID, id.name)
	s := newSession(h, "whip", roomID, room, release, id.name)
	fail := func(err error) (*session, []byte, error) {
		s.end(true, "setup failed")
		return nil, nil, err
	}
	if _, err := s.join(noCapabilities(), false); err != nil {
		return fail(err)
	}
	if err := s.createTransport("send", o); err != nil {
		return fail(fmt.Errorf("create transport: %w", err))
	}
	for _, p := range plan.producers {
		source := map[string]string{"audio": "mic", "video": "webcam"}[p.kind]
		_, err := s.request("createProducer", map[string]any{
			"id": rtpparams.RandomID(), "kind": p.kind, "transportId": s.transportID, "paused": false,
			"appData": map[string]any{"source": source}, "rtpParameters": p.params,
		})
		if err != nil {
			return fail(httpErrorf(http.StatusBadRequest, "%v", err))
		}
		s.log.Info("WHIP producer created", "kind", p.kind, "codec", p.params.Codecs[0].Name, "layers", describeLayers(p.params.Encodings))
	}
	local, _ := s.transport()
	answer, err := writeAnswer(plan.secs, local, false)
	if err != nil {
		return fail(err)
	}
	s.first = plan.first
	return s, answer, nil
}
