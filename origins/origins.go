// Package origins decides which web origins (the Origin header a browser
// sends: scheme://host[:port]) may use an endpoint. Signaling and WHIP/WHEP
// share it, so that --allowed-origin means the same for both.
package origins

import (
	"net"
	"net/url"
	"strings"
)

// Set is a list of allowed origins. A nil *Set allows every origin.
type Set struct {
	allowed map[string]struct{}
}

// New returns the Set of list, or nil (every origin) when list is empty.
// Scheme and host compare case-insensitively and a default port (80, 443)
// may be given or left out. An entry that is not scheme://host[:port] is
// kept verbatim (lower case) so that the list still restricts: a typo
// must not open the server; New returns those entries in odd.
func New(list []string) (s *Set, odd []string) {
	if len(list) == 0 {
		return nil, nil
	}
	s = &Set{allowed: make(map[string]struct{}, len(list))}
	for _, o := range list {
		n, ok := Normalize(o)
		if !ok {
			odd = append(odd, o)
		}
		s.allowed[n] = struct{}{}
	}
	return s, odd
}

// Allows reports whether origin (an Origin header's value) is allowed.
func (s *Set) Allows(origin string) bool {
	if s == nil {
		return true
	}
	n, _ := Normalize(origin)
	_, ok := s.allowed[n]
	return ok
}

// Normalize returns an origin as lower-case scheme://host[:port] without
// a default port, and whether it had that form; otherwise the trimmed,
// lower-cased input without a trailing slash.
func Normalize(origin string) (string, bool) {
	raw := strings.ToLower(strings.TrimSpace(origin))
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return strings.TrimSuffix(raw, "/"), false
	}
	host, port := u.Hostname(), u.Port()
	if (u.Scheme == "http" || u.Scheme == "ws") && port == "80" || (u.Scheme == "https" || u.Scheme == "wss") && port == "443" {
		port = ""
	}
	switch {
	case port != "":
		host = net.JoinHostPort(host, port)
	case strings.Contains(host, ":"):
		host = "[" + host + "]"
	}
	return u.Scheme + "://" + host, true
}
