package integration

import (
	"context"
	"testing"
	"time"

	"github.com/gosoup/gosoup/client"
	"github.com/gosoup/gosoup/sfu"
)

// TestPipeBetweenNodes: two gosoup servers (nodes) host one room; alice
// publishes simulcast on node A, bob is on node B. Node B adds alice as a
// remote peer with a pipe producer, node A pipes her producer to it: bob
// gets newPeer and newConsumer as for a local peer, receives her media,
// switches layers, and gets peerClosed when the remote peer goes.
func TestPipeBetweenNodes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, b := startGosoup(t), startGosoup(t)
	alice := join(ctx, t, a, "piped", "alice")
	send, err := alice.CreateTransport(ctx, "send")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := send.Produce(ctx, "video", 0, false, map[string]any{"source": "webcam"})
	if err != nil {
		t.Fatal(err)
	}
	src := startVP8(prod, 10*time.Millisecond, 10)
	defer src.Stop()

	bob := join(ctx, t, b, "piped", "bob")
	recv, err := bob.CreateTransport(ctx, "recv")
	if err != nil {
		t.Fatal(err)
	}

	// What a cluster member does when it learns of alice's producer.
	ra, err := a.SFU.Room("piped")
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.SFU.Room("piped")
	if err != nil {
		t.Fatal(err)
	}
	origin := ra.PeerByName("alice").Producers()[0]
	remote, err := rb.JoinRemotePeer("alice", []byte(`{"node":"A"}`))
	if err != nil {
		t.Fatal(err)
	}
	keys := sfu.NewPipeKeys()
	piped, addr, err := remote.CreatePipeProducer(sfu.PipeProducerOptions{
		ID: origin.ID(), Kind: origin.Kind(), RTPParameters: origin.PipeParameters(), AppData: []byte(`{"source":"webcam"}`), Keys: keys,
	})
	if err != nil {
		t.Fatal(err)
	}
	pipe, err := origin.PipeTo(addr, keys)
	if err != nil {
		t.Fatal(err)
	}
	defer pipe.Close()
	if n := a.SFU.Counts().Pipes; n != 1 {
		t.Fatalf("node A counts %d pipes", n)
	}

	if _, _, err := bob.WaitNotification(ctx, 0, "newPeer", matchName("alice")); err != nil {
		t.Fatal(err)
	}
	n, _, err := bob.WaitNotification(ctx, 0, "newConsumer", matchPeer("alice"))
	if err != nil {
		t.Fatal(err)
	}
	var cd client.ConsumerData
	mustJSON(t, n.Data, &cd)
	cons, err := recv.Consume(ctx, cd)
	if err != nil {
		t.Fatal(err)
	}
	readN(t, "bob, through the pipe", cons, cd.RTPParameters.Encodings[0].SSRC, 50)
	if piped.ID() != origin.ID() {
		t.Fatalf("pipe producer id %d, origin %d", piped.ID(), origin.ID())
	}

	// A wrong key cannot feed the pipe producer: a second pipe with other
	// keys to the same address is refused by SRTP and counted.
	bad, err := origin.PipeTo(addr, sfu.NewPipeKeys())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	bad.Close()
	readN(t, "bob, after a pipe with wrong keys", cons, cd.RTPParameters.Encodings[0].SSRC, 20)
	if c := piped.Transport().Plain().Counters(); c.Malformed == 0 {
		t.Fatalf("packets with the wrong keys were not refused: %+v", c)
	}

	// The remote peer goes (its node says so): bob gets peerClosed.
	remote.Close(nil)
	if _, _, err := bob.WaitNotification(ctx, 0, "peerClosed", matchName("alice")); err != nil {
		t.Fatal(err)
	}
	// Closing the origin producer closes its pipes.
	origin.Close()
	select {
	case <-pipe.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the pipe stayed open after its producer closed")
	}
}
