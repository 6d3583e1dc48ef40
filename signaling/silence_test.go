package signaling_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/signaling"
)

// The tests of this file check that a client always hears back: a request
// gosoup refuses is answered with an error when its id can be read, and
// anything else it refuses closes the socket with a code and a reason.

// sendRaw writes one WebSocket message as it is.
func (c *protooConn) sendRaw(typ int, b []byte) {
	c.t.Helper()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// responseTo reads until the response to id and returns it; notifications
// are kept.
func (c *protooConn) responseTo(id uint64) *signaling.Frame {
	c.t.Helper()
	for {
		f, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for the response to %d: %v", id, err)
		}
		if f.Response && *f.ID == id {
			return f
		}
		if f.Notification {
			c.notes = append(c.notes, f)
			continue
		}
		c.t.Fatalf("unexpected frame %+v while waiting for the response to %d", f, id)
	}
}

// untilClose reads until the server closes the socket and returns the
// responses read before the close frame, and the close frame.
func (c *protooConn) untilClose() ([]*signaling.Frame, *websocket.CloseError) {
	c.t.Helper()
	var responses []*signaling.Frame
	for {
		f, err := c.read(5 * time.Second)
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) {
				c.t.Fatalf("%s: read %v, want a close frame", c.peer, err)
			}
			return responses, ce
		}
		if f.Response {
			responses = append(responses, f)
		}
	}
}

// stillAnswers checks that c's session answers a mediasoup request.
func (c *protooConn) stillAnswers() {
	c.t.Helper()
	if r := c.mediasoup(map[string]any{"method": "queryRoom", "target": "room"}); !r.OK {
		c.t.Fatalf("%s: queryRoom refused: %d %s", c.peer, r.ErrorCode, r.ErrorReason)
	}
}

// nested returns a JSON value of depth n: arrays, or objects {"a": ...}.
func nested(n int, objects bool) string {
	if objects {
		return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	}
	return strings.Repeat("[", n) + strings.Repeat("]", n)
}

func wantError(t *testing.T, f *signaling.Frame, id uint64, code int, reason string) {
	t.Helper()
	if f.OK || *f.ID != id || f.ErrorCode != code || f.ErrorReason != reason {
		t.Fatalf("response %d: ok=%v %d %q, want error %d %q", *f.ID, f.OK, f.ErrorCode, f.ErrorReason, code, reason)
	}
}

func TestDeepRequestIsAnswered(t *testing.T) {
	s := startServer(t, signaling.Options{})
	c := s.mustDial(t, "r1", "alice", nil, nil)
	c.mustJoin(false)
	const reason = "Error: message nested too deeply (limit 32)"
	for i, data := range []string{
		nested(10000, false), // beyond encoding/json's own limit
		nested(10000, true),
		nested(100000, false),
		`{"method":"queryRoom","target":"room","appData":` + nested(32, true) + `}`, // one level too deep
	} {
		id := uint64(1000 + i)
		c.sendRaw(websocket.TextMessage, []byte(`{"request":true,"id":`+jsonNumber(id)+`,"method":"mediasoup-request","data":`+data+`}`))
		wantError(t, c.responseTo(id), id, 500, reason)
	}
	// At the limit: a mediasoup message of depth 32 goes through.
	c.sendRaw(websocket.TextMessage, []byte(`{"request":true,"id":2000,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room","appData":`+nested(31, true)+`}}`))
	if r := c.responseTo(2000); !r.OK {
		t.Fatalf("request at the depth limit refused: %d %s", r.ErrorCode, r.ErrorReason)
	}
	c.stillAnswers()
}

func TestMalformedRequestIsAnswered(t *testing.T) {
	s := startServer(t, signaling.Options{})
	c := s.mustDial(t, "r1", "alice", nil, nil)
	c.mustJoin(false)
	for _, tc := range []struct {
		id     uint64
		msg    string
		reason string
	}{
		{501, `{"request":true,"id":501,"data":{}}`, "missing method"},
		{502, `{"request":true,"id":502,"method":""}`, "missing method"},
		{503, `{"request":true,"id":503,"method":7,"data":{}}`, "method must be a string"},
		{504, `{"request":true,"id":504,"method":"mediasoup-request","data":{"method":"queryRoom"`, "invalid JSON"},
		{505, `{"request":true,"id":505,"method":"mediasoup-request"} trailing`, "invalid JSON"},
		{506, `{"request":true,"id":506,"method":"x","ok":"yes"}`, "ok must be a boolean"},
	} {
		c.sendRaw(websocket.TextMessage, []byte(tc.msg))
		wantError(t, c.responseTo(tc.id), tc.id, 400, tc.reason)
	}
	c.stillAnswers()
}

