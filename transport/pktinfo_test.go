//go:build linux

package transport

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"
)

// On a socket bound to any address, the answer to a check sent to
// 127.0.0.2 must come from 127.0.0.2, although the kernel would pick
// 127.0.0.1 for a reply to 127.0.0.1. The client's socket is connected to
// 127.0.0.2, so a reply from anywhere else never reaches it (as a browser
// ignores it).
func TestRepliesLeaveFromTheAddressSentTo(t *testing.T) {
	for _, listen := range []string{"0.0.0.0", "::"} {
		t.Run(listen, func(t *testing.T) {
			n, err := NewNetwork(Config{ListenIP: listen, AnnouncedIPs: []string{"127.0.0.2"}, NoTCP: true})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if !n.pktinfo {
				t.Fatal("packet info not enabled on a socket bound to any address")
			}
			l := &recordingListener{ch: make(chan struct{})}
			tr, err := n.NewWebRTCTransport(context.Background(), l, TransportOptions{UDP: true})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: n.Port()}
			c, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, server)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ice := tr.ICEParameters()
			req := bindingRequest(t, ice.UsernameFragment+":client", ice.Password, true)
			if _, err := c.Write(req); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
			buf := make([]byte, 1500)
			if _, err := c.Read(buf); err != nil {
				t.Fatalf("no answer from 127.0.0.2 (the reply left from another address): %v", err)
			}
			tp, ok := tr.SelectedTuple()
			if !ok || tp.Local != netip.MustParseAddr("127.0.0.2") {
				t.Fatalf("selected tuple %+v, want local 127.0.0.2", tp)
			}
			// What the forwarding path sends (one sendmmsg with a
			// control message per datagram) leaves from there too.
			b := n.NewBatch()
			copy(b.slot()[:4], "ping")
			b.commit(4, tp)
			b.Flush()
			n2, err := c.Read(buf)
			if err != nil || string(buf[:n2]) != "ping" {
				t.Fatalf("batched datagram not received from 127.0.0.2: %v", err)
			}
		})
	}
}

func TestAnnouncedAddresses(t *testing.T) {
	n, err := NewNetwork(Config{ListenIP: "0.0.0.0", NoTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ips := n.AnnouncedIPs()
	if len(ips) == 0 || ips[len(ips)-1] != "127.0.0.1" {
		t.Fatalf("announced %v: want every local IPv4 address, loopback last", ips)
	}
	cands := n.candidates(TransportOptions{UDP: true})
	for i := 1; i < len(cands); i++ {
		if cands[i].Priority >= cands[i-1].Priority {
			t.Fatalf("candidate %d priority %d not below the one before (%d)", i, cands[i].Priority, cands[i-1].Priority)
		}
	}

	n2, err := NewNetwork(Config{ListenIP: "0.0.0.0", AnnouncedIPs: []string{"127.0.0.3", "127.0.0.4"}, AnnouncedIP: "127.0.0.3", NoTCP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer n2.Close()
	if got := n2.AnnouncedIPs(); len(got) != 2 || got[0] != "127.0.0.3" || got[1] != "127.0.0.4" {
		t.Fatalf("announced %v, want [127.0.0.3 127.0.0.4]", got)
	}
	for _, bad := range []Config{
		{ListenIP: "0.0.0.0", AnnouncedIPs: []string{"not-an-ip"}},
		{ListenIP: "0.0.0.0", AnnouncedIPs: []string{"0.0.0.0"}},
		{ListenIP: "0.0.0.0", AnnouncedIPs: []string{"::1"}},
	} {
		if n, err := NewNetwork(bad); err == nil {
			n.Close()
			t.Errorf("%v accepted", bad.AnnouncedIPs)
		}
	}
}

func TestParsePktinfoRejectsGarbage(t *testing.T) {
	for _, oob := range [][]byte{nil, make([]byte, 8), {255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 0, 0, 8, 0, 0, 0}} {
		if a := parsePktinfo(oob); a.IsValid() {
			t.Errorf("parsePktinfo(%x) = %v", oob, a)
		}
	}
	buf := make([]byte, oobSize)
	for _, a := range []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::7")} {
		k := putPktinfo(buf, a)
		if got := parsePktinfo(buf[:k]); got != a && !(a.Is4() && got.IsValid()) {
			t.Errorf("round trip of %v: %v", a, got)
		}
	}
}
