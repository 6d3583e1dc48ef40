package admin

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// newLoopbackSFU starts an SFU on loopback with a silent logger, closed
// when the test ends (after what the test starts over it).
func newLoopbackSFU(t *testing.T) (*sfu.Server, *slog.Logger) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", AnnouncedIPs: []string{"127.0.0.1"}},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, log
}

// newTestHandler starts an SFU on loopback and the API over it.
func newTestHandler(t *testing.T, recordDir string) (*Handler, *sfu.Server) {
	t.Helper()
	srv, log := newLoopbackSFU(t)
	h := New(Options{Server: srv, RecordDir: recordDir, Logger: log})
	t.Cleanup(func() {
		h.Close()
	})
	return h, srv
}

// call sends one request from loopback and decodes the JSON answer.
func call(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = "127.0.0.1:4000"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	out := map[string]any{}
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: %d %q: %v", method, path, w.Code, w.Body.String(), err)
		}
	}
	return w.Code, out
}

// ingestSynthetic creates an ingest peer (Opus + VP8) and sends it
// synthetic media (a VP8 key frame every 10 frames) until the test ends.
func ingestSynthetic(t *testing.T, h http.Handler, room, peer string) {
	t.Helper()
	code, out := call(t, h, "POST", "/admin/rooms/"+room+"/ingest", `{"peerName":"`+peer+`","kinds":["audio","video"],"videoCodec":"VP8"}`)
	if code != http.StatusCreated {
		t.Fatalf("ingest: %d %v", code, out)
	}
	dial := func(kind string) (*net.UDPConn, uint8, uint32) {
		s := out[kind].(map[string]any)
		c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.ParseIP(s["ip"].(string)), Port: int(s["port"].(float64))})
		if err != nil {
			t.Fatal(err)
		}
		return c, uint8(s["payloadType"].(float64)), uint32(s["ssrc"].(float64))
	}
	ac, apt, assrc := dial("audio")
	vc, vpt, vssrc := dial("video")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			a := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: apt, SequenceNumber: uint16(i), Timestamp: uint32(i * 960), SSRC: assrc},
				Payload: []byte{0xfc, 0xff, 0xfe}}
			b, _ := a.Marshal()
			_, _ = ac.Write(b)
			if i%5 != 0 { // video every 100 ms
				continue
			}
			n := i / 5
			frame := []byte{0x10, 0x11, 0, 0, 1, 2, 3, 4, 5, 6, 7}
			if n%10 == 0 { // key frame, 320x240
				frame = []byte{0x10, 0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00}
			}
			v := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: vpt, SequenceNumber: uint16(n), Timestamp: uint32(n * 9000),
				SSRC: vssrc, Marker: true}, Payload: frame}
			b, _ = v.Marshal()
			_, _ = vc.Write(b)
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait(); ac.Close(); vc.Close() })
}

func TestRecordingsOffWithoutRecordDir(t *testing.T) {
	h, _ := newTestHandler(t, "")
	code, out := call(t, h, "POST", "/admin/rooms/r/recordings", `{"peerName":"alice"}`)
	if code != http.StatusServiceUnavailable || out["error"] != errRecordingOff {
		t.Fatalf("%d %v", code, out)
	}
}

func TestRecordingsBadRequests(t *testing.T) {
	h, _ := newTestHandler(t, t.TempDir())
	ingestSynthetic(t, h, "r", "tool")
	for _, tc := range []struct {
		path, body string
		code       int
		text       string
	}{
		{"/admin/rooms/r/recordings", `{`, 400, "invalid body"},
		{"/admin/rooms/r/recordings", `{"peerName":"tool","x":1}`, 400, "unknown field"},
		{"/admin/rooms/r/recordings", `{}`, 400, "peerName"},
		{"/admin/rooms/nope/recordings", `{"peerName":"tool"}`, 404, `no room "nope"`},
		{"/admin/rooms/r/recordings", `{"peerName":"bob"}`, 404, `no peer "bob"`},
	} {
		code, out := call(t, h, "POST", tc.path, tc.body)
		if code != tc.code || !strings.Contains(out["error"].(string), tc.text) {
			t.Errorf("POST %s %s: %d %v, want %d %q", tc.path, tc.body, code, out, tc.code, tc.text)
		}
	}
	if code, _ := call(t, h, "DELETE", "/admin/rooms/r/recordings/0123456789abcdef", ""); code != 404 {
		t.Errorf("DELETE unknown id: %d", code)
	}
}

