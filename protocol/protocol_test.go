package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gosoup/gosoup/internal/tracetest"
)

func semantic(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return v
}

func TestClientMessagesOfTracesDecodeAndRoundTrip(t *testing.T) {
	for _, name := range tracetest.Names {
		es, err := tracetest.Load(name)
		if err != nil {
			t.Fatalf("reference trace: %v", err)
		}
		for i, e := range es {
			if e.Dir != "out" {
				continue
			}
			m, err := DecodeMessage(e.Data)
			if err != nil {
				t.Fatalf("%s #%d %s: %v", name, i, e.Method, err)
			}
			var typed any
			if e.Type == "request" {
				typed, err = DecodeRequest(m)
			} else {
				typed, err = DecodeNotification(m)
			}
			if err != nil {
				t.Fatalf("%s #%d %s: %v", name, i, e.Method, err)
			}
			b, err := json.Marshal(typed)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := semantic(t, b), semantic(t, e.Data); !reflect.DeepEqual(got, want) {
				t.Errorf("%s #%d %s round trip\n got: %s\nwant: %s", name, i, e.Method, b, e.Data)
			}
		}
	}
}

// serverTypes maps a trace line to the struct the server marshals.
func serverType(e tracetest.Entry) any {
	if e.Type == "response" {
		switch e.Method {
		case "queryRoom":
			return &QueryRoomResponse{}
		case "join":
			return &JoinResponse{}
		case "createTransport":
			return &CreateTransportResponse{}
		case "restartTransport":
			return &RestartTransportResponse{}
		case "enableConsumer":
			return &EnableConsumerResponse{}
		case "createProducer":
			return &struct{}{}
		}
		return nil
	}
	switch e.Method {
	case "newPeer":
		return &NewPeer{}
	case "peerClosed":
		return &PeerClosed{}
	case "newConsumer":
		return &NewConsumer{}
	case "consumerClosed":
		return &ConsumerClosed{}
	case "consumerPaused":
		return &ConsumerPaused{}
	case "consumerResumed":
		return &ConsumerResumed{}
	case "consumerEffectiveProfileChanged":
		return &ConsumerEffectiveProfileChanged{}
	case "transportClosed":
		return &TransportClosed{}
	case "closed":
		return &Closed{}
	}
	return nil
}

