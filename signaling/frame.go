// Package signaling serves the mediasoup v2 protocol over a protoo
// WebSocket, as the mediasoup-demo v2 server did: one session per socket,
// ?roomId=&peerName= in the URL, protoo methods "mediasoup-request" and
// "mediasoup-notification".
package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/gorilla/websocket"

	"github.com/gosoup/gosoup/protocol"
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

// ErrInvalidFrame is returned for bytes that are not a protoo message;
// every error of ParseFrame is a *FrameError that matches it with
// errors.Is.
var ErrInvalidFrame = errors.New("invalid protoo message")

// Protoo error codes of the messages ParseFrame refuses (answered when
// the request id can be read).
const (
	// codeMalformed answers a request that is not valid protoo (missing
	// method, invalid JSON, wrong field types).
	codeMalformed = 400
	// codeTooLarge answers a request over MaxFrameSize (then the socket
	// closes with 1009).
	codeTooLarge = 413
	// codeTooDeep answers a request nested deeper than protocol.MaxDepth:
	// 500, as the same limit is answered when the mediasoup message is
	// decoded (protocol.DecodeMessage).
	codeTooDeep = 500
)

// WebSocket close codes of the messages that cannot be answered (RFC 6455
// section 7.4.1).
const (
	closeUnsupportedData = websocket.CloseUnsupportedData         // 1003: a binary message
	closeMalformed       = websocket.CloseInvalidFramePayloadData // 1007: not a protoo message
	closePolicy          = websocket.ClosePolicyViolation         // 1008: a limit other than the size
	closeTooLarge        = websocket.CloseMessageTooBig           // 1009: over MaxFrameSize
)

// maxFrameDepth is the deepest nesting ParseFrame accepts: a mediasoup
// message of protocol.MaxDepth levels inside the protoo envelope. It is
// checked before any decoding, so that neither encoding/json's own limit
// (10,000 levels, refused without telling which request it was) nor its
// recursion is reached.
const maxFrameDepth = protocol.MaxDepth + 1

// idPrefix is how much of an oversized message is scanned for its request
// id (protoo-client writes "request" and "id" first).
const idPrefix = 256

// FrameError is why ParseFrame refused a message. A request whose id could
// still be read (ID not nil) is answered with a protoo error response
// (Code, Reason); any other refused message cannot be answered, and the
// session closes the WebSocket with CloseCode and CloseReason instead.
type FrameError struct {
	ID          *uint64 // the request's id, when it could be read
	Code        int     // protoo errorCode of the answer
	Reason      string  // protoo errorReason of the answer
	CloseCode   int     // WebSocket close code when there is no ID
	CloseReason string  // WebSocket close reason when there is no ID
}

// Error returns "invalid protoo message: " and the close reason, which
// says the most.
func (e *FrameError) Error() string { return ErrInvalidFrame.Error() + ": " + e.CloseReason }

// Is makes every FrameError match ErrInvalidFrame.
func (e *FrameError) Is(target error) bool { return target == ErrInvalidFrame }

// malformed returns the error of a message that is not valid protoo:
// answered with 400 and detail, or closed with 1007 "malformed protoo
// message: detail".
func malformed(id *uint64, detail string) *FrameError {
	return &FrameError{ID: id, Code: codeMalformed, Reason: detail,
		CloseCode: closeMalformed, CloseReason: "malformed protoo message: " + detail}
}

// tooDeep returns the error of a message nested deeper than
// maxFrameDepth.
func tooDeep(id *uint64) *FrameError {
	e := protocol.NewTooDeepError()
	return &FrameError{ID: id, Code: codeTooDeep, Reason: e.Error(),
		CloseCode: closePolicy, CloseReason: e.Message}
}

// tooLarge returns the error of a message over MaxFrameSize; the socket
// closes even when the request is answered.
func tooLarge(id *uint64) *FrameError {
	reason := fmt.Sprintf("message too large (limit %d KiB)", MaxFrameSize>>10)
	return &FrameError{ID: id, Code: codeTooLarge, Reason: reason, CloseCode: closeTooLarge, CloseReason: reason}
}

