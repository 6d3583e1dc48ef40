package whip

import (
	"strings"
	"testing"

	"github.com/gosoup/gosoup/rtpparams"
)

// roomWith is a room's capabilities with the given --video-codecs.
func roomWith(t *testing.T, video string) rtpparams.Capabilities {
	t.Helper()
	codecs, err := rtpparams.MediaCodecsFor(video)
	if err != nil {
		t.Fatal(err)
	}
	caps, err := rtpparams.NewRoomCapabilities(codecs, rtpparams.DefaultHeaderExtensions())
	if err != nil {
		t.Fatal(err)
	}
	return caps
}

// TestChromiumVP9SVCOffer: Chromium's VP9 offer for a camera sent with
// scalabilityMode L3T3_KEY (one SSRC and its RTX; the layers travel in
// the VP9 payload descriptor, nothing in the SDP) becomes, in a VP9 room,
// one VP9 producer with one encoding and RTX, profile-id 0.
func TestChromiumVP9SVCOffer(t *testing.T) {
	o := readOffer(t, "chromium-whip-vp9-svc.sdp")
	plan, err := planPublish(o, roomWith(t, "vp9"))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.producers) != 1 {
		t.Fatalf("%d producers", len(plan.producers))
	}
	v := plan.producers[0].params
	if v.Codecs[0].MimeType != "video/VP9" || v.Codecs[0].PayloadType != 98 || v.Codecs[0].Parameters["profile-id"] != 0 ||
		len(v.Codecs) != 2 || v.Codecs[1].PayloadType != 99 {
		t.Errorf("codecs: %+v", v.Codecs)
	}
	if len(v.Encodings) != 1 || v.Encodings[0].SSRC == 0 || v.Encodings[0].RTX == nil || v.Encodings[0].Profile != "" {
		t.Errorf("encodings: %+v", v.Encodings)
	}
	// the default room (VP8, H264) has no codec of it
	if _, err := planPublish(o, roomWith(t, "vp8,h264")); err == nil ||
		!strings.Contains(err.Error(), "offered VP9, VP9; the room has audio opus, video VP8, video H264") {
		t.Errorf("VP9 into a VP8/H264 room: %v", err)
	}
}

// TestChromiumH264SimulcastOffer: Chromium's H264 offer with three RID
// layers becomes, in an H264 room, a producer in the room's profile
// (42e01f, packetization-mode 1: Chromium's payload type 108) with the
// layers low=q medium=h high=f.
func TestChromiumH264SimulcastOffer(t *testing.T) {
	o := readOffer(t, "chromium-whip-h264-simulcast.sdp")
	plan, err := planPublish(o, roomWith(t, "h264"))
	if err != nil {
		t.Fatal(err)
	}
	v := plan.producers[0].params
	if v.Codecs[0].MimeType != "video/H264" || v.Codecs[0].PayloadType != 108 || v.Codecs[0].Parameters["profile-level-id"] != "42e01f" {
		t.Errorf("codecs: %+v", v.Codecs)
	}
	if got := describeLayers(v.Encodings); got != "low=q medium=h high=f" {
		t.Errorf("layers %q", got)
	}
}

// TestChromiumAV1Offer: no room offers AV1 (it is not among the codecs a
// room may have), so an AV1-only offer is refused with a 400 naming what
// was offered and what the room has.
func TestChromiumAV1Offer(t *testing.T) {
	o := readOffer(t, "chromium-whip-av1.sdp")
	if _, err := rtpparams.MediaCodecsFor("av1"); err == nil {
		t.Fatal("a room can be made with AV1: this refusal is out of date")
	}
	_, err := planPublish(o, roomWith(t, "vp8,vp9,h264"))
	if err == nil || statusOf(err) != 400 ||
		!strings.Contains(err.Error(), "no codec of the room (offered AV1; the room has audio opus, video VP8, video VP9, video H264)") {
		t.Errorf("AV1 offer: %v (status %d)", err, statusOf(err))
	}
}
