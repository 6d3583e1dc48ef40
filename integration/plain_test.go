package integration

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
)

// plainVP8 sends synthetic VP8 RTP (payload type 101, ssrc 4321, a key
// frame every 10 packets) over plain UDP to dst every 10 ms until stopped.
type plainVP8 struct {
	conn *net.UDPConn
	stop chan struct{}
	wg   sync.WaitGroup
}

func startPlainVP8(t *testing.T, dst string) *plainVP8 {
	t.Helper()
	raddr, err := net.ResolveUDPAddr("udp", dst)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		t.Fatal(err)
	}
	s := &plainVP8{conn: conn, stop: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-tk.C:
			}
			payload := make([]byte, 200)
			payload[0], payload[1] = 0x10, 0x01
			if i%10 == 0 {
				payload[1] = 0x00
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: uint16(i),
				Timestamp: uint32(i * 3000), SSRC: 4321, Marker: true}, Payload: payload}
			b, _ := pkt.Marshal()
			_, _ = conn.Write(b)
		}
	}()
	t.Cleanup(s.Stop)
	return s
}

func (s *plainVP8) Stop() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.wg.Wait()
	s.conn.Close()
}

// plainSink is a UDP socket that counts the RTP packets of one SSRC.
type plainSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	n    map[uint32]int
}

