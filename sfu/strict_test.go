package sfu

import (
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/rtpparams"
)

// TestReceiveRequestRefusesWrongTarget: the Go API refuses a request
// whose target is missing or does not fit its method, even in a Message
// built without protocol.DecodeMessage.
func TestReceiveRequestRefusesWrongTarget(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	caps, _ := json.Marshal(peerCaps(room))
	join := json.RawMessage(`{"peerName":"eve","rtpCapabilities":` + string(caps) + `}`)
	for _, target := range []string{"", "peer"} {
		_, p, err := room.ReceiveRequest(&protocol.Message{Method: "join", Target: target, Raw: join}, nil)
		if err == nil || p != nil || !strings.Contains(err.Error(), `"join" goes to "room"`) {
			t.Errorf("join with target %q: peer %v, err %v", target, p, err)
		}
	}
	if room.PeerByName("eve") != nil {
		t.Fatal("eve joined")
	}
	alice, _ := joinPeer(t, room, "alice", false)
	_, err := alice.ReceiveRequest(&protocol.Message{Method: "createTransport", Raw: json.RawMessage(`{"id":1,"direction":"send"}`)})
	if err == nil || err.Error() != `TypeError: missing target: "createTransport" goes to "peer"` {
		t.Errorf("createTransport without target: %v", err)
	}
	err = alice.ReceiveNotification(&protocol.Message{Method: "leave", Target: "room", Notification: true, Raw: json.RawMessage(`{}`)})
	if err == nil || err.Error() != `TypeError: target: "leave" goes to "peer", not "room"` {
		t.Errorf("leave to the room: %v", err)
	}
	if alice.Closed() {
		t.Fatal("a refused leave closed alice")
	}
}

