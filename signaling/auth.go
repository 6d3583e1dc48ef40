package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/origins"
	"github.com/gosoup/gosoup/protocol"
)

// Options control who may open a signaling WebSocket. The zero value
// admits every connection, as NewServer does.
type Options struct {
	// Authorize, when set, decides whether a connection request for
	// roomID under peerName is allowed, before the WebSocket is upgraded
	// and before the room is created. An error refuses the request with
	// HTTP 401 and the error text as the body, so it should be a short
	// reason a user can read. The Grant is enforced when the peer joins.
	// TokenAuthorizer returns the join-token hook.
	Authorize func(r *http.Request, roomID, peerName string) (Grant, error)
	// AllowedOrigins, when not empty, lists the web origins
	// ("https://app.example.com", "http://127.0.0.1:3443") whose pages may
	// connect: a request whose Origin header is not one of them is
	// refused with HTTP 403. Scheme and host compare case-insensitively
	// and a default port (80, 443) may be given or left out. Requests
	// without an Origin header (non-browser clients) are not refused by
	// this rule. When empty, every origin is allowed.
	AllowedOrigins []string
	// SocketsPerSource bounds the WebSockets open per source address (an
	// IPv4 address or an IPv6 /64, from the connection, not from
	// X-Forwarded-For): one more is refused with HTTP 429. 0 takes
	// DefaultSocketsPerSource; negative: no limit.
	SocketsPerSource int
	// TrustedSources are source ranges SocketsPerSource does not apply
	// to (a reverse proxy, an office NAT); loopback is always trusted.
	TrustedSources []netip.Prefix
	// LimitLoopback applies SocketsPerSource to loopback too (for tests).
	LimitLoopback bool
	// BeforeJoin, when set, runs before each mediasoup join of a session
	// reaches the room (after the join was allowed), on the session's
	// reader: a cluster member uses it to put the other nodes' peers in
	// the room first, so that the join response lists them. It should
	// return within a few seconds (its context ends after 5 s).
	BeforeJoin JoinHook
}

// Grant is what an authorized connection may do.
type Grant struct {
	// Spy is whether the peer must join as a spy (invisible, receive
	// only): its mediasoup join request must carry the same "spy" value,
	// or the join is answered with an error.
	Spy bool
	// Grants, when set, limit the peer: createProducer of a kind it may
	// not publish, and createTransport "recv" and enableConsumer when it
	// may not subscribe, are answered with a 403 error. nil: a
	// participant (every kind, subscribe).
	Grants *auth.Grants
}

// ErrMissingToken is TokenAuthorizer's error for a request that carries
// no join token.
var ErrMissingToken = errors.New("missing token")

// TokenAuthorizer returns an Options.Authorize hook that admits requests
// carrying a join token minted by keys: in the "token" query parameter
// (what a browser can send, e.g. ws://host/?roomId=r&peerName=p&token=T)
// or an "Authorization: Bearer T" header. The token must verify (see
// auth.KeySet.Verify) and name the requested room and peer name; its spy
// and grants claims become the Grant. Refusals read "missing token",
// "invalid token: <reason>", "token is for another room" or "token is for
// another peer name".
func TokenAuthorizer(keys *auth.KeySet) func(*http.Request, string, string) (Grant, error) {
	return func(r *http.Request, roomID, peerName string) (Grant, error) {
		tok := requestToken(r)
		if tok == "" {
			return Grant{}, ErrMissingToken
		}
		c, err := keys.Verify(tok, time.Now())
		if err != nil {
			return Grant{}, fmt.Errorf("invalid token: %w", err)
		}
		if c.Room != roomID {
			return Grant{}, errors.New("token is for another room")
		}
		if c.Peer != peerName {
			return Grant{}, errors.New("token is for another peer name")
		}
		g := c.Grant()
		return Grant{Spy: c.Spy, Grants: &g}, nil
	}
}

// RequestToken returns the join token of r: the "token" query parameter,
// else the Authorization header's bearer token, else "".
func RequestToken(r *http.Request) string { return requestToken(r) }

func requestToken(r *http.Request) string {
	if t := r.URL.Query().Get("token"); t != "" {
		return t
	}
	scheme, t, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(t)
	}
	return ""
}

// authorize calls Options.Authorize; a panicking hook refuses the request
// instead of taking the connection down.
func (s *Server) authorize(r *http.Request, roomID, peerName string) (g Grant, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic in Authorize hook", "panic", p)
			g, err = Grant{}, errors.New("authorization failed")
		}
	}()
	return s.opts.Authorize(r, roomID, peerName)
}

// joinAllowed checks a mediasoup join request of the session (spy is its
// "spy" field) against the server's state and the session's Grant, and
// returns the protoo error code and error when it must be refused.
func (s *session) joinAllowed(spy bool) (int, error) {
	if s.srv.Draining() || s.srv.isClosed() {
		return 503, errors.New("server is draining: join refused")
	}
	if s.grant != nil && spy != s.grant.Spy {
		if s.grant.Spy {
			return 403, errors.New("token is for a spy peer")
		}
		return 403, errors.New("token does not allow joining as spy")
	}
	return 0, nil
}

// requestAllowed checks a mediasoup request of the joined peer against
// the session's Grant and returns the protoo error code and error when it
// must be refused.
func (s *session) requestAllowed(m *protocol.Message) (int, error) {
	if s.grant == nil || s.grant.Grants == nil {
		return 0, nil
	}
	g := s.grant.Grants
	switch m.Method {
	case "createProducer":
		var r struct {
			Kind string `json:"kind"`
		}
		if json.Unmarshal(m.Raw, &r) == nil && (r.Kind == auth.KindAudio || r.Kind == auth.KindVideo) && !g.CanPublish(r.Kind) {
			return 403, fmt.Errorf("token does not allow publishing %s", r.Kind)
		}
	case "createTransport":
		var r struct {
			Direction string `json:"direction"`
		}
		if json.Unmarshal(m.Raw, &r) == nil && r.Direction == "recv" && !g.Subscribe {
			return 403, errors.New("token does not allow subscribing")
		}
	case "enableConsumer":
		if !g.Subscribe {
			return 403, errors.New("token does not allow subscribing")
		}
	}
	return 0, nil
}

// allowedOrigins returns the Set of Options.AllowedOrigins (nil: any
// origin), warning about entries that only match verbatim.
func allowedOrigins(list []string, log *slog.Logger) *origins.Set {
	set, odd := origins.New(list)
	for _, o := range odd {
		log.Warn("allowed origin is not scheme://host[:port]; it only matches verbatim", "origin", o)
	}
	return set
}

// truncate cuts s to at most n bytes (n > 3) of valid UTF-8, marking
// the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n-3], "") + "..."
}
