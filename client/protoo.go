// Package client is a Go client of the mediasoup v2 protocol over a protoo
// WebSocket, with media through pion's no-SDP (ORTC) API. It sends the same
// messages mediasoup-client 2.4.12 sends, so it works against gosoup and
// against mediasoup 2.6.19 behind a protoo server. Tests, bots and the load
// generator use it.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// RequestError is an error answer of the server.
type RequestError struct {
	Code   int
	Reason string
}

func (e *RequestError) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Reason) }

// Notification is a mediasoup notification from the server, or a demo
// protoo notification (Method is then the protoo method).
type Notification struct {
	Method string
	Data   json.RawMessage
}

type protooResponse struct {
	OK          bool            `json:"ok"`
	Data        json.RawMessage `json:"data"`
	ErrorCode   int             `json:"errorCode"`
	ErrorReason string          `json:"errorReason"`
}

// conn is a protoo WebSocket connection.
type conn struct {
	ws      *websocket.Conn
	writeMu sync.Mutex

	mu      sync.Mutex
	pending map[uint64]chan protooResponse
	notes   []Notification
	changed chan struct{}
	closed  bool
	done    chan struct{}
}

func dial(ctx context.Context, server, roomID, peerName string) (*conn, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("server URL: %w", err)
	}
	q := u.Query()
	q.Set("roomId", roomID)
	q.Set("peerName", peerName)
	u.RawQuery = q.Encode()
	d := websocket.Dialer{Subprotocols: []string{"protoo"}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.DialContext(ctx, u.String(), http.Header{})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial %s: %w (HTTP %d)", u.Redacted(), err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial %s: %w", u.Redacted(), err)
	}
	c := &conn{ws: ws, pending: map[uint64]chan protooResponse{}, changed: make(chan struct{}), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *conn) readLoop() {
	defer func() {
		c.mu.Lock()
		c.closed = true
		for id, ch := range c.pending {
			close(ch)
			delete(c.pending, id)
		}
		close(c.changed)
		c.mu.Unlock()
		close(c.done)
	}()
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		var f struct {
			Response     bool            `json:"response"`
			Notification bool            `json:"notification"`
			ID           uint64          `json:"id"`
			Method       string          `json:"method"`
			Data         json.RawMessage `json:"data"`
			protooResponse
		}
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		switch {
		case f.Response:
			c.mu.Lock()
			ch := c.pending[f.ID]
			delete(c.pending, f.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- protooResponse{OK: f.OK, Data: f.Data, ErrorCode: f.ErrorCode, ErrorReason: f.ErrorReason}
			}
		case f.Notification:
			n := Notification{Method: f.Method, Data: f.Data}
			if f.Method == "mediasoup-notification" {
				var m struct {
					Method string `json:"method"`
				}
				_ = json.Unmarshal(f.Data, &m)
				n.Method = m.Method
			}
			c.mu.Lock()
			c.notes = append(c.notes, n)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}
}

func (c *conn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// request sends a protoo request and waits for its answer.
func (c *conn) request(ctx context.Context, method string, data any) (json.RawMessage, error) {
	id := uint64(1000000 + rand.IntN(9000000))
	ch := make(chan protooResponse, 1)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errors.New("connection closed")
	}
	for c.pending[id] != nil {
		id++
	}
	c.pending[id] = ch
	c.mu.Unlock()
	if err := c.write(map[string]any{"request": true, "id": id, "method": method, "data": data}); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, errors.New("connection closed")
		}
		if !r.OK {
			return nil, &RequestError{Code: r.ErrorCode, Reason: r.ErrorReason}
		}
		return r.Data, nil
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

func (c *conn) notify(method string, data any) error {
	return c.write(map[string]any{"notification": true, "method": method, "data": data})
}

// waitNotification waits for the first notification after index from with
// the method that match accepts, returning it and the index after it.
func (c *conn) waitNotification(ctx context.Context, from int, method string, match func(json.RawMessage) bool) (Notification, int, error) {
	for {
		c.mu.Lock()
		for i := from; i < len(c.notes); i++ {
			n := c.notes[i]
			if n.Method == method && (match == nil || match(n.Data)) {
				c.mu.Unlock()
				return n, i + 1, nil
			}
		}
		from = len(c.notes)
		ch := c.changed
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return Notification{}, from, errors.New("connection closed")
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Notification{}, from, fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

func (c *conn) notifications() []Notification {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Notification(nil), c.notes...)
}

func (c *conn) close() error {
	err := c.ws.Close()
	<-c.done
	return err
}
