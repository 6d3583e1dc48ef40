package whip

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/gosoup/gosoup/auth"
)

// identity is who a request joins as, and what its token allows.
type identity struct {
	name   string
	spy    bool
	grants auth.Grants
}

// identify checks the request's join token (with Keys) and returns the
// peer name and spy flag to join with.
func (h *Handler) identify(r *http.Request, roomID, kind string) (identity, error) {
	if h.keys == nil {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return identity{name: kind + "-" + hex.EncodeToString(b), spy: kind == "whep", grants: auth.Participant()}, nil
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
	if c.Peer == "" {
		return identity{}, httpErrorf(http.StatusForbidden, "token names no peer (an admin token): it cannot join")
	}
	return identity{name: c.Peer, spy: c.Spy, grants: c.Grant()}, nil
}

// allows checks a WHIP or WHEP offer against the token's grants: a WHIP
// session publishes every audio and video section of its offer, a WHEP
// session subscribes.
func (id identity) allows(kind string, o *offer) error {
	if kind == "whep" {
		if !id.grants.Subscribe {
			return httpErrorf(http.StatusForbidden, "token does not allow subscribing")
		}
		return nil
	}
	if id.spy {
		return httpErrorf(http.StatusForbidden, "token is for a spy peer: it cannot publish")
	}
	for _, m := range o.media {
		if (m.kind == auth.KindAudio || m.kind == auth.KindVideo) && !id.grants.CanPublish(m.kind) {
			return httpErrorf(http.StatusForbidden, "token does not allow publishing %s", m.kind)
		}
	}
	return nil
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
