package whip

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/gosoup/gosoup/rtpparams"
)

// offer is what gosoup reads of a WHIP or WHEP client's SDP offer: the
// transport (ICE credentials, DTLS fingerprints and role, BUNDLE) and each
// media section.
type offer struct {
	media        []*mediaOffer
	bundle       []string // mids of the BUNDLE group, in order
	ufrag, pwd   string
	fingerprints []fingerprint
	setup        string // actpass, active or passive
}

// fingerprint is one a=fingerprint line.
type fingerprint struct{ algorithm, value string }

// mediaOffer is one m-section of the offer.
type mediaOffer struct {
	index     int
	kind      string // "audio", "video", or another media the answer rejects
	port      int
	proto     string
	formats   []string
	mid       string
	direction string // sendonly, recvonly, sendrecv or inactive
	codecs    []offerCodec
	exts      []offerExt
	ssrcs     []uint32          // in order of first appearance
	fid       map[uint32]uint32 // media SSRC → RTX SSRC (a=ssrc-group:FID)
	sim       []uint32          // a=ssrc-group:SIM, lowest layer first
	cname     string
	rids      []string // send RIDs in a=simulcast order (or a=rid order)
	rtcpMux   bool
	rtcpRsize bool
}

// offerCodec is one payload type of an m-section.
type offerCodec struct {
	pt        int
	name      string
	clockRate int
	channels  int
	fmtp      string
	params    map[string]any
	feedback  []rtpparams.RTCPFeedback
}

// offerExt is one a=extmap line.
type offerExt struct {
	id  int
	uri string
}

func (c offerCodec) isRTX() bool { return strings.EqualFold(c.name, "rtx") }

// apt is the media payload type an RTX codec repairs, -1 when none.
func (c offerCodec) apt() int {
	if n, ok := c.params["apt"].(int); ok {
		return n
	}
	return -1
}

// rtpParameters is the codec in mediasoup's terms, for kind.
func (c offerCodec) rtpParameters(kind string, feedback []rtpparams.RTCPFeedback) rtpparams.CodecParameters {
	if feedback == nil {
		feedback = []rtpparams.RTCPFeedback{}
	}
	return rtpparams.CodecParameters{
		Name: c.name, MimeType: kind + "/" + c.name, ClockRate: c.clockRate, PayloadType: c.pt,
		Channels: c.channels, RTCPFeedback: feedback, Parameters: c.params,
	}
}

// maxOfferSize bounds an SDP offer or trickle fragment.
const maxOfferSize = 64 << 10

