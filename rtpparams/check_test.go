package rtpparams

import (
	"errors"
	"strings"
	"testing"
)

// chromeVideo returns the video producer parameters of the reference
// trace (Chromium, mediasoup-client 2.4.12), with an RTX stream.
func chromeVideo() Parameters {
	return Parameters{
		MuxID: "1",
		Codecs: []CodecParameters{
			{Name: "VP8", MimeType: "video/VP8", ClockRate: 90000, PayloadType: 96, Parameters: map[string]any{},
				RTCPFeedback: []RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"}, {Type: "nack"}, {Type: "nack", Parameter: "pli"}}},
			{Name: "rtx", MimeType: "video/rtx", ClockRate: 90000, PayloadType: 97, Parameters: map[string]any{"apt": 96.0}},
		},
		HeaderExtensions: []HeaderExtensionParameters{{URI: URIToffset, ID: 14}, {URI: URIAbsSendTime, ID: 2}, {URI: URIRtpStreamID, ID: 10}},
		Encodings:        []EncodingParameters{{SSRC: 4200897817, RTX: &RTXParameters{SSRC: 360693027}}},
		RTCP:             &RTCPParameters{CNAME: "hwcqklQPq7/SCqat", ReducedSize: true, Mux: true},
	}
}

// wantField fails unless err is a *FieldError naming field whose message
// starts with the field.
func wantField(t *testing.T, name string, err error, field string) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("%s: err = %v, want a FieldError on %s", name, err, field)
		return
	}
	if fe.Field != field || !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("%s: err = %q (field %s), want field %s", name, err, fe.Field, field)
	}
}