// ParseFrame decodes a protoo message. Like protoo, it rejects a request
// without a numeric id or a string method, and a notification without a
// method; missing data becomes {}. It also rejects a message nested deeper
// than a mediasoup message may be (protocol.MaxDepth, plus the protoo
// envelope). Every error is a *FrameError, which carries the request id
// when it can be read: from the decoded frame, or, when the message did
// not decode, by peekRequestID from its text.
func ParseFrame(b []byte) (*Frame, error) {
	if protocol.Depth(b) > maxFrameDepth {
		return nil, tooDeep(peekRequestID(b))
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			// f is half decoded (a wrong id may have left a zero
			// behind): the id is read from the text.
			return nil, malformed(peekRequestID(b), typeProblem(te))
		}
		return nil, malformed(peekRequestID(b), "invalid JSON")
	}
	switch {
	case f.Request:
		if f.ID == nil {
			return nil, malformed(nil, "request without id")
		}
		if f.Method == "" {
			return nil, malformed(f.ID, "missing method")
		}
	case f.Notification:
		if f.Method == "" {
			return nil, malformed(nil, "notification without method")
		}
	case f.Response:
		if f.ID == nil {
			return nil, malformed(nil, "response without id")
		}
	default:
		return nil, malformed(nil, "not a request, response or notification")
	}
	if len(f.Data) == 0 || string(f.Data) == "null" {
		f.Data = json.RawMessage("{}")
	}
	return &f, nil
}

// typeProblem names the field of a protoo message that has the wrong JSON
// type: "method must be a string".
func typeProblem(te *json.UnmarshalTypeError) string {
	field := te.Field
	if field == "" {
		return "message must be a JSON object"
	}
	switch te.Type.Kind() {
	case reflect.Bool:
		return field + " must be a boolean"
	case reflect.String:
		return field + " must be a string"
	case reflect.Pointer, reflect.Uint64, reflect.Int:
		if field == "id" {
			return "id must be a non-negative integer"
		}
		return field + " must be an integer"
	}
	return field + " has the wrong type"
}

// peekRequestID reads the id of a protoo request from the top level of b
// without decoding the rest: it walks the members of the outermost object,
// skipping nested values by counting brackets (no recursion), and stops
// where b ends or stops looking like JSON, so b may be a prefix of the
// message. It returns the id when it met a member "request" that is true
// and a member "id" that is a non-negative integer (keys are compared as
// written, without decoding escapes), else nil.
func peekRequestID(b []byte) *uint64 {
	var (
		id        uint64
		haveID    bool
		isRequest bool
	)
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			break
		}
		keyEnd := skipString(b, i)
		if keyEnd < 0 {
			break
		}
		key := b[i+1 : keyEnd-1]
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			break
		}
		i = skipSpace(b, i+1)
		end := skipValue(b, i)
		if end < 0 {
			break
		}
		switch v := b[i:end]; string(key) {
		case "request":
			isRequest = string(v) == "true"
		case "id":
			n, err := strconv.ParseUint(string(v), 10, 64)
			id, haveID = n, err == nil
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ',' {
			break
		}
		i++
	}
	if !isRequest || !haveID {
		return nil
	}
	return &id
}

// skipSpace returns the index of the first non-whitespace byte of b at or
// after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i]
// (a quote), or -1 when b ends inside it.
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1
// when b ends inside it. Objects and arrays are skipped by counting their
// brackets outside strings; a scalar ends at the next delimiter, so a
// number cut short by the end of b is not taken for a whole one.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		d := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				if j = skipString(b, j); j < 0 {
					return -1
				}
				j-- // the loop's j++ lands after the string
			case '{', '[':
				d++
			case '}', ']':
				if d--; d == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	return -1
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
