package whip

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// roomCaps are the capabilities of a room with gosoup's default codecs
// (opus, VP8, H264 42e01f) and header extensions.
func roomCaps(t *testing.T) rtpparams.Capabilities {
	t.Helper()
	caps, err := rtpparams.NewRoomCapabilities(rtpparams.DefaultMediaCodecs(), rtpparams.DefaultHeaderExtensions())
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

func readOffer(t *testing.T, name string) *offer {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseOffer(b)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

var testTransport = localTransport{
	ice:   protocol.IceParameters{UsernameFragment: "abcdefghijklmnop", Password: "0123456789abcdef0123456789abcdef", IceLite: true},
	cands: []protocol.IceCandidate{{Foundation: "udpcandidate", IP: "127.0.0.1", Port: 40000, Priority: 1078862079, Protocol: "udp", Type: "host"}, {Foundation: "tcpcandidate", IP: "127.0.0.1", Port: 40000, Priority: 1078862079, Protocol: "tcp", TCPType: "passive", Type: "host"}},
	dtls:  protocol.DtlsParameters{Role: "server", Fingerprints: []protocol.DtlsFingerprint{{Algorithm: "sha-256", Value: "AA:BB"}}},
}

// TestChromiumWHIPOffer: Chromium's simulcast WHIP offer (audio, then
// video with RIDs q, h, f and no SSRC) becomes an Opus producer and a VP8
// producer with RID-only encodings, in the offer's payload types and
// extension ids; the answer is valid SDP that accepts the layers.
func TestChromiumWHIPOffer(t *testing.T) {
	o := readOffer(t, "chromium-whip-simulcast.sdp")
	if o.setup != "actpass" || len(o.bundle) != 2 || o.ufrag == "" || len(o.fingerprints) != 1 {
		t.Fatalf("transport: %+v", o)
	}
	plan, err := planPublish(o, roomCaps(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.producers) != 2 {
		t.Fatalf("%d producers", len(plan.producers))
	}
	a, v := plan.producers[0].params, plan.producers[1].params
	if a.Codecs[0].Name != "opus" || a.Codecs[0].PayloadType != 111 || a.Encodings[0].SSRC == 0 || a.RTCP.CNAME == "" {
		t.Errorf("audio: %+v", a)
	}
	if v.Codecs[0].Name != "VP8" || v.Codecs[0].PayloadType != 96 || len(v.Codecs) != 2 || v.Codecs[1].PayloadType != 97 {
		t.Errorf("video codecs: %+v", v.Codecs)
	}
	if got := describeLayers(v.Encodings); got != "low=q medium=h high=f" {
		t.Errorf("layers %q", got)
	}
	ids := map[string]int{}
	for _, e := range v.HeaderExtensions {
		ids[e.URI] = e.ID
	}
	if ids[rtpparams.URIRtpStreamID] != 10 || ids[rtpparams.URIRepairedStreamID] != 11 || ids[rtpparams.URIAbsSendTime] != 2 || ids[rtpparams.URIMid] != 0 {
		t.Errorf("video extensions %v", ids)
	}
	b, err := writeAnswer(plan.secs, testTransport, false)
	if err != nil {
		t.Fatal(err)
	}
	var ans sdp.SessionDescription
	if err := ans.Unmarshal(b); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, b)
	}
	for _, want := range []string{"a=group:BUNDLE 0 1", "a=ice-lite", "a=setup:passive", "a=rid:q recv", "a=simulcast:recv q;h;f",
		"a=rtpmap:96 VP8/90000", "a=fmtp:97 apt=96", "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
		"a=candidate:tcpcandidate 1 tcp 1078862079 127.0.0.1 40000 typ host tcptype passive"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("answer lacks %q", want)
		}
	}
}