// parseOffer reads an SDP offer. Every refusal is a 400 naming the
// problem.
func parseOffer(b []byte) (*offer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(b); err != nil {
		return nil, httpErrorf(http.StatusBadRequest, "malformed SDP offer: %v", err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return nil, httpErrorf(http.StatusBadRequest, "malformed SDP offer: no media section")
	}
	o := &offer{}
	sessUfrag, _ := sd.Attribute("ice-ufrag")
	sessPwd, _ := sd.Attribute("ice-pwd")
	sessSetup, _ := sd.Attribute("setup")
	sessFP := fingerprints(sd.Attributes)
	if g, ok := sd.Attribute("group"); ok {
		if f := strings.Fields(g); len(f) > 0 && f[0] == "BUNDLE" {
			o.bundle = f[1:]
		}
	}
	for i, md := range sd.MediaDescriptions {
		m, err := parseMedia(i, md)
		if err != nil {
			return nil, err
		}
		o.media = append(o.media, m)
		if o.ufrag == "" {
			o.ufrag, _ = md.Attribute("ice-ufrag")
			o.pwd, _ = md.Attribute("ice-pwd")
		}
		if len(o.fingerprints) == 0 {
			o.fingerprints = fingerprints(md.Attributes)
		}
		if o.setup == "" {
			o.setup, _ = md.Attribute("setup")
		}
	}
	if o.ufrag == "" {
		o.ufrag, o.pwd = sessUfrag, sessPwd
	}
	if len(o.fingerprints) == 0 {
		o.fingerprints = sessFP
	}
	if o.setup == "" {
		o.setup = sessSetup
	}
	switch {
	case o.ufrag == "" || o.pwd == "":
		return nil, httpErrorf(http.StatusBadRequest, "SDP offer without a=ice-ufrag and a=ice-pwd")
	case len(o.fingerprints) == 0:
		return nil, httpErrorf(http.StatusBadRequest, "SDP offer without a=fingerprint (DTLS-SRTP is required)")
	}
	switch o.setup {
	case "":
		o.setup = "actpass"
	case "actpass", "active", "passive":
	default:
		return nil, httpErrorf(http.StatusBadRequest, "SDP offer with a=setup:%s (want actpass, active or passive)", o.setup)
	}
	return o, nil
}

// fingerprints returns the a=fingerprint lines of attrs.
func fingerprints(attrs []sdp.Attribute) []fingerprint {
	var out []fingerprint
	for _, a := range attrs {
		if a.Key != "fingerprint" {
			continue
		}
		if alg, val, ok := strings.Cut(strings.TrimSpace(a.Value), " "); ok {
			out = append(out, fingerprint{algorithm: strings.ToLower(alg), value: strings.TrimSpace(val)})
		}
	}
	return out
}

// parseMedia reads one m-section.
func parseMedia(i int, md *sdp.MediaDescription) (*mediaOffer, error) {
	m := &mediaOffer{
		index: i, kind: md.MediaName.Media, port: md.MediaName.Port.Value,
		proto: strings.Join(md.MediaName.Protos, "/"), formats: md.MediaName.Formats,
		direction: "sendrecv", fid: map[uint32]uint32{},
	}
	m.mid, _ = md.Attribute("mid")
	byPT := map[int]*offerCodec{}
	var wildcard []rtpparams.RTCPFeedback
	for _, f := range md.MediaName.Formats {
		if pt, err := strconv.Atoi(f); err == nil && pt >= 0 && pt <= 127 {
			m.codecs = append(m.codecs, offerCodec{pt: pt, params: map[string]any{}})
		}
	}
	for k := range m.codecs {
		byPT[m.codecs[k].pt] = &m.codecs[k]
	}
	for _, a := range md.Attributes {
		var err error
		switch a.Key {
		case "sendonly", "recvonly", "sendrecv", "inactive":
			m.direction = a.Key
		case "rtcp-mux":
			m.rtcpMux = true
		case "rtcp-rsize":
			m.rtcpRsize = true
		case "rtpmap":
			err = parseRtpmap(a.Value, byPT)
		case "fmtp":
			if pt, rest, ok := cutPT(a.Value); ok && byPT[pt] != nil {
				byPT[pt].fmtp = rest
				byPT[pt].params = parseFmtp(rest)
			}
		case "rtcp-fb":
			ptStr, rest, _ := strings.Cut(strings.TrimSpace(a.Value), " ")
			typ, param, _ := strings.Cut(strings.TrimSpace(rest), " ")
			fb := rtpparams.RTCPFeedback{Type: typ, Parameter: strings.TrimSpace(param)}
			if ptStr == "*" {
				wildcard = append(wildcard, fb)
			} else if pt, err := strconv.Atoi(ptStr); err == nil && byPT[pt] != nil {
				byPT[pt].feedback = append(byPT[pt].feedback, fb)
			}
		case "extmap":
			var e sdp.ExtMap
			if e.Unmarshal("extmap:"+a.Value) == nil && e.URI != nil {
				m.exts = append(m.exts, offerExt{id: e.Value, uri: e.URI.String()})
			}
		case "ssrc":
			err = m.parseSSRC(a.Value)
		case "ssrc-group":
			err = m.parseSSRCGroup(a.Value)
		case "simulcast": // the order of the layers; else that of the a=rid lines

			m.rids, err = parseSimulcast(a.Value)
		}
		if err != nil {
			return nil, httpErrorf(http.StatusBadRequest, "malformed SDP offer: media section %d (%s): %v", i, m.kind, err)
		}
	}
	if len(m.rids) == 0 {
		m.rids = sendRIDs(md.Attributes)
	}
	for k := range m.codecs {
		m.codecs[k].feedback = append(m.codecs[k].feedback, wildcard...)
	}
	return m, nil
}

// cutPT splits "96 rest" into 96 and "rest".
func cutPT(v string) (int, string, bool) {
	ptStr, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	pt, err := strconv.Atoi(ptStr)
	return pt, strings.TrimSpace(rest), ok && err == nil
}

// parseRtpmap reads "96 VP8/90000" or "111 opus/48000/2".
func parseRtpmap(v string, byPT map[int]*offerCodec) error {
	pt, enc, ok := cutPT(v)
	if !ok {
		return fmt.Errorf("bad a=rtpmap:%s", v)
	}
	c := byPT[pt]
	if c == nil {
		return nil // not in the m-line: ignored
	}
	parts := strings.Split(enc, "/")
	if len(parts) < 2 {
		return fmt.Errorf("bad a=rtpmap:%s", v)
	}
	rate, err := strconv.Atoi(parts[1])
	if err != nil || rate <= 0 {
		return fmt.Errorf("bad clock rate in a=rtpmap:%s", v)
	}
	c.name, c.clockRate = parts[0], rate
	if len(parts) > 2 {
		if c.channels, err = strconv.Atoi(parts[2]); err != nil {
			return fmt.Errorf("bad channels in a=rtpmap:%s", v)
		}
	}
	return nil
}

// parseFmtp reads "key=value;key=value". Values made of digits become
// ints (as mediasoup-client reads them), except the H264 profile-level-id,
// which is hexadecimal.
func parseFmtp(s string) map[string]any {
	out := map[string]any{}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || k == "" {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && k != "profile-level-id" {
			out[k] = n
		} else {
			out[k] = v
		}
	}
	return out
}

// parseSSRC reads "1234 cname:abc" (other attributes are ignored).
func (m *mediaOffer) parseSSRC(v string) error {
	idStr, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	id, err := strconv.ParseUint(idStr, 10, 32)
	if err != nil || id == 0 {
		return fmt.Errorf("bad a=ssrc:%s", v)
	}
	known := false
	for _, s := range m.ssrcs {
		known = known || s == uint32(id)
	}
	if !known {
		m.ssrcs = append(m.ssrcs, uint32(id))
	}
	if c, ok := strings.CutPrefix(strings.TrimSpace(rest), "cname:"); ok && m.cname == "" {
		m.cname = c
	}
	return nil
}

// parseSSRCGroup reads "FID media rtx" and "SIM low medium high".
func (m *mediaOffer) parseSSRCGroup(v string) error {
	f := strings.Fields(v)
	if len(f) < 2 {
		return fmt.Errorf("bad a=ssrc-group:%s", v)
	}
	ids := make([]uint32, 0, len(f)-1)
	for _, s := range f[1:] {
		id, err := strconv.ParseUint(s, 10, 32)
		if err != nil || id == 0 {
			return fmt.Errorf("bad a=ssrc-group:%s", v)
		}
		ids = append(ids, uint32(id))
	}
	switch f[0] {
	case "FID":
		if len(ids) != 2 {
			return fmt.Errorf("bad a=ssrc-group:%s (FID takes two SSRCs)", v)
		}
		m.fid[ids[0]] = ids[1]
	case "SIM":
		m.sim = ids
	}
	return nil
}

// parseSimulcast reads "send h;m;l" (alternatives after a comma are
// ignored, a leading ~ marks a paused stream, which is still a layer).
func parseSimulcast(v string) ([]string, error) {
	f := strings.Fields(v)
	var out []string
	for i := 0; i+1 < len(f); i += 2 {
		if f[i] != "send" {
			continue
		}
		for _, alt := range strings.Split(f[i+1], ";") {
			first, _, _ := strings.Cut(alt, ",")
			first = strings.TrimPrefix(first, "~")
			if first == "" {
				return nil, fmt.Errorf("bad a=simulcast:%s", v)
			}
			out = append(out, first)
		}
	}
	return out, nil
}

// sendRIDs lists the a=rid:<id> send lines in order.
func sendRIDs(attrs []sdp.Attribute) []string {
	var out []string
	for _, a := range attrs {
		if a.Key == "rid" {
			if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "send" {
				out = append(out, f[0])
			}
		}
	}
	return out
}

// mediaSSRC returns the SSRC of the section's media stream (not an RTX
// one), 0 when the offer names none.
func (m *mediaOffer) mediaSSRC() uint32 {
	rtx := map[uint32]bool{}
	for _, r := range m.fid {
		rtx[r] = true
	}
	for _, s := range m.ssrcs {
		if !rtx[s] {
			return s
		}
	}
	return 0
}

// bundled reports whether the section is in the offer's BUNDLE group.
func (o *offer) bundled(m *mediaOffer) bool {
	for _, mid := range o.bundle {
		if mid == m.mid {
			return true
		}
	}
	return false
}
