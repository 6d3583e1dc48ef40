package rtpparams

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gosoup/gosoup/internal/tracetest"
)

func loadTrace(t *testing.T, name string) []tracetest.Entry {
	t.Helper()
	es, err := tracetest.Load(name)
	if err != nil {
		t.Fatalf("reference trace %s: %v", name, err)
	}
	return es
}

// roomCodecsFor returns the media codecs of each trace's room.
func roomCodecsFor(name string) []MediaCodec {
	all := DefaultMediaCodecs()
	if strings.Contains(name, "h264") {
		return []MediaCodec{all[0], all[2]}
	}
	return all
}

func semantic(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func field(t *testing.T, raw json.RawMessage, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

func TestRoomCapabilitiesMatchReference(t *testing.T) {
	for _, name := range tracetest.Names {
		es := loadTrace(t, name)
		resp := tracetest.Find(es, "alice", "in", "response", "queryRoom")
		if len(resp) == 0 {
			t.Fatalf("%s: no queryRoom response", name)
		}
		caps, err := NewRoomCapabilities(roomCodecsFor(name), FullHeaderExtensions())
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(field(t, resp[0].Data, "rtpCapabilities"), &want); err != nil {
			t.Fatal(err)
		}
		if got := semantic(t, caps); !reflect.DeepEqual(got, want) {
			gb, _ := json.Marshal(got)
			wb, _ := json.Marshal(want)
			t.Errorf("%s: room capabilities differ\n got: %s\nwant: %s", name, gb, wb)
		}
	}
}

func TestRoomCapabilitiesErrors(t *testing.T) {
	cases := []struct {
		codecs []MediaCodec
		want   string
	}{
		{nil, "mediaCodecs must be a non-empty array"},
		{[]MediaCodec{{Kind: KindVideo, Name: "AV1", ClockRate: 90000}}, "RoomMediaCodec not supported [name:AV1]"},
		{[]MediaCodec{{Kind: KindAudio, Name: "opus"}}, "invalid RTCCodecCapability"},
		{[]MediaCodec{{Kind: KindVideo, Name: "H264", ClockRate: 90000, Parameters: map[string]any{"packetization-mode": "1"}}}, "RoomMediaCodec not supported [name:H264]"},
	}
	for _, c := range cases {
		_, err := NewRoomCapabilities(c.codecs, nil)
		if err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %q", c.codecs, err, c.want)
		}
	}
	caps, err := NewRoomCapabilities([]MediaCodec{{Kind: KindAudio, Name: "pcmu", ClockRate: 8000}, {Kind: KindVideo, Name: "vp9", ClockRate: 90000}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Codecs[0].PreferredPayloadType != 0 || caps.Codecs[0].Name != "PCMU" || caps.Codecs[0].Channels != 1 {
		t.Errorf("PCMU = %+v", caps.Codecs[0])
	}
	if caps.Codecs[1].PreferredPayloadType != 100 || caps.Codecs[2].PreferredPayloadType != 101 || caps.Codecs[2].Name != "rtx" {
		t.Errorf("VP9 + rtx = %+v", caps.Codecs[1:])
	}
}

func joinCaps(t *testing.T, es []tracetest.Entry, page string) Capabilities {
	t.Helper()
	j := tracetest.Find(es, page, "out", "request", "join")
	if len(j) == 0 {
		t.Fatalf("no join of %s", page)
	}
	var c Capabilities
	if err := json.Unmarshal(field(t, j[0].Data, "rtpCapabilities"), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidatePeerCapabilities(t *testing.T) {
	for _, name := range tracetest.Names {
		es := loadTrace(t, name)
		room, _ := NewRoomCapabilities(roomCodecsFor(name), FullHeaderExtensions())
		for _, page := range []string{"alice", "bob"} {
			if err := ValidatePeerCapabilities(joinCaps(t, es, page), room); err != nil {
				t.Errorf("%s %s: %v", name, page, err)
			}
		}
		bad := joinCaps(t, es, "bob")
		bad.Codecs[0].PreferredPayloadType = 120
		if err := ValidatePeerCapabilities(bad, room); err == nil || !strings.HasPrefix(err.Error(), "unsupported codec [name:opus, preferredPayloadType:120]") {
			t.Errorf("altered PT accepted: %v", err)
		}
		bad = joinCaps(t, es, "bob")
		bad.HeaderExtensions[0].PreferredID = 9
		if err := ValidatePeerCapabilities(bad, room); err == nil || !strings.HasPrefix(err.Error(), "unsupported header extension") {
			t.Errorf("altered extension accepted: %v", err)
		}
	}
	if err := ValidatePeerCapabilities(Capabilities{}, Capabilities{}); err != nil {
		t.Errorf("empty caps: %v", err)
	}
}

type producerCase struct {
	kind     Kind
	params   Parameters
	consumer json.RawMessage // newConsumer rtpParameters for bob
}

func producerCases(t *testing.T, es []tracetest.Entry) []producerCase {
	t.Helper()
	prods := tracetest.Find(es, "alice", "out", "request", "createProducer")
	cons := tracetest.Find(es, "bob", "in", "notification", "newConsumer")
	var out []producerCase
	for i, p := range prods {
		var req struct {
			Kind          Kind       `json:"kind"`
			RTPParameters Parameters `json:"rtpParameters"`
		}
		if err := json.Unmarshal(p.Data, &req); err != nil {
			t.Fatal(err)
		}
		out = append(out, producerCase{kind: req.Kind, params: req.RTPParameters, consumer: field(t, cons[i].Data, "rtpParameters")})
	}
	return out
}

func TestMapProducerAndConsumerParametersMatchReference(t *testing.T) {
	wantMaps := map[string][]ProducerMapping{
		"trace-ref-vp8.jsonl": {
			{CodecPayloadTypes: [][2]int{{111, 100}}, HeaderExtensionIDs: [][2]int{{1, 1}, {2, 3}, {4, 5}}},
			{CodecPayloadTypes: [][2]int{{96, 101}, {97, 102}}, HeaderExtensionIDs: [][2]int{{14, 2}, {2, 3}, {13, 4}, {4, 5}, {10, 6}}},
		},
	}
	for _, name := range tracetest.Names {
		es := loadTrace(t, name)
		room, _ := NewRoomCapabilities(roomCodecsFor(name), FullHeaderExtensions())
		bob := joinCaps(t, es, "bob")
		for i, pc := range producerCases(t, es) {
			m, err := MapProducer(pc.kind, pc.params, room)
			if err != nil {
				t.Fatalf("%s producer %d: %v", name, i, err)
			}
			if want, ok := wantMaps[name]; ok && !reflect.DeepEqual(m, want[i]) {
				t.Errorf("%s producer %d mapping = %v, want %v", name, i, m, want[i])
			}
			cp, ok := ConsumerParameters(ConsumableParameters(pc.kind, pc.params, room, m), bob)
			if !ok {
				t.Fatalf("%s producer %d: consumer unsupported", name, i)
			}
			var want map[string]any
			_ = json.Unmarshal(pc.consumer, &want)
			got := semantic(t, cp).(map[string]any)
			// SSRCs are random: check range and presence, then compare the rest.
			gotEnc := got["encodings"].([]any)[0].(map[string]any)
			wantEnc := want["encodings"].([]any)[0].(map[string]any)
			if s := gotEnc["ssrc"].(float64); s < 10000000 || s > 99999999 {
				t.Errorf("ssrc %v out of range", s)
			}
			if (gotEnc["rtx"] == nil) != (wantEnc["rtx"] == nil) {
				t.Errorf("rtx presence differs: got %v want %v", gotEnc, wantEnc)
			}
			delete(got, "encodings")
			delete(want, "encodings")
			if !reflect.DeepEqual(got, want) {
				gb, _ := json.Marshal(got)
				wb, _ := json.Marshal(want)
				t.Errorf("%s producer %d consumer parameters\n got: %s\nwant: %s", name, i, gb, wb)
			}
		}
	}
}

// TestReducedHeaderExtensionsRefuseUnknown: a producer of the reference
// trace (made for mediasoup 2.6.19's full list) is refused by a room with
// the reduced list, naming the first extension the room lacks; without
// those, its extensions map to the room's ids.
func TestReducedHeaderExtensionsRefuseUnknown(t *testing.T) {
	es := loadTrace(t, "trace-ref-vp8.jsonl")
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), DefaultHeaderExtensions())
	var bob Capabilities
	for _, e := range room.HeaderExtensions {
		bob.HeaderExtensions = append(bob.HeaderExtensions, HeaderExtensionCapability{Kind: e.Kind, URI: e.URI, PreferredID: e.PreferredID})
	}
	bob.Codecs = append(bob.Codecs, room.Codecs...)
	pcs := producerCases(t, es)
	video := pcs[1]
	_, err := MapProducer(video.kind, video.params, room)
	want := `rtpParameters.headerExtensions[0].uri: unsupported header extension [uri:"urn:ietf:params:rtp-hdrext:toffset", id:14] (not in the room's capabilities)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	var kept []HeaderExtensionParameters
	for _, e := range video.params.HeaderExtensions {
		if e.URI == URIAbsSendTime || e.URI == URIRtpStreamID {
			kept = append(kept, e)
		}
	}
	video.params.HeaderExtensions = kept
	m, err := MapProducer(video.kind, video.params, room)
	if err != nil {
		t.Fatal(err)
	}
	if want := [][2]int{{2, 3}, {10, 6}}; !reflect.DeepEqual(m.HeaderExtensionIDs, want) {
		t.Fatalf("mapping = %v, want %v", m.HeaderExtensionIDs, want)
	}
	cp, ok := ConsumerParameters(ConsumableParameters(video.kind, video.params, room, m), bob)
	if !ok || len(cp.HeaderExtensions) != 2 || cp.HeaderExtensions[0].URI != URIAbsSendTime {
		t.Fatalf("consumer extensions = %+v", cp.HeaderExtensions)
	}
}

func TestMapProducerErrors(t *testing.T) {
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), FullHeaderExtensions())
	vp8 := CodecParameters{Name: "VP8", MimeType: "video/VP8", ClockRate: 90000, PayloadType: 96}
	rtx := CodecParameters{Name: "rtx", MimeType: "video/rtx", ClockRate: 90000, PayloadType: 97, Parameters: map[string]any{"apt": 95.0}}
	one := []EncodingParameters{{SSRC: 1}}
	cases := []struct {
		name string
		kind Kind
		p    Parameters
		want string
	}{
		{"no codecs", KindVideo, Parameters{Encodings: one}, "empty rtpParameters.codecs"},
		{"unsupported", KindVideo, Parameters{Codecs: []CodecParameters{{Name: "AV1", MimeType: "video/AV1", ClockRate: 90000, PayloadType: 45}}, Encodings: one}, "rtpParameters.codecs[0]: unsupported codec [name:AV1, payloadType:45]"},
		{"rtx without media", KindVideo, Parameters{Codecs: []CodecParameters{vp8, rtx}, Encodings: one}, "rtpParameters.codecs[1].parameters.apt: apt 95 names no media codec (no RTX codec found for it)"},
		{"no encodings", KindVideo, Parameters{Codecs: []CodecParameters{vp8}}, "empty rtpParameters.encodings"},
		{"single with profile", KindVideo, Parameters{Codecs: []CodecParameters{vp8}, Encodings: []EncodingParameters{{SSRC: 1, Profile: "low"}}}, "rtpParameters.encodings[0].profile: invalid single encoding with non default profile"},
		{"duplicated profile", KindVideo, Parameters{Codecs: []CodecParameters{vp8}, Encodings: []EncodingParameters{{SSRC: 1, Profile: "low"}, {SSRC: 2, Profile: "low"}}}, `rtpParameters.encodings[1].profile: duplicated encoding.profile "low"`},
		{"kind mismatch", KindAudio, Parameters{Codecs: []CodecParameters{vp8}, Encodings: one}, "rtpParameters.codecs[0].mimeType: codec kind mismatch [name:VP8, kind:audio]"},
		{"bad pt", KindVideo, Parameters{Codecs: []CodecParameters{{Name: "VP8", MimeType: "video/VP8", ClockRate: 90000, PayloadType: 300}}, Encodings: one}, "rtpParameters.codecs[0].payloadType: payload type 300 out of range 0..127"},
		{"audio rtx in room without audio rtx", KindAudio, Parameters{Codecs: []CodecParameters{
			{Name: "opus", MimeType: "audio/opus", ClockRate: 48000, Channels: 2, PayloadType: 111},
			{Name: "rtx", MimeType: "audio/rtx", ClockRate: 48000, PayloadType: 112, Parameters: map[string]any{"apt": 111.0}}}, Encodings: one},
			"rtpParameters.codecs[1]: no RTX codec found in capabilities [apt:111]"},
		{"default in simulcast", KindVideo, Parameters{Codecs: []CodecParameters{vp8}, Encodings: []EncodingParameters{{SSRC: 1, Profile: "low"}, {SSRC: 2, Profile: "default"}}},
			`rtpParameters.encodings[1].profile: invalid encoding.profile "default" in simulcast (low, medium or high)`},
	}
	for _, c := range cases {
		_, err := MapProducer(c.kind, c.p, room)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func FuzzMapProducer(f *testing.F) {
	if es, err := tracetest.Load("trace-ref-vp8.jsonl"); err == nil {
		for _, e := range tracetest.Find(es, "", "out", "request", "createProducer") {
			var m map[string]json.RawMessage
			_ = json.Unmarshal(e.Data, &m)
			f.Add([]byte(m["rtpParameters"]))
		}
	}
	f.Add([]byte(`{"codecs":[{"name":"rtx","payloadType":97,"parameters":{"apt":"x"}}],"encodings":[{}]}`))
	room, _ := NewRoomCapabilities(DefaultMediaCodecs(), DefaultHeaderExtensions())
	caps := room
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Parameters
		if json.Unmarshal(b, &p) != nil {
			return
		}
		for _, kind := range []Kind{KindAudio, KindVideo} {
			m, err := MapProducer(kind, p, room)
			if err != nil {
				continue
			}
			ConsumerParameters(ConsumableParameters(kind, p, room, m), caps)
		}
	})
}
