package transport

import (
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// TestForgedSRTPKeepsSelectedTuple: a packet in the SRTP range that does
// not authenticate, from another tuple that passed ICE, neither reaches
// the listener nor redirects the media there; an authentic one does both
// (the client switched tuples).
func TestForgedSRTPKeepsSelectedTuple(t *testing.T) {
	n := fuzzNetwork(t)
	l := &fuzzListener{}
	tr, err := n.NewConnectedForTest(l, demuxSelected)
	if err != nil {
		t.Fatal(err)
	}
	n.bindAddr(tr, demuxValid)
	plain := []byte{0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 5, 0xde, 0xad}
	forged := append([]byte(nil), plain...)
	forged = append(forged, make([]byte, 16)...) // a made-up GCM tag
	n.demux(forged, Tuple{Remote: demuxValid}, nil, nil)
	if rtpN, _, _ := l.take(); rtpN != 0 {
		t.Fatal("forged packet delivered")
	}
	if sel, _ := tr.SelectedTuple(); sel.Remote != demuxSelected {
		t.Fatalf("forged packet moved the selected tuple to %v", sel.Remote)
	}

	sender, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		t.Fatal(err)
	}
	var hdr rtp.Header
	sealed, err := sender.EncryptRTP(nil, plain, &hdr)
	if err != nil {
		t.Fatal(err)
	}
	n.demux(sealed, Tuple{Remote: demuxValid}, nil, nil)
	if rtpN, _, _ := l.take(); rtpN != 1 {
		t.Fatal("authentic packet not delivered")
	}
	if sel, _ := tr.SelectedTuple(); sel.Remote != demuxValid {
		t.Fatalf("authentic packet left the selected tuple at %v", sel.Remote)
	}
}
