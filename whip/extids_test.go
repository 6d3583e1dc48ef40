package whip

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
)

// answerExtID returns the id the answer's section of kind gives uri (0:
// none).
func answerExtID(answer, kind, uri string) int {
	for _, sec := range strings.Split(answer, "m=")[1:] {
		if !strings.HasPrefix(sec, kind+" ") {
			continue
		}
		for _, line := range strings.Split(sec, "\r\n") {
			var id int
			var u string
			if _, err := fmt.Sscanf(line, "a=extmap:%d %s", &id, &u); err == nil && u == uri {
				return id
			}
		}
	}
	return 0
}

// absSendTimeNear reports whether a 6.18 fixed-point abs-send-time is
// within a second of now (modulo its 64 s range).
func absSendTimeNear(v []byte, now time.Time) bool {
	if len(v) != 3 {
		return false
	}
	got := uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
	want := absSendTime(now) // as the SFU computes it
	d := (want - got) & 0xFFFFFF
	return d < 1<<18 || d > 0xFFFFFF-1<<18
}

// TestWHEPHeaderExtensionsInPlayersIDs: a pion player of the room whose
// offer numbers the extensions its own way (audio level 4, abs-send-time
// 5, and 3 for repaired-rtp-stream-id, the room's abs-send-time id) gets
// abs-send-time on its video and audio, stamped by gosoup as it sends, and
// the speaker's audio level, in its own ids, before and after the active
// speaker changes; nothing arrives under the room's ids. Its REMB reaches
// the SFU (the transport's remote estimate).
func TestWHEPHeaderExtensionsInPlayersIDs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	alice := startV2Sender(ctx, t, ts, "x1", "alice", 'a', 20)
	carol := startV2Sender(ctx, t, ts, "x1", "carol", 'c', 127)
	time.Sleep(time.Second) // alice becomes the active speaker
	pl := startPlayer(t, ts, "/whep/x1")
	vAbs := answerExtID(pl.answer, "video", rtpparams.URIAbsSendTime)
	aAbs := answerExtID(pl.answer, "audio", rtpparams.URIAbsSendTime)
	aLevel := answerExtID(pl.answer, "audio", rtpparams.URIAudioLevel)
	if vAbs != 5 || aAbs != 5 || aLevel != 4 {
		t.Fatalf("answer's extension ids: video abs-send-time %d, audio abs-send-time %d, audio level %d; want 5, 5, 4:\n%s",
			vAbs, aAbs, aLevel, pl.answer)
	}
	check := func(tag byte, level byte) {
		t.Helper()
		video, audio := 0, 0
		for deadline := time.Now().Add(20 * time.Second); video < 30 || audio < 10; {
			var pp playedPacket
			select {
			case pp = <-pl.pkts:
			case <-time.After(time.Until(deadline)):
				t.Fatalf("from %q: %d video and %d audio packets as expected", tag, video, audio)
			}
			if pp.kind == "video" {
				if pp.pkt.Payload[len(pp.pkt.Payload)-1] != tag {
					continue // before the switch
				}
				if !absSendTimeNear(pp.pkt.GetExtension(uint8(vAbs)), time.Now()) {
					t.Fatalf("video from %q: abs-send-time at id %d = %x, not now", tag, vAbs, pp.pkt.GetExtension(uint8(vAbs)))
				}
				for _, id := range []uint8{1, 2, 3} { // the room's abs-send-time is 3: pion's repaired-rtp-stream-id
					if v := pp.pkt.GetExtension(id); v != nil {
						t.Fatalf("video from %q: extension %d = %x", tag, id, v)
					}
				}
				video++
				continue
			}
			if !bytes.Equal(pp.pkt.GetExtension(uint8(aLevel)), []byte{0x80 | level}) {
				continue // the other speaker's, before the switch
			}
			if !absSendTimeNear(pp.pkt.GetExtension(uint8(aAbs)), time.Now()) {
				t.Fatalf("audio: abs-send-time at id %d = %x", aAbs, pp.pkt.GetExtension(uint8(aAbs)))
			}
			if v := pp.pkt.GetExtension(1); v != nil {
				t.Fatalf("audio: extension 1 (pion's mid; the room's audio level) = %x", v)
			}
			audio++
		}
	}
	check('a', 20)
	alice.level.Store(127)
	carol.level.Store(10)
	check('c', 10)

	var player *sfu.Transport
	for _, p := range ts.sfu.Rooms()[0].Peers() {
		if strings.HasPrefix(p.Name(), "whep-") && len(p.Transports()) == 1 {
			player = p.Transports()[0]
		}
	}
	if player == nil {
		t.Fatal("no WHEP peer with a transport in the room")
	}
	const bps = 1_234_000
	remote := func() uint64 {
		if bw := player.Stats().RemoteAvailableSendBw; bw != nil {
			return bw.Bitrate
		}
		return 0
	}
	for deadline := time.Now().Add(5 * time.Second); remote() != bps; {
		if time.Now().After(deadline) {
			t.Fatalf("REMB of the player not seen by the SFU: %d", remote())
		}
		if err := pl.pc.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: []uint32{1}}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// absSendTime is the 24-bit 6.18 fixed-point abs-send-time of now (seconds
// and fraction shifted apart: the nanoseconds since 1970 shifted by 18
// would overflow 64 bits).
func absSendTime(now time.Time) uint32 {
	ns := uint64(now.UnixNano())
	return uint32(ns/1e9<<18|(ns%1e9)<<18/1e9) & 0xFFFFFF
}
