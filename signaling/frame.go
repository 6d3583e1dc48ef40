// Package signaling serves the mediasoup v2 protocol over a protoo
// WebSocket, as the mediasoup-demo v2 server did: one session per socket,
// ?roomId=&peerName= in the URL, protoo methods "mediasoup-request" and
// "mediasoup-notification".
package signaling

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Frame is one protoo message: a request, a response or a notification.
type Frame struct {
	Request      bool            `json:"request,omitempty"`
	Response     bool            `json:"response,omitempty"`
	Notification bool            `json:"notification,omitempty"`
	ID           *uint64         `json:"id,omitempty"`
	Method       string          `json:"method,omitempty"`
	OK           bool            `json:"ok,omitempty"`
	Data         json.RawMessage `json:"data,omitempty"`
	ErrorCode    int             `json:"errorCode,omitempty"`
	ErrorReason  string          `json:"errorReason,omitempty"`
}

// ErrInvalidFrame is returned for bytes that are not a protoo message.
var ErrInvalidFrame = errors.New("invalid protoo message")

// ParseFrame decodes a protoo message. Like protoo, it rejects a request
// without a numeric id or a string method, and a notification without a
// method; missing data becomes {}.
func ParseFrame(b []byte) (*Frame, error) {
	var f Frame
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&f); err != nil {
		return nil, ErrInvalidFrame
	}
	if d.More() {
		return nil, ErrInvalidFrame
	}
	switch {
	case f.Request:
		if f.ID == nil || f.Method == "" {
			return nil, ErrInvalidFrame
		}
	case f.Notification:
		if f.Method == "" {
			return nil, ErrInvalidFrame
		}
	case f.Response:
		if f.ID == nil {
			return nil, ErrInvalidFrame
		}
	default:
		return nil, ErrInvalidFrame
	}
	if len(f.Data) == 0 || string(f.Data) == "null" {
		f.Data = json.RawMessage("{}")
	}
	return &f, nil
}

// successResponse is {"response":true,"id":N,"ok":true,"data":...}.
func successResponse(id uint64, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	if string(raw) == "null" {
		raw = []byte("{}")
	}
	return json.Marshal(struct {
		Response bool            `json:"response"`
		ID       uint64          `json:"id"`
		OK       bool            `json:"ok"`
		Data     json.RawMessage `json:"data"`
	}{true, id, true, raw})
}

// errorResponse is {"response":true,"id":N,"errorCode":C,"errorReason":R}.
func errorResponse(id uint64, code int, reason string) []byte {
	b, _ := json.Marshal(struct {
		Response    bool   `json:"response"`
		ID          uint64 `json:"id"`
		OK          bool   `json:"ok"`
		ErrorCode   int    `json:"errorCode"`
		ErrorReason string `json:"errorReason"`
	}{true, id, false, code, reason})
	return b
}

// notification is {"notification":true,"method":M,"data":...}.
func notification(method string, data any) ([]byte, error) {
	return json.Marshal(struct {
		Notification bool   `json:"notification"`
		Method       string `json:"method"`
		Data         any    `json:"data"`
	}{true, method, data})
}
