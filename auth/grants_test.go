package auth

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestGrantsRoundTrip(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	exp := time.Now().Add(time.Hour)
	cases := []struct {
		name   string
		claims Claims
		want   Grants
	}{
		{"no grants is a participant", Claims{Room: "r", Peer: "p"}, Participant()},
		{"spy publishes nothing", Claims{Room: "r", Peer: "p", Spy: true}, Grants{Subscribe: true}},
		{"subscribe only", Claims{Room: "r", Peer: "p", Grants: &Grants{Subscribe: true}}, Grants{Subscribe: true}},
		{"audio only", Claims{Room: "r", Peer: "p", Grants: &Grants{Publish: []string{"audio"}}}, Grants{Publish: []string{"audio"}}},
		{"admin of one room, no peer", Claims{Room: "r", Grants: &Grants{Admin: true}}, Grants{Admin: true}},
		{"admin of every room", Claims{Room: "*", Grants: &Grants{Admin: true}}, Grants{Admin: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.claims.ExpiresAt = exp
			tok, err := ks.Mint(tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			c, err := ks.Verify(tok, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			g := c.Grant()
			if !slices.Equal(g.Publish, tc.want.Publish) || g.Subscribe != tc.want.Subscribe || g.Admin != tc.want.Admin {
				t.Fatalf("grants = %v, want %v", g, tc.want)
			}
		})
	}
}

func TestAdminOf(t *testing.T) {
	admin := &Grants{Admin: true}
	for _, tc := range []struct {
		c    Claims
		room string
		want bool
	}{
		{Claims{Room: "r", Grants: admin}, "r", true},
		{Claims{Room: "r", Grants: admin}, "s", false},
		{Claims{Room: "*", Grants: admin}, "s", true},
		{Claims{Room: "*", Grants: admin}, "", true},
		{Claims{Room: "r", Grants: admin}, "", false},
		{Claims{Room: "r", Peer: "p"}, "r", false}, // a participant
		{Claims{Room: "r", Peer: "p", Spy: true}, "r", false},
	} {
		if got := tc.c.AdminOf(tc.room); got != tc.want {
			t.Errorf("%+v AdminOf(%q) = %v, want %v", tc.c, tc.room, got, tc.want)
		}
	}
}

func TestGrantsRefused(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	exp := time.Now().Add(time.Hour)
	for _, c := range []Claims{
		{Room: "*", Peer: "p", ExpiresAt: exp}, // every room without admin
		{Room: "r", ExpiresAt: exp},            // no peer without admin
		{Room: "r", Peer: "p", Grants: &Grants{Publish: []string{"screen"}}, ExpiresAt: exp}, // unknown kind
	} {
		if _, err := ks.Mint(c); err == nil {
			t.Errorf("Mint(%+v) succeeded", c)
		}
	}
	// The same shapes signed by someone else's code are refused by Verify.
	for _, claims := range []jwt.MapClaims{
		{"room": "*", "peer": "p"},
		{"room": "r"},
		{"room": "r", "peer": "p", "grants": map[string]any{"publish": []string{"data"}}},
		{"room": "r", "peer": "p", "grants": "admin"},
	} {
		claims["exp"] = exp.Unix()
		tok := signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": DefaultKeyID})
		if _, err := ks.Verify(tok, time.Now()); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%v) = %v, want ErrMalformed", claims, err)
		}
	}
}