// TestChromiumWHEPOffer: Chromium's recvonly offer is played with the
// room's codecs in Chromium's payload types (VP8 96, the H264 of the
// room's profile 108, Opus 111) and the room's extensions it has in its
// own ids (audio level 1, abs-send-time 2); the player joins with those
// in room numbering, and its consumers renumber room ids to Chromium's,
// moving the room's other extensions to ids Chromium does not use.
func TestChromiumWHEPOffer(t *testing.T) {
	for _, full := range []bool{false, true} {
		exts := rtpparams.DefaultHeaderExtensions()
		if full {
			exts = rtpparams.FullHeaderExtensions()
		}
		caps, err := rtpparams.NewRoomCapabilities(rtpparams.DefaultMediaCodecs(), exts)
		if err != nil {
			t.Fatal(err)
		}
		o := readOffer(t, "chromium-whep.sdp")
		plan, err := planPlay(o, caps)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"opus": 111, "VP8": 96, "H264": 108}
		for _, rc := range caps.Codecs {
			if w, ok := want[rc.Name]; ok && plan.pt[rc.PreferredPayloadType] != w {
				t.Errorf("%s: room %d -> %d, want %d", rc.Name, rc.PreferredPayloadType, plan.pt[rc.PreferredPayloadType], w)
			}
		}
		if err := rtpparams.ValidatePeerCapabilities(plan.caps, caps); err != nil {
			t.Errorf("join capabilities: %v", err)
		}
		joined := map[string]bool{}
		for _, e := range plan.caps.HeaderExtensions {
			joined[string(e.Kind)+" "+e.URI+" "+strconv.Itoa(e.PreferredID)] = true
		}
		wantJoined := []string{"audio " + rtpparams.URIAudioLevel + " 1", "audio " + rtpparams.URIAbsSendTime + " 3", "video " + rtpparams.URIAbsSendTime + " 3"}
		wantIDs := map[string]map[int]int{"audio": {1: 1, 3: 2}, "video": {3: 2}}
		wantLines := []string{"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"}
		if full {
			wantJoined = append(wantJoined, "video "+rtpparams.URIToffset+" 2", "video "+rtpparams.URIVideoOrientation+" 4")
			// mid (5) is the publisher's: moved to an id Chromium does not use (9, 12).
			wantIDs = map[string]map[int]int{"audio": {1: 1, 3: 2, 5: 9}, "video": {2: 14, 3: 2, 4: 13, 5: 9}}
			wantLines = append(wantLines, "a=extmap:14 urn:ietf:params:rtp-hdrext:toffset", "a=extmap:13 urn:3gpp:video-orientation")
		}
		for _, w := range wantJoined {
			if !joined[w] {
				t.Errorf("full %v: join capabilities lack %s: %v", full, w, joined)
			}
		}
		if len(joined) != len(wantJoined) {
			t.Errorf("full %v: join capabilities %v, want %v", full, joined, wantJoined)
		}
		if fmt.Sprint(plan.extIDs) != fmt.Sprint(wantIDs) {
			t.Errorf("full %v: renumbering %v, want %v", full, plan.extIDs, wantIDs)
		}
		b, err := writeAnswer(plan.secs, testTransport, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range append(wantLines, "a=sendonly", "a=msid:gosoup gosoup-video", "a=rtpmap:108 H264/90000") {
			if !strings.Contains(string(b), want) {
				t.Errorf("full %v: answer lacks %q", full, want)
			}
		}
		for _, not := range []string{"a=ssrc", "rtx/90000", "sdes:mid", "transport-wide-cc", "rtp-stream-id"} {
			if strings.Contains(string(b), not) {
				t.Errorf("full %v: answer has %q:\n%s", full, not, b)
			}
		}
	}
}

// TestOfferRefusals: offers gosoup cannot take are refused with a reason.
func TestOfferRefusals(t *testing.T) {
	raw, err := os.ReadFile("testdata/chromium-whip-simulcast.sdp")
	if err != nil {
		t.Fatal(err)
	}
	base := string(raw)
	caps := roomCaps(t)
	for _, c := range []struct {
		name, from, to, says string
	}{
		{"no fingerprint", "a=fingerprint:", "a=x-fingerprint:", "without a=fingerprint"},
		{"no ICE", "a=ice-ufrag:", "a=x-ice-ufrag:", "without a=ice-ufrag"},
		{"bad setup", "a=setup:actpass", "a=setup:holdconn", "a=setup:holdconn"},
		{"no rtcp-mux", "a=rtcp-mux\r\n", "", "lacks a=rtcp-mux"},
		{"no BUNDLE", "a=group:BUNDLE 0 1", "a=group:LS 0 1", "must bundle"},
		{"RIDs without rtp-stream-id", "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id", "a=extmap:10 urn:x", "without the urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"},
		{"bad ssrc", "a=ssrc:", "a=ssrc:x", "bad a=ssrc"},
	} {
		s := strings.ReplaceAll(base, c.from, c.to)
		o, err := parseOffer([]byte(s))
		if err == nil {
			_, err = planPublish(o, caps)
		}
		if err == nil || !strings.Contains(err.Error(), c.says) || statusOf(err) != 400 {
			t.Errorf("%s: %v (status %d), want 400 %q", c.name, err, statusOf(err), c.says)
		}
	}
}
