package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
)

// startVP9SVC sends one VP9 stream with three spatial and three temporal
// layers, as Chromium's L3T3_KEY: every 20 ms a picture of three layer
// frames (one packet each, non-flexible mode, TID pattern 0 2 1 2), the
// RTP marker on the top layer, a key picture every 25 pictures.
func startVP9SVC(p *client.Producer) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		seq, pid, tl0 := uint16(40000), uint16(100), uint8(0)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			tid := []uint8{0, 2, 1, 2}[i%4]
			if tid == 0 {
				tl0++
			}
			for sid := uint8(0); sid < 3; sid++ {
				b0 := byte(0x80 | 0x20 | 0x08 | 0x04) // I L B E
				if i%25 != 0 {
					b0 |= 0x40 // P: inter picture
				}
				payload := make([]byte, 60+40*int(sid))
				copy(payload, []byte{b0, 0x80 | byte(pid>>8), byte(pid), tid<<5 | 0x10 | sid<<1, tl0})
				_ = p.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(i) * 1800, Marker: sid == 2}, Payload: payload})
				seq++
			}
			pid = (pid + 1) & 0x7fff
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestVP9SVCPreferredProfile: a single-stream VP9 SVC producer in a VP9
// room; a v2 consumer preferring low, medium or high gets spatial layers up
// to 0, 1 or 2 (the picture's end marked on the highest one it gets, the
// stream continuous), and its effective profile says which.
func TestVP9SVCPreferredProfile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	codecs, err := rtpparams.MediaCodecsFor("vp9")
	if err != nil {
		t.Fatal(err)
	}
	g := startGosoupConfig(t, sfu.Config{MediaCodecs: codecs}, signaling.Options{})
	alice := join(ctx, t, g, "svc", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prod.Codec.MimeType != "video/VP9" {
		t.Fatalf("producing %s", prod.Codec.MimeType)
	}
	defer startVP9SVC(prod)()
	bob, cd, cons := joinAndConsume(ctx, t, g, "svc", "bob")
	var last *rtp.Packet
	// layers reads until a whole picture of exactly the spatial layers
	// 0..top arrived twice in a row, checking continuity and markers.
	layers := func(top uint8) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		var pic []uint8
		good := 0
		for good < 2 {
			pkt, err := cons.ReadRTP(deadline)
			if err != nil {
				t.Fatalf("waiting for spatial layers 0..%d: %v", top, err)
			}
			if last != nil && pkt.SequenceNumber != last.SequenceNumber+1 {
				t.Fatalf("seq %d after %d", pkt.SequenceNumber, last.SequenceNumber)
			}
			last = pkt
			sid := pkt.Payload[3] >> 1 & 7
			if sid == 0 {
				pic = pic[:0]
			}
			pic = append(pic, sid)
			if pkt.Marker {
				if len(pic) == int(top)+1 && sid == top {
					good++
				} else {
					good = 0
				}
			}
		}
	}
	seen := 0
	expect := func(profile string) {
		t.Helper()
		for {
			n, i, err := bob.WaitNotification(ctx, seen, "consumerEffectiveProfileChanged", nil)
			if err != nil {
				t.Fatalf("waiting for effective profile %s: %v", profile, err)
			}
			seen = i
			if profileOf(t, n) == profile {
				return
			}
		}
	}
	layers(2)
	expect("high")
	for _, step := range []struct {
		profile string
		top     uint8
	}{{"low", 0}, {"medium", 1}, {"high", 2}, {"medium", 1}} {
		if err := bob.Notify("setConsumerPreferredProfile", map[string]any{"id": cd.ID, "profile": step.profile}); err != nil {
			t.Fatal(err)
		}
		layers(step.top)
		expect(step.profile)
	}
}
