package whip

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

var (
	ufragLine = regexp.MustCompile(`(?m)^a=ice-ufrag:(\S+)\r?$`)
	pwdLine   = regexp.MustCompile(`(?m)^a=ice-pwd:(\S+)\r?$`)
)

// TestWHIPICERestart: a trickled candidate is accepted (204); an offer
// with new ICE credentials restarts ICE (RFC 9725): 200 with gosoup's new
// credentials and a new ETag; the client applies them and media goes on
// to the v2 consumer over the restarted ICE. A stale If-Match is 412, a
// wrong content type 415.
func TestWHIPICERestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	bob, recv := v2Peer(ctx, t, ts, "ice", "bob")
	pub, res := startPublisher(t, ts, "ice")
	url := ts.http + pub.location
	etag := res.header.Get("ETag")

	local := pub.pc.LocalDescription().SDP
	frag := fmt.Sprintf("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n",
		ufragLine.FindStringSubmatch(local)[1], pwdLine.FindStringSubmatch(local)[1])
	if r := do(t, "PATCH", url, "application/trickle-ice-sdpfrag", []byte(frag), "If-Match", etag); r.status != 204 {
		t.Fatalf("trickle: %d %s", r.status, r.body)
	}
	if r := do(t, "PATCH", url, "application/sdp", []byte(frag)); r.status != 415 {
		t.Errorf("PATCH with application/sdp: %d", r.status)
	}
	if r := do(t, "PATCH", url, "application/trickle-ice-sdpfrag", []byte(frag), "If-Match", `"stale"`); r.status != 412 {
		t.Errorf("stale If-Match: %d", r.status)
	}

	states := make(chan webrtc.ICEConnectionState, 16)
	pub.pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		select {
		case states <- s:
		default:
		}
	})
	offer, err := pub.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	ufrag, pwd := ufragLine.FindStringSubmatch(offer.SDP)[1], pwdLine.FindStringSubmatch(offer.SDP)[1]
	r := do(t, "PATCH", url, "application/trickle-ice-sdpfrag",
		[]byte(fmt.Sprintf("a=ice-ufrag:%s\r\na=ice-pwd:%s\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n", ufrag, pwd)), "If-Match", "*")
	if r.status != 200 || r.header.Get("Content-Type") != "application/trickle-ice-sdpfrag" {
		t.Fatalf("ICE restart: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	newUfrag, newPwd := ufragLine.FindStringSubmatch(r.body), pwdLine.FindStringSubmatch(r.body)
	if newUfrag == nil || newPwd == nil || !strings.Contains(r.body, "a=candidate:") {
		t.Fatalf("restart fragment:\n%s", r.body)
	}
	if r.header.Get("ETag") == "" || r.header.Get("ETag") == etag {
		t.Errorf("ETag %q after restart (was %q)", r.header.Get("ETag"), etag)
	}
	answer := res.body
	answer = ufragLine.ReplaceAllString(answer, "a=ice-ufrag:"+newUfrag[1]+"\r")
	answer = pwdLine.ReplaceAllString(answer, "a=ice-pwd:"+newPwd[1]+"\r")
	if err := pub.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}

	// pion checks the new credentials (gosoup answers only those now) and
	// connects again; media flows to the v2 consumer.
	var seen []string
	for connected := false; !connected; {
		select {
		case s := <-states:
			seen = append(seen, s.String())
			connected = s == webrtc.ICEConnectionStateConnected && len(seen) > 1
			if s == webrtc.ICEConnectionStateFailed || s == webrtc.ICEConnectionStateDisconnected {
				t.Fatalf("ICE %v after the restart", seen)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("ICE not connected again after the restart: %v", seen)
		}
	}
	t.Logf("pion ICE states after the restart: %v", seen)
	from := 0
	cd := waitConsumer(ctx, t, bob, &from, "video", peerName(t, ts, "whip-"))
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	readPackets(t, cons, 30, 10*time.Second)
	time.Sleep(6 * time.Second) // longer than pion's disconnect timeout: the new pair is the one checked
	if s := pub.pc.ICEConnectionState(); s != webrtc.ICEConnectionStateConnected {
		t.Errorf("pion ICE state %s after the restart", s)
	}
}

// peerName returns the name of the room's first peer with prefix.
func peerName(t *testing.T, ts *testServer, prefix string) string {
	t.Helper()
	for _, r := range ts.sfu.Rooms() {
		for _, p := range r.Peers() {
			if strings.HasPrefix(p.Name(), prefix) {
				return p.Name()
			}
		}
	}
	t.Fatalf("no peer %s*", prefix)
	return ""
}
