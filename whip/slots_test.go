package whip

import (
	"context"
	"testing"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
)

// TestWHEPAudioSlots: in a room with audio slots (the speakers' audio
// reaches peers through the slots, not as their own consumers), a player
// of the room hears the active speaker through the slot that carries
// them, on the one audio stream its answer names, and follows the next
// speaker into another slot.
func TestWHEPAudioSlots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ts := startServerConfig(t, nil, true, func(c *sfu.Config) { c.AudioSlots = 2 })
	alice := startV2Sender(ctx, t, ts, "s1", "alice", 'a', 20)
	carol := startV2Sender(ctx, t, ts, "s1", "carol", 'c', 127)
	time.Sleep(time.Second) // alice speaks: the active speaker, in a slot
	pl := startPlayer(t, ts, "/whep/s1")
	aLevel := answerExtID(pl.answer, "audio", rtpparams.URIAudioLevel)
	if aLevel == 0 {
		t.Fatalf("no audio level in the answer:\n%s", pl.answer)
	}
	var ssrc uint32
	hear := func(level byte) {
		t.Helper()
		run := 0
		for deadline := time.Now().Add(20 * time.Second); run < 25; {
			var pp playedPacket
			select {
			case pp = <-pl.pkts:
			case <-time.After(time.Until(deadline)):
				t.Fatalf("the player did not hear the speaker of level %d (%d packets in a row)", level, run)
			}
			if pp.kind != "audio" {
				continue
			}
			if ssrc == 0 {
				ssrc = pp.pkt.SSRC
			}
			if pp.pkt.SSRC != ssrc {
				t.Fatalf("audio SSRC changed from %d to %d", ssrc, pp.pkt.SSRC)
			}
			if v := pp.pkt.GetExtension(uint8(aLevel)); len(v) == 1 && v[0] == 0x80|level {
				run++
			} else {
				run = 0
			}
		}
	}
	hear(20) // alice
	if sl := ts.sfu.Rooms()[0].AudioSlots(); sl != 2 {
		t.Fatalf("room has %d audio slots", sl)
	}
	carol.level.Store(10)
	alice.level.Store(127)
	hear(10) // carol, in the other slot
}
