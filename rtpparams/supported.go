package rtpparams

// supportedCodec is one entry of mediasoup 2.6.19's supported codec list
// (mediasoup's lib/supportedRtpCapabilities.js; docs/protocol.md, "Supported codecs").
type supportedCodec struct {
	kind         Kind
	name         string
	clockRate    int
	channels     int
	staticPT     int // -1: dynamic
	rtcpFeedback []RTCPFeedback
	parameters   map[string]any
}

func videoFeedback() []RTCPFeedback {
	return []RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"}, {Type: "goog-remb"}}
}

func supportedCodecs() []supportedCodec {
	out := []supportedCodec{
		{kind: KindAudio, name: "opus", clockRate: 48000, channels: 2, staticPT: -1},
		{kind: KindAudio, name: "PCMU", clockRate: 8000, channels: 1, staticPT: 0, rtcpFeedback: []RTCPFeedback{}},
		{kind: KindAudio, name: "PCMA", clockRate: 8000, channels: 1, staticPT: 8, rtcpFeedback: []RTCPFeedback{}},
		{kind: KindAudio, name: "ISAC", clockRate: 32000, channels: 1, staticPT: -1, rtcpFeedback: []RTCPFeedback{}},
		{kind: KindAudio, name: "ISAC", clockRate: 16000, channels: 1, staticPT: -1, rtcpFeedback: []RTCPFeedback{}},
		{kind: KindAudio, name: "G722", clockRate: 8000, channels: 1, staticPT: 9},
		{kind: KindAudio, name: "iLBC", clockRate: 8000, channels: 1, staticPT: -1},
	}
	for _, cr := range []int{24000, 16000, 12000, 8000} {
		out = append(out, supportedCodec{kind: KindAudio, name: "SILK", clockRate: cr, channels: 1, staticPT: -1})
	}
	for _, cr := range []int{32000, 16000, 8000} {
		out = append(out, supportedCodec{kind: KindAudio, name: "CN", clockRate: cr, channels: 1, staticPT: 13})
	}
	for _, cr := range []int{48000, 32000, 16000, 8000} {
		out = append(out, supportedCodec{kind: KindAudio, name: "telephone-event", clockRate: cr, channels: 1, staticPT: -1})
	}
	out = append(out,
		supportedCodec{kind: KindVideo, name: "VP8", clockRate: 90000, staticPT: -1, rtcpFeedback: videoFeedback()},
		supportedCodec{kind: KindVideo, name: "VP9", clockRate: 90000, staticPT: -1, rtcpFeedback: videoFeedback()},
		supportedCodec{kind: KindVideo, name: "H264", clockRate: 90000, staticPT: -1, rtcpFeedback: videoFeedback(), parameters: map[string]any{"packetization-mode": 0}},
		supportedCodec{kind: KindVideo, name: "H264", clockRate: 90000, staticPT: -1, rtcpFeedback: videoFeedback(), parameters: map[string]any{"packetization-mode": 1}},
		supportedCodec{kind: KindVideo, name: "H265", clockRate: 90000, staticPT: -1, rtcpFeedback: videoFeedback()},
	)
	return out
}

// dynamicPayloadTypes is mediasoup's allocation order (lib/ortc.js:4-11).
func dynamicPayloadTypes() []int {
	var pts []int
	for pt := 100; pt <= 127; pt++ {
		pts = append(pts, pt)
	}
	pts = append(pts, 96, 97, 98, 99)
	for pt := 77; pt <= 95; pt++ {
		pts = append(pts, pt)
	}
	for pt := 35; pt <= 71; pt++ {
		pts = append(pts, pt)
	}
	return pts
}

// Header extension URIs.
const (
	URIAudioLevel       = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
	URIToffset          = "urn:ietf:params:rtp-hdrext:toffset"
	URIAbsSendTime      = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
	URIVideoOrientation = "urn:3gpp:video-orientation"
	URIMid              = "urn:ietf:params:rtp-hdrext:sdes:mid"
	URIRtpStreamID      = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
	URIRepairedStreamID = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
	URITransportCC      = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
)

func ext(kind Kind, uri string, id int) HeaderExtensionCapability {
	f := false
	return HeaderExtensionCapability{Kind: kind, URI: uri, PreferredID: id, PreferredEncrypt: &f}
}

// FullHeaderExtensions is mediasoup 2.6.19's header extension list (docs/protocol.md, "Room header extensions").
func FullHeaderExtensions() []HeaderExtensionCapability {
	return []HeaderExtensionCapability{
		ext(KindAudio, URIAudioLevel, 1),
		ext(KindVideo, URIToffset, 2),
		ext(KindAudio, URIAbsSendTime, 3),
		ext(KindVideo, URIAbsSendTime, 3),
		ext(KindVideo, URIVideoOrientation, 4),
		ext(KindAudio, URIMid, 5),
		ext(KindVideo, URIMid, 5),
		ext(KindVideo, URIRtpStreamID, 6),
	}
}

// DefaultHeaderExtensions is the reduced list (docs/protocol.md, "Header extension ids in current Chrome") that lets
// current Chrome send video first: audio level, abs-send-time and
// rtp-stream-id.
func DefaultHeaderExtensions() []HeaderExtensionCapability {
	return []HeaderExtensionCapability{
		ext(KindAudio, URIAudioLevel, 1),
		ext(KindAudio, URIAbsSendTime, 3),
		ext(KindVideo, URIAbsSendTime, 3),
		ext(KindVideo, URIRtpStreamID, 6),
	}
}

// TransportCCHeaderExtensions is the transport-wide-cc extension (id 7,
// audio and video) to add to a room's list for transport-cc feedback.
// Chrome numbers it 3 or 4 depending on whether audio or video is offered
// first, and mediasoup-client 2.4.12 answers with the audio-first id, so a
// browser that produces video before audio fails (docs/protocol.md, "transport-cc is opt-in"): opt in.
func TransportCCHeaderExtensions() []HeaderExtensionCapability {
	return []HeaderExtensionCapability{ext(KindAudio, URITransportCC, 7), ext(KindVideo, URITransportCC, 7)}
}

// DefaultMediaCodecs are the room codecs of the reference traces: opus,
// VP8 and H264 (packetization-mode 1, profile 42e01f).
func DefaultMediaCodecs() []MediaCodec {
	return []MediaCodec{
		{Kind: KindAudio, Name: "opus", MimeType: "audio/opus", ClockRate: 48000, Channels: 2, Parameters: map[string]any{"useinbandfec": 1}},
		{Kind: KindVideo, Name: "VP8", MimeType: "video/VP8", ClockRate: 90000},
		{Kind: KindVideo, Name: "H264", MimeType: "video/H264", ClockRate: 90000, Parameters: map[string]any{
			"packetization-mode": 1, "profile-level-id": "42e01f", "level-asymmetry-allowed": 1,
		}},
	}
}
