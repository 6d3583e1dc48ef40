package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/rtpparams"
)

// Transport is a client WebRtcTransport: pion ICE (controlling), DTLS and
// SRTP toward the server.
type Transport struct {
	ID        uint32
	Direction string
	peer      *Peer
	gatherer  *webrtc.ICEGatherer
	ice       *webrtc.ICETransport
	dtls      *webrtc.DTLSTransport

	startOnce sync.Once
	startErr  atomic.Pointer[error] // why ICE or DTLS did not start (set by the start goroutine)
	connected chan struct{}
	closeOnce sync.Once

	mu        sync.Mutex
	senders   []*webrtc.RTPSender
	receivers []*webrtc.RTPReceiver
}

type serverTransport struct {
	IceParameters struct {
		UsernameFragment string `json:"usernameFragment"`
		Password         string `json:"password"`
		IceLite          bool   `json:"iceLite"`
	} `json:"iceParameters"`
	IceCandidates []struct {
		Foundation string `json:"foundation"`
		IP         string `json:"ip"`
		Port       int    `json:"port"`
		Priority   uint32 `json:"priority"`
		Protocol   string `json:"protocol"`
	} `json:"iceCandidates"`
	DtlsParameters struct {
		Role         string `json:"role"`
		Fingerprints []struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"value"`
		} `json:"fingerprints"`
	} `json:"dtlsParameters"`
}

func randomID() uint32 { return 10000000 + rand.Uint32N(90000000) }

// CreateTransport creates a send or recv transport like mediasoup-client's
// Chrome handler: a send transport signals DTLS role "server" at creation;
// a recv transport signals its DTLS parameters (role "client") later with
// updateTransport.
func (p *Peer) CreateTransport(ctx context.Context, direction string) (*Transport, error) {
	if p.api == nil {
		return nil, errors.New("join first")
	}
	g, err := p.api.NewICEGatherer(webrtc.ICEGatherOptions{ICEServers: p.ICEServers, ICEGatherPolicy: p.ICETransportPolicy})
	if err != nil {
		return nil, fmt.Errorf("ice gatherer: %w", err)
	}
	t := &Transport{ID: randomID(), Direction: direction, peer: p, gatherer: g, connected: make(chan struct{})}
	t.ice = p.api.NewICETransport(g)
	if t.dtls, err = p.api.NewDTLSTransport(t.ice, nil); err != nil {
		return nil, fmt.Errorf("dtls transport: %w", err)
	}
	local, err := t.dtls.GetLocalParameters()
	if err != nil {
		return nil, err
	}
	fps := []map[string]string{}
	for _, f := range local.Fingerprints {
		fps = append(fps, map[string]string{"algorithm": f.Algorithm, "value": strings.ToUpper(f.Value)})
	}
	data := map[string]any{
		"id": t.ID, "direction": direction, "options": map[string]any{"udp": true, "tcp": false},
		"appData": map[string]any{"media": strings.ToUpper(direction)},
	}
	if direction == "send" {
		data["dtlsParameters"] = map[string]any{"role": "server", "fingerprints": fps}
	}
	raw, err := p.Request(ctx, "createTransport", data)
	if err != nil {
		return nil, fmt.Errorf("createTransport: %w", err)
	}
	var st serverTransport
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("createTransport response: %w", err)
	}
	if direction == "recv" {
		if err := p.Notify("updateTransport", map[string]any{
			"id": t.ID, "dtlsParameters": map[string]any{"role": "client", "fingerprints": fps[len(fps)-1:]},
		}); err != nil {
			return nil, err
		}
	}
	if err := t.start(st); err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.transports = append(p.transports, t)
	p.mu.Unlock()
	return t, nil
}

// start connects ICE and DTLS in the background; Produce and Consume work
// before the connection is up.
func (t *Transport) start(st serverTransport) error {
	gathered := make(chan struct{})
	t.gatherer.OnLocalCandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			close(gathered)
		}
	})
	if err := t.gatherer.Gather(); err != nil {
		return fmt.Errorf("gather: %w", err)
	}
	<-gathered
	var cands []webrtc.ICECandidate
	for _, c := range st.IceCandidates {
		if c.Protocol != "udp" {
			continue // the Go client speaks ICE over UDP only
		}
		cands = append(cands, webrtc.ICECandidate{
			Foundation: c.Foundation, Priority: c.Priority, Address: c.IP, Protocol: webrtc.ICEProtocolUDP,
			Port: uint16(c.Port), Typ: webrtc.ICECandidateTypeHost, Component: 1,
		})
	}
	if err := t.ice.SetRemoteCandidates(cands); err != nil {
		return fmt.Errorf("remote candidates: %w", err)
	}
	remote := webrtc.DTLSParameters{Role: webrtc.DTLSRoleServer}
	if st.DtlsParameters.Role == "client" {
		remote.Role = webrtc.DTLSRoleClient
	}
	for _, f := range st.DtlsParameters.Fingerprints {
		remote.Fingerprints = append(remote.Fingerprints, webrtc.DTLSFingerprint{Algorithm: f.Algorithm, Value: strings.ToLower(f.Value)})
	}
	remote.Fingerprints = remote.Fingerprints[len(remote.Fingerprints)-1:] // like the browser: only the last
	ip := webrtc.ICEParameters{UsernameFragment: st.IceParameters.UsernameFragment, Password: st.IceParameters.Password, ICELite: true}
	role := webrtc.ICERoleControlling
	go t.startOnce.Do(func() {
		if err := t.ice.Start(nil, ip, &role); err != nil {
			e := fmt.Errorf("ice: %w", err)
			t.startErr.Store(&e)
			return
		}
		if err := t.dtls.Start(remote); err != nil {
			e := fmt.Errorf("dtls: %w", err)
			t.startErr.Store(&e)
			return
		}
		close(t.connected)
	})
	return nil
}

// WaitConnected waits until ICE and DTLS are connected.
func (t *Transport) WaitConnected(ctx context.Context) error {
	select {
	case <-t.connected:
		return nil
	case <-ctx.Done():
		if e := t.startErr.Load(); e != nil {
			return *e
		}
		return fmt.Errorf("transport %d not connected: %w", t.ID, ctx.Err())
	}
}

// DTLSState returns the pion DTLS transport state.
func (t *Transport) DTLSState() webrtc.DTLSTransportState { return t.dtls.State() }

// Close sends closeTransport and closes the transport.
func (t *Transport) Close() error {
	err := t.peer.Notify("closeTransport", map[string]any{"id": t.ID})
	t.close()
	return err
}

// stopTimeout bounds closing a transport: pion's SRTP session can block
// forever on a stream nobody accepts (an SSRC the server was not expected
// to send), and a client must never hang its caller.
const stopTimeout = 3 * time.Second

func (t *Transport) close() {
	t.closeOnce.Do(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			t.mu.Lock()
			senders, receivers := t.senders, t.receivers
			t.mu.Unlock()
			for _, s := range senders {
				_ = s.Stop()
			}
			for _, r := range receivers {
				_ = r.Stop()
			}
			_ = t.ice.Stop()
			_ = t.dtls.Stop()
			_ = t.gatherer.Close()
		}()
		select {
		case <-done:
		case <-time.After(stopTimeout):
		}
	})
}

// Producer sends one track.
type Producer struct {
	ID        uint32
	Kind      string
	SSRC      uint32
	Codec     rtpparams.CodecCapability
	transport *Transport
	sender    *webrtc.RTPSender
	track     *webrtc.TrackLocalStaticRTP
	senders   []*webrtc.RTPSender // one per layer
	tracks    []*webrtc.TrackLocalStaticRTP
	extIDs    map[string]uint8 // header extensions declared, by URI
	rids      []string         // per layer, when the server knows RIDs only
}

// Produce creates a producer of kind with the room's first codec of that
// kind, sending on SSRC (random when 0).
func (t *Transport) Produce(ctx context.Context, kind string, ssrc uint32, paused bool, appData any) (*Producer, error) {
	if ssrc == 0 {
		ssrc = rand.Uint32()
	}
	return t.produce(ctx, kind, []uint32{ssrc}, nil, paused, appData)
}

// ProduceSimulcast creates a video producer with three encodings, profiles
// low, medium and high on consecutive SSRCs (as mediasoup-client's
// simulcast option in Chrome); write each layer with WriteLayerRTP.
func (t *Transport) ProduceSimulcast(ctx context.Context, paused bool, appData any) (*Producer, error) {
	base := rand.Uint32() &^ 3
	return t.produce(ctx, "video", []uint32{base, base + 1, base + 2}, nil, paused, appData)
}

// ProduceSimulcastRID is ProduceSimulcast as Firefox and WHIP publishers
// signal it: the encodings name RIDs ("l", "m", "h") and no SSRC, and
// every packet carries its layer's RID in the rtp-stream-id extension.
func (t *Transport) ProduceSimulcastRID(ctx context.Context, paused bool, appData any) (*Producer, error) {
	base := rand.Uint32() &^ 3
	return t.produce(ctx, "video", []uint32{base, base + 1, base + 2}, []string{"l", "m", "h"}, paused, appData)
}

var simulcastProfiles = []string{"low", "medium", "high"}

// produce creates a producer sending on ssrcs; with rids, the server is
// told the RIDs instead of the SSRCs.
func (t *Transport) produce(ctx context.Context, kind string, ssrcs []uint32, rids []string, paused bool, appData any) (*Producer, error) {
	var codec *rtpparams.CodecCapability
	for i, c := range t.peer.RoomCapabilities.Codecs {
		if c.Kind == kind && !strings.EqualFold(c.Name, "rtx") {
			codec = &t.peer.RoomCapabilities.Codecs[i]
			break
		}
	}
	if codec == nil {
		return nil, fmt.Errorf("room has no %s codec", kind)
	}
	pr := &Producer{ID: randomID(), Kind: kind, SSRC: ssrcs[0], Codec: *codec, transport: t, extIDs: map[string]uint8{}}
	encodings := []any{}
	for i, ssrc := range ssrcs {
		track, sender, err := t.newSender(kind, codec, ssrc)
		if err != nil {
			pr.stop()
			return nil, err
		}
		pr.senders = append(pr.senders, sender)
		pr.tracks = append(pr.tracks, track)
		enc := map[string]any{"ssrc": ssrc}
		if rids != nil {
			enc = map[string]any{"encodingId": rids[i]}
		}
		if len(ssrcs) > 1 {
			enc["profile"] = simulcastProfiles[i]
		}
		encodings = append(encodings, enc)
	}
	pr.sender, pr.track, pr.rids = pr.senders[0], pr.tracks[0], rids
	exts := []any{}
	for _, e := range t.peer.RoomCapabilities.HeaderExtensions {
		if e.Kind == kind && (e.URI == absSendTimeURI || e.URI == audioLevelURI || (rids != nil && e.URI == rtpStreamIDURI)) {
			exts = append(exts, map[string]any{"uri": e.URI, "id": e.PreferredID})
			pr.extIDs[e.URI] = uint8(e.PreferredID)
		}
	}
	cp := map[string]any{
		"name": codec.Name, "mimeType": codec.MimeType, "clockRate": codec.ClockRate,
		"payloadType": codec.PreferredPayloadType, "rtcpFeedback": codec.RTCPFeedback, "parameters": codec.Parameters,
	}
	if codec.Channels > 0 {
		cp["channels"] = codec.Channels
	}
	if codec.RTCPFeedback == nil {
		cp["rtcpFeedback"] = []any{}
	}
	if codec.Parameters == nil {
		cp["parameters"] = map[string]any{}
	}
	_, err := t.peer.Request(ctx, "createProducer", map[string]any{
		"id": pr.ID, "kind": kind, "transportId": t.ID, "paused": paused, "appData": appData,
		"rtpParameters": map[string]any{
			"codecs":           []any{cp},
			"headerExtensions": exts,
			"encodings":        encodings,
			"rtcp":             map[string]any{"cname": "gosoup-client", "reducedSize": true, "mux": true},
		},
	})
	if err != nil {
		pr.stop()
		return nil, fmt.Errorf("createProducer: %w", err)
	}
	return pr, nil
}

// newSender starts a pion RTP sender on ssrc and drains its RTCP.
func (t *Transport) newSender(kind string, codec *rtpparams.CodecCapability, ssrc uint32) (*webrtc.TrackLocalStaticRTP, *webrtc.RTPSender, error) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: codec.MimeType, ClockRate: uint32(codec.ClockRate), Channels: uint16(codec.Channels)}, kind, "gosoup-client")
	if err != nil {
		return nil, nil, err
	}
	sender, err := t.peer.api.NewRTPSender(track, t.dtls)
	if err != nil {
		return nil, nil, fmt.Errorf("rtp sender: %w", err)
	}
	params := sender.GetParameters()
	params.Encodings[0].SSRC = webrtc.SSRC(ssrc)
	if err := sender.Send(params); err != nil {
		return nil, nil, fmt.Errorf("rtp sender send: %w", err)
	}
	t.mu.Lock()
	t.senders = append(t.senders, sender)
	t.mu.Unlock()
	go func() { // drain RTCP (PLI etc.) so the sender never blocks
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	return track, sender, nil
}

func (pr *Producer) stop() {
	for _, s := range pr.senders {
		_ = s.Stop()
	}
}

// WriteLayerRTP sends a packet on simulcast layer i (0 low, 1 medium,
// 2 high); layer 0 is the only one without simulcast.
func (pr *Producer) WriteLayerRTP(i int, pkt *rtp.Packet) error {
	if i < 0 || i >= len(pr.tracks) {
		return fmt.Errorf("no layer %d", i)
	}
	if pr.rids != nil {
		if err := pkt.Header.SetExtension(pr.extIDs[rtpStreamIDURI], []byte(pr.rids[i])); err != nil {
			return fmt.Errorf("rtp-stream-id: %w", err)
		}
	}
	return pr.tracks[i].WriteRTP(pkt)
}

// WriteRTP sends a packet; SSRC and payload type are set by the sender.
func (pr *Producer) WriteRTP(pkt *rtp.Packet) error { return pr.track.WriteRTP(pkt) }

// Pause sends pauseProducer.
func (pr *Producer) Pause() error {
	return pr.transport.peer.Notify("pauseProducer", map[string]any{"id": pr.ID})
}

// Resume sends resumeProducer.
func (pr *Producer) Resume() error {
	return pr.transport.peer.Notify("resumeProducer", map[string]any{"id": pr.ID})
}

// Close sends closeProducer and stops sending.
func (pr *Producer) Close() error {
	err := pr.transport.peer.Notify("closeProducer", map[string]any{"id": pr.ID})
	pr.stop()
	return err
}

// Consumer receives one consumer's stream.
type Consumer struct {
	Data      ConsumerData
	receiver  *webrtc.RTPReceiver
	ready     chan struct{}
	err       error
	closeOnce sync.Once
	// Enable is the enableConsumer response.
	Enable json.RawMessage
}

// Consume enables a consumer on this (recv) transport and starts receiving
// its SSRC.
func (t *Transport) Consume(ctx context.Context, d ConsumerData) (*Consumer, error) {
	if len(d.RTPParameters.Encodings) == 0 || len(d.RTPParameters.Codecs) == 0 {
		return nil, errors.New("consumer without encodings or codecs")
	}
	kind := webrtc.RTPCodecTypeAudio
	if d.Kind == "video" {
		kind = webrtc.RTPCodecTypeVideo
	}
	recv, err := t.peer.api.NewRTPReceiver(kind, t.dtls)
	if err != nil {
		return nil, fmt.Errorf("rtp receiver: %w", err)
	}
	c := &Consumer{Data: d, receiver: recv, ready: make(chan struct{})}
	t.mu.Lock()
	t.receivers = append(t.receivers, recv)
	t.mu.Unlock()
	// Register the SSRC before the server may send it: pion's ORTC SRTP
	// session blocks on a stream nobody accepted. So wait until the
	// transport is connected, start receiving, then enable the consumer.
	if err := t.WaitConnected(ctx); err != nil {
		return nil, err
	}
	enc := d.RTPParameters.Encodings[0]
	err = recv.Receive(webrtc.RTPReceiveParameters{Encodings: []webrtc.RTPDecodingParameters{{
		RTPCodingParameters: webrtc.RTPCodingParameters{SSRC: webrtc.SSRC(enc.SSRC), PayloadType: webrtc.PayloadType(d.RTPParameters.Codecs[0].PayloadType)},
	}}})
	c.err = err
	close(c.ready)
	if err != nil {
		return nil, fmt.Errorf("rtp receiver: %w", err)
	}
	raw, err := t.peer.Request(ctx, "enableConsumer", map[string]any{
		"id": d.ID, "transportId": t.ID, "paused": false, "preferredProfile": "default",
	})
	if err != nil {
		return nil, fmt.Errorf("enableConsumer: %w", err)
	}
	c.Enable = raw
	return c, nil
}

// ReadRTP reads the next packet of the consumer, waiting at most until
// deadline.
func (c *Consumer) ReadRTP(deadline time.Time) (*rtp.Packet, error) {
	select {
	case <-c.ready:
	case <-time.After(time.Until(deadline)):
		return nil, errors.New("consumer receiver not started before the deadline")
	}
	if c.err != nil {
		return nil, c.err
	}
	tr := c.receiver.Track()
	if tr == nil {
		return nil, errors.New("receiver has no track")
	}
	_ = tr.SetReadDeadline(deadline)
	pkt, _, err := tr.ReadRTP()
	return pkt, err
}

var errNotReady = errors.New("consumer receiver not started before the deadline")

// Receiver exposes the pion receiver (for RTCP such as PLI).
func (c *Consumer) Receiver() *webrtc.RTPReceiver { return c.receiver }

// Close stops delivering the consumer's packets. The pion receiver keeps
// reading and dropping them until the transport closes: packets the server
// sent before it learned of the close may still arrive, and pion's SRTP
// session stalls the whole transport on an SSRC whose stream is gone.
func (c *Consumer) Close() error {
	c.closeOnce.Do(func() {
		select {
		case <-c.ready:
		default:
			_ = c.receiver.Stop() // never started: nothing can arrive
			return
		}
		tr := c.receiver.Track()
		if c.err != nil || tr == nil {
			_ = c.receiver.Stop()
			return
		}
		_ = tr.SetReadDeadline(time.Time{})
		go func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return // the transport closed
				}
			}
		}()
	})
	return nil
}
