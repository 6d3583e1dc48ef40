package whip

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/auth"
)

// offerOf returns a pion offer (sendonly or recvonly audio and video)
// made with the codecs of me (pion's defaults when nil).
func offerOf(t *testing.T, me *webrtc.MediaEngine, dir webrtc.RTPTransceiverDirection) []byte {
	t.Helper()
	var api *webrtc.API
	if me == nil {
		api = newPionAPI(t, false)
	} else {
		api = webrtc.NewAPI(webrtc.WithMediaEngine(me))
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(k, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
			t.Fatal(err)
		}
	}
	o, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(o.SDP)
}

// nothingLeft checks that no session, peer or room was left behind.
func nothingLeft(t *testing.T, ts *testServer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for (len(ts.sfu.Rooms()) != 0 || ts.whip.Sessions() != 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, r := range ts.sfu.Rooms() {
		t.Errorf("room %q left with %d peers", r.ID(), len(r.Peers()))
	}
	if n := ts.whip.Sessions(); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// TestRefusals: each bad request gets its HTTP status and a body naming
// the problem, and creates nothing.
func TestRefusals(t *testing.T) {
	ts := startServer(t, nil)
	exotic := &webrtc.MediaEngine{}
	for _, c := range []struct {
		mime string
		kind webrtc.RTPCodecType
		pt   webrtc.PayloadType
	}{{webrtc.MimeTypePCMA, webrtc.RTPCodecTypeAudio, 8}, {webrtc.MimeTypeAV1, webrtc.RTPCodecTypeVideo, 45}} {
		if err := exotic.RegisterCodec(webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: c.mime, ClockRate: map[webrtc.RTPCodecType]uint32{webrtc.RTPCodecTypeAudio: 8000, webrtc.RTPCodecTypeVideo: 90000}[c.kind]}, PayloadType: c.pt}, c.kind); err != nil {
			t.Fatal(err)
		}
	}
	sendOffer := offerOf(t, nil, webrtc.RTPTransceiverDirectionSendonly)
	recvOffer := offerOf(t, nil, webrtc.RTPTransceiverDirectionRecvonly)
	for _, c := range []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		says                      string
	}{
		{"wrong content type", "POST", "/whip/x", "text/plain", sendOffer, 415, "Content-Type must be application/sdp"},
		{"no content type", "POST", "/whep/x", "", recvOffer, 415, "Content-Type must be application/sdp"},
		{"malformed SDP", "POST", "/whip/x", "application/sdp", []byte("hello"), 400, "malformed SDP offer"},
		{"no media", "POST", "/whip/x", "application/sdp", []byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"), 400, "no media section"},
		{"no codec of the room", "POST", "/whip/x", "application/sdp", offerOf(t, exotic, webrtc.RTPTransceiverDirectionSendonly), 400, "no codec of the room (offered AV1"},
		{"WHEP no codec of the room", "POST", "/whep/x", "application/sdp", offerOf(t, exotic, webrtc.RTPTransceiverDirectionRecvonly), 400, "no codec of the room"},
		{"recvonly offer to WHIP", "POST", "/whip/x", "application/sdp", recvOffer, 400, "a WHIP offer sends"},
		{"sendonly offer to WHEP", "POST", "/whep/x", "application/sdp", sendOffer, 400, "a WHEP offer receives"},
		{"WHEP of an absent peer", "POST", "/whep/x?peer=nobody", "application/sdp", recvOffer, 404, `peer "nobody" is not in room "x"`},
		{"PATCH unknown session", "PATCH", "/whip/x/0123", "application/trickle-ice-sdpfrag", []byte("a=ice-ufrag:a\r\n"), 404, "no such WHIP session"},
		{"DELETE unknown session", "DELETE", "/whep/x/0123", "", nil, 404, "no such WHEP session"},
		{"PUT", "PUT", "/whip/x", "application/sdp", sendOffer, 405, ""},
	} {
		r := do(t, c.method, ts.http+c.path, c.ctype, c.body)
		if r.status != c.status || !strings.Contains(r.body, c.says) {
			t.Errorf("%s: %d %q, want %d %q", c.name, r.status, strings.TrimSpace(r.body), c.status, c.says)
		}
	}
	nothingLeft(t, ts)
}

// TestTokens: with join tokens, WHIP and WHEP need one for the room (a
// bearer token or ?token=); the peer joins under the token's name; a spy
// token cannot publish; the session's PATCH and DELETE need the same
// peer's token.
func TestTokens(t *testing.T) {
	keys, err := auth.NewKeySet("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := auth.NewKeySet("fedcba9876543210fedcba9876543210")
	mint := func(k *auth.KeySet, room, peer string, spy bool) string {
		tok, err := k.Mint(auth.Claims{Room: room, Peer: peer, Spy: spy, ExpiresAt: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ts := startServer(t, keys)
	offer := offerOf(t, nil, webrtc.RTPTransceiverDirectionSendonly)
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	for _, c := range []struct {
		name    string
		headers []string
		query   string
		status  int
		says    string
	}{
		{"no token", nil, "", 401, "missing token"},
		{"bad signature", bearer(mint(other, "t", "obs", false)), "", 401, "invalid token"},
		{"garbage", bearer("abc"), "", 401, "invalid token"},
		{"another room", bearer(mint(keys, "u", "obs", false)), "", 401, "token is for another room"},
		{"spy token", bearer(mint(keys, "t", "obs", true)), "", 403, "spy peer"},
	} {
		r := do(t, "POST", ts.http+"/whip/t"+c.query, "application/sdp", offer, c.headers...)
		if r.status != c.status || !strings.Contains(r.body, c.says) {
			t.Errorf("%s: %d %q, want %d %q", c.name, r.status, strings.TrimSpace(r.body), c.status, c.says)
		}
		if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", c.name)
		}
	}
	nothingLeft(t, ts)

	tok := mint(keys, "t", "obs", false)
	r := do(t, "POST", ts.http+"/whip/t?token="+tok, "application/sdp", offer)
	if r.status != http.StatusCreated {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	if p := ts.sfu.Rooms()[0].PeerByName("obs"); p == nil {
		t.Fatal("no peer obs: the token's name was not used")
	}
	if r := do(t, "DELETE", ts.http+loc, "", nil); r.status != 401 {
		t.Errorf("DELETE without token: %d", r.status)
	}
	if r := do(t, "DELETE", ts.http+loc, "", nil, bearer(mint(keys, "t", "mallory", false))...); r.status != 401 {
		t.Errorf("DELETE with another peer's token: %d", r.status)
	}
	if r := do(t, "DELETE", ts.http+loc, "", nil, bearer(tok)...); r.status != 200 {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	nothingLeft(t, ts)
}
