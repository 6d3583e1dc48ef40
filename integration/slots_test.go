package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
)

// slotSpeaker is a pion peer sending opus-sized packets every 20 ms with
// an ssrc-audio-level extension: silent (-127 dBov) until loud is set.
// Each payload names the speaker (byte 1), so a listener can tell whom a
// slot carries.
type slotSpeaker struct {
	index   int
	loud    atomic.Bool
	started atomic.Int64 // unix ns of the first loud packet
}

func startSlotSpeaker(ctx context.Context, t *testing.T, g *gosoup, room string, index int, stop <-chan struct{}, wg *sync.WaitGroup) *slotSpeaker {
	t.Helper()
	p := join(ctx, t, g, room, fmt.Sprint("speaker-", index))
	send, err := p.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	mic, err := send.Produce(ctx, "audio", 0, false, map[string]any{"source": "mic"})
	if err != nil {
		t.Fatal(err)
	}
	var levelID uint8
	for _, e := range p.RoomCapabilities.HeaderExtensions {
		if e.Kind == "audio" && e.URI == "urn:ietf:params:rtp-hdrext:ssrc-audio-level" {
			levelID = uint8(e.PreferredID)
		}
	}
	if levelID == 0 {
		t.Fatal("the room has no ssrc-audio-level")
	}
	s := &slotSpeaker{index: index}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		seq, ts := uint16(index*1000), uint32(index)*100000
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			level := byte(127)
			if s.loud.Load() {
				level = 0x80 | 20 // voice, -20 dBov
				s.started.CompareAndSwap(0, time.Now().UnixNano())
			}
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: []byte{0xf8, byte(index), 0, 0}}
			_ = pkt.Header.SetExtension(levelID, []byte{level})
			_ = mic.WriteRTP(pkt)
			seq++
			ts += 960
		}
	}()
	return s
}

// slotPacket is what a listener received on a slot.
type slotPacket struct {
	at      time.Time
	ssrc    uint32
	seq     uint16
	speaker int
}

// TestAudioSlots: with --audio-slots, a listener joining a room of many
// silent speakers is offered the slots (consumers of the room-level peer
// "audio-slots") and no speaker's audio consumer, at its join or later. A speaker who starts
// talking is heard through a slot within 300 ms; when another takes the
// slot over, the listener's consumer keeps its SSRC and its sequence
// numbers go on without a gap; the audioSlot notification names the peer
// a slot carries.
func TestAudioSlots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoupConfig(t, sfu.Config{AudioSlots: 1}, signaling.Options{})
	const room = "slots"
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	speakers := make([]*slotSpeaker, 8)
	for i := range 7 {
		speakers[i] = startSlotSpeaker(ctx, t, g, room, i, stop, &wg)
	}

	listener := join(ctx, t, g, room, "listener")
	speakers[7] = startSlotSpeaker(ctx, t, g, room, 7, stop, &wg) // produces after the listener joined
	var slots []client.ConsumerData
	for _, pd := range listener.JoinPeers {
		if pd.Name == sfu.AudioSlotsPeerName {
			slots = append(slots, pd.Consumers...)
			continue
		}
		for _, c := range pd.Consumers {
			if c.Kind == "audio" {
				t.Fatalf("listener offered %s's audio consumer with slots on", pd.Name)
			}
		}
	}
	if len(slots) != 1 {
		t.Fatalf("listener offered %d slots, want 1 (peers %+v)", len(slots), listener.JoinPeers)
	}
	recv, err := listener.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	slot, err := recv.Consume(ctx, slots[0])
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan slotPacket, 1000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			pkt, err := slot.ReadRTP(time.Now().Add(200 * time.Millisecond))
			select {
			case <-stop:
				return
			default:
			}
			if err != nil || len(pkt.Payload) < 2 {
				continue
			}
			got <- slotPacket{at: time.Now(), ssrc: pkt.SSRC, seq: pkt.SequenceNumber, speaker: int(pkt.Payload[1])}
		}
	}()
	select {
	case p := <-got:
		t.Fatalf("slot carries speaker %d while everyone is silent", p.speaker)
	case <-time.After(500 * time.Millisecond):
	}

	// Speaker 5 starts: heard within 300 ms.
	first := heard(t, speakers[5], got, nil)
	wantSSRC := slots[0].RTPParameters.Encodings[0].SSRC
	if first.ssrc != wantSSRC {
		t.Fatalf("slot packet SSRC %d, want the consumer's %d", first.ssrc, wantSSRC)
	}
	if _, _, err := listener.WaitNotification(ctx, 0, "audioSlot", matchSpeaker("speaker-5")); err != nil {
		t.Fatalf("no audioSlot notification for speaker-5: %v", err)
	}

	// Speaker 5 stops; after a second of silence speaker 7 starts and
	// takes the slot over: same SSRC, sequence numbers continue.
	time.Sleep(300 * time.Millisecond)
	speakers[5].loud.Store(false)
	time.Sleep(time.Second)
	heard(t, speakers[7], got, &first)
	if _, _, err := listener.WaitNotification(ctx, 0, "audioSlot", matchSpeaker("speaker-7")); err != nil {
		t.Fatalf("no audioSlot notification for speaker-7: %v", err)
	}
	for _, n := range listener.Notifications() {
		var c struct {
			Kind string `json:"kind"`
		}
		if n.Method == "newConsumer" && jsonUnmarshal(n.Data, &c) == nil && c.Kind == "audio" {
			t.Fatalf("listener offered an audio consumer with slots on: %s", n.Data)
		}
	}
}

// heard sets s talking and waits for its first packet on the slot: within
// 300 ms of its first loud packet. Every packet before it must follow the
// previous one on the same SSRC with the next sequence number (prev: the
// first packet seen so far, updated to the last).
func heard(t *testing.T, s *slotSpeaker, got <-chan slotPacket, prev *slotPacket) slotPacket {
	t.Helper()
	s.loud.Store(true)
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-got:
			if prev != nil {
				if p.ssrc != prev.ssrc {
					t.Fatalf("slot SSRC changed from %d to %d", prev.ssrc, p.ssrc)
				}
				if p.seq != prev.seq+1 {
					t.Fatalf("slot sequence number %d after %d (speaker %d after %d)", p.seq, prev.seq, p.speaker, prev.speaker)
				}
			}
			last := p
			if prev != nil {
				*prev = last
			}
			if p.speaker != s.index {
				continue
			}
			delay := p.at.Sub(time.Unix(0, s.started.Load()))
			t.Logf("speaker %d heard through the slot %v after its first loud packet", s.index, delay.Round(time.Millisecond))
			if delay > 300*time.Millisecond {
				t.Fatalf("speaker %d heard after %v, want within 300 ms", s.index, delay)
			}
			return p
		case <-deadline:
			t.Fatalf("speaker %d never heard through the slot", s.index)
		}
	}
}

func matchSpeaker(name string) func(json.RawMessage) bool {
	return func(raw json.RawMessage) bool {
		var n struct {
			Speaker string `json:"speakerPeerName"`
		}
		return json.Unmarshal(raw, &n) == nil && n.Speaker == name
	}
}
