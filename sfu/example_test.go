package sfu_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/gosoup/gosoup/protocol"
	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// A server, a room, and a peer joining it through the mediasoup protocol,
// as an application's own signaling would deliver the message.
func Example() {
	srv, err := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1", AnnouncedIP: "127.0.0.1"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	room, _ := srv.Room("demo")

	joined := make(chan string, 1)
	room.Observe(sfu.Observer{NewPeer: func(p *sfu.Peer) { joined <- p.Name() }})

	msg, _ := protocol.DecodeMessage([]byte(`{"method":"join","target":"room","peerName":"alice",
		"rtpCapabilities":{"codecs":[],"headerExtensions":[]},"appData":{"displayName":"Alice"}}`))
	resp, peer, err := room.ReceiveRequest(msg, func(n any) {
		b, _ := json.Marshal(n) // send b to alice's client
		_ = b
	})
	out, _ := json.Marshal(resp)
	fmt.Println(err, peer.Name(), string(out))
	fmt.Println("observed:", <-joined)
	// Output:
	// <nil> alice {"peers":[]}
	// observed: alice
}

// Moderation from the server side: pausing a peer's producers and closing
// the peer. Its client gets "producerPaused" and "closed"; the others get
// "consumerPaused" and "peerClosed".
func ExamplePeer_Close() {
	srv, _ := sfu.NewServer(sfu.Config{
		RTC:    transport.Config{ListenIP: "127.0.0.1"},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	defer srv.Close()
	room, _ := srv.Room("moderated")
	msg, _ := protocol.DecodeMessage([]byte(`{"method":"join","target":"room","peerName":"mallory","rtpCapabilities":{"codecs":[],"headerExtensions":[]}}`))
	var got []string
	_, _, _ = room.ReceiveRequest(msg, func(n any) {
		b, _ := json.Marshal(n)
		var m struct{ Method string }
		_ = json.Unmarshal(b, &m)
		got = append(got, m.Method)
	})
	p := room.PeerByName("mallory")
	for _, prod := range p.Producers() {
		prod.Pause(nil)
	}
	p.Close(json.RawMessage(`{"reason":"kicked"}`))
	fmt.Println(got, p.Closed(), len(room.Peers()))
	// Output: [closed] true 0
}
