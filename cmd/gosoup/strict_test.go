package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// TestStrictnessServed runs the whole server and sends what mediasoup
// 2.6.19 refuses: each answer names the field. A plain transport without
// ip and port is accepted.
func TestStrictnessServed(t *testing.T) {
	base, _ := runForTest(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := client.Connect(ctx, "ws://"+base, "strict", "tool")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	refused := func(what string, err error, reason string) {
		t.Helper()
		var re *client.RequestError
		if !errors.As(err, &re) || re.Code != 500 || !strings.HasPrefix(re.Reason, reason) {
			t.Errorf("%s: %v, want 500 %s", what, err, reason)
		}
	}
	_, err = p.Request(ctx, "join", map[string]any{"target": "peer", "peerName": "tool", "rtpCapabilities": map[string]any{}})
	refused("join to the peer", err, `TypeError: target: "join" goes to "room", not "peer"`)
	if err := p.Join(ctx, map[string]any{}, false); err != nil {
		t.Fatal(err)
	}
	_, err = p.Request(ctx, "createTransport", map[string]any{"target": nil, "id": 1, "direction": "send", "plainRtpParameters": map[string]any{}})
	refused("createTransport without target", err, `TypeError: missing target: "createTransport" goes to "peer"`)
	if _, err := p.Request(ctx, "createTransport", map[string]any{"id": 1, "direction": "send", "plainRtpParameters": map[string]any{}}); err != nil {
		t.Fatalf("plain transport without ip and port: %v", err)
	}
	params := func() map[string]any {
		return map[string]any{
			"codecs": []any{map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000, "payloadType": 101,
				"rtcpFeedback": []any{}, "parameters": map[string]any{}}},
			"headerExtensions": []any{map[string]any{"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 3}},
			"encodings":        []any{map[string]any{"ssrc": 4321}},
			"rtcp":             map[string]any{"cname": "tool", "reducedSize": true, "mux": true},
		}
	}
	const prefix = "Error: wrong RTP parameters: Error: "
	for _, c := range []struct {
		edit func(p map[string]any)
		want string
	}{
		{func(p map[string]any) {
			p["headerExtensions"] = []any{map[string]any{"uri": "urn:3gpp:video-orientation", "id": 4}}
		}, `rtpParameters.headerExtensions[0].uri: unsupported header extension [uri:"urn:3gpp:video-orientation", id:4]`},
		{func(p map[string]any) {
			p["codecs"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"x": 1 << 31}
		},
			"rtpParameters.codecs[0].parameters.x: 2147483648 out of range of a 32-bit integer"},
		{func(p map[string]any) {
			p["headerExtensions"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"x": -(1 << 31) - 1}
		}, "rtpParameters.headerExtensions[0].parameters.x: -2147483649 out of range of a 32-bit integer"},
		{func(p map[string]any) { p["rtcp"].(map[string]any)["cname"] = "" }, "rtpParameters.rtcp.cname: empty"},
	} {
		rp := params()
		c.edit(rp)
		_, err := p.Request(ctx, "createProducer", map[string]any{"id": 2, "kind": "video", "transportId": 1, "paused": false, "rtpParameters": rp})
		refused("createProducer", err, prefix+c.want)
	}
	if _, err := p.Request(ctx, "createProducer", map[string]any{"id": 2, "kind": "video", "transportId": 1, "paused": false, "rtpParameters": params()}); err != nil {
		t.Fatalf("valid producer: %v", err)
	}
}
