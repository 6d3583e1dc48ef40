package whip

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// identity is who a request joins as.
type identity struct {
	name string
	spy  bool
}

// identify checks the request's join token (with Keys) and returns the
// peer name and spy flag to join with.
func (h *Handler) identify(r *http.Request, roomID, kind string) (identity, error) {
	if h.keys == nil {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return identity{name: kind + "-" + hex.EncodeToString(b), spy: kind == "whep"}, nil
	}
	tok := r.URL.Query().Get("token")
	if scheme, t, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "Bearer") {
		tok = strings.TrimSpace(t)
	}
	if tok == "" {
		return identity{}, httpErrorf(http.StatusUnauthorized, "missing token")
	}
	c, err := h.keys.Verify(tok, time.Now())
	if err != nil {
		return identity{}, httpErrorf(http.StatusUnauthorized, "invalid token: %v", err)
	}
	if c.Room != roomID {
		return identity{}, httpErrorf(http.StatusUnauthorized, "token is for another room")
	}
	return identity{name: c.Peer, spy: c.Spy}, nil
}

// authorizeSession checks, with Keys, that the request's token is the
// session's (same room and peer name).
func (h *Handler) authorizeSession(r *http.Request, s *session) error {
	if h.keys == nil {
		return nil
	}
	id, err := h.identify(r, s.roomID, s.kind)
	if err != nil {
		return err
	}
	if id.name != s.name {
		return httpErrorf(http.StatusUnauthorized, "token is for another peer name")
	}
	return nil
}
