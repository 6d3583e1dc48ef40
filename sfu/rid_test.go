package sfu

import (
	"testing"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/rtpparams"
)

// ridPacket is an RTP packet of ssrc with payload type pt, sequence
// number seq and, when rid is not empty, the RID in extension id extID.
func ridPacket(t *testing.T, ssrc uint32, pt uint8, seq uint16, extID uint8, rid string, payload []byte) []byte {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, SSRC: ssrc}, Payload: payload}
	if rid != "" {
		if err := p.Header.SetExtension(extID, []byte(rid)); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ridProducer(repaired bool) *Producer {
	params := rtpparams.Parameters{
		Codecs: []rtpparams.CodecParameters{
			{Name: "VP8", MimeType: "video/VP8", PayloadType: 120, ClockRate: 90000},
			{Name: "rtx", MimeType: "video/rtx", PayloadType: 124, ClockRate: 90000, Parameters: map[string]any{"apt": 120}},
		},
		HeaderExtensions: []rtpparams.HeaderExtensionParameters{{URI: rtpparams.URIRtpStreamID, ID: 9}},
		Encodings: []rtpparams.EncodingParameters{
			{EncodingID: "l", Profile: "low"}, {EncodingID: "m", Profile: "medium"}, {EncodingID: "h", Profile: "high"},
		},
	}
	if repaired {
		params.HeaderExtensions = append(params.HeaderExtensions, rtpparams.HeaderExtensionParameters{URI: rtpparams.URIRepairedStreamID, ID: 10})
	}
	p := &Producer{streams: newStreams(params.Encodings, true), rid: newRIDRouting(params)}
	return p
}

func TestMatchRIDLearnsMediaSSRCs(t *testing.T) {
	p := ridProducer(false)
	if !p.waitsForSSRCs() {
		t.Fatal("a fresh RID producer does not wait for SSRCs")
	}
	if p.matchRID(ridPacket(t, 7, 120, 1, 9, "", []byte{1}), 7) {
		t.Fatal("a packet without a RID matched")
	}
	if p.matchRID(ridPacket(t, 7, 120, 1, 9, "x", []byte{1}), 7) {
		t.Fatal("an unknown RID matched")
	}
	for i, rid := range []string{"l", "m", "h"} {
		ssrc := uint32(100 + i)
		if !p.matchRID(ridPacket(t, ssrc, 120, 1, 9, rid, []byte{1}), ssrc) {
			t.Fatalf("RID %q not matched", rid)
		}
		if st, rtx := p.streamFor(ssrc); st != p.streams[i] || rtx {
			t.Fatalf("ssrc %d routed to %v (rtx %v), want stream %d", ssrc, st, rtx, i)
		}
	}
	if p.matchRID(ridPacket(t, 999, 120, 1, 9, "m", []byte{1}), 999) {
		t.Fatal("a second SSRC took a matched RID")
	}
	if !p.waitsForSSRCs() {
		t.Fatal("RTX SSRCs unknown, yet the producer no longer waits")
	}
}

// Without repaired-rtp-stream-id, an RTX packet belongs to the one stream
// that waits for the sequence number it repairs.
func TestMatchRIDLearnsRTXByRepairedSequence(t *testing.T) {
	p := ridProducer(false)
	for i, rid := range []string{"l", "m", "h"} {
		p.matchRID(ridPacket(t, uint32(100+i), 120, 1, 9, rid, []byte{1}), uint32(100+i))
	}
	now := int64(1e9)
	// medium lost 50 and 51 (NACKed); low lost 51 too: 51 is ambiguous.
	p.streams[1].nacks.OnPacket(49, now)
	p.streams[1].nacks.OnPacket(52, now)
	p.streams[0].nacks.OnPacket(50, now)
	p.streams[0].nacks.OnPacket(52, now)
	rtxOf := func(osn uint16) []byte {
		return ridPacket(t, 555, 124, 7, 0, "", []byte{byte(osn >> 8), byte(osn), 0xAA})
	}
	if p.matchRID(rtxOf(51), 555) {
		t.Fatal("an RTX packet two streams wait for was matched")
	}
	if p.matchRID(ridPacket(t, 555, 124, 7, 0, "", nil), 555) {
		t.Fatal("an empty RTX packet was matched")
	}
	if !p.matchRID(rtxOf(50), 555) {
		t.Fatal("RTX of medium's lost packet not matched")
	}
	if st, rtx := p.streamFor(555); st != p.streams[1] || !rtx {
		t.Fatalf("RTX ssrc routed to %v (rtx %v), want medium's RTX", st, rtx)
	}
}

func TestMatchRIDLearnsRTXFromRepairedStreamID(t *testing.T) {
	p := ridProducer(true)
	if !p.matchRID(ridPacket(t, 300, 124, 1, 10, "h", []byte{0, 1}), 300) {
		t.Fatal("RTX with repaired-rtp-stream-id not matched")
	}
	if st, rtx := p.streamFor(300); st != p.streams[2] || !rtx {
		t.Fatalf("routed to %v (rtx %v), want high's RTX", st, rtx)
	}
	if p.matchRID(ridPacket(t, 301, 124, 1, 9, "h", []byte{0, 1}), 301) {
		t.Fatal("an RTX packet matched by its rtp-stream-id instead of the repaired one")
	}
}
