package rtpparams

import (
	"encoding/json"
	"testing"
)

// TestIntegerParametersFitInt32: integral codec and header-extension
// parameter values outside a 32-bit signed integer are refused, naming the
// parameter; the limits themselves and fractions pass.
func TestIntegerParametersFitInt32(t *testing.T) {
	for _, ok := range []any{2147483647.0, -2147483648.0, 0.5, 1e9, 3} {
		p := chromeVideo()
		p.Codecs[0].Parameters["x-google-start-bitrate"] = ok
		p.HeaderExtensions[0].Parameters = map[string]any{"n": ok}
		if err := CheckParameters(p); err != nil {
			t.Errorf("%v refused: %v", ok, err)
		}
	}
	for _, bad := range []any{2147483648.0, -2147483649.0, 1e20, int64(1) << 40} {
		p := chromeVideo()
		p.Codecs[0].Parameters["x-google-start-bitrate"] = bad
		wantField(t, "codec", CheckParameters(p), "rtpParameters.codecs[0].parameters.x-google-start-bitrate")
		p = chromeVideo()
		p.HeaderExtensions[1].Parameters = map[string]any{"n": bad}
		wantField(t, "header extension", CheckParameters(p), "rtpParameters.headerExtensions[1].parameters.n")
	}
	p := chromeVideo()
	p.Codecs[0].Parameters["max-fr"] = 4294967296.0
	if err := CheckParameters(p); err == nil || err.Error() !=
		"rtpParameters.codecs[0].parameters.max-fr: 4294967296 out of range of a 32-bit integer (-2147483648..2147483647)" {
		t.Errorf("err = %v", err)
	}
	// Capabilities (join) follow the same rule.
	c := Capabilities{Codecs: []CodecCapability{{Kind: KindAudio, Name: "opus", MimeType: "audio/opus", ClockRate: 48000,
		Channels: 2, PreferredPayloadType: 100, Parameters: map[string]any{"maxplaybackrate": 1e10}}}}
	wantField(t, "capabilities", CheckCapabilities(c), "rtpCapabilities.codecs[0].parameters.maxplaybackrate")
	// Header-extension parameters are names and values like codec ones.
	p = chromeVideo()
	p.HeaderExtensions[0].Parameters = map[string]any{"a b": 1.0}
	wantField(t, "name", CheckParameters(p), "rtpParameters.headerExtensions[0].parameters")
	p = chromeVideo()
	p.HeaderExtensions[0].Parameters = map[string]any{"x": []any{1.0}}
	wantField(t, "array", CheckParameters(p), "rtpParameters.headerExtensions[0].parameters.x")
}

// TestEmptyCNAMERefused: "cname": "" is refused as mediasoup's worker
// refuses it; no cname at all, or none in Go-built parameters, passes.
func TestEmptyCNAMERefused(t *testing.T) {
	decode := func(rtcp string) Parameters {
		t.Helper()
		var p Parameters
		in := `{"codecs":[{"name":"VP8","mimeType":"video/VP8","clockRate":90000,"payloadType":96}],` +
			`"headerExtensions":[],"encodings":[{"ssrc":1}],"rtcp":` + rtcp + `}`
		if err := json.Unmarshal([]byte(in), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	err := CheckParameters(decode(`{"cname":"","reducedSize":true,"mux":true}`))
	wantField(t, "empty", err, "rtpParameters.rtcp.cname")
	if err == nil || err.Error() != "rtpParameters.rtcp.cname: empty (leave it out or give one)" {
		t.Errorf("err = %v", err)
	}
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), DefaultHeaderExtensions())
	if _, err := MapProducer(KindVideo, decode(`{"cname":""}`), room); err == nil {
		t.Error("MapProducer accepted an empty cname")
	}
	for _, ok := range []string{`{"reducedSize":true,"mux":true}`, `{"cname":null}`, `{"cname":"x"}`} {
		p := decode(ok)
		if err := CheckParameters(p); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
		if ok == `{"cname":"x"}` && (p.RTCP.CNAME != "x" || p.RTCP.ReducedSize) {
			t.Errorf("decoded %+v", p.RTCP)
		}
	}
	p := chromeVideo()
	p.RTCP.CNAME = ""
	if err := CheckParameters(p); err != nil {
		t.Errorf("Go-built parameters without cname refused: %v", err)
	}
	b, _ := json.Marshal(decode(`{"cname":"abc","reducedSize":true,"mux":false}`).RTCP)
	if string(b) != `{"cname":"abc","reducedSize":true,"mux":false}` {
		t.Errorf("re-encoded %s", b)
	}
}

// TestUnofferedHeaderExtensionRefused: a producer header extension whose
// URI the room does not offer is refused, naming it; one offered for the
// other kind only is dropped; RID extensions of encodingId encodings pass.
func TestUnofferedHeaderExtensionRefused(t *testing.T) {
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), DefaultHeaderExtensions())
	vp8 := []CodecParameters{{Name: "VP8", MimeType: "video/VP8", ClockRate: 90000, PayloadType: 96}}
	opus := []CodecParameters{{Name: "opus", MimeType: "audio/opus", ClockRate: 48000, Channels: 2, PayloadType: 111}}
	one := []EncodingParameters{{SSRC: 1}}
	p := Parameters{Codecs: vp8, Encodings: one, HeaderExtensions: []HeaderExtensionParameters{
		{URI: URIAbsSendTime, ID: 2}, {URI: URIVideoOrientation, ID: 4}}}
	_, err := MapProducer(KindVideo, p, room)
	want := `rtpParameters.headerExtensions[1].uri: unsupported header extension [uri:"urn:3gpp:video-orientation", id:4] (not in the room's capabilities)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	wantField(t, "video-orientation", err, "rtpParameters.headerExtensions[1].uri")
	for _, uri := range []string{URIMid, URITransportCC, URIRepairedStreamID, "urn:example:unknown"} {
		p.HeaderExtensions = []HeaderExtensionParameters{{URI: uri, ID: 5}}
		if _, err := MapProducer(KindVideo, p, room); err == nil {
			t.Errorf("%s accepted", uri)
		}
	}
	// Offered for video only: an audio producer's is dropped, not refused.
	a := Parameters{Codecs: opus, Encodings: one, HeaderExtensions: []HeaderExtensionParameters{{URI: URIAudioLevel, ID: 1}, {URI: URIRtpStreamID, ID: 10}}}
	m, err := MapProducer(KindAudio, a, room)
	if err != nil || len(m.HeaderExtensionIDs) != 1 || m.HeaderExtensionIDs[0] != [2]int{1, 1} {
		t.Errorf("audio: %v %v", m.HeaderExtensionIDs, err)
	}
	// RID simulcast: rtp-stream-id and repaired-rtp-stream-id route the
	// streams, whatever the room offers.
	noRID, _ := NewRoomCapabilities(DefaultMediaCodecs(), FullHeaderExtensions()[:1])
	rid := Parameters{Codecs: vp8, HeaderExtensions: []HeaderExtensionParameters{{URI: URIRtpStreamID, ID: 10}, {URI: URIRepairedStreamID, ID: 11}},
		Encodings: []EncodingParameters{{EncodingID: "l", Profile: "low"}, {EncodingID: "h", Profile: "high"}}}
	if _, err := MapProducer(KindVideo, rid, noRID); err != nil {
		t.Errorf("RID simulcast refused: %v", err)
	}
	rid.Encodings = one
	if _, err := MapProducer(KindVideo, rid, noRID); err == nil {
		t.Error("RID extensions accepted without encodingId encodings")
	}
}
