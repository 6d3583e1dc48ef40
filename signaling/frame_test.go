package signaling

import (
	"encoding/json"
	"testing"
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

func FuzzParseFrame(f *testing.F) {
	f.Add([]byte(`{"request":true,"id":6935271,"method":"mediasoup-request","data":{"method":"queryRoom","target":"room"}}`))
	f.Add([]byte(`{"notification":true,"method":"mediasoup-notification","data":{"method":"leave","target":"peer","notification":true}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		f, err := ParseFrame(b)
		if err == nil && (f.Data == nil || (!f.Request && !f.Notification && !f.Response)) {
			t.Fatalf("accepted invalid frame %q", b)
		}
	})
}
