package sfu

// direction is a transport's: "send" carries the client's producers to
// the server, "recv" the server's consumers to the client.
type direction string

const (
	dirSend direction = "send"
	dirRecv direction = "recv"
)

// parseDirection checks a createTransport direction.
func parseDirection(s string) (direction, bool) {
	switch d := direction(s); d {
	case dirSend, dirRecv:
		return d, true
	}
	return "", false
}
