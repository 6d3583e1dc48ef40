package protocol

import (
	"encoding/json"
	"testing"
)

// TestTargetCheckedWithoutDecodeMessage: a Message an embedder builds by
// hand is refused by DecodeRequest and DecodeNotification when its target
// is missing or does not fit its method.
func TestTargetCheckedWithoutDecodeMessage(t *testing.T) {
	raw := json.RawMessage(`{"peerName":"a","rtpCapabilities":{}}`)
	cases := []struct {
		m    Message
		want string
	}{
		{Message{Method: "join", Raw: raw}, `TypeError: missing target: "join" goes to "room"`},
		{Message{Method: "join", Target: "peer", Raw: raw}, `TypeError: target: "join" goes to "room", not "peer"`},
		{Message{Method: "restartTransport", Target: "room", Raw: json.RawMessage(`{"id":1}`)}, `TypeError: target: "restartTransport" goes to "peer", not "room"`},
		{Message{Method: "leave", Notification: true, Raw: json.RawMessage(`{}`)}, `TypeError: missing target: "leave" goes to "peer"`},
		{Message{Method: "leave", Target: "room", Notification: true, Raw: json.RawMessage(`{}`)}, `TypeError: target: "leave" goes to "peer", not "room"`},
	}
	for _, c := range cases {
		var err error
		if c.m.Notification {
			_, err = DecodeNotification(&c.m)
		} else {
			_, err = DecodeRequest(&c.m)
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%s/%q: err = %v, want %s", c.m.Method, c.m.Target, err, c.want)
		}
	}
	ok := Message{Method: "restartTransport", Target: "peer", Raw: json.RawMessage(`{"id":1}`)}
	if _, err := DecodeRequest(&ok); err != nil {
		t.Errorf("restartTransport to peer: %v", err)
	}
}

// TestPlainRtpParametersWithoutRemote: createTransport may leave out ip
// and port together (the remote comes with updateTransport); one without
// the other is refused, naming the one missing.
func TestPlainRtpParametersWithoutRemote(t *testing.T) {
	m := validMessages()["plainTransport"]
	m["plainRtpParameters"] = map[string]any{}
	if err := decode(t, m); err != nil {
		t.Fatalf("no ip and port: %v", err)
	}
	m["plainRtpParameters"] = map[string]any{"rtcpMux": false, "localIP": "127.0.0.1"}
	if err := decode(t, m); err != nil {
		t.Fatalf("no ip and port, with other fields: %v", err)
	}
	for _, c := range []struct {
		p    map[string]any
		want string
	}{
		{map[string]any{"ip": "192.0.2.1"}, "TypeError: plainRtpParameters.port: 0 out of range 1..65535"},
		{map[string]any{"port": 5004}, `TypeError: plainRtpParameters.ip: "" is not an IP address`},
	} {
		m["plainRtpParameters"] = c.p
		if err := decode(t, m); err == nil || err.Error() != c.want {
			t.Errorf("%v: err = %v, want %s", c.p, err, c.want)
		}
	}
}

// TestUpdateProducerStrictness: updateProducer's rtpParameters are refused
// for an empty cname and for integers outside int32 in codec or
// header-extension parameters, naming the field.
func TestUpdateProducerStrictness(t *testing.T) {
	cases := []struct {
		path string
		v    any
		want string
	}{
		{"rtpParameters.rtcp.cname", "", "TypeError: rtpParameters.rtcp.cname: empty (leave it out or give one)"},
		{"rtpParameters.codecs.0.parameters.x-google-max-bitrate", 2147483648.0,
			"TypeError: rtpParameters.codecs[0].parameters.x-google-max-bitrate: 2147483648 out of range of a 32-bit integer (-2147483648..2147483647)"},
		{"rtpParameters.headerExtensions.0.parameters", map[string]any{"level": -2147483649.0},
			"TypeError: rtpParameters.headerExtensions[0].parameters.level: -2147483649 out of range of a 32-bit integer (-2147483648..2147483647)"},
	}
	for _, c := range cases {
		m := validMessages()["updateProducer"]
		set(m, c.path, c.v)
		if err := decode(t, m); err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %s", c.path, err, c.want)
		}
	}
	m := validMessages()["updateProducer"]
	set(m, "rtpParameters.rtcp.cname", nil) // absent: fine
	set(m, "rtpParameters.headerExtensions.0.parameters", map[string]any{"level": 2147483647.0, "ratio": 0.5})
	if err := decode(t, m); err != nil {
		t.Errorf("no cname, int32 limits: %v", err)
	}
}