// TestProducerStrictness: createProducer is refused, naming the field,
// for a header extension the room does not offer, an integer outside
// int32 in codec or header-extension parameters, and an empty cname.
func TestProducerStrictness(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	alice, _ := joinPeer(t, room, "alice", false)
	if _, err := alice.request(t, map[string]any{"method": "createTransport", "id": 1, "direction": "send",
		"plainRtpParameters": map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	params := func() map[string]any {
		return map[string]any{
			"codecs": []any{map[string]any{"name": "VP8", "mimeType": "video/VP8", "clockRate": 90000, "payloadType": 96,
				"parameters": map[string]any{}}},
			"headerExtensions": []any{map[string]any{"uri": "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time", "id": 2}},
			"encodings":        []any{map[string]any{"ssrc": 1234}},
			"rtcp":             map[string]any{"cname": "alice", "reducedSize": true, "mux": true},
		}
	}
	const prefix = "Error: wrong RTP parameters: Error: "
	cases := []struct {
		edit func(p map[string]any)
		want string
	}{
		{func(p map[string]any) {
			p["headerExtensions"] = append(p["headerExtensions"].([]any), map[string]any{"uri": "urn:3gpp:video-orientation", "id": 4})
		}, `rtpParameters.headerExtensions[1].uri: unsupported header extension [uri:"urn:3gpp:video-orientation", id:4] (not in the room's capabilities)`},
		{func(p map[string]any) {
			p["codecs"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"x-google-max-bitrate": 4294967296}
		}, "rtpParameters.codecs[0].parameters.x-google-max-bitrate: 4294967296 out of range of a 32-bit integer (-2147483648..2147483647)"},
		{func(p map[string]any) {
			p["headerExtensions"].([]any)[0].(map[string]any)["parameters"] = map[string]any{"n": -2147483649}
		}, "rtpParameters.headerExtensions[0].parameters.n: -2147483649 out of range of a 32-bit integer (-2147483648..2147483647)"},
		{func(p map[string]any) { p["rtcp"].(map[string]any)["cname"] = "" },
			"rtpParameters.rtcp.cname: empty (leave it out or give one)"},
	}
	for i, c := range cases {
		p := params()
		c.edit(p)
		_, err := alice.request(t, map[string]any{"method": "createProducer", "id": 10 + i, "kind": "video", "transportId": 1,
			"paused": false, "rtpParameters": p})
		if err == nil || err.Error() != prefix+c.want {
			t.Errorf("case %d: err = %v, want %s", i, err, prefix+c.want)
		}
	}
	if n := len(alice.Producers()); n != 0 {
		t.Fatalf("%d producers after refusals", n)
	}
	if _, err := alice.request(t, map[string]any{"method": "createProducer", "id": 20, "kind": "video", "transportId": 1,
		"paused": false, "rtpParameters": params()}); err != nil {
		t.Fatalf("valid producer refused: %v", err)
	}
}

// TestPlainTransportWithoutRemote: createTransport with plainRtpParameters
// that have no ip and port is accepted, as mediasoup 2.6.19 does. A send
// transport takes the first source that sends; a recv transport sends
// nothing until updateTransport gives the remote.
func TestPlainTransportWithoutRemote(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	alice, _ := joinPeer(t, room, "alice", false)
	local := func(resp any) netip.AddrPort {
		t.Helper()
		b, _ := json.Marshal(resp)
		var r struct {
			PlainRtpParameters struct {
				IP   string `json:"ip"`
				Port int    `json:"port"`
			} `json:"plainRtpParameters"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.PlainRtpParameters.Port == 0 {
			t.Fatalf("createTransport answered %s (%v)", b, err)
		}
		return netip.AddrPortFrom(netip.MustParseAddr(r.PlainRtpParameters.IP), uint16(r.PlainRtpParameters.Port))
	}
	resp, err := alice.request(t, map[string]any{"method": "createTransport", "id": 1, "direction": "send",
		"plainRtpParameters": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	sendAddr := local(resp)
	send := alice.TransportByID(1)
	if send.Plain().Connected() {
		t.Fatal("send transport has a remote before anything was sent")
	}
	src, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(sendAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Write([]byte{0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0x04, 0xd2, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	want := src.LocalAddr().(*net.UDPAddr).AddrPort()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if r, ok := send.Plain().Remote(); ok {
			if r != want {
				t.Fatalf("remote %v, want the first source %v", r, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first source was not latched")
		}
		time.Sleep(10 * time.Millisecond)
	}

	resp, err = alice.request(t, map[string]any{"method": "createTransport", "id": 2, "direction": "recv",
		"plainRtpParameters": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	local(resp)
	recv := alice.TransportByID(2)
	if recv.Plain().Connected() {
		t.Fatal("recv transport has a remote")
	}
	err = alice.notif(t, map[string]any{"method": "updateTransport", "id": 2, "plainRtpParameters": map[string]any{}})
	if err == nil || err.Error() != "TypeError: plainRtpParameters: ip and port are required" {
		t.Fatalf("updateTransport without ip and port: %v", err)
	}
	if err := alice.notif(t, map[string]any{"method": "updateTransport", "id": 2,
		"plainRtpParameters": map[string]any{"ip": "127.0.0.1", "port": 40000}}); err != nil {
		t.Fatal(err)
	}
	if r, ok := recv.Plain().Remote(); !ok || r != netip.MustParseAddrPort("127.0.0.1:40000") {
		t.Fatalf("remote after updateTransport: %v %v", r, ok)
	}
	// The Go API takes the same options.
	tr, err := alice.CreatePlainRtpTransport(PlainRtpOptions{Direction: "recv"})
	if err != nil || tr.Plain().Connected() {
		t.Fatalf("CreatePlainRtpTransport without remote: %v", err)
	}
}

// TestPipeProducerKeepsOnlyRoomExtensions: a pipe producer's parameters
// come from the origin node's room; extensions this room lacks are left
// out instead of refusing the pipe.
func TestPipeProducerKeepsOnlyRoomExtensions(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	remote, err := room.JoinRemotePeer("alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	params := rtpparams.Parameters{
		Codecs:           []rtpparams.CodecParameters{{Name: "VP8", MimeType: "video/VP8", ClockRate: 90000, PayloadType: 101}},
		HeaderExtensions: []rtpparams.HeaderExtensionParameters{{URI: rtpparams.URIToffset, ID: 2}, {URI: rtpparams.URIAbsSendTime, ID: 3}},
		Encodings:        []rtpparams.EncodingParameters{{SSRC: 5555}},
	}
	prod, _, err := remote.CreatePipeProducer(PipeProducerOptions{ID: 9, Kind: "video", RTPParameters: params, Keys: NewPipeKeys()})
	if err != nil {
		t.Fatalf("pipe producer refused: %v", err)
	}
	got := prod.PipeParameters().HeaderExtensions
	if len(got) != 1 || got[0].URI != rtpparams.URIAbsSendTime {
		t.Fatalf("extensions %+v, want abs-send-time only", got)
	}
	if len(params.HeaderExtensions) != 2 {
		t.Fatal("the caller's parameters were changed")
	}
}

// TestPlainRecvComediaRefused: comedia on a recv transport without a
// remote is refused, naming the field.
func TestPlainRecvComediaRefused(t *testing.T) {
	s := newTestServer(t)
	room, _ := s.Room("r")
	alice, _ := joinPeer(t, room, "alice", false)
	_, err := alice.request(t, map[string]any{"method": "createTransport", "id": 1, "direction": "recv",
		"plainRtpParameters": map[string]any{"comedia": true}})
	if err == nil || !strings.HasPrefix(err.Error(), "TypeError: plainRtpParameters.comedia: ") {
		t.Fatalf("err = %v", err)
	}
}
