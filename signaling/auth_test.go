package signaling_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/signaling"
)

const testSecret = "signaling-test-secret-0123456789"

func testKeys(t *testing.T) *auth.KeySet {
	t.Helper()
	ks, err := auth.NewKeySet(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func mint(t *testing.T, ks *auth.KeySet, room, peer string, spy bool, ttl time.Duration) string {
	t.Helper()
	tok, err := ks.Mint(auth.Claims{Room: room, Peer: peer, Spy: spy, ExpiresAt: time.Now().Add(ttl)})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func tokenQuery(tok string) url.Values { return url.Values{"token": {tok}} }

func TestTokenRefusals(t *testing.T) {
	keys := testKeys(t)
	s := startServer(t, signaling.Options{Authorize: signaling.TokenAuthorizer(keys)})

	forger, err := auth.NewKeySet("not-the-server-secret-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := auth.ParseKeys(strings.NewReader("k9 " + testSecret + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{
		"room": "r1", "peer": "alice", "exp": time.Now().Add(time.Hour).Unix(),
	})
	none.Header["kid"] = auth.DefaultKeyID
	noneTok, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		query  url.Values
		header http.Header
		body   string
	}{
		{"missing token", nil, nil, "missing token"},
		{"empty token", tokenQuery(""), nil, "missing token"},
		{"not a bearer header", nil, http.Header{"Authorization": {"Basic YWxpY2U6eA=="}}, "missing token"},
		{"expired", tokenQuery(mint(t, keys, "r1", "alice", false, -time.Minute)), nil, "invalid token: token expired"},
		{"forged", tokenQuery(mint(t, forger, "r1", "alice", false, time.Hour)), nil, "invalid token: bad signature"},
		{"unknown kid", tokenQuery(mint(t, stranger, "r1", "alice", false, time.Hour)), nil, "invalid token: unknown key id"},
		{"alg none", tokenQuery(noneTok), nil, "invalid token: token algorithm not allowed"},
		{"malformed", tokenQuery("not.a.token"), nil, "invalid token: malformed token"},
		{"wrong room", tokenQuery(mint(t, keys, "r2", "alice", false, time.Hour)), nil, "token is for another room"},
		{"wrong peer", tokenQuery(mint(t, keys, "r1", "bob", false, time.Hour)), nil, "token is for another peer name"},
		{"wrong room in header", nil, http.Header{"Authorization": {"Bearer " + mint(t, keys, "r2", "alice", false, time.Hour)}}, "token is for another room"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s.expectRefused(t, "r1", "alice", c.query, c.header, http.StatusUnauthorized, c.body)
		})
	}
	if ids := s.roomIDs(); len(ids) != 0 {
		t.Fatalf("refused requests created rooms %v", ids)
	}
	if n := s.Sig.Sessions(); n != 0 {
		t.Fatalf("Sessions = %d after refusals", n)
	}
}

func TestGoodTokenJoins(t *testing.T) {
	keys := testKeys(t)
	s := startServer(t, signaling.Options{Authorize: signaling.TokenAuthorizer(keys)})

	alice := s.mustDial(t, "r1", "alice", tokenQuery(mint(t, keys, "r1", "alice", false, time.Hour)), nil)
	alice.mustJoin(false)
	bob := s.mustDial(t, "r1", "bob", nil, http.Header{"Authorization": {"bearer " + mint(t, keys, "r1", "bob", false, time.Hour)}})
	bob.mustJoin(false)
	if ids := s.roomIDs(); len(ids) != 1 || ids[0] != "r1" {
		t.Fatalf("rooms = %v, want [r1]", ids)
	}
	room, _ := s.SFU.Room("r1")
	if n := len(room.Peers()); n != 2 {
		t.Fatalf("room has %d peers, want 2", n)
	}
}

