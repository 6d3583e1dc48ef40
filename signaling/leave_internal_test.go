package signaling

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// rawPeer is a bare protoo client for the session's internal tests.
type rawPeer struct {
	t      *testing.T
	ws     *websocket.Conn
	name   string
	nextID int
	frames chan *Frame // closed when the connection ends
}

func dialRaw(t *testing.T, url, room, name string) *rawPeer {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"protoo"}, HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(url+"/?roomId="+room+"&peerName="+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, ws: ws, name: name, frames: make(chan *Frame, 64)}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		defer close(p.frames)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			f, err := ParseFrame(b)
			if err != nil {
				continue
			}
			select {
			case p.frames <- f:
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		ws.Close()
		<-done
	})
	return p
}

func (p *rawPeer) write(v any) {
	p.t.Helper()
	b, _ := json.Marshal(v)
	_ = p.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := p.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		p.t.Fatal(err)
	}
}

// next returns the next frame, or nil when none comes within wait.
func (p *rawPeer) next(wait time.Duration) *Frame {
	p.t.Helper()
	select {
	case f, ok := <-p.frames:
		if !ok {
			p.t.Fatalf("%s: connection closed", p.name)
		}
		return f
	case <-time.After(wait):
		return nil
	}
}

// request sends a mediasoup request and returns its response data; the
// notifications read meanwhile are dropped.
func (p *rawPeer) request(data map[string]any) json.RawMessage {
	p.t.Helper()
	id := p.nextID
	p.nextID++
	p.write(map[string]any{"request": true, "id": id, "method": "mediasoup-request", "data": data})
	for {
		f := p.next(5 * time.Second)
		if f == nil {
			p.t.Fatalf("%s: no response to %v", p.name, data["method"])
		}
		if f.Response && *f.ID == uint64(id) {
			if !f.OK {
				p.t.Fatalf("%s: %v: %d %s", p.name, data["method"], f.ErrorCode, f.ErrorReason)
			}
			return f.Data
		}
	}
}

func (p *rawPeer) join() {
	p.t.Helper()
	var q struct {
		RTPCapabilities json.RawMessage `json:"rtpCapabilities"`
	}
	_ = json.Unmarshal(p.request(map[string]any{"method": "queryRoom", "target": "room"}), &q)
	p.request(map[string]any{"method": "join", "target": "room", "peerName": p.name, "rtpCapabilities": q.RTPCapabilities, "appData": map[string]any{}})
}

// TestNoDemoNotificationAfterLeave: a demo broadcast that picked a session
// just before its peer left (the active-speaker detector runs on its own
// goroutine) queues nothing for it after the leave; responses still go
// out, and after a new join the demo notifications flow again.
func TestNoDemoNotificationAfterLeave(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := sfu.NewServer(sfu.Config{RTC: transport.Config{ListenIP: "127.0.0.1"}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sig := NewServer(srv, log)
	hs := httptest.NewServer(sig)
	t.Cleanup(func() {
		hs.Close()
		sig.Close()
		srv.Close()
	})
	url := "ws://" + strings.TrimPrefix(hs.URL, "http://")
	alice := dialRaw(t, url, "r", "alice")
	alice.join()
	bob := dialRaw(t, url, "r", "bob")
	bob.join()
	for { // alice has everything sent before her leave
		f := alice.next(5 * time.Second)
		if f == nil {
			t.Fatal("alice got no newPeer")
		}
		if f.Notification && strings.Contains(string(f.Data), `"newPeer"`) {
			break
		}
	}

	sig.mu.Lock()
	sess := sig.sessions[[2]string{"r", "alice"}]
	sig.mu.Unlock()
	if sess == nil || sess.mediaPeer() == nil {
		t.Fatal("no joined session for alice")
	}
	alice.write(map[string]any{"notification": true, "method": "mediasoup-notification",
		"data": map[string]any{"method": "leave", "target": "peer", "notification": true}})
	deadline := time.Now().Add(5 * time.Second)
	for sess.mediaPeer() != nil {
		if time.Now().After(deadline) {
			t.Fatal("leave not processed within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// What broadcast does for a session it listed before the leave.
	sess.send(activeSpeaker(nil))
	sig.broadcast("r", nil, activeSpeaker(nil))

	for f := alice.next(time.Second); f != nil; f = alice.next(time.Second) {
		if !f.Response {
			t.Fatalf("alice got %s %s after her leave", f.Method, f.Data)
		}
	}
	for {
		f := bob.next(5 * time.Second)
		if f == nil {
			t.Fatal("bob got no active-speaker")
		}
		if f.Notification && f.Method == "active-speaker" {
			break
		}
	}

	// Responses still reach alice, and a new join gets the demo
	// notifications again.
	alice.join()
	sess.send(activeSpeaker(nil))
	for {
		f := alice.next(5 * time.Second)
		if f == nil {
			t.Fatal("alice got no active-speaker after joining again")
		}
		if f.Notification && f.Method == "active-speaker" {
			break
		}
	}
}
