package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// Limits on a client message.
const (
	MaxMessageSize = 256 << 10
	MaxDepth       = 32
)

// Message is the envelope of a client message.
type Message struct {
	Method       string
	Target       string // "room" or "peer"
	Notification bool
	Raw          json.RawMessage // the whole object
}

// DecodeMessage parses a mediasoup message (the protoo data) and checks
// its envelope: method, target (TargetOf the method, required) and
// notification. It never panics; every rejection is an *Error naming the
// problem.
func DecodeMessage(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, NewError("message too large (%d bytes, limit %d)", len(data), MaxMessageSize)
	}
	if Depth(data) > MaxDepth {
		return nil, NewTooDeepError()
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, NewTypeError("message must be a JSON object")
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, NewTypeError("invalid JSON message")
	}
	m := &Message{Raw: json.RawMessage(data)}
	raw, ok := env["method"]
	if !ok || json.Unmarshal(raw, &m.Method) != nil || m.Method == "" {
		return nil, NewTypeError("wrong message, method must be a string")
	}
	if raw, ok := env["target"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &m.Target) != nil || (m.Target != "room" && m.Target != "peer") {
			return nil, NewTypeError(`target must be "room" or "peer"`)
		}
	}
	if err := m.checkTarget(); err != nil {
		return nil, err
	}
	if raw, ok := env["notification"]; ok && string(raw) != "null" {
		if json.Unmarshal(raw, &m.Notification) != nil {
			return nil, NewTypeError("notification must be a boolean")
		}
	}
	return m, nil
}

// TargetOf returns the target a client message with this method carries:
// "room" for queryRoom and join, "peer" for every other request and for
// every notification (mediasoup-client 2.4.12 sets it on every message,
// and mediasoup's demo server refuses a request without one).
func TargetOf(method string) string {
	if method == "queryRoom" || method == "join" {
		return "room"
	}
	return "peer"
}

// checkTarget refuses a message whose target is not TargetOf its method.
// DecodeRequest and DecodeNotification check it again for a Message built
// without DecodeMessage.
func (m *Message) checkTarget() error {
	if want := TargetOf(m.Method); m.Target == "" {
		return NewTypeError("missing target: %s goes to %q", rtpparams.Clip(m.Method), want)
	} else if m.Target != want {
		return NewTypeError("target: %s goes to %q, not %s", rtpparams.Clip(m.Method), want, rtpparams.Clip(m.Target))
	}
	return nil
}

// NewTooDeepError returns the error of a message nested deeper than
// MaxDepth: "Error: message nested too deeply (limit 32)".
func NewTooDeepError() *Error {
	return NewError("message nested too deeply (limit %d)", MaxDepth)
}

// Depth returns the maximum nesting of objects and arrays in a JSON text,
// counting the brackets outside strings. b need not be valid JSON; Depth
// reads it once, without recursion, so any input is safe to measure
// before a decoder (whose own limit is far higher) sees it.
func Depth(b []byte) int {
	d, maxD, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			if esc {
				esc = false
			} else if c == '\\' {
				esc = true
			} else if c == '"' {
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			d++
			if d > maxD {
				maxD = d
			}
		case c == '}' || c == ']':
			d--
		}
	}
	return maxD
}

// fields is a decoded JSON object used for presence and type checks.
type fields map[string]json.RawMessage

func (m *Message) fields() fields {
	var f fields
	_ = json.Unmarshal(m.Raw, &f)
	return f
}

func (f fields) has(name string) bool {
	raw, ok := f[name]
	return ok && string(raw) != "null"
}

// id decodes a required numeric id field (a JSON integer that fits uint32).
func (f fields) id(name string) (uint32, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		return 0, NewTypeError("missing %s", name)
	}
	var v float64
	if json.Unmarshal(raw, &v) != nil || v != math.Trunc(v) || v < 0 || v > math.MaxUint32 {
		return 0, NewTypeError("%s must be a positive integer number", name)
	}
	return uint32(v), nil
}

func (f fields) str(name string, required bool) (string, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		if required {
			return "", NewTypeError("missing %s", name)
		}
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", NewTypeError("%s must be a string", name)
	}
	return s, nil
}

func (f fields) boolean(name string) (bool, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		return false, nil
	}
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		return false, NewTypeError("%s must be a boolean", name)
	}
	return b, nil
}

// object decodes an optional (or required) field into v, which must be a
// JSON object.
func (f fields) object(name string, v any, required bool) (bool, error) {
	raw, ok := f[name]
	if !ok || string(raw) == "null" {
		if required {
			return false, NewTypeError("missing %s", name)
		}
		return false, nil
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return false, NewTypeError("%s must be an object", name)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, NewTypeError("invalid %s: %s", name, jsonProblem(err))
	}
	return true, nil
}

func (f fields) appData() json.RawMessage {
	raw, ok := f["appData"]
	if !ok {
		return nil
	}
	return raw
}

// jsonProblem turns a json decoding error into a short phrase naming the
// field.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		return fmt.Sprintf("%s must be %s", field, article(te.Type.String()))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func article(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}
