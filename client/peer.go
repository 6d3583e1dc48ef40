package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// Peer is one mediasoup v2 client: a protoo connection, a joined peer and
// its transports.
type Peer struct {
	Name string
	conn *conn
	api  *webrtc.API

	// RoomCapabilities are the room's capabilities from queryRoom.
	RoomCapabilities rtpparams.Capabilities
	// JoinPeers are the other peers listed in the join response.
	JoinPeers []PeerData
	// NetworkTypes are the ICE network types to use (set before Join);
	// default UDP over IPv4.
	NetworkTypes []webrtc.NetworkType
	// ICEServers are the STUN and TURN servers of the transports created
	// after they are set, and ICETransportPolicy which candidates they
	// gather (webrtc.ICETransportPolicyRelay: relayed ones only, as a
	// browser told iceTransportPolicy "relay").
	ICEServers         []webrtc.ICEServer
	ICETransportPolicy webrtc.ICETransportPolicy

	mu         sync.Mutex
	transports []*Transport
	loopback   bool // the server is on this host: gather loopback candidates only
}

// PeerData is a peer as the join response and newPeer describe it.
type PeerData = protocol.PeerData

// ConsumerData is a consumer as newConsumer and the join response carry it.
type ConsumerData = protocol.ConsumerData

// Connect opens the protoo WebSocket of server (ws://host:port) for a peer
// of a room; call Join next.
func Connect(ctx context.Context, server, roomID, peerName string) (*Peer, error) {
	c, err := dial(ctx, server, roomID, peerName)
	if err != nil {
		return nil, err
	}
	p := &Peer{Name: peerName, conn: c}
	if u, err := url.Parse(server); err == nil {
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			p.loopback = true
		}
	}
	return p, nil
}

// Request sends a mediasoup request (data gets method and target) and
// returns the response body.
func (p *Peer) Request(ctx context.Context, method string, data map[string]any) (json.RawMessage, error) {
	msg := map[string]any{"method": method, "target": "peer"}
	if method == "queryRoom" || method == "join" {
		msg["target"] = "room"
	}
	for k, v := range data {
		msg[k] = v
	}
	return p.conn.request(ctx, "mediasoup-request", msg)
}

// RawRequest sends any protoo request (for demo methods and hostile tests).
func (p *Peer) RawRequest(ctx context.Context, method string, data any) (json.RawMessage, error) {
	return p.conn.request(ctx, method, data)
}

// Notify sends a mediasoup notification.
func (p *Peer) Notify(method string, data map[string]any) error {
	msg := map[string]any{"method": method, "target": "peer", "notification": true}
	for k, v := range data {
		msg[k] = v
	}
	return p.conn.notify("mediasoup-notification", msg)
}

// WaitNotification waits for the next notification with this method (and
// matching match, if not nil) received at or after index from; it returns
// the notification and the index to continue from.
func (p *Peer) WaitNotification(ctx context.Context, from int, method string, match func(json.RawMessage) bool) (Notification, int, error) {
	return p.conn.waitNotification(ctx, from, method, match)
}

// Notifications returns every notification received so far.
func (p *Peer) Notifications() []Notification { return p.conn.notifications() }

