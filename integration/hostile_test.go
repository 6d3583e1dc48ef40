package integration

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
)

// TestBadInputKeepsOthersFlowing: a hostile peer's malformed and
// out-of-order requests get error answers naming the problem and its
// socket keeps working; unreadable messages close only their own socket;
// a victim's media keeps flowing.
func TestBadInputKeepsOthersFlowing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	g := startGosoup(t)
	v := startVideoPair(ctx, t, g, "h")
	bob, send, recv, prod, cons := v.bob, v.send, v.recv, v.prod, v.cons
	readSome := func(n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			if _, err := cons.ReadRTP(time.Now().Add(5 * time.Second)); err != nil {
				t.Fatalf("victim media stopped: %v", err)
			}
		}
	}
	readSome(20)

	eve, err := client.Connect(ctx, g.URL, "h", "eve")
	if err != nil {
		t.Fatal(err)
	}
	defer eve.Close()
	// Before join.
	if _, err := eve.Request(ctx, "createTransport", map[string]any{"id": 1, "direction": "send"}); !isErr(err, 400, "no mediasoup Peer") {
		t.Fatalf("before join: %v", err)
	}
	if err := eve.Join(ctx, map[string]any{"displayName": "eve"}, false); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method string
		data   map[string]any
		code   int
		reason string
	}{
		{"foo", nil, 500, `Error: unknown request method "foo"`},
		{"createTransport", map[string]any{"id": "1", "direction": "send"}, 500, "TypeError: id must be a positive integer number"},
		{"createTransport", map[string]any{"id": 1, "direction": "sideways"}, 500, `TypeError: direction must be "send" or "recv"`},
		{"createProducer", map[string]any{"id": 5, "kind": "video", "transportId": 12345, "rtpParameters": map[string]any{}}, 500, "TypeError: WebRtcTransport not found"},
		{"enableConsumer", map[string]any{"id": bob.JoinPeers[0].Consumers[0].ID, "transportId": recv.ID}, 500, "Error: Consumer not found"},
		{"restartTransport", map[string]any{"id": send.ID}, 500, "Error: Transport not found"},
		{"join", map[string]any{"peerName": "eve", "rtpCapabilities": map[string]any{}}, 500, "already have a mediasoup Peer"},
		{"createTransport", map[string]any{"id": 77, "direction": "send", "options": map[string]any{"udp": false, "tcp": false}}, 500, "Error: could not open any IP:port"},
	}
	for _, c := range cases {
		_, err := eve.Request(ctx, c.method, c.data)
		if !isErr(err, c.code, c.reason) {
			t.Errorf("%s %v: err = %v, want %d %q", c.method, c.data, err, c.code, c.reason)
		}
	}
	if _, err := eve.RawRequest(ctx, "no-such-app-method", map[string]any{}); !isErr(err, 400, `unknown request.method "no-such-app-method"`) {
		t.Errorf("app method: %v", err)
	}
	// Notifications are never answered, whatever they carry; eve's socket
	// stays open (and bob's producer is not hers to close).
	for _, raw := range []string{
		`{"notification":true,"method":"mediasoup-notification","data":{"method":"pauseProducer","notification":true,"id":"x"}}`,
		`{"notification":true,"method":"mediasoup-notification","data":{"method":"closeProducer","notification":true,"id":` + itoa(prod.ID) + `}}`,
		`{"notification":true,"method":"mediasoup-notification","data":[1,2,3]}`,
	} {
		if err := eve.SendRaw([]byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	// What is not protoo at all cannot be answered: the server closes that
	// socket with a reason (codes checked in signaling's tests), and only
	// that one.
	for i, raw := range []string{`{`, `[]`, `null`, `{"request":true}`, `{"request":true,"id":"x","method":"mediasoup-request"}`,
		strings.Repeat("[", 5000)} {
		m, err := client.Connect(ctx, g.URL, "h", "mallory"+itoa(uint32(i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := m.SendRaw([]byte(raw)); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Request(ctx, "queryRoom", nil); err == nil {
			t.Errorf("%.20q: the socket still answers after an unreadable message", raw)
		}
		m.Close()
	}
	// The socket still answers, the victim still receives.
	if _, err := eve.Request(ctx, "queryRoom", nil); err != nil {
		t.Fatalf("eve's socket broken: %v", err)
	}
	readSome(50)
}

func isErr(err error, code int, reasonPrefix string) bool {
	var re *client.RequestError
	return errors.As(err, &re) && re.Code == code && strings.HasPrefix(re.Reason, reasonPrefix)
}

func itoa(v uint32) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
		if v == 0 {
			return string(b)
		}
	}
}
