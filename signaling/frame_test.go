package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/gosoup/gosoup/protocol"
)

func TestParseFrame(t *testing.T) {
	ok := []string{
		`{"request":true,"id":6935271,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room"}}`,
		`{"request":true,"id":1,"method":"x"}`,
		`{"notification":true,"method":"mediasoup-notification","data":{}}`,
		`{"response":true,"id":5,"ok":true,"data":{}}`,
	}
	for _, s := range ok {
		f, err := ParseFrame([]byte(s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if len(f.Data) == 0 {
			t.Errorf("%s: data not defaulted", s)
		}
	}
	bad := []string{
		``, `null`, `[]`, `"x"`, `42`, `{}`, `{"request":true,"method":"m"}`, `{"request":true,"id":"1","method":"m"}`,
		`{"request":true,"id":1}`, `{"request":true,"id":1,"method":7}`, `{"notification":true}`,
		`{"request":true,"id":-1,"method":"m"}`, `{"request":true,"id":1.5,"method":"m"}`, `{"request":true,"id":1,"method":"m"} {}`,
		`{"response":true}`,
	}
	for _, s := range bad {
		if _, err := ParseFrame([]byte(s)); err == nil {
			t.Errorf("%s: accepted", s)
		}
	}
}

func TestResponsesAreProtooShaped(t *testing.T) {
	b, err := successResponse(7, struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"response":true,"id":7,"ok":true,"data":{}}` {
		t.Fatalf("success = %s", b)
	}
	b, _ = successResponse(7, nil)
	if string(b) != `{"response":true,"id":7,"ok":true,"data":{}}` {
		t.Fatalf("nil success = %s", b)
	}
	var e map[string]any
	if err := json.Unmarshal(errorResponse(8, 500, `Error: unknown request method "foo"`), &e); err != nil {
		t.Fatal(err)
	}
	if e["errorCode"] != float64(500) || e["errorReason"] != `Error: unknown request method "foo"` || e["response"] != true || e["ok"] != false {
		t.Fatalf("error = %v", e)
	}
}

func TestParseFrameErrors(t *testing.T) {
	deep := `{"request":true,"id":9,"method":"m","data":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	for _, tc := range []struct {
		in     string
		id     int64 // -1: none
		code   int
		reason string
		close  int
	}{
		{`{"request":true,"id":1}`, 1, 400, "missing method", 1007},
		{`{"request":true,"id":2,"method":7}`, 2, 400, "method must be a string", 1007},
		{`{"request":true,"id":3,"method":"m"`, 3, 400, "invalid JSON", 1007},
		{`{"request":true,"id":4,"method":"m"} ]`, 4, 400, "invalid JSON", 1007},
		{`{"request":true,"id":-4,"method":"m"}`, -1, 400, "id must be a non-negative integer", 1007},
		{`{"request":true,"id":4.5,"method":"m"}`, -1, 400, "id must be a non-negative integer", 1007},
		{`{"request":"yes","id":5,"method":"m"}`, -1, 400, "request must be a boolean", 1007},
		{`{"request":true,"method":"m"}`, -1, 400, "request without id", 1007},
		{`{"notification":true}`, -1, 400, "notification without method", 1007},
		{`{"response":true}`, -1, 400, "response without id", 1007},
		{`{}`, -1, 400, "not a request, response or notification", 1007},
		{`"x"`, -1, 400, "message must be a JSON object", 1007},
		{``, -1, 400, "invalid JSON", 1007},
		{deep, 9, 500, "Error: message nested too deeply (limit 32)", 1008},
		{`{"id":10,"request":true,"data":` + strings.Repeat(`{"a":`, 40), 10, 500, "Error: message nested too deeply (limit 32)", 1008},
	} {
		_, err := ParseFrame([]byte(tc.in))
		fe, ok := errors.AsType[*FrameError](err)
		if !ok || !errors.Is(err, ErrInvalidFrame) {
			t.Errorf("%.60s: error %v, want a FrameError", tc.in, err)
			continue
		}
		if (fe.ID == nil) != (tc.id < 0) || (fe.ID != nil && int64(*fe.ID) != tc.id) {
			t.Errorf("%.60s: id %v, want %d", tc.in, fe.ID, tc.id)
		}
		if fe.Code != tc.code || fe.Reason != tc.reason || fe.CloseCode != tc.close || fe.CloseReason == "" {
			t.Errorf("%.60s: %d %q / close %d %q, want %d %q / close %d", tc.in, fe.Code, fe.Reason, fe.CloseCode, fe.CloseReason, tc.code, tc.reason, tc.close)
		}
	}
	// The depth refusal says what protocol.DecodeMessage says.
	_, derr := protocol.DecodeMessage([]byte(strings.Repeat("[", 40) + strings.Repeat("]", 40)))
	if _, err := ParseFrame([]byte(deep)); err.(*FrameError).Reason != derr.Error() {
		t.Errorf("depth reason %q, protocol says %q", err.(*FrameError).Reason, derr)
	}
}

func TestPeekRequestID(t *testing.T) {
	for _, tc := range []struct {
		in string
		id int64 // -1: none
	}{
		{`{"request":true,"id":123,"method":"x","data":{}}`, 123},
		{` { "id" : 7 , "request" : true }`, 7},
		{`{"request":true,"id":123`, -1},   // the number may go on
		{`{"request":true,"id":123,`, 123}, // cut after the id
		{`{"data":{"id":5,"request":true},"request":true,"id":6,"method":"`, 6},
		{`{"data":"{\"id\":5","request":true,"id":8}`, 8},
		{`{"data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`, -1},
		{`{"request":false,"id":1}`, -1},
		{`{"notification":true,"id":1}`, -1},
		{`{"request":true,"id":"1"}`, -1},
		{`{"request":true,"id":-1}`, -1},
		{`{"request":true,"id":1e3}`, -1},
		{`{"request":true,"id":18446744073709551616}`, -1},
		{`{"request":true,"id":1,"id":2}`, 2},
		{`[{"request":true,"id":1}]`, -1},
		{`{"request":true "id":1}`, -1},
		{``, -1},
		{`{`, -1},
		{`{"`, -1},
		{`{"request":true,"id":1,"x":"\`, 1},
	} {
		got := peekRequestID([]byte(tc.in))
		if (got == nil) != (tc.id < 0) || (got != nil && int64(*got) != tc.id) {
			t.Errorf("%s: id %v, want %d", tc.in, got, tc.id)
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte(`{"request":true,"id":6935271,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room"}}`))
	f.Add([]byte(`{"notification":true,"method":"mediasoup-notification","data":{"method":"leave","target":"peer","notification":true}}`))
	f.Add([]byte(`{"request":true,"id":5,"data":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`))
	f.Add([]byte(`{"request":true,"id":5,"method":"x","data":"\u0022"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		f, err := ParseFrame(b)
		if err == nil {
			if f.Data == nil || (!f.Request && !f.Notification && !f.Response) {
				t.Fatalf("accepted invalid frame %q", b)
			}
			return
		}
		fe, ok := errors.AsType[*FrameError](err)
		if !ok || fe.Reason == "" || fe.Code == 0 || fe.CloseCode == 0 || fe.CloseReason == "" {
			t.Fatalf("%q: error %#v", b, err)
		}
		if fe.ID != nil && !bytes.Contains(b, []byte(`"id"`)) {
			t.Fatalf("%q: id %d read from nowhere", b, *fe.ID)
		}
		_ = peekRequestID(b[:len(b)/2])
	})
}
