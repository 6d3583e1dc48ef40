package whip

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/signaling"
	"github.com/gosoup/gosoup/transport"
)

// testServer is gosoup with its WebSocket signaling and the WHIP/WHEP
// handler on one HTTP server, as cmd/gosoup mounts them.
type testServer struct {
	sfu  *sfu.Server
	sig  *signaling.Server
	whip *Handler
	http string // http://127.0.0.1:port
	ws   string // ws://127.0.0.1:port
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func startServer(t *testing.T, keys *auth.KeySet) *testServer {
	t.Helper()
	return startServerWith(t, keys, true)
}

// startServerWith starts gosoup; without signaling, the WHIP handler holds
// the rooms itself (Options.Rooms nil) and there is no WebSocket.
func startServerWith(t *testing.T, keys *auth.KeySet, withSignaling bool) *testServer {
	t.Helper()
	return startServerConfig(t, keys, withSignaling, nil)
}

// startServerConfig is startServerWith with edit applied to the SFU's
// configuration.
func startServerConfig(t *testing.T, keys *auth.KeySet, withSignaling bool, edit func(*sfu.Config)) *testServer {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", Port: 0, AnnouncedIPs: []string{"127.0.0.1"}},
		Logger: log,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := sfu.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts := signaling.Options{}
	if keys != nil {
		opts.Authorize = signaling.TokenAuthorizer(keys)
	}
	sig := signaling.NewServerWithOptions(srv, log, opts)
	wopts := Options{Rooms: sig, Keys: keys, Logger: log}
	if !withSignaling {
		wopts.Rooms = nil
	}
	wh := NewHandler(srv, wopts)
	hs := httptest.NewServer(wh.Wrap(sig))
	t.Cleanup(func() {
		hs.Close()
		wh.Close()
		sig.Close()
		srv.Close()
	})
	return &testServer{sfu: srv, sig: sig, whip: wh, http: hs.URL, ws: "ws://" + strings.TrimPrefix(hs.URL, "http://")}
}

// httpResult is an HTTP answer.
type httpResult struct {
	status int
	header http.Header
	body   string
}

// do sends one request; headers are name, value pairs.
func do(t *testing.T, method, url, contentType string, body []byte, headers ...string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResult{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// newPionAPI is a pion API on loopback with pion's default codecs,
// simulcast header extensions, audio level, abs-send-time and RTCP
// reports (its extension ids differ from the room's: mid 1, rtp-stream-id
// 2, repaired-rtp-stream-id 3, audio level 4, abs-send-time 5). A player
// (player true) takes streams its answer names no SSRC for, as browsers
// do; pion as an offerer refuses them unless told.
func newPionAPI(t *testing.T, player bool) *webrtc.API {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(me); err != nil {
		t.Fatal(err)
	}
	if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: "urn:ietf:params:rtp-hdrext:ssrc-audio-level"}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: rtpparams.URIAbsSendTime}, k); err != nil {
			t.Fatal(err)
		}
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetHandleUndeclaredSSRCWithoutAnswer(player)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir))
}

// negotiate makes pc's offer (candidates gathered), POSTs it to url and
// applies the answer; it returns the HTTP result.
func negotiate(t *testing.T, pc *webrtc.PeerConnection, url string, headers ...string) httpResult {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	res := do(t, http.MethodPost, url, "application/sdp", []byte(pc.LocalDescription().SDP), headers...)
	if res.status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s", url, res.status, res.body)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: res.body}); err != nil {
		t.Fatalf("answer refused by pion: %v\n%s", err, res.body)
	}
	return res
}

// waitConnected waits until pc is connected.
func waitConnected(t *testing.T, pc *webrtc.PeerConnection) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("pion not connected: %s", pc.ConnectionState())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pump writes packets of a synthetic source (client.Source: VP8 with key
// frames every 2 s, or Opus-sized audio) to track until stop closes; edit,
// if set, changes each packet before it goes.
func pump(track *webrtc.TrackLocalStaticRTP, kind string, stop <-chan struct{}, wg *sync.WaitGroup, edit func(*rtp.Packet)) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		src := client.NewSource(kind, 300_000)
		tk := time.NewTicker(src.Interval())
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case now := <-tk.C:
				for _, p := range src.NextFrame(now) {
					if edit != nil {
						edit(p)
					}
					_ = track.WriteRTP(p)
				}
			}
		}
	}()
}

// v2Peer joins a room over the WebSocket with the Go client and creates a
// receive transport.
func v2Peer(ctx context.Context, t *testing.T, ts *testServer, room, name string) (*client.Peer, *client.Transport) {
	t.Helper()
	p, err := client.Connect(ctx, ts.ws, room, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	if err := p.Join(ctx, map[string]any{"displayName": name}, false); err != nil {
		t.Fatal(err)
	}
	recv, err := p.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}
	return p, recv
}

// waitConsumer waits for a newConsumer of kind from peer and decodes it.
func waitConsumer(ctx context.Context, t *testing.T, p *client.Peer, from *int, kind, peer string) client.ConsumerData {
	t.Helper()
	n, next, err := p.WaitNotification(ctx, *from, "newConsumer", func(raw json.RawMessage) bool {
		var c client.ConsumerData
		return json.Unmarshal(raw, &c) == nil && c.Kind == kind && c.PeerName == peer
	})
	if err != nil {
		t.Fatalf("newConsumer %s of %s: %v", kind, peer, err)
	}
	*from = next
	var c client.ConsumerData
	if err := json.Unmarshal(n.Data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// readPackets reads n packets of a consumer within timeout.
func readPackets(t *testing.T, c *client.Consumer, n int, timeout time.Duration) []*rtp.Packet {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var out []*rtp.Packet
	for len(out) < n {
		p, err := c.ReadRTP(deadline)
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(out), n, err)
		}
		out = append(out, p)
	}
	return out
}
