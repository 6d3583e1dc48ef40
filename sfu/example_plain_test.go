package sfu_test

import (
	"fmt"

	"github.com/gosoup/gosoup/sfu"
)

// A tool (FFmpeg, GStreamer) sends plain RTP into a room: the peer gets a
// send PlainRtpTransport that learns the tool's address from its first
// packet (comedia); producers are then created on it as for any transport.
func ExamplePeer_CreatePlainRtpTransport() {
	var peer *sfu.Peer // a joined peer
	t, err := peer.CreatePlainRtpTransport(sfu.PlainRtpOptions{Direction: "send", Comedia: true, NoRTCPMux: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	l, _ := t.PlainLocal()
	fmt.Printf("send RTP to %s:%d, RTCP to port %d\n", l.IP, l.Port, l.RTCPPort)
}

// An RtpStreamer sends one producer's media to a plain RTP receiver, as
// mediasoup v2's room.createRtpStreamer(producer, {remoteIP, remotePort}).
func ExampleRoom_CreateRtpStreamer() {
	var room *sfu.Room
	var producer *sfu.Producer // a producer of a peer of room
	s, err := room.CreateRtpStreamer(producer, sfu.RtpStreamerOptions{RemoteIP: "127.0.0.1", RemotePort: 5004})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	p := s.Consumer().RTPParameters()
	fmt.Println("payload type", p.Codecs[0].PayloadType, "ssrc", p.Encodings[0].SSRC)
}

// Mirroring copies what a WebRTC transport receives, decrypted, to a plain
// UDP address (a packet capture or an analyser).
func ExampleTransport_StartMirroring() {
	var t *sfu.Transport // a peer's send transport
	if err := t.StartMirroring(sfu.MirrorOptions{RemoteIP: "127.0.0.1", RemotePort: 6000, RecvRTP: true, RecvRTCP: true}); err != nil {
		fmt.Println(err)
		return
	}
	defer t.StopMirroring()
}
