package whip

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/client"
)

// startSimulcastPublisher publishes VP8 from pion in three layers named
// by RID (q, h, f: a=rid and a=simulcast, as browsers send them). Each
// packet carries its RID in rtp-stream-id and its layer in payload byte
// 10; a key frame every 20 packets.
func startSimulcastPublisher(t *testing.T, ts *testServer, room string) string {
	t.Helper()
	pc, err := newPionAPI(t, false).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	rids := []string{"q", "h", "f"}
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range rids {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "whip", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	tx, err := pc.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range tracks[1:] {
		if err := tx.Sender().AddEncoding(tr); err != nil {
			t.Fatal(err)
		}
	}
	res := negotiate(t, pc, ts.http+"/whip/"+room)
	if !strings.Contains(res.body, "a=simulcast:recv q;h;f") {
		t.Errorf("answer without the layers:\n%s", res.body)
	}
	waitConnected(t, pc)
	var ridID uint8
	for _, e := range tx.Sender().GetParameters().HeaderExtensions {
		if e.URI == "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id" {
			ridID = uint8(e.ID)
		}
	}
	if ridID == 0 {
		t.Fatal("rtp-stream-id not negotiated")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		_ = pc.Close()
	})
	for layer, tr := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk := time.NewTicker(10 * time.Millisecond)
			defer tk.Stop()
			seq, ts, pid := uint16(layer*1000), uint32(layer)*77777, uint16(layer*900)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tk.C:
				}
				payload := make([]byte, 100+200*layer)
				payload[0], payload[1] = 0x90, 0x80 // X, S; I
				payload[2], payload[3] = 0x80|byte(pid>>8&0x7f), byte(pid)
				payload[4] = 0x01 // inter frame
				if i%20 == 0 {
					payload[4] = 0x00 // key frame
				}
				payload[10] = byte(layer)
				p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: true}, Payload: payload}
				_ = p.Header.SetExtension(ridID, []byte(rids[layer]))
				_ = tr.WriteRTP(p)
				seq++
				ts += 3000
				pid = (pid + 1) & 0x7fff
			}
		}()
	}
	return res.header.Get("Location")
}

// untilLayer reads the consumer until n packets in a row come from layer.
func untilLayer(t *testing.T, c *client.Consumer, layer, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	run, last := 0, -1
	for run < n {
		p, err := c.ReadRTP(deadline)
		if err != nil {
			t.Fatalf("waiting for layer %d (last %d): %v", layer, last, err)
		}
		last = int(p.Payload[10])
		if last == layer {
			run++
		} else {
			run = 0
		}
	}
}

// TestWHIPSimulcastRID: a pion WHIP client sends three RID layers; a v2
// consumer gets the high one first, and each setConsumerPreferredProfile
// moves it (consumerEffectiveProfileChanged, then the packets of that
// layer).
func TestWHIPSimulcastRID(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ts := startServer(t, nil)
	bob, recv := v2Peer(ctx, t, ts, "sim", "bob")
	startSimulcastPublisher(t, ts, "sim")

	n, from, err := bob.WaitNotification(ctx, 0, "newPeer", nil)
	if err != nil {
		t.Fatal(err)
	}
	var np struct{ Name string }
	_ = json.Unmarshal(n.Data, &np)
	cd := waitConsumer(ctx, t, bob, &from, "video", np.Name)
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	untilLayer(t, cons, 2, 30)
	for _, step := range []struct {
		profile string
		layer   int
	}{{"low", 0}, {"medium", 1}, {"high", 2}} {
		if err := bob.Notify("setConsumerPreferredProfile", map[string]any{"id": cd.ID, "profile": step.profile}); err != nil {
			t.Fatal(err)
		}
		_, next, err := bob.WaitNotification(ctx, from, "consumerEffectiveProfileChanged", func(raw json.RawMessage) bool {
			return strings.Contains(string(raw), `"profile":"`+step.profile+`"`)
		})
		if err != nil {
			t.Fatalf("effective profile %s: %v", step.profile, err)
		}
		from = next
		untilLayer(t, cons, step.layer, 20)
	}
}

// TestRIDProfiles: RIDs become profiles by well-known names, else by
// order (lowest first).
func TestRIDProfiles(t *testing.T) {
	for _, c := range []struct {
		rids []string
		want string
	}{
		{[]string{"q", "h", "f"}, "q=low h=medium f=high"},
		{[]string{"h", "m", "l"}, "h=high m=medium l=low"},
		{[]string{"high1", "medium1", "low1"}, "high1=high medium1=medium low1=low"},
		{[]string{"a", "b", "c"}, "a=low b=medium c=high"},
		{[]string{"0", "1"}, "0=low 1=high"},
	} {
		got, err := ridProfiles(c.rids)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, r := range c.rids {
			parts = append(parts, r+"="+got[r])
		}
		if s := strings.Join(parts, " "); s != c.want {
			t.Errorf("%v: %s, want %s", c.rids, s, c.want)
		}
	}
	if _, err := ridProfiles([]string{"a", "b", "c", "d"}); err == nil {
		t.Error("4 layers accepted")
	}
}
