package protocol

import (
	"encoding/json"
	"strings"
	"testing"
)

// fp256 is a well-formed sha-256 fingerprint value.
var fp256 = strings.TrimSuffix(strings.Repeat("3A:", 32), ":")

// validMessages are one accepted message per method that has fields
// beyond id, in the shape mediasoup-client 2.4.12 sends.
func validMessages() map[string]map[string]any {
	dtls := func(role string) map[string]any {
		return map[string]any{"role": role, "fingerprints": []any{map[string]any{"algorithm": "sha-256", "value": fp256}}}
	}
	params := func() map[string]any {
		return map[string]any{
			"muxId": "1",
			"codecs": []any{
				map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000, "payloadType": 96, "rtcpFeedback": []any{map[string]any{"type": "nack"}}, "parameters": map[string]any{}},
				map[string]any{"name": "rtx", "mimeType": "video/rtx", "clockRate": 90000, "payloadType": 97, "parameters": map[string]any{"apt": 96}},
			},
			"headerExtensions": []any{map[string]any{"uri": "urn:ietf:params:rtp-hdrext:toffset", "id": 14}},
			"encodings":        []any{map[string]any{"ssrc": 1111, "rtx": map[string]any{"ssrc": 2222}}},
			"rtcp":             map[string]any{"cname": "abc", "reducedSize": true, "mux": true},
		}
	}
	return map[string]map[string]any{
		"join": {"method": "join", "target": "room", "peerName": "alice", "spy": false, "rtpCapabilities": map[string]any{
			"codecs": []any{
				map[string]any{"kind": "audio", "name": "opus", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2, "preferredPayloadType": 100},
				map[string]any{"kind": "video", "name": "VP8", "mimeType": "video/VP8", "clockRate": 90000, "preferredPayloadType": 101},
				map[string]any{"kind": "video", "name": "rtx", "mimeType": "video/rtx", "clockRate": 90000, "preferredPayloadType": 102, "parameters": map[string]any{"apt": 101}},
			},
			"headerExtensions": []any{map[string]any{"kind": "audio", "uri": "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "preferredId": 1}},
			"fecMechanisms":    []any{},
		}},
		"createTransport": {"method": "createTransport", "target": "peer", "id": 1, "direction": "send",
			"options": map[string]any{"tcp": false}, "dtlsParameters": dtls("server")},
		"plainTransport": {"method": "createTransport", "target": "peer", "id": 1, "direction": "send",
			"plainRtpParameters": map[string]any{"ip": "192.0.2.1", "port": 5004}},
		"createProducer": {"method": "createProducer", "target": "peer", "id": 1, "kind": "video", "transportId": 2, "rtpParameters": params()},
		"comediaTransport": {"method": "createTransport", "target": "peer", "id": 1, "direction": "send",
			"plainRtpParameters": map[string]any{"comedia": true, "rtcpMux": false}},
		"updateTransport": {"method": "updateTransport", "target": "peer", "notification": true, "id": 1,
			"plainRtpParameters": map[string]any{"ip": "2001:db8::1", "port": 5004}},
		"updateProducer": {"method": "updateProducer", "target": "peer", "notification": true, "id": 1, "rtpParameters": params()},
	}
}

// set changes the value at a dotted path ("rtpParameters.codecs.1.payloadType");
// nil deletes it.
func set(m map[string]any, path string, v any) {
	keys := strings.Split(path, ".")
	var cur any = m
	for _, k := range keys[:len(keys)-1] {
		switch c := cur.(type) {
		case map[string]any:
			cur = c[k]
		case []any:
			i := 0
			for _, d := range k {
				i = i*10 + int(d-'0')
			}
			cur = c[i]
		}
	}
	last := keys[len(keys)-1]
	if c, ok := cur.(map[string]any); ok {
		if v == nil {
			delete(c, last)
		} else {
			c[last] = v
		}
		return
	}
	cur.([]any)[int(last[0]-'0')] = v
}

func decode(t *testing.T, m map[string]any) error {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := DecodeMessage(b)
	if err != nil {
		return err
	}
	if msg.Notification {
		_, err = DecodeNotification(msg)
	} else {
		_, err = DecodeRequest(msg)
	}
	return err
}

func TestValidMessagesAccepted(t *testing.T) {
	for name, m := range validMessages() {
		if err := decode(t, m); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFieldsRefused changes one field of a valid message; the error must
// be a TypeError whose message starts with the field's name.
func TestFieldsRefused(t *testing.T) {
	long := strings.Repeat("x", 300)
	cases := []struct {
		msg, path string
		val       any
		field     string
	}{
		{"join", "peerName", long, "peerName"},
		{"join", "peerName", "al\nice", "peerName"},
		{"join", "peerName", "", "peerName"},
		{"join", "rtpCapabilities.codecs.0.kind", "depth", "rtpCapabilities.codecs[0].kind"},
		{"join", "rtpCapabilities.codecs.0.mimeType", "audio/" + long, "rtpCapabilities.codecs[0].mimeType"},
		{"join", "rtpCapabilities.codecs.0.clockRate", 0, "rtpCapabilities.codecs[0].clockRate"},
		{"join", "rtpCapabilities.codecs.0.channels", 200, "rtpCapabilities.codecs[0].channels"},
		{"join", "rtpCapabilities.codecs.1.preferredPayloadType", 100, "rtpCapabilities.codecs[1].preferredPayloadType"},
		{"join", "rtpCapabilities.codecs.1.preferredPayloadType", 255, "rtpCapabilities.codecs[1].preferredPayloadType"},
		{"join", "rtpCapabilities.codecs.2.parameters", map[string]any{}, "rtpCapabilities.codecs[2].parameters.apt"},
		{"join", "rtpCapabilities.headerExtensions.0.preferredId", 300, "rtpCapabilities.headerExtensions[0].preferredId"},
		{"join", "rtpCapabilities.headerExtensions.0.uri", "", "rtpCapabilities.headerExtensions[0].uri"},
		{"join", "rtpCapabilities.fecMechanisms", []any{"a b"}, "rtpCapabilities.fecMechanisms[0]"},
		{"createTransport", "options.udp", "yes", "options.udp"},
		{"createTransport", "options.preferIPv6", 1, "options.preferIPv6"},
		{"createTransport", "dtlsParameters.role", "master", "dtlsParameters.role"},
		{"createTransport", "dtlsParameters.role", nil, "dtlsParameters.role"},
		{"createTransport", "dtlsParameters.fingerprints", []any{}, "dtlsParameters.fingerprints"},
		{"createTransport", "dtlsParameters.fingerprints", make([]any, 9), "dtlsParameters.fingerprints"},
		{"createTransport", "dtlsParameters.fingerprints.0.algorithm", "md5", "dtlsParameters.fingerprints[0].algorithm"},
		{"createTransport", "dtlsParameters.fingerprints.0.algorithm", "sha-384", "dtlsParameters.fingerprints[0].value"},
		{"createTransport", "dtlsParameters.fingerprints.0.value", "AA:BB", "dtlsParameters.fingerprints[0].value"},
		{"createTransport", "dtlsParameters.fingerprints.0.value", strings.ReplaceAll(fp256, ":", ""), "dtlsParameters.fingerprints[0].value"},
		{"createTransport", "dtlsParameters.fingerprints.0.value", strings.Replace(fp256, "3A", "3G", 1), "dtlsParameters.fingerprints[0].value"},
		{"createTransport", "dtlsParameters.fingerprints.0.value", strings.Replace(fp256, ":", "-", 1), "dtlsParameters.fingerprints[0].value"},
		{"plainTransport", "plainRtpParameters.ip", "localhost", "plainRtpParameters.ip"},
		{"plainTransport", "plainRtpParameters.port", -1, "plainRtpParameters.port"},
		{"plainTransport", "plainRtpParameters.port", 70000, "plainRtpParameters.port"},
		{"plainTransport", "plainRtpParameters.rtcpPort", 65536, "plainRtpParameters.rtcpPort"},
		{"plainTransport", "plainRtpParameters.localIP", "eth0", "plainRtpParameters.localIP"},
		{"updateTransport", "plainRtpParameters.ip", "256.1.1.1", "plainRtpParameters.ip"},
		{"createProducer", "kind", "depth", "kind"},
		{"updateProducer", "rtpParameters.muxId", "a b", "rtpParameters.muxId"},
		{"updateProducer", "rtpParameters.codecs.1.payloadType", 96, "rtpParameters.codecs[1].payloadType"},
		{"updateProducer", "rtpParameters.codecs.0.payloadType", 128, "rtpParameters.codecs[0].payloadType"},
		{"updateProducer", "rtpParameters.codecs.0.clockRate", 0, "rtpParameters.codecs[0].clockRate"},
		{"updateProducer", "rtpParameters.codecs.0.channels", 2, "rtpParameters.codecs[0].channels"},
		{"updateProducer", "rtpParameters.codecs.0.mimeType", "video/H264", "rtpParameters.codecs[0].mimeType"},
		{"updateProducer", "rtpParameters.codecs.0.rtcpFeedback.0.type", "", "rtpParameters.codecs[0].rtcpFeedback[0].type"},
		{"updateProducer", "rtpParameters.codecs.0.parameters.x", []any{}, "rtpParameters.codecs[0].parameters.x"},
		{"updateProducer", "rtpParameters.codecs.1.parameters.apt", 95, "rtpParameters.codecs[1].parameters.apt"},
		{"updateProducer", "rtpParameters.headerExtensions.0.id", 0, "rtpParameters.headerExtensions[0].id"},
		{"updateProducer", "rtpParameters.encodings.0.rtx.ssrc", 1111, "rtpParameters.encodings[0].rtx.ssrc"},
		{"updateProducer", "rtpParameters.encodings.0.profile", "ultra", "rtpParameters.encodings[0].profile"},
		{"updateProducer", "rtpParameters.rtcp.cname", long, "rtpParameters.rtcp.cname"},
	}
	for _, c := range cases {
		m := validMessages()[c.msg]
		set(m, c.path, c.val)
		err := decode(t, m)
		name := c.msg + " " + c.path
		if err == nil {
			t.Errorf("%s = %v accepted", name, c.val)
			continue
		}
		msg := strings.TrimPrefix(err.Error(), "TypeError: ")
		if msg == err.Error() || !(strings.HasPrefix(msg, c.field+": ") || strings.HasPrefix(msg, c.field+" must be") ||
			strings.HasPrefix(msg, "unsupported "+c.field)) {
			t.Errorf("%s = %v: err = %q, want a TypeError naming %s", name, c.val, err, c.field)
		}
	}
}

func TestCheckDtlsParameters(t *testing.T) {
	ok := []DtlsParameters{
		{Role: "client", Fingerprints: []DtlsFingerprint{{Algorithm: "sha-256", Value: fp256}}},
		{Role: "auto", Fingerprints: []DtlsFingerprint{{Algorithm: "SHA-256", Value: strings.ToLower(fp256)}}},
		{Role: "server", Fingerprints: []DtlsFingerprint{
			{Algorithm: "sha-1", Value: strings.TrimSuffix(strings.Repeat("AB:", 20), ":")},
			{Algorithm: "sha-224", Value: strings.TrimSuffix(strings.Repeat("AB:", 28), ":")},
			{Algorithm: "sha-384", Value: strings.TrimSuffix(strings.Repeat("AB:", 48), ":")},
			{Algorithm: "sha-512", Value: strings.TrimSuffix(strings.Repeat("AB:", 64), ":")},
		}},
	}
	for _, d := range ok {
		if err := CheckDtlsParameters("dtlsParameters", &d); err != nil {
			t.Errorf("%+v: %v", d, err)
		}
	}
	if err := CheckDtlsParameters("dtlsParameters", nil); err == nil || err.Error() != "TypeError: missing dtlsParameters" {
		t.Errorf("nil: %v", err)
	}
	bad := DtlsParameters{Role: "client", Fingerprints: []DtlsFingerprint{{Algorithm: "sha-256", Value: "AA:BB"}}}
	want := "TypeError: dtlsParameters.fingerprints[0].value: not a sha-256 fingerprint (32 hex bytes separated by colons)"
	if err := CheckDtlsParameters("dtlsParameters", &bad); err == nil || err.Error() != want {
		t.Errorf("short value: %v, want %q", err, want)
	}
}