func TestSpyGrantEnforcedAtJoin(t *testing.T) {
	keys := testKeys(t)
	s := startServer(t, signaling.Options{Authorize: signaling.TokenAuthorizer(keys)})

	spyTok := s.mustDial(t, "r1", "watcher", tokenQuery(mint(t, keys, "r1", "watcher", true, time.Hour)), nil)
	r := spyTok.join(false)
	if r.OK || r.ErrorReason != "token is for a spy peer" {
		t.Fatalf("non-spy join with a spy token: ok=%v %d %q", r.OK, r.ErrorCode, r.ErrorReason)
	}
	plainTok := s.mustDial(t, "r1", "alice", tokenQuery(mint(t, keys, "r1", "alice", false, time.Hour)), nil)
	r = plainTok.join(true)
	if r.OK || r.ErrorReason != "token does not allow joining as spy" {
		t.Fatalf("spy join with a non-spy token: ok=%v %d %q", r.OK, r.ErrorCode, r.ErrorReason)
	}
	room, _ := s.SFU.Room("r1")
	if n := len(room.Peers()); n != 0 {
		t.Fatalf("refused joins left %d peers", n)
	}
	// The sockets stay usable: the join the grant allows succeeds.
	spyTok.mustJoin(true)
	plainTok.mustJoin(false)
	if p := room.PeerByName("watcher"); p == nil || !p.Spy() {
		t.Fatalf("watcher = %v, want a spy peer", p)
	}
}

func TestNoOptionsAdmitsEveryone(t *testing.T) {
	s := startServer(t, signaling.Options{})
	c := s.mustDial(t, "r1", "alice", nil, http.Header{"Origin": {"https://anywhere.example"}})
	c.mustJoin(true) // no grant: spy or not, as the client likes
}

func TestAuthorizeHook(t *testing.T) {
	var got [2]string
	s := startServer(t, signaling.Options{Authorize: func(r *http.Request, roomID, peerName string) (signaling.Grant, error) {
		got = [2]string{roomID, peerName}
		switch peerName {
		case "panic":
			panic("hook bug")
		case "alice":
			return signaling.Grant{}, nil
		}
		return signaling.Grant{}, errors.New("not on the guest list")
	}})
	s.expectRefused(t, "r1", "mallory", nil, nil, http.StatusUnauthorized, "not on the guest list")
	if got != [2]string{"r1", "mallory"} {
		t.Fatalf("hook called with %v", got)
	}
	s.expectRefused(t, "r1", "panic", nil, nil, http.StatusUnauthorized, "authorization failed")
	// The hook is not called for requests the protoo checks refuse.
	got = [2]string{}
	s.expectRefused(t, "r1", "", nil, nil, http.StatusBadRequest, "Connection request without roomId")
	if got != [2]string{} {
		t.Fatalf("hook called for a request without peerName: %v", got)
	}
	if ids := s.roomIDs(); len(ids) != 0 {
		t.Fatalf("refused requests created rooms %v", ids)
	}
	s.mustDial(t, "r1", "alice", nil, nil).mustJoin(false)
}

func TestOriginRestriction(t *testing.T) {
	keys := testKeys(t)
	s := startServer(t, signaling.Options{
		AllowedOrigins: []string{"https://App.Example.com", "http://127.0.0.1:8080/"},
		Authorize:      signaling.TokenAuthorizer(keys),
	})
	q := func(peer string) url.Values { return tokenQuery(mint(t, keys, "r1", peer, false, time.Hour)) }

	for _, origin := range []string{"https://evil.example", "http://app.example.com", "https://app.example.com:8443", "null", "http://127.0.0.1:8081"} {
		s.expectRefused(t, "r1", "alice", q("alice"), http.Header{"Origin": {origin}}, http.StatusForbidden, "origin not allowed: "+origin)
	}
	// The origin rule comes before authorization: no token needed to be told.
	s.expectRefused(t, "r1", "alice", nil, http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden, "origin not allowed")
	if ids := s.roomIDs(); len(ids) != 0 {
		t.Fatalf("refused requests created rooms %v", ids)
	}

	for i, origin := range []string{"https://app.example.com", "HTTPS://APP.EXAMPLE.COM:443", "http://127.0.0.1:8080"} {
		peer := "p" + string(rune('a'+i))
		s.mustDial(t, "r1", peer, q(peer), http.Header{"Origin": {origin}}).mustJoin(false)
	}
	// No Origin header (a non-browser client): not refused by this rule.
	s.mustDial(t, "r1", "bot", q("bot"), nil).mustJoin(false)
}