// TestRecordingH264 starts and stops the recording of an H264 peer: an
// MP4 file (what the recorder writes is verified in package record).
func TestRecordingH264(t *testing.T) {
	dir := t.TempDir()
	h, _ := newTestHandler(t, dir)
	if code, out := call(t, h, "POST", "/admin/rooms/r/ingest", `{"peerName":"cam","kinds":["video"],"videoCodec":"H264"}`); code != 201 {
		t.Fatalf("ingest H264: %d %v", code, out)
	}
	code, out := call(t, h, "POST", "/admin/rooms/r/recordings", `{"peerName":"cam"}`)
	if code != http.StatusCreated || !strings.HasSuffix(out["file"].(string), ".mp4") {
		t.Fatalf("POST H264: %d %v", code, out)
	}
	code, out = call(t, h, "DELETE", "/admin/rooms/r/recordings/"+out["id"].(string), "")
	if code != http.StatusOK || out["reason"] != "stopped" {
		t.Fatalf("DELETE: %d %v", code, out)
	}
}

// TestRecordingStartStop: POST starts, DELETE stops and answers the
// finalized file; the id is then unknown, and unknown in another room.
func TestRecordingStartStop(t *testing.T) {
	dir := t.TempDir()
	h, _ := newTestHandler(t, dir)
	ingestSynthetic(t, h, "r", "tool")
	code, out := call(t, h, "POST", "/admin/rooms/r/recordings", `{"peerName":"tool"}`)
	if code != http.StatusCreated {
		t.Fatalf("POST: %d %v", code, out)
	}
	id, file := out["id"].(string), out["file"].(string)
	if len(id) != 16 || !strings.HasPrefix(file, dir+"/r-tool-") {
		t.Fatalf("answer %v", out)
	}
	time.Sleep(2 * time.Second)
	if code, _ := call(t, h, "DELETE", "/admin/rooms/other/recordings/"+id, ""); code != 404 {
		t.Fatalf("DELETE from another room: %d", code)
	}
	code, out = call(t, h, "DELETE", "/admin/rooms/r/recordings/"+id, "")
	if code != http.StatusOK || out["file"] != file || out["durationMs"].(float64) < 1000 || out["reason"] != "stopped" {
		t.Fatalf("DELETE: %d %v", code, out)
	}
	b, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(b, []byte{0x1a, 0x45, 0xdf, 0xa3}) {
		t.Fatalf("file %s: %v, %d bytes", file, err, len(b))
	}
	if code, _ := call(t, h, "DELETE", "/admin/rooms/r/recordings/"+id, ""); code != 404 {
		t.Fatalf("second DELETE: %d", code)
	}
}

// TestRecordingStopsWhenThePeerLeaves: the recording ends with the peer;
// its DELETE still answers the file and why it ended.
func TestRecordingStopsWhenThePeerLeaves(t *testing.T) {
	h, _ := newTestHandler(t, t.TempDir())
	ingestSynthetic(t, h, "r", "tool")
	_, out := call(t, h, "POST", "/admin/rooms/r/recordings", `{"peerName":"tool"}`)
	id := out["id"].(string)
	time.Sleep(1500 * time.Millisecond)
	if code, _ := call(t, h, "DELETE", "/admin/rooms/r/ingest?peerName=tool", ""); code != http.StatusNoContent {
		t.Fatalf("ending the ingest: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.records.mu.Lock()
		stopped := h.records.byID[id].stopped
		h.records.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the recording did not stop with its peer")
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, out := call(t, h, "DELETE", "/admin/rooms/r/recordings/"+id, "")
	if code != 200 || out["reason"] != "producers closed" || out["durationMs"].(float64) < 500 {
		t.Fatalf("DELETE: %d %v", code, out)
	}
}

// TestCloseFinalizesRecordings: Handler.Close stops what runs.
func TestCloseFinalizesRecordings(t *testing.T) {
	h, _ := newTestHandler(t, t.TempDir())
	ingestSynthetic(t, h, "r", "tool")
	_, out := call(t, h, "POST", "/admin/rooms/r/recordings", `{"peerName":"tool"}`)
	id, file := out["id"].(string), out["file"].(string)
	time.Sleep(1500 * time.Millisecond)
	h.Close()
	if st, err := os.Stat(file); err != nil || st.Size() < 1000 {
		t.Fatalf("file after Close: %v %v", st, err)
	}
	if code, _ := call(t, h, "DELETE", "/admin/rooms/r/recordings/"+id, ""); code != 404 {
		t.Fatalf("DELETE after Close: %d", code)
	}
}