func TestCheckParametersRefuses(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		name  string
		edit  func(p *Parameters)
		field string
	}{
		{"muxId with space", func(p *Parameters) { p.MuxID = "a b" }, "rtpParameters.muxId"},
		{"muxId too long", func(p *Parameters) { p.MuxID = long }, "rtpParameters.muxId"},
		{"65 codecs", func(p *Parameters) { p.Codecs = make([]CodecParameters, 65) }, "rtpParameters.codecs"},
		{"empty name", func(p *Parameters) { p.Codecs[0].Name = "" }, "rtpParameters.codecs[0].name"},
		{"name with slash", func(p *Parameters) { p.Codecs[0].Name = "VP8/x" }, "rtpParameters.codecs[0].name"},
		{"name too long", func(p *Parameters) { p.Codecs[0].Name = long }, "rtpParameters.codecs[0].name"},
		{"mimeType without slash", func(p *Parameters) { p.Codecs[0].MimeType = "VP8" }, "rtpParameters.codecs[0].mimeType"},
		{"mimeType other name", func(p *Parameters) { p.Codecs[0].MimeType = "video/VP9" }, "rtpParameters.codecs[0].mimeType"},
		{"mimeType text type", func(p *Parameters) { p.Codecs[0].MimeType = "text/VP8" }, "rtpParameters.codecs[0].mimeType"},
		{"mimeType too long", func(p *Parameters) { p.Codecs[0].MimeType = "video/" + long }, "rtpParameters.codecs[0].mimeType"},
		{"payloadType 128", func(p *Parameters) { p.Codecs[0].PayloadType = 128 }, "rtpParameters.codecs[0].payloadType"},
		{"payloadType -1", func(p *Parameters) { p.Codecs[1].PayloadType = -1 }, "rtpParameters.codecs[1].payloadType"},
		{"duplicated payloadType", func(p *Parameters) { p.Codecs[1].PayloadType = 96 }, "rtpParameters.codecs[1].payloadType"},
		{"clockRate 0", func(p *Parameters) { p.Codecs[0].ClockRate = 0 }, "rtpParameters.codecs[0].clockRate"},
		{"clockRate negative", func(p *Parameters) { p.Codecs[0].ClockRate = -8000 }, "rtpParameters.codecs[0].clockRate"},
		{"clockRate over uint32", func(p *Parameters) { p.Codecs[0].ClockRate = 1 << 33 }, "rtpParameters.codecs[0].clockRate"},
		{"video channels", func(p *Parameters) { p.Codecs[0].Channels = 2 }, "rtpParameters.codecs[0].channels"},
		{"rtcpFeedback type empty", func(p *Parameters) { p.Codecs[0].RTCPFeedback[1].Type = "" }, "rtpParameters.codecs[0].rtcpFeedback[1].type"},
		{"rtcpFeedback type spaces", func(p *Parameters) { p.Codecs[0].RTCPFeedback[0].Type = "goog remb" }, "rtpParameters.codecs[0].rtcpFeedback[0].type"},
		{"rtcpFeedback parameter too long", func(p *Parameters) { p.Codecs[0].RTCPFeedback[3].Parameter = long }, "rtpParameters.codecs[0].rtcpFeedback[3].parameter"},
		{"65 rtcpFeedback", func(p *Parameters) { p.Codecs[0].RTCPFeedback = make([]RTCPFeedback, 65) }, "rtpParameters.codecs[0].rtcpFeedback"},
		{"parameter object", func(p *Parameters) { p.Codecs[0].Parameters["x"] = map[string]any{} }, "rtpParameters.codecs[0].parameters.x"},
		{"parameter null", func(p *Parameters) { p.Codecs[0].Parameters["x"] = nil }, "rtpParameters.codecs[0].parameters.x"},
		{"parameter bool", func(p *Parameters) { p.Codecs[0].Parameters["x"] = true }, "rtpParameters.codecs[0].parameters.x"},
		{"parameter value too long", func(p *Parameters) { p.Codecs[0].Parameters["x"] = strings.Repeat("a", 1025) }, "rtpParameters.codecs[0].parameters.x"},
		{"parameter name empty", func(p *Parameters) { p.Codecs[0].Parameters[""] = 1.0 }, "rtpParameters.codecs[0].parameters"},
		{"rtx without apt", func(p *Parameters) { delete(p.Codecs[1].Parameters, "apt") }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx apt string", func(p *Parameters) { p.Codecs[1].Parameters["apt"] = "96" }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx apt fraction", func(p *Parameters) { p.Codecs[1].Parameters["apt"] = 96.5 }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx apt 200", func(p *Parameters) { p.Codecs[1].Parameters["apt"] = 200.0 }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx apt names no codec", func(p *Parameters) { p.Codecs[1].Parameters["apt"] = 98.0 }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx apt names itself", func(p *Parameters) { p.Codecs[1].Parameters["apt"] = 97.0 }, "rtpParameters.codecs[1].parameters.apt"},
		{"rtx clock rate differs", func(p *Parameters) { p.Codecs[1].ClockRate = 48000 }, "rtpParameters.codecs[1].clockRate"},
		{"65 header extensions", func(p *Parameters) { p.HeaderExtensions = make([]HeaderExtensionParameters, 65) }, "rtpParameters.headerExtensions"},
		{"header extension uri empty", func(p *Parameters) { p.HeaderExtensions[1].URI = "" }, "rtpParameters.headerExtensions[1].uri"},
		{"header extension uri space", func(p *Parameters) { p.HeaderExtensions[1].URI = "urn:a b" }, "rtpParameters.headerExtensions[1].uri"},
		{"header extension uri too long", func(p *Parameters) { p.HeaderExtensions[1].URI = "urn:" + long }, "rtpParameters.headerExtensions[1].uri"},
		{"header extension id 0", func(p *Parameters) { p.HeaderExtensions[0].ID = 0 }, "rtpParameters.headerExtensions[0].id"},
		{"header extension id 256", func(p *Parameters) { p.HeaderExtensions[0].ID = 256 }, "rtpParameters.headerExtensions[0].id"},
		{"duplicated header extension id", func(p *Parameters) { p.HeaderExtensions[2].ID = 14 }, "rtpParameters.headerExtensions[2].id"},
		{"17 encodings", func(p *Parameters) { p.Encodings = make([]EncodingParameters, 17) }, "rtpParameters.encodings"},
		{"rtx.ssrc equal to ssrc", func(p *Parameters) { p.Encodings[0].RTX.SSRC = p.Encodings[0].SSRC }, "rtpParameters.encodings[0].rtx.ssrc"},
		{"rtx.ssrc missing", func(p *Parameters) { p.Encodings[0].RTX.SSRC = 0 }, "rtpParameters.encodings[0].rtx.ssrc"},
		{"duplicated ssrc", func(p *Parameters) {
			p.Encodings = append(p.Encodings, EncodingParameters{SSRC: p.Encodings[0].SSRC})
		}, "rtpParameters.encodings[1].ssrc"},
		{"ssrc equal to other rtx.ssrc", func(p *Parameters) {
			p.Encodings = append(p.Encodings, EncodingParameters{SSRC: p.Encodings[0].RTX.SSRC})
		}, "rtpParameters.encodings[1].ssrc"},
		{"profile not in the set", func(p *Parameters) { p.Encodings[0].Profile = "ultra" }, "rtpParameters.encodings[0].profile"},
		{"cname too long", func(p *Parameters) { p.RTCP.CNAME = long }, "rtpParameters.rtcp.cname"},
		{"cname control character", func(p *Parameters) { p.RTCP.CNAME = "a\nb" }, "rtpParameters.rtcp.cname"},
	}
	if err := CheckParameters(chromeVideo()); err != nil {
		t.Fatalf("reference parameters refused: %v", err)
	}
	for _, c := range cases {
		p := chromeVideo()
		c.edit(&p)
		wantField(t, c.name, CheckParameters(p), c.field)
		// MapProducer runs the same checks.
		room, _ := NewRoomCapabilities(DefaultMediaCodecs(), FullHeaderExtensions())
		if _, err := MapProducer(KindVideo, p, room); err == nil {
			t.Errorf("%s: MapProducer accepted", c.name)
		}
	}
}

