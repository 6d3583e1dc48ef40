package integration

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

type hostileCase struct {
	name   string
	method string
	data   map[string]any
	code   int
	reason string // substring the error reason must contain
}

// hostileCases builds the table: every field of every peer request with
// wrong JSON types, missing, out of range; semantic errors; and ids of
// another peer's objects.
func hostileCases(v victimIDs, own ownIDs) []hostileCase {
	var cs []hostileCase
	badIDs := []any{"123", -1, 1.5, 1e20, true, []any{}, map[string]any{}}
	base := map[string]map[string]any{
		"createTransport":  {"id": 500, "direction": "send", "options": map[string]any{}},
		"restartTransport": {"id": own.transport},
		"createProducer": {"id": 501, "kind": "audio", "transportId": own.transport, "paused": false,
			"rtpParameters": own.params},
		"enableConsumer": {"id": own.consumer, "transportId": own.recvTransport, "paused": false, "preferredProfile": "default"},
	}
	idFields := map[string][]string{
		"createTransport": {"id"}, "restartTransport": {"id"}, "createProducer": {"id", "transportId"},
		"enableConsumer": {"id", "transportId"},
	}
	with := func(method, field string, val any, drop bool) map[string]any {
		d := map[string]any{}
		for k, x := range base[method] {
			d[k] = x
		}
		if drop {
			delete(d, field)
		} else {
			d[field] = val
		}
		return d
	}
	for method, fields := range idFields {
		for _, f := range fields {
			for _, bad := range badIDs {
				cs = append(cs, hostileCase{fmt.Sprintf("%s.%s=%v", method, f, bad), method, with(method, f, bad, false), 500, f + " must be a positive integer number"})
			}
			cs = append(cs, hostileCase{fmt.Sprintf("%s without %s", method, f), method, with(method, f, nil, true), 500, "missing " + f})
		}
	}
	for _, c := range []struct{ method, field, reason string }{
		{"createTransport", "direction", "direction"}, {"createProducer", "kind", "kind"}, {"enableConsumer", "preferredProfile", "preferredProfile"},
	} {
		for _, bad := range []any{5, true, []any{}, map[string]any{}, "bogus"} {
			cs = append(cs, hostileCase{fmt.Sprintf("%s.%s=%v", c.method, c.field, bad), c.method, with(c.method, c.field, bad, false), 500, c.reason})
		}
	}
	for _, method := range []string{"createProducer", "enableConsumer"} {
		for _, bad := range []any{"yes", 1, []any{}} {
			cs = append(cs, hostileCase{fmt.Sprintf("%s.paused=%v", method, bad), method, with(method, "paused", bad, false), 500, "paused must be a boolean"})
		}
	}
	for _, c := range []struct{ method, field string }{{"createTransport", "options"}, {"createTransport", "dtlsParameters"}, {"createProducer", "rtpParameters"}} {
		for _, bad := range []any{"x", 5, []any{}, true} {
			cs = append(cs, hostileCase{fmt.Sprintf("%s.%s=%v", c.method, c.field, bad), c.method, with(c.method, c.field, bad, false), 500, c.field + " must be an object"})
		}
	}
	codec := func(m map[string]any) map[string]any {
		c := map[string]any{"name": "opus", "mimeType": "audio/opus", "clockRate": 48000, "payloadType": 111, "channels": 2}
		for k, x := range m {
			c[k] = x
		}
		return c
	}
	params := func(codecs []any, encodings []any) map[string]any {
		return map[string]any{"codecs": codecs, "headerExtensions": []any{}, "encodings": encodings, "rtcp": map[string]any{"cname": "x"}}
	}
	enc := []any{map[string]any{"ssrc": 4242}}
	for _, c := range []struct {
		name   string
		p      map[string]any
		reason string
	}{
		{"no codecs", params([]any{}, enc), "empty rtpParameters.codecs"},
		{"unsupported codec", params([]any{codec(map[string]any{"name": "AV1", "mimeType": "audio/AV1", "payloadType": 45})}, enc), "unsupported codec [name:AV1, payloadType:45]"},
		{"wrong clock rate", params([]any{codec(map[string]any{"clockRate": 44100})}, enc), "unsupported codec [name:opus"},
		{"payloadType string", params([]any{codec(map[string]any{"payloadType": "111"})}, enc), "payloadType must be a number"},
		{"clockRate string", params([]any{codec(map[string]any{"clockRate": "48000"})}, enc), "clockRate must be a number"},
		{"codecs object", map[string]any{"codecs": map[string]any{}, "encodings": enc}, "codecs must be an array"},
		{"no encodings", params([]any{codec(nil)}, []any{}), "empty rtpParameters.encodings"},
		{"ssrc string", params([]any{codec(nil)}, []any{map[string]any{"ssrc": "1"}}), "ssrc must be a number"},
		{"ssrc negative", params([]any{codec(nil)}, []any{map[string]any{"ssrc": -5}}), "ssrc must be a number"},
		{"RID without rtp-stream-id", params([]any{codec(nil)}, []any{map[string]any{"encodingId": "low1"}}), "headerExtensions lacks urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"},
		{"neither ssrc nor RID", params([]any{codec(nil)}, []any{map[string]any{"profile": "default"}}), "encodings[0] has neither ssrc nor encodingId"},
		{"ssrc and RID mixed", params([]any{codec(nil)}, []any{map[string]any{"ssrc": 1, "profile": "low"}, map[string]any{"encodingId": "m", "profile": "medium"}}), "mixes encodings with an ssrc and encodings with only an encodingId"},
		{"RID duplicated", params([]any{codec(nil)}, []any{map[string]any{"encodingId": "a", "profile": "low"}, map[string]any{"encodingId": "a", "profile": "medium"}}), "duplicated rtpParameters.encodings[1].encodingId"},
		{"RID not a token", params([]any{codec(nil)}, []any{map[string]any{"encodingId": "a b"}}), "invalid rtpParameters.encodings[0].encodingId"},
		{"profile on single encoding", params([]any{codec(nil)}, []any{map[string]any{"ssrc": 1, "profile": "high"}}), "invalid single encoding with non default profile"},
		{"duplicated profiles", params([]any{codec(nil)}, []any{map[string]any{"ssrc": 1, "profile": "low"}, map[string]any{"ssrc": 2, "profile": "low"}}), "duplicated encoding.profile"},
		{"bogus profile", params([]any{codec(nil)}, []any{map[string]any{"ssrc": 1, "profile": "low"}, map[string]any{"ssrc": 2, "profile": "ultra"}}), "invalid encoding.profile"},
		{"rtx without media", params([]any{codec(nil), map[string]any{"name": "rtx", "mimeType": "audio/rtx", "clockRate": 48000, "payloadType": 112, "parameters": map[string]any{"apt": 99}}}, enc), "no RTX codec found"},
		{"video codec as audio", params([]any{codec(map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000})}, enc), "codec kind mismatch"},
		{"channels string", params([]any{codec(map[string]any{"channels": "2"})}, enc), "channels must be a number"},
		{"header extension id 0", map[string]any{"codecs": []any{codec(nil)}, "headerExtensions": []any{map[string]any{"uri": "x", "id": 0}}, "encodings": enc}, "invalid header extension id"},
	} {
		d := with("createProducer", "rtpParameters", c.p, false)
		cs = append(cs, hostileCase{"createProducer " + c.name, "createProducer", d, 500, c.reason})
	}
	// Other peers' objects, named by id.
	cs = append(cs,
		hostileCase{"restart victim's transport", "restartTransport", map[string]any{"id": v.sendTransport}, 500, "Transport not found"},
		hostileCase{"produce on victim's transport", "createProducer", with("createProducer", "transportId", v.sendTransport, false), 500, "WebRtcTransport not found"},
		hostileCase{"enable victim's consumer", "enableConsumer", with("enableConsumer", "id", v.consumer, false), 500, "Consumer not found"},
		hostileCase{"enable on victim's transport", "enableConsumer", with("enableConsumer", "transportId", v.recvTransport, false), 500, "Transport not found"},
		hostileCase{"reuse victim's transport id", "createTransport", map[string]any{"id": v.sendTransport, "direction": "send"}, 500, "a Transport with same transportId already exists"},
		hostileCase{"reuse victim's producer id", "createProducer", with("createProducer", "id", v.producer, false), 500, "a Producer with same producerId already exists"},
		hostileCase{"enable own consumer twice", "enableConsumer", base["enableConsumer"], 500, "Consumer already enabled"},
		hostileCase{"produce on recv transport", "createProducer", with("createProducer", "transportId", own.recvTransport, false), 500, "cannot produce on a recv transport"},
		hostileCase{"unknown method", "dance", map[string]any{}, 500, `unknown request method "dance"`},
		hostileCase{"join again", "join", map[string]any{"peerName": "eve", "rtpCapabilities": map[string]any{}}, 500, "already have a mediasoup Peer"},
		hostileCase{"join as victim", "join", map[string]any{"peerName": "alice", "rtpCapabilities": map[string]any{}}, 500, "already have a mediasoup Peer"},
		hostileCase{"request flagged as notification", "createTransport", map[string]any{"id": 9, "direction": "send", "notification": true}, 500, "must not be a notification"},
		hostileCase{"deep nesting", "createTransport", map[string]any{"id": 9, "direction": "send", "appData": nest(40)}, 500, "nested too deeply"},
		hostileCase{"300 KiB request", "createTransport", map[string]any{"id": 9, "direction": "send", "appData": strings.Repeat("x", 300<<10)}, 500, "message too large"},
	)
	return cs
}

