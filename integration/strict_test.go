package integration

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// strictParams are VP8 producer parameters for plainVP8's stream
// (payload type 101, ssrc 4321) with one of the room's extensions.
func strictParams() map[string]any {
	return map[string]any{
		"codecs": []any{map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000,
			"payloadType": 101, "rtcpFeedback": []any{}, "parameters": map[string]any{}}},
		"headerExtensions": []any{map[string]any{"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 3}},
		"encodings":        []any{map[string]any{"ssrc": 4321}},
		"rtcp":             map[string]any{"cname": "tool", "reducedSize": true, "mux": true},
	}
}

// TestStrictnessOverWebSocket: through the signaling server, requests
// with no target or one that does not fit their method are refused (a
// notification likewise is ignored); producer parameters with a header
// extension the room lacks, an integer outside int32 or an empty cname
// are refused naming the field; a plain transport created without ip and
// port takes media from the tool that sends.
func TestStrictnessOverWebSocket(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	tool, err := client.Connect(ctx, g.URL, "strict", "tool")
	if err != nil {
		t.Fatal(err)
	}
	defer tool.Close()
	// "target" in data replaces the one client.Request sets (nil: null).
	if _, err := tool.Request(ctx, "join", map[string]any{"target": "peer", "peerName": "tool", "rtpCapabilities": map[string]any{}}); !isErr(err, 500, `TypeError: target: "join" goes to "room", not "peer"`) {
		t.Fatalf("join to the peer: %v", err)
	}
	if _, err := tool.Request(ctx, "queryRoom", map[string]any{"target": nil}); !isErr(err, 500, `TypeError: missing target: "queryRoom" goes to "room"`) {
		t.Fatalf("queryRoom without target: %v", err)
	}
	if err := tool.Join(ctx, map[string]any{}, false); err != nil {
		t.Fatalf("join after the refusals: %v", err)
	}
	plain := map[string]any{"id": 77, "direction": "send", "options": map[string]any{}, "plainRtpParameters": map[string]any{}}
	for _, c := range []struct {
		target any
		want   string
	}{
		{nil, `TypeError: missing target: "createTransport" goes to "peer"`},
		{"room", `TypeError: target: "createTransport" goes to "peer", not "room"`},
	} {
		plain["target"] = c.target
		if _, err := tool.Request(ctx, "createTransport", plain); !isErr(err, 500, c.want) {
			t.Fatalf("createTransport with target %v: %v", c.target, err)
		}
	}
	delete(plain, "target")
	raw, err := tool.Request(ctx, "createTransport", plain)
	if err != nil {
		t.Fatalf("plain transport without ip and port: %v", err)
	}
	var resp struct {
		PlainRtpParameters struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"plainRtpParameters"`
	}
	mustJSON(t, raw, &resp)

	const prefix = "Error: wrong RTP parameters: Error: "
	for _, c := range []struct {
		edit func(p map[string]any)
		want string
	}{
		{func(p map[string]any) {
			p["headerExtensions"] = append(p["headerExtensions"].([]any), map[string]any{"uri": "urn:ietf:params:rtp-hdrext:toffset", "id": 2})
		}, `rtpParameters.headerExtensions[1].uri: unsupported header extension [uri:"urn:ietf:params:rtp-hdrext:toffset", id:2] (not in the room's capabilities)`},
		{func(p map[string]any) {
			p["codecs"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"max-fs": 2147483648}
		}, "rtpParameters.codecs[0].parameters.max-fs: 2147483648 out of range of a 32-bit integer"},
		{func(p map[string]any) {
			p["headerExtensions"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"n": -2147483649}
		}, "rtpParameters.headerExtensions[0].parameters.n: -2147483649 out of range of a 32-bit integer"},
		{func(p map[string]any) { p["rtcp"].(map[string]any)["cname"] = "" }, "rtpParameters.rtcp.cname: empty"},
	} {
		p := strictParams()
		c.edit(p)
		_, err := tool.Request(ctx, "createProducer", map[string]any{"id": 78, "kind": "video", "transportId": 77, "paused": false, "rtpParameters": p})
		if !isErr(err, 500, prefix+c.want) {
			t.Errorf("createProducer: %v, want %s", err, prefix+c.want)
		}
	}
	if _, err := tool.Request(ctx, "createProducer", map[string]any{"id": 78, "kind": "video", "transportId": 77, "paused": false,
		"rtpParameters": strictParams()}); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr(resp.PlainRtpParameters.IP), uint16(resp.PlainRtpParameters.Port))
	startPlainVP8(t, dst.String())

	bob, cd, cons := joinAndConsume(ctx, t, g, "strict", "bob")
	ssrc := cd.RTPParameters.Encodings[0].SSRC
	readN(t, "bob", cons, ssrc, 20)

	// A notification without a target is dropped: the producer lives on
	// (the queryRoom answer shows the notification was handled before).
	if err := tool.Notify("closeProducer", map[string]any{"id": 78, "target": nil}); err != nil {
		t.Fatal(err)
	}
	if _, err := tool.Request(ctx, "queryRoom", nil); err != nil {
		t.Fatal(err)
	}
	room, err := g.SFU.Room("strict")
	if err != nil {
		t.Fatal(err)
	}
	if room.PeerByName("tool").ProducerByID(78) == nil {
		t.Fatal("closeProducer without target closed the producer")
	}
	readN(t, "bob after the refused notification", cons, ssrc, 20)
	if err := tool.Notify("closeProducer", map[string]any{"id": 78}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerClosed", nil); err != nil {
		t.Fatal(err)
	}
}
