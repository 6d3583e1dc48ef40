package whip

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
)

// Trickle ICE and ICE restart (RFC 9725 section 4.3): a PATCH carries an
// SDP fragment (RFC 8840, application/trickle-ice-sdpfrag). gosoup is
// ICE-lite with host candidates only and needs none of the client's
// candidates (its checks tell it where the client is), so a fragment with
// the session's ICE credentials is accepted and ignored. One with new
// credentials is an ICE restart: gosoup gets fresh credentials for its
// transport (mediasoup's restartTransport) and answers them, with its
// candidates, in a fragment of its own.

// fragment is what gosoup reads of a trickle-ice-sdpfrag.
type fragment struct {
	ufrag, pwd string
	candidates int
}

// parseFragment reads an SDP fragment: lines "a=…" and "m=…" (blank lines
// allowed); anything else is malformed.
func parseFragment(b []byte) (fragment, error) {
	var f fragment
	if len(bytes.TrimSpace(b)) == 0 {
		return f, httpErrorf(http.StatusBadRequest, "empty SDP fragment")
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		switch {
		case line == "":
		case strings.HasPrefix(line, "a=ice-ufrag:"):
			f.ufrag = strings.TrimSpace(strings.TrimPrefix(line, "a=ice-ufrag:"))
		case strings.HasPrefix(line, "a=ice-pwd:"):
			f.pwd = strings.TrimSpace(strings.TrimPrefix(line, "a=ice-pwd:"))
		case strings.HasPrefix(line, "a=candidate:"):
			f.candidates++
		case strings.HasPrefix(line, "a="), strings.HasPrefix(line, "m="):
		default:
			return f, httpErrorf(http.StatusBadRequest, "malformed SDP fragment: line %q", truncate(line, 80))
		}
	}
	if (f.ufrag == "") != (f.pwd == "") {
		return f, httpErrorf(http.StatusBadRequest, "malformed SDP fragment: a=ice-ufrag and a=ice-pwd go together")
	}
	return f, nil
}

// restartFragment is the answer to an ICE restart: gosoup's new
// credentials and its candidates, in the first bundled media section.
func restartFragment(t localTransport, m *mediaOffer) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "a=ice-lite\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n", t.ice.UsernameFragment, t.ice.Password)
	fmt.Fprintf(&b, "m=%s 9 %s %s\r\na=mid:%s\r\n", m.kind, m.proto, firstFormat(m), m.mid)
	for _, c := range t.cands {
		fmt.Fprintf(&b, "a=candidate:%s\r\n", candidateValue(c))
	}
	b.WriteString("a=end-of-candidates\r\n")
	return []byte(b.String())
}

func firstFormat(m *mediaOffer) string {
	if len(m.formats) > 0 {
		return m.formats[0]
	}
	return "0"
}

// truncate cuts s to at most n bytes of valid UTF-8, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