func TestServerMessagesOfTracesRoundTrip(t *testing.T) {
	for _, name := range tracetest.Names {
		es, err := tracetest.Load(name)
		if err != nil {
			t.Fatalf("reference trace: %v", err)
		}
		for i, e := range es {
			if e.Dir != "in" {
				continue
			}
			v := serverType(e)
			if v == nil {
				t.Errorf("%s #%d: no struct for %s %s", name, i, e.Type, e.Method)
				continue
			}
			if err := json.Unmarshal(e.Data, v); err != nil {
				t.Fatalf("%s #%d %s: %v", name, i, e.Method, err)
			}
			b, err := json.Marshal(reflect.ValueOf(v).Elem().Interface())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := semantic(t, b), semantic(t, e.Data); !reflect.DeepEqual(got, want) {
				t.Errorf("%s #%d %s round trip\n got: %s\nwant: %s", name, i, e.Method, b, e.Data)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40)
	big := `{"method":"join","target":"room","x":"` + strings.Repeat("a", 300<<10) + `"}`
	producer := func(extra string) string {
		return `{"method":"createProducer","target":"peer","id":1,"kind":"video","transportId":2,` + extra + `}`
	}
	cases := []struct {
		name, in, want string
	}{
		{"not json", `{`, "TypeError: invalid JSON message"},
		{"array", `[]`, "TypeError: message must be a JSON object"},
		{"string", `"join"`, "TypeError: message must be a JSON object"},
		{"number", `42`, "TypeError: message must be a JSON object"},
		{"null", `null`, "TypeError: message must be a JSON object"},
		{"empty", ``, "TypeError: message must be a JSON object"},
		{"missing method", `{"target":"room"}`, "TypeError: wrong message, method must be a string"},
		{"numeric method", `{"method":5}`, "TypeError: wrong message, method must be a string"},
		{"empty method", `{"method":""}`, "TypeError: wrong message, method must be a string"},
		{"bad target", `{"method":"join","target":"moon"}`, `TypeError: target must be "room" or "peer"`},
		{"no target", `{"method":"createTransport","id":1,"direction":"send"}`, `TypeError: missing target: "createTransport" goes to "peer"`},
		{"null target", `{"method":"queryRoom","target":null}`, `TypeError: missing target: "queryRoom" goes to "room"`},
		{"notification without target", `{"method":"leave","notification":true}`, `TypeError: missing target: "leave" goes to "peer"`},
		{"join to peer", `{"method":"join","target":"peer","peerName":"a","rtpCapabilities":{}}`, `TypeError: target: "join" goes to "room", not "peer"`},
		{"queryRoom to peer", `{"method":"queryRoom","target":"peer"}`, `TypeError: target: "queryRoom" goes to "room", not "peer"`},
		{"createProducer to room", `{"method":"createProducer","target":"room","id":1}`, `TypeError: target: "createProducer" goes to "peer", not "room"`},
		{"notification to room", `{"method":"closeProducer","target":"room","notification":true,"id":1}`, `TypeError: target: "closeProducer" goes to "peer", not "room"`},
		{"notification not bool", `{"method":"leave","target":"peer","notification":"yes"}`, "TypeError: notification must be a boolean"},
		{"too deep", deep, "Error: message nested too deeply (limit 32)"},
		{"too big", big, "Error: message too large (307240 bytes, limit 262144)"},
		{"unknown method", `{"method":"foo","target":"peer"}`, `Error: unknown request method "foo"`},
		{"request flagged notification", `{"method":"join","target":"room","notification":true}`, `Error: unknown notification method "join"`},
		{"join without peerName", `{"method":"join","target":"room","rtpCapabilities":{}}`, "TypeError: peerName must be a string"},
		{"join numeric peerName", `{"method":"join","target":"room","peerName":5,"rtpCapabilities":{}}`, "TypeError: peerName must be a string"},
		{"join without caps", `{"method":"join","target":"room","peerName":"a"}`, "TypeError: missing rtpCapabilities"},
		{"join caps string", `{"method":"join","target":"room","peerName":"a","rtpCapabilities":"x"}`, "TypeError: rtpCapabilities must be an object"},
		{"join codecs not array", `{"method":"join","target":"room","peerName":"a","rtpCapabilities":{"codecs":{}}}`, "TypeError: invalid rtpCapabilities: codecs must be an array"},
		{"join spy string", `{"method":"join","target":"room","peerName":"a","rtpCapabilities":{},"spy":"no"}`, "TypeError: spy must be a boolean"},
		{"transport id string", `{"method":"createTransport","target":"peer","id":"123","direction":"send"}`, "TypeError: id must be a positive integer number"},
		{"transport id negative", `{"method":"createTransport","target":"peer","id":-1,"direction":"send"}`, "TypeError: id must be a positive integer number"},
		{"transport id fraction", `{"method":"createTransport","target":"peer","id":1.5,"direction":"send"}`, "TypeError: id must be a positive integer number"},
		{"transport id huge", `{"method":"createTransport","target":"peer","id":1e20,"direction":"send"}`, "TypeError: id must be a positive integer number"},
		{"transport no id", `{"method":"createTransport","target":"peer","direction":"send"}`, "TypeError: missing id"},
		{"transport bad direction", `{"method":"createTransport","target":"peer","id":1,"direction":"up"}`, `TypeError: direction must be "send" or "recv"`},
		{"transport options array", `{"method":"createTransport","target":"peer","id":1,"direction":"send","options":[]}`, "TypeError: options must be an object"},
		{"transport dtls string", `{"method":"createTransport","target":"peer","id":1,"direction":"send","dtlsParameters":"x"}`, "TypeError: dtlsParameters must be an object"},
		{"producer without transportId", `{"method":"createProducer","target":"peer","id":1,"kind":"video","rtpParameters":{}}`, "TypeError: missing transportId"},
		{"producer kind number", `{"method":"createProducer","target":"peer","id":1,"kind":1,"transportId":2,"rtpParameters":{}}`, "TypeError: kind must be a string"},
		{"producer params string", producer(`"rtpParameters":"x"`), "TypeError: rtpParameters must be an object"},
		{"producer without params", producer(`"paused":false`), "TypeError: missing rtpParameters"},
		{"producer ssrc string", producer(`"rtpParameters":{"encodings":[{"ssrc":"1"}]}`), "TypeError: invalid rtpParameters: encodings.ssrc must be a number"},
		{"producer paused string", producer(`"paused":"no","rtpParameters":{}`), "TypeError: paused must be a boolean"},
		{"consumer bad profile", `{"method":"enableConsumer","target":"peer","id":1,"transportId":2,"preferredProfile":"ultra"}`, `TypeError: invalid preferredProfile "ultra"`},
		{"profile notification invalid", `{"method":"setConsumerPreferredProfile","target":"peer","notification":true,"id":1,"profile":"none"}`, `TypeError: invalid profile "none"`},
		{"stats interval string", `{"method":"enableTransportStats","target":"peer","notification":true,"id":1,"interval":"x"}`, "TypeError: interval must be a number of milliseconds"},
		{"pause without id", `{"method":"pauseProducer","target":"peer","notification":true}`, "TypeError: missing id"},
		{"unknown notification", `{"method":"dance","target":"peer","notification":true}`, `Error: unknown notification method "dance"`},
		{"update transport no id", `{"method":"updateTransport","target":"peer","notification":true}`, "TypeError: missing id"},
	}
	for _, c := range cases {
		m, err := DecodeMessage([]byte(c.in))
		if err == nil {
			if m.Notification {
				_, err = DecodeNotification(m)
			} else {
				_, err = DecodeRequest(m)
			}
		}
		if err == nil || err.Error() != c.want {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestNotificationHeader(t *testing.T) {
	b, _ := json.Marshal(ConsumerClosed{ID: 7, PeerName: "alice"})
	if string(b) != `{"method":"consumerClosed","target":"peer","notification":true,"id":7,"peerName":"alice"}` {
		t.Fatalf("%s", b)
	}
	b, _ = json.Marshal(Closed{})
	if string(b) != `{"method":"closed","target":"peer","notification":true}` {
		t.Fatalf("%s", b)
	}
}

func FuzzDecodeMessage(f *testing.F) {
	for _, name := range tracetest.Names {
		es, _ := tracetest.Load(name)
		for _, e := range es {
			f.Add([]byte(e.Data))
		}
	}
	f.Add([]byte(`{"method":"createTransport","id":1e400}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-protocol error %T", err)
			}
			return
		}
		_, _ = DecodeRequest(m)
		_, _ = DecodeNotification(m)
	})
}
