package whip

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/auth"
)

// TestGrants: WHIP needs a token that may publish every kind of its
// offer, WHEP one that may subscribe; a token without peer (admin only)
// joins nothing. Refusals are 403 with the reason and leave nothing.
func TestGrants(t *testing.T) {
	keys, err := auth.NewKeySet("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	mint := func(peer string, g *auth.Grants) string {
		tok, err := keys.Mint(auth.Claims{Room: "t", Peer: peer, Grants: g, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ts := startServer(t, keys)
	send := offerOf(t, nil, webrtc.RTPTransceiverDirectionSendonly)
	recv := offerOf(t, nil, webrtc.RTPTransceiverDirectionRecvonly)
	for _, c := range []struct {
		name, kind string
		offer      []byte
		tok        string
		says       string
	}{
		{"WHIP with a subscribe-only token", "whip", send, mint("obs", &auth.Grants{Subscribe: true}), "token does not allow publishing audio"},
		{"WHIP video with an audio token", "whip", send, mint("obs", &auth.Grants{Publish: []string{"audio"}}), "token does not allow publishing video"},
		{"WHEP with a publish-only token", "whep", recv, mint("viewer", &auth.Grants{Publish: []string{"audio", "video"}}), "token does not allow subscribing"},
		{"WHIP with an admin token", "whip", send, mint("", &auth.Grants{Admin: true}), "names no peer"},
	} {
		r := do(t, "POST", ts.http+"/"+c.kind+"/t", "application/sdp", c.offer, "Authorization", "Bearer "+c.tok)
		if r.status != http.StatusForbidden || !strings.Contains(r.body, c.says) {
			t.Errorf("%s: %d %q, want 403 %q", c.name, r.status, strings.TrimSpace(r.body), c.says)
		}
	}
	nothingLeft(t, ts)
	r := do(t, "POST", ts.http+"/whep/t", "application/sdp", recv, "Authorization", "Bearer "+mint("viewer", &auth.Grants{Subscribe: true}))
	if r.status != http.StatusCreated {
		t.Fatalf("WHEP with a subscribe token: %d %s", r.status, r.body)
	}
}