func nest(n int) any {
	var v any = 1
	for i := 0; i < n; i++ {
		v = map[string]any{"a": v}
	}
	return v
}

type victimIDs struct {
	sendTransport, recvTransport, producer, consumer, producerSSRC uint32
}

type ownIDs struct {
	transport, recvTransport, consumer uint32
	params                             map[string]any
}

// TestHostileSuite runs the table over the WebSocket; after every ten
// cases the victim's media must still flow, and at the end the hostile
// socket still answers.
func TestHostileSuite(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	g := startGosoup(t)
	v := startVideoPair(ctx, t, g, "hs")
	send, recv, prod, cd, cons := v.send, v.recv, v.prod, v.cd, v.cons
	flowing := func(when string) {
		t.Helper()
		for i := 0; i < 10; i++ {
			if _, err := cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatalf("victim media stopped %s: %v", when, err)
			}
		}
	}
	flowing("before")

	eve := join(ctx, t, g, "hs", "eve")
	eveSend, err := eve.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	eveRecv, err := eve.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	var eveConsumer uint32
	for _, p := range eve.JoinPeers {
		if p.Name == "alice" {
			eveConsumer = p.Consumers[0].ID
		}
	}
	if _, err := eveRecv.Consume(ctx, eve.JoinPeers[0].Consumers[0]); err != nil {
		t.Fatal(err)
	}
	opus := map[string]any{"codecs": []any{map[string]any{"name": "opus", "mimeType": "audio/opus", "clockRate": 48000, "payloadType": 111, "channels": 2}},
		"headerExtensions": []any{}, "encodings": []any{map[string]any{"ssrc": 777}}, "rtcp": map[string]any{"cname": "e"}}
	cases := hostileCases(
		victimIDs{sendTransport: send.ID, recvTransport: recv.ID, producer: prod.ID, consumer: cd.ID, producerSSRC: prod.SSRC},
		ownIDs{transport: eveSend.ID, recvTransport: eveRecv.ID, consumer: eveConsumer, params: opus},
	)
	if len(cases) < 100 {
		t.Fatalf("only %d hostile cases", len(cases))
	}
	for i, c := range cases {
		_, err := eve.Request(ctx, c.method, c.data)
		var re *client.RequestError
		if !errors.As(err, &re) || re.Code != c.code || !strings.Contains(re.Reason, c.reason) {
			t.Errorf("%s: err = %v, want %d containing %q", c.name, err, c.code, c.reason)
		}
		if i%10 == 9 {
			flowing("after " + c.name)
		}
	}
	// Notifications naming the victim's objects change nothing.
	for _, m := range []string{"pauseProducer", "closeProducer", "pauseConsumer", "closeTransport", "disableProducerStats"} {
		for _, id := range []uint32{prod.ID, cd.ID, send.ID, recv.ID} {
			_ = eve.Notify(m, map[string]any{"id": id})
		}
	}
	flowing("after hostile notifications")
	if _, err := eve.Request(ctx, "queryRoom", nil); err != nil {
		t.Fatalf("hostile socket stopped answering: %v", err)
	}
	t.Logf("%d hostile requests answered with errors; victim media kept flowing", len(cases))
}
