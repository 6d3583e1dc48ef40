package whip

import (
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/gosoup/gosoup/protocol"
)

// answerSection is what the answer says of one m-section of the offer.
type answerSection struct {
	m         *mediaOffer
	rejected  bool
	direction string // recvonly (WHIP) or sendonly (WHEP)
	codecs    []negotiatedCodec
	exts      []offerExt
	rids      []string // WHIP layers: a=rid:<id> recv and a=simulcast:recv
	msid      string   // WHEP: "<stream id> <track id>"
	// WHEP: the stream's SSRC and its RTX's (a=ssrc-group:FID), named in
	// the answer; 0 when the answer names none (rtxSSRC 0: no RTX).
	ssrc, rtxSSRC uint32
}

// localTransport is gosoup's side of the ICE and DTLS transport, from the
// createTransport (or restartTransport) response.
type localTransport struct {
	ice   protocol.IceParameters
	cands []protocol.IceCandidate
	dtls  protocol.DtlsParameters
}

// setup is the answer's a=setup: gosoup's DTLS role.
func (t localTransport) setup() string {
	if t.dtls.Role == "client" {
		return "active"
	}
	return "passive"
}

// fingerprint is the sha-256 fingerprint of gosoup's certificate (the last
// one when sha-256 is missing).
func (t localTransport) fingerprint() protocol.DtlsFingerprint {
	fps := t.dtls.Fingerprints
	for _, f := range fps {
		if f.Algorithm == "sha-256" {
			return f
		}
	}
	if len(fps) == 0 {
		return protocol.DtlsFingerprint{}
	}
	return fps[len(fps)-1]
}

// candidateValue is a candidate as an a=candidate value.
func candidateValue(c protocol.IceCandidate) string {
	v := fmt.Sprintf("%s 1 %s %d %s %d typ host", c.Foundation, c.Protocol, c.Priority, c.IP, c.Port)
	if c.Protocol == "tcp" {
		v += " tcptype " + c.TCPType
	}
	return v
}

// connection is the c= line and m= port of the answer: the first UDP
// candidate's (what ICE-lite servers usually put there).
func (t localTransport) connection() (*sdp.ConnectionInformation, int) {
	ip, port := "0.0.0.0", 9
	for _, c := range t.cands {
		if c.Protocol == "udp" {
			ip, port = c.IP, c.Port
			break
		}
	}
	addrType := "IP4"
	if p := net.ParseIP(ip); p != nil && p.To4() == nil {
		addrType = "IP6"
	}
	return &sdp.ConnectionInformation{NetworkType: "IN", AddressType: addrType, Address: &sdp.Address{Address: ip}}, port
}

// writeAnswer builds the SDP answer: ICE-lite, BUNDLE of the accepted
// sections, gosoup's credentials, candidates and fingerprint in each.
func writeAnswer(secs []answerSection, t localTransport, streams bool) ([]byte, error) {
	sd := &sdp.SessionDescription{
		Origin: sdp.Origin{
			Username: "gosoup", SessionID: rand.Uint64() >> 1, SessionVersion: 2,
			NetworkType: "IN", AddressType: "IP4", UnicastAddress: "0.0.0.0",
		},
		SessionName:      "-",
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	var mids []string
	for _, s := range secs {
		if !s.rejected {
			mids = append(mids, s.m.mid)
		}
	}
	sd.Attributes = append(sd.Attributes, sdp.NewAttribute("group", "BUNDLE "+strings.Join(mids, " ")))
	sd.Attributes = append(sd.Attributes, sdp.NewPropertyAttribute("ice-lite"))
	if streams {
		sd.Attributes = append(sd.Attributes, sdp.NewAttribute("msid-semantic", " WMS *"))
	}
	conn, port := t.connection()
	fp := t.fingerprint()
	for _, s := range secs {
		md := &sdp.MediaDescription{
			MediaName: sdp.MediaName{Media: s.m.kind, Port: sdp.RangedPort{Value: port}, Protos: strings.Split(s.m.proto, "/")},
		}
		if s.rejected {
			md.MediaName.Port.Value = 0
			md.MediaName.Formats = s.m.formats
			if len(md.MediaName.Formats) == 0 {
				md.MediaName.Formats = []string{"0"}
			}
			md.ConnectionInformation = &sdp.ConnectionInformation{NetworkType: "IN", AddressType: "IP4", Address: &sdp.Address{Address: "0.0.0.0"}}
			if s.m.mid != "" {
				md.Attributes = append(md.Attributes, sdp.NewAttribute("mid", s.m.mid))
			}
			md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute("inactive"))
			sd.MediaDescriptions = append(sd.MediaDescriptions, md)
			continue
		}
		md.ConnectionInformation = conn
		a := func(k, v string) { md.Attributes = append(md.Attributes, sdp.NewAttribute(k, v)) }
		flag := func(k string) { md.Attributes = append(md.Attributes, sdp.NewPropertyAttribute(k)) }
		a("mid", s.m.mid)
		flag(s.direction)
		a("ice-ufrag", t.ice.UsernameFragment)
		a("ice-pwd", t.ice.Password)
		a("fingerprint", fp.Algorithm+" "+fp.Value)
		a("setup", t.setup())
		flag("rtcp-mux")
		if s.m.rtcpRsize {
			flag("rtcp-rsize")
		}
		for _, c := range s.codecs {
			md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(c.offer.pt))
			a("rtpmap", rtpmap(c.offer))
			if c.offer.fmtp != "" {
				a("fmtp", fmt.Sprintf("%d %s", c.offer.pt, c.offer.fmtp))
			}
			for _, f := range c.feedback {
				a("rtcp-fb", strings.TrimSpace(fmt.Sprintf("%d %s %s", c.offer.pt, f.Type, f.Parameter)))
			}
			if c.rtx != nil {
				md.MediaName.Formats = append(md.MediaName.Formats, strconv.Itoa(c.rtx.pt))
				a("rtpmap", rtpmap(*c.rtx))
				a("fmtp", fmt.Sprintf("%d apt=%d", c.rtx.pt, c.offer.pt))
			}
		}
		for _, e := range s.exts {
			a("extmap", fmt.Sprintf("%d %s", e.id, e.uri))
		}
		if s.msid != "" {
			a("msid", s.msid)
		}
		if s.ssrc != 0 {
			ssrcs := []uint32{s.ssrc}
			if s.rtxSSRC != 0 {
				a("ssrc-group", fmt.Sprintf("FID %d %d", s.ssrc, s.rtxSSRC))
				ssrcs = append(ssrcs, s.rtxSSRC)
			}
			for _, ssrc := range ssrcs {
				a("ssrc", fmt.Sprintf("%d cname:gosoup", ssrc))
				if s.msid != "" {
					a("ssrc", fmt.Sprintf("%d msid:%s", ssrc, s.msid))
				}
			}
		}
		for _, r := range s.rids {
			a("rid", r+" recv")
		}
		if len(s.rids) > 0 {
			a("simulcast", "recv "+strings.Join(s.rids, ";"))
		}
		for _, c := range t.cands {
			a("candidate", candidateValue(c))
		}
		flag("end-of-candidates")
		sd.MediaDescriptions = append(sd.MediaDescriptions, md)
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil, fmt.Errorf("write SDP answer: %w", err)
	}
	return b, nil
}

// rtpmap is a codec's a=rtpmap value.
func rtpmap(c offerCodec) string {
	v := fmt.Sprintf("%d %s/%d", c.pt, c.name, c.clockRate)
	if c.channels > 0 {
		v += "/" + strconv.Itoa(c.channels)
	}
	return v
}