func TestCheckParametersAccepts(t *testing.T) {
	cases := []struct {
		name string
		edit func(p *Parameters)
	}{
		{"no muxId (Plan-B)", func(p *Parameters) { p.MuxID = "" }},
		{"Firefox MID", func(p *Parameters) { p.MuxID = "sdparta_0" }},
		{"Firefox cname", func(p *Parameters) { p.RTCP.CNAME = "{5f29c1e4-8e45-4d4b-9d0c-2f4b8c1d7a11}" }},
		{"no rtcp", func(p *Parameters) { p.RTCP = nil }},
		{"empty lists (updateProducer)", func(p *Parameters) { *p = Parameters{} }},
		{"two-byte header extension id", func(p *Parameters) { p.HeaderExtensions[0].ID = 15 }},
		{"RID simulcast (Firefox)", func(p *Parameters) {
			p.Encodings = []EncodingParameters{{EncodingID: "high", Profile: "high"}, {EncodingID: "medium", Profile: "medium"}, {EncodingID: "low", Profile: "low"}}
		}},
		{"Plan-B simulcast (Chrome)", func(p *Parameters) {
			p.Encodings = []EncodingParameters{{SSRC: 10, RTX: &RTXParameters{SSRC: 20}, Profile: "low"},
				{SSRC: 11, RTX: &RTXParameters{SSRC: 21}, Profile: "medium"}, {SSRC: 12, RTX: &RTXParameters{SSRC: 22}, Profile: "high"}}
		}},
		{"H264 parameters", func(p *Parameters) {
			p.Codecs[0] = CodecParameters{Name: "H264", MimeType: "video/H264", ClockRate: 90000, PayloadType: 102,
				Parameters: map[string]any{"packetization-mode": 1.0, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1}}
			p.Codecs[1].Parameters["apt"] = 102
		}},
		{"opus stereo", func(p *Parameters) {
			*p = Parameters{Codecs: []CodecParameters{{Name: "opus", MimeType: "audio/opus", ClockRate: 48000, Channels: 2, PayloadType: 111,
				Parameters: map[string]any{"useinbandfec": 1.0}}}, Encodings: []EncodingParameters{{SSRC: 1}}}
		}},
	}
	for _, c := range cases {
		p := chromeVideo()
		c.edit(&p)
		if err := CheckParameters(p); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestCheckCapabilitiesRefuses(t *testing.T) {
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), FullHeaderExtensions())
	peer := func() Capabilities {
		c := Capabilities{FecMechanisms: []string{}}
		for _, rc := range room.Codecs {
			rc.Parameters = copyParams(rc.Parameters)
			c.Codecs = append(c.Codecs, rc)
		}
		for _, e := range room.HeaderExtensions {
			c.HeaderExtensions = append(c.HeaderExtensions, HeaderExtensionCapability{Kind: e.Kind, URI: e.URI, PreferredID: e.PreferredID})
		}
		return c
	}
	cases := []struct {
		name  string
		edit  func(c *Capabilities)
		field string
	}{
		{"65 codecs", func(c *Capabilities) { c.Codecs = make([]CodecCapability, 65) }, "rtpCapabilities.codecs"},
		{"codec without kind", func(c *Capabilities) { c.Codecs[0].Kind = "" }, "rtpCapabilities.codecs[0].kind"},
		{"codec kind depth", func(c *Capabilities) { c.Codecs[1].Kind = "depth" }, "rtpCapabilities.codecs[1].kind"},
		{"mimeType other kind", func(c *Capabilities) { c.Codecs[0].MimeType = "video/opus" }, "rtpCapabilities.codecs[0].mimeType"},
		{"preferredPayloadType 128", func(c *Capabilities) { c.Codecs[0].PreferredPayloadType = 128 }, "rtpCapabilities.codecs[0].preferredPayloadType"},
		{"duplicated preferredPayloadType", func(c *Capabilities) { c.Codecs[2].PreferredPayloadType = 100 }, "rtpCapabilities.codecs[2].preferredPayloadType"},
		{"clockRate 0", func(c *Capabilities) { c.Codecs[1].ClockRate = 0 }, "rtpCapabilities.codecs[1].clockRate"},
		{"9 channels", func(c *Capabilities) { c.Codecs[0].Channels = 9 }, "rtpCapabilities.codecs[0].channels"},
		{"negative channels", func(c *Capabilities) { c.Codecs[0].Channels = -1 }, "rtpCapabilities.codecs[0].channels"},
		{"rtx without apt", func(c *Capabilities) { c.Codecs[2].Parameters = nil }, "rtpCapabilities.codecs[2].parameters.apt"},
		{"rtx clock rate differs", func(c *Capabilities) { c.Codecs[2].ClockRate = 8000 }, "rtpCapabilities.codecs[2].clockRate"},
		{"header extension without kind", func(c *Capabilities) { c.HeaderExtensions[0].Kind = "" }, "rtpCapabilities.headerExtensions[0].kind"},
		{"header extension uri empty", func(c *Capabilities) { c.HeaderExtensions[1].URI = "" }, "rtpCapabilities.headerExtensions[1].uri"},
		{"header extension id 0", func(c *Capabilities) { c.HeaderExtensions[1].PreferredID = 0 }, "rtpCapabilities.headerExtensions[1].preferredId"},
		{"fec mechanism empty", func(c *Capabilities) { c.FecMechanisms = []string{""} }, "rtpCapabilities.fecMechanisms[0]"},
		{"65 fec mechanisms", func(c *Capabilities) { c.FecMechanisms = make([]string, 65) }, "rtpCapabilities.fecMechanisms"},
	}
	if err := CheckCapabilities(peer()); err != nil {
		t.Fatalf("room-shaped capabilities refused: %v", err)
	}
	if err := CheckCapabilities(Capabilities{}); err != nil {
		t.Fatalf("empty capabilities refused: %v", err)
	}
	for _, c := range cases {
		caps := peer()
		c.edit(&caps)
		wantField(t, c.name, CheckCapabilities(caps), c.field)
	}
}

func TestCheckText(t *testing.T) {
	for in, want := range map[string]string{
		"alice": "", "ünïcödé": "", "": "",
		"a\x00b": "control character U+0000", "tab\t": "control character U+0009", "del\x7f": "control character U+007F",
		strings.Repeat("a", 257): "too long (257 bytes, limit 256)",
	} {
		if got := CheckText(in, 256); got != want {
			t.Errorf("CheckText(%q) = %q, want %q", in, got, want)
		}
	}
}
