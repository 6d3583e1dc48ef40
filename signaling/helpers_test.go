package signaling_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// testServer is a gosoup signaling server on loopback.
type testServer struct {
	SFU *sfu.Server
	Sig *signaling.Server
	URL string // ws://127.0.0.1:port/
}

func startServer(t *testing.T, opts signaling.Options) *testServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIP: "127.0.0.1"},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	sig := signaling.NewServerWithOptions(srv, log, opts)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() {
		hs.Close()
		sig.Close()
		_ = srv.Close()
	})
	return &testServer{SFU: srv, Sig: sig, URL: "ws://" + strings.TrimPrefix(hs.URL, "http://") + "/"}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// dial opens a protoo WebSocket for room and peer; extra adds query
// parameters. On a refused handshake it returns the HTTP response.
func (s *testServer) dial(t *testing.T, room, peer string, extra url.Values, header http.Header) (*protooConn, *http.Response, error) {
	t.Helper()
	q := url.Values{"roomId": {room}, "peerName": {peer}}
	for k, v := range extra {
		q[k] = v
	}
	d := websocket.Dialer{Subprotocols: []string{"protoo"}, HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(s.URL+"?"+q.Encode(), header)
	if err != nil {
		return nil, resp, err
	}
	c := &protooConn{t: t, ws: ws, peer: peer, nextID: 1}
	t.Cleanup(func() { ws.Close() })
	return c, resp, nil
}

// mustDial is dial that must succeed.
func (s *testServer) mustDial(t *testing.T, room, peer string, extra url.Values, header http.Header) *protooConn {
	t.Helper()
	c, resp, err := s.dial(t, room, peer, extra, header)
	if err != nil {
		t.Fatalf("dial %s/%s: %v (%s)", room, peer, err, describe(resp))
	}
	return c
}

// expectRefused dials and checks the HTTP refusal.
func (s *testServer) expectRefused(t *testing.T, room, peer string, extra url.Values, header http.Header, status int, bodyPrefix string) {
	t.Helper()
	c, resp, err := s.dial(t, room, peer, extra, header)
	if err == nil {
		c.ws.Close()
		t.Fatalf("dial %s/%s accepted, want HTTP %d %q", room, peer, status, bodyPrefix)
	}
	if resp == nil {
		t.Fatalf("dial %s/%s: %v, want HTTP %d", room, peer, err, status)
	}
	body := readBody(resp)
	if resp.StatusCode != status || !strings.HasPrefix(body, bodyPrefix) {
		t.Fatalf("dial %s/%s: HTTP %d %q, want %d %q", room, peer, resp.StatusCode, body, status, bodyPrefix)
	}
}

func readBody(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

func describe(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status + " " + readBody(resp)
}

// roomIDs returns the ids of the SFU's open rooms.
func (s *testServer) roomIDs() []string {
	var ids []string
	for _, r := range s.SFU.Rooms() {
		ids = append(ids, r.ID())
	}
	return ids
}

// protooConn is a minimal protoo client: requests and reads in the test
// goroutine, notifications kept in order.
type protooConn struct {
	t      *testing.T
	ws     *websocket.Conn
	peer   string
	nextID uint64
	notes  []*signaling.Frame
}

// read returns the next protoo frame.
func (c *protooConn) read(timeout time.Duration) (*signaling.Frame, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	f, err := signaling.ParseFrame(b)
	if err != nil {
		return nil, errors.New("bad protoo frame: " + string(b))
	}
	return f, nil
}

// request sends a protoo request and returns its response frame.
func (c *protooConn) request(method string, data any) *signaling.Frame {
	c.t.Helper()
	id := c.nextID
	c.nextID++
	b, err := json.Marshal(map[string]any{"request": true, "id": id, "method": method, "data": data})
	if err != nil {
		c.t.Fatal(err)
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.t.Fatalf("write request: %v", err)
	}
	for {
		f, err := c.read(5 * time.Second)
		if err != nil {
			c.t.Fatalf("waiting for response to %s: %v", method, err)
		}
		switch {
		case f.Notification:
			c.notes = append(c.notes, f)
		case f.Response && *f.ID == id:
			return f
		}
	}
}

// mediasoup sends a mediasoup request.
func (c *protooConn) mediasoup(req map[string]any) *signaling.Frame {
	c.t.Helper()
	return c.request("mediasoup-request", req)
}

// join sends queryRoom, then join with the room's capabilities, and
// returns the join response.
func (c *protooConn) join(spy bool) *signaling.Frame {
	c.t.Helper()
	q := c.mediasoup(map[string]any{"method": "queryRoom", "target": "room"})
	if !q.OK {
		c.t.Fatalf("queryRoom: %d %s", q.ErrorCode, q.ErrorReason)
	}
	var caps struct {
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}
	if err := json.Unmarshal(q.Data, &caps); err != nil {
		c.t.Fatal(err)
	}
	return c.mediasoup(map[string]any{
		"method": "join", "target": "room", "peerName": c.peer,
		"rtpCapabilities": caps.RTPCapabilities, "spy": spy, "appData": map[string]any{},
	})
}

// mustJoin joins and fails the test when the join is refused.
func (c *protooConn) mustJoin(spy bool) {
	c.t.Helper()
	if r := c.join(spy); !r.OK {
		c.t.Fatalf("join %s: %d %s", c.peer, r.ErrorCode, r.ErrorReason)
	}
}

// mediasoupNotification returns the mediasoup method of a protoo
// "mediasoup-notification", or "".
func mediasoupNotification(f *signaling.Frame) string {
	if !f.Notification || f.Method != "mediasoup-notification" {
		return ""
	}
	var m struct {
		Method       string `json:"method"`
		Target       string `json:"target"`
		Notification bool   `json:"notification"`
	}
	if json.Unmarshal(f.Data, &m) != nil || !m.Notification || m.Target != "peer" {
		return ""
	}
	return m.Method
}