// Join sends queryRoom and join like mediasoup-client: the receive
// capabilities are the room's codecs and extensions this client handles
// (opus, VP8, H264 and their RTX).
func (p *Peer) Join(ctx context.Context, appData any, spy bool) error {
	raw, err := p.Request(ctx, "queryRoom", nil)
	if err != nil {
		return fmt.Errorf("queryRoom: %w", err)
	}
	var q struct {
		RTPCapabilities rtpparams.Capabilities `json:"rtpCapabilities"`
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return fmt.Errorf("queryRoom response: %w", err)
	}
	p.RoomCapabilities = q.RTPCapabilities
	caps := receiveCapabilities(q.RTPCapabilities)
	if p.api, err = newAPI(q.RTPCapabilities, p.NetworkTypes, p.loopback); err != nil {
		return err
	}
	raw, err = p.Request(ctx, "join", map[string]any{
		"peerName": p.Name, "rtpCapabilities": caps, "spy": spy, "appData": appData,
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	var j struct {
		Peers []PeerData `json:"peers"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return fmt.Errorf("join response: %w", err)
	}
	p.JoinPeers = j.Peers
	return nil
}

// receiveCapabilities are the room codecs this client can receive,
// expressed like mediasoup-client does (room payload types and ids).
func receiveCapabilities(room rtpparams.Capabilities) rtpparams.Capabilities {
	out := rtpparams.Capabilities{Codecs: []rtpparams.CodecCapability{}, HeaderExtensions: []rtpparams.HeaderExtensionCapability{}, FecMechanisms: []string{}}
	for _, c := range room.Codecs {
		switch strings.ToLower(c.Name) {
		case "opus", "vp8", "vp9", "h264", "rtx":
			cc := c
			if cc.RTCPFeedback == nil && strings.ToLower(c.Name) != "rtx" {
				cc.RTCPFeedback = []rtpparams.RTCPFeedback{}
			}
			out.Codecs = append(out.Codecs, cc)
		}
	}
	for _, e := range room.HeaderExtensions {
		if strings.HasSuffix(e.URI, "sdes:mid") {
			continue
		}
		out.HeaderExtensions = append(out.HeaderExtensions, rtpparams.HeaderExtensionCapability{Kind: e.Kind, URI: e.URI, PreferredID: e.PreferredID})
	}
	return out
}

// newAPI builds a pion API whose media engine uses the room payload types.
func newAPI(room rtpparams.Capabilities, networks []webrtc.NetworkType, loopback bool) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range room.Codecs {
		name := strings.ToLower(c.Name)
		if name != "opus" && name != "vp8" && name != "vp9" && name != "h264" {
			continue
		}
		kind := webrtc.RTPCodecTypeAudio
		if c.Kind == rtpparams.KindVideo {
			kind = webrtc.RTPCodecTypeVideo
		}
		var fmtp []string
		for k, v := range c.Parameters {
			fmtp = append(fmtp, fmt.Sprintf("%s=%v", k, v))
		}
		var fb []webrtc.RTCPFeedback
		for _, f := range c.RTCPFeedback {
			fb = append(fb, webrtc.RTCPFeedback{Type: f.Type, Parameter: f.Parameter})
		}
		err := me.RegisterCodec(webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: c.MimeType, ClockRate: uint32(c.ClockRate), Channels: uint16(c.Channels),
				SDPFmtpLine: strings.Join(fmtp, ";"), RTCPFeedback: fb,
			},
			PayloadType: webrtc.PayloadType(c.PreferredPayloadType),
		}, kind)
		if err != nil {
			return nil, fmt.Errorf("register codec %s: %w", c.Name, err)
		}
	}
	se := webrtc.SettingEngine{}
	if loopback {
		// A server on this host: only loopback candidates, so no test
		// traffic leaves the machine.
		se.SetIncludeLoopbackCandidate(true)
		se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	}
	if networks == nil {
		networks = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	se.SetNetworkTypes(networks)
	// Sender and receiver reports like a browser's (servers rely on them).
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("rtcp reports: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(ir)), nil
}

// Leave sends "leave" and closes the connection and transports.
func (p *Peer) Leave() error {
	_ = p.Notify("leave", nil)
	return p.Close()
}

// Close closes the transports and the WebSocket without "leave".
func (p *Peer) Close() error {
	p.mu.Lock()
	ts := p.transports
	p.transports = nil
	p.mu.Unlock()
	for _, t := range ts {
		t.close()
	}
	return p.conn.close()
}

// SendRaw writes raw bytes as one WebSocket text message (for hostile-input
// tests).
func (p *Peer) SendRaw(b []byte) error {
	p.conn.writeMu.Lock()
	defer p.conn.writeMu.Unlock()
	return p.conn.ws.WriteMessage(1, b)
}