func newPlainSink(t *testing.T) *plainSink {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &plainSink{conn: conn, n: map[uint32]int{}}
	go func() {
		b := make([]byte, 2000)
		for {
			n, err := conn.Read(b)
			if err != nil {
				return
			}
			var h rtp.Header
			if n >= 12 && (b[1] < 192 || b[1] > 223) && func() bool { _, err := h.Unmarshal(b[:n]); return err == nil }() {
				s.mu.Lock()
				s.n[h.SSRC]++
				s.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return s
}

func (s *plainSink) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *plainSink) count(ssrc uint32) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[ssrc]
}

func (s *plainSink) waitCount(t *testing.T, what string, ssrc uint32, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.count(ssrc) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d packets of ssrc %d, want %d", what, s.count(ssrc), ssrc, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPlainRtpIngestStreamerAndMirroring: a tool's peer creates a plain
// send transport over the protocol (comedia) and a VP8 producer, and sends
// plain RTP; a WebRTC peer consumes it; an RtpStreamer sends it to a plain
// sink; mirroring copies what bob's transport sends; garbage from another
// address is counted and harms nothing.
func TestPlainRtpIngestStreamerAndMirroring(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	g := startGosoup(t)
	tool := join(ctx, t, g, "plain", "tool")
	raw, err := tool.Request(ctx, "createTransport", map[string]any{
		"id": 77, "direction": "send", "options": map[string]any{},
		"plainRtpParameters": map[string]any{"comedia": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		PlainRtpParameters struct {
			IP   string `json:"ip"`
			Port int    `json:"port"`
		} `json:"plainRtpParameters"`
	}
	mustJSON(t, raw, &resp)
	if resp.PlainRtpParameters.IP != "127.0.0.1" || resp.PlainRtpParameters.Port == 0 {
		t.Fatalf("createTransport answered %s", raw)
	}
	if _, err := tool.Request(ctx, "createProducer", map[string]any{
		"id": 78, "kind": "video", "transportId": 77, "paused": false, "appData": map[string]any{},
		"rtpParameters": map[string]any{
			"codecs": []any{map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000,
				"payloadType": 101, "rtcpFeedback": []any{}, "parameters": map[string]any{}}},
			"headerExtensions": []any{},
			"encodings":        []any{map[string]any{"ssrc": 4321}},
			"rtcp":             map[string]any{"cname": "tool", "reducedSize": true, "mux": true},
		},
	}); err != nil {
		t.Fatal(err)
	}
	dst := netip.AddrPortFrom(netip.MustParseAddr(resp.PlainRtpParameters.IP), uint16(resp.PlainRtpParameters.Port))
	src := startPlainVP8(t, dst.String())

	bob, cd, cons := joinAndConsume(ctx, t, g, "plain", "bob")
	readN(t, "bob", cons, cd.RTPParameters.Encodings[0].SSRC, 30)

	room, err := g.SFU.Room("plain")
	if err != nil {
		t.Fatal(err)
	}
	prod := room.PeerByName("tool").ProducerByID(78)
	tr := room.PeerByName("tool").TransportByID(77)
	if st := tr.Stats(); st.IceSelectedTuple == nil || st.BytesReceived == 0 {
		t.Fatalf("plain transport stats %+v", st)
	}

	// RtpStreamer to a plain sink.
	sink := newPlainSink(t)
	streamer, err := room.CreateRtpStreamer(prod, sfu.RtpStreamerOptions{RemoteIP: "127.0.0.1", RemotePort: sink.port()})
	if err != nil {
		t.Fatal(err)
	}
	sssrc := streamer.Consumer().RTPParameters().Encodings[0].SSRC
	sink.waitCount(t, "streamer", sssrc, 30)
	if len(room.Peers()) != 2 {
		t.Fatalf("the streamer's peer is visible: %d peers", len(room.Peers()))
	}

	// Mirroring what bob's transport sends.
	mirrorSink := newPlainSink(t)
	bt := room.PeerByName("bob").Transports()[0]
	if err := bt.StartMirroring(sfu.MirrorOptions{RemoteIP: "127.0.0.1", RemotePort: mirrorSink.port(), SendRTP: true}); err != nil {
		t.Fatal(err)
	}
	mirrorSink.waitCount(t, "mirror", cd.RTPParameters.Encodings[0].SSRC, 30)
	bt.StopMirroring()

	// Garbage and a wrong source at the plain port: counted, bob unharmed.
	evil, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	for i := 0; i < 200; i++ {
		_, _ = evil.Write([]byte{0x80, 101, 0, byte(i), 0, 0, 0, 0, 0, 0, 0x10, 0xE1, 1, 2, 3})
		_, _ = evil.Write([]byte("garbage"))
		if i%20 == 0 {
			time.Sleep(5 * time.Millisecond) // within the socket's receive buffer
		}
	}
	// (Counted, not exactly: a burst may overflow the socket's buffer.)
	// From the tool's own address: an SSRC it did not declare, a payload
	// type it did not declare.
	for i := 0; i < 50; i++ {
		_, _ = src.conn.Write([]byte{0x80, 101, 0, byte(i), 0, 0, 0, 0, 0, 0, 0x99, 0x99, 1, 2, 3})
		_, _ = src.conn.Write([]byte{0x80, 96, 0, byte(i), 0, 0, 0, 0, 0, 0, 0x10, 0xE1, 1, 2, 3})
		if i%10 == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	readN(t, "bob after garbage", cons, cd.RTPParameters.Encodings[0].SSRC, 30)
	if c := tr.Plain().Counters(); c.WrongSource == 0 || c.Malformed == 0 || c.WrongSource > 200 || c.Malformed > 200 {
		t.Fatalf("counters %+v", c)
	}
	if ssrc, pt := tr.PlainDropped(); ssrc == 0 || pt == 0 || ssrc > 50 || pt > 50 {
		t.Fatalf("dropped: unknown ssrc %d, payload type %d", ssrc, pt)
	}
	if g.SFU.Counts().PlainDropped == 0 {
		t.Fatalf("server counts %+v", g.SFU.Counts())
	}

	// Closing the streamer stops its packets; closing the producer ends bob's consumer.
	streamer.Close()
	time.Sleep(100 * time.Millisecond)
	before := sink.count(sssrc)
	time.Sleep(300 * time.Millisecond)
	if after := sink.count(sssrc); after != before {
		t.Fatalf("streamer still sends after Close: %d -> %d", before, after)
	}
	if err := tool.Notify("closeProducer", map[string]any{"id": 78}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.WaitNotification(ctx, 0, "consumerClosed", nil); err != nil {
		t.Fatal(err)
	}
}

// readN reads n packets of ssrc from c.
func readN(t *testing.T, who string, c *client.Consumer, ssrc uint32, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		pkt, err := c.ReadRTP(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatalf("%s: packet %d: %v", who, i, err)
		}
		if pkt.SSRC != ssrc {
			t.Fatalf("%s: ssrc %d, want %d", who, pkt.SSRC, ssrc)
		}
	}
}
