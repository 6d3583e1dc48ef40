// Package protocol holds the mediasoup v2 protocol messages as typed Go
// structs: client requests and notifications (decoded and validated from
// JSON) and server responses and notifications (encoded to the exact keys
// and JSON types mediasoup 2.6.19 emits).
package protocol

import "fmt"

// Error is a mediasoup error. Error() returns Name + ": " + Message, e.g.
// "Error: Transport not found"; the demo server sends that string as the
// protoo errorReason.
type Error struct {
	Name    string
	Message string
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }

// NewError returns an Error named "Error".
func NewError(format string, a ...any) *Error {
	return &Error{Name: "Error", Message: fmt.Sprintf(format, a...)}
}

// NewTypeError returns an Error named "TypeError".
func NewTypeError(format string, a ...any) *Error {
	return &Error{Name: "TypeError", Message: fmt.Sprintf(format, a...)}
}

// NewInvalidStateError returns an Error named "InvalidStateError".
func NewInvalidStateError(format string, a ...any) *Error {
	return &Error{Name: "InvalidStateError", Message: fmt.Sprintf(format, a...)}
}