func TestUnanswerableMessageClosesWithReason(t *testing.T) {
	s := startServer(t, signaling.Options{})
	bob := s.mustDial(t, "r1", "bob", nil, nil)
	bob.mustJoin(false)
	for _, tc := range []struct {
		name   string
		typ    int
		msg    string
		code   int
		reason string
	}{
		{"garbage", websocket.TextMessage, "\x00\xffnot json at all", 1007, "malformed protoo message: invalid JSON"},
		{"array", websocket.TextMessage, `[1,2,3]`, 1007, "malformed protoo message: message must be a JSON object"},
		{"request without id", websocket.TextMessage, `{"request":true,"method":"mediasoup-request"}`, 1007, "malformed protoo message: request without id"},
		{"string id", websocket.TextMessage, `{"request":true,"id":"7","method":"x"}`, 1007, "malformed protoo message: id must be a non-negative integer"},
		{"negative id", websocket.TextMessage, `{"request":true,"id":-7,"method":"x"}`, 1007, "malformed protoo message: id must be a non-negative integer"},
		{"notification without method", websocket.TextMessage, `{"notification":true,"data":{}}`, 1007, "malformed protoo message: notification without method"},
		{"no kind", websocket.TextMessage, `{"id":3,"method":"x"}`, 1007, "malformed protoo message: not a request, response or notification"},
		{"deep notification", websocket.TextMessage, `{"notification":true,"method":"mediasoup-notification","data":` + nested(10000, false) + `}`, 1008, "message nested too deeply (limit 32)"},
		{"binary", websocket.BinaryMessage, `{"request":true,"id":1,"method":"x"}`, 1003, "protoo messages are text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := s.mustDial(t, "r1", "alice", nil, nil)
			alice.mustJoin(false)
			alice.sendRaw(tc.typ, []byte(tc.msg))
			responses, ce := alice.untilClose()
			if len(responses) != 0 {
				t.Errorf("answered %+v before closing", responses[0])
			}
			if ce.Code != tc.code || ce.Text != tc.reason {
				t.Errorf("closed with %d %q, want %d %q", ce.Code, ce.Text, tc.code, tc.reason)
			}
			// The other peer of the room goes on.
			bob.stillAnswers()
			waitFor(t, func() bool { return s.Sig.Sessions() == 1 }, "alice's session to end")
		})
	}
}

func TestOversizedRequestIsAnsweredThenClosed(t *testing.T) {
	s := startServer(t, signaling.Options{})
	bob := s.mustDial(t, "r1", "bob", nil, nil)
	bob.mustJoin(false)
	const reason = "message too large (limit 512 KiB)"
	big := strings.Repeat("x", signaling.MaxFrameSize)

	t.Run("id readable", func(t *testing.T) {
		alice := s.mustDial(t, "r1", "alice", nil, nil)
		alice.mustJoin(false)
		alice.sendRaw(websocket.TextMessage, []byte(`{"request":true,"id":4711,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room","appData":"`+big+`"}}`))
		responses, ce := alice.untilClose()
		if len(responses) != 1 {
			t.Fatalf("%d responses before the close, want 1", len(responses))
		}
		wantError(t, responses[0], 4711, 413, reason)
		if ce.Code != websocket.CloseMessageTooBig || ce.Text != reason {
			t.Fatalf("closed with %d %q, want 1009 %q", ce.Code, ce.Text, reason)
		}
	})
	t.Run("id not in the first bytes", func(t *testing.T) {
		alice := s.mustDial(t, "r1", "alice", nil, nil)
		alice.sendRaw(websocket.TextMessage, []byte(`{"data":"`+big+`","request":true,"id":4712,"method":"x"}`))
		responses, ce := alice.untilClose()
		if len(responses) != 0 {
			t.Fatalf("answered %+v, want only the close", responses[0])
		}
		if ce.Code != websocket.CloseMessageTooBig || ce.Text != reason {
			t.Fatalf("closed with %d %q, want 1009 %q", ce.Code, ce.Text, reason)
		}
	})
	t.Run("binary", func(t *testing.T) {
		alice := s.mustDial(t, "r1", "alice", nil, nil)
		alice.sendRaw(websocket.BinaryMessage, []byte(big+"xx"))
		if _, ce := alice.untilClose(); ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("closed with %d %q, want 1009", ce.Code, ce.Text)
		}
	})
	t.Run("at the limit", func(t *testing.T) {
		alice := s.mustDial(t, "r1", "alice", nil, nil)
		alice.mustJoin(false)
		head := `{"request":true,"id":4713,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room","appData":"`
		tail := `"}}`
		alice.sendRaw(websocket.TextMessage, []byte(head+big[:signaling.MaxFrameSize-len(head)-len(tail)]+tail))
		// Over the mediasoup message limit, under the frame limit: an
		// ordinary error, and the socket stays open.
		r := alice.responseTo(4713)
		if r.OK || !strings.Contains(r.ErrorReason, "message too large") || r.ErrorCode != 500 {
			t.Fatalf("response %d %q", r.ErrorCode, r.ErrorReason)
		}
		alice.stillAnswers()
	})
	bob.stillAnswers()
}

func jsonNumber(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
