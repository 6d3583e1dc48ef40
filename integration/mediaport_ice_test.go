package integration

import (
	"encoding/binary"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v4"
)

// tcpCases are the ICE-TCP attacks.
func (m *mediaPort) tcpCases(add func(name string, run func(t *testing.T))) {

	// ICE-TCP first: what lingers until the bind deadline overlaps the
	// rest, and the last case checks it was closed.
	add("tcp: slowloris, 200 idle connections", func(t *testing.T) {
		start := time.Now()
		conns := make([]net.Conn, 200)
		for i := range conns {
			conns[i] = m.dialTCP(t)
			m.linger(t, "idle", conns[i], start)
		}
		expectOpen(t, conns[0], 300*time.Millisecond)
		expectOpen(t, conns[199], 100*time.Millisecond)
	})
	add("tcp: half frame (500 announced, 100 sent)", func(t *testing.T) {
		c := m.dialLingering(t, "half frame", append([]byte{0x01, 0xf4}, randBytes(100)...))
		expectOpen(t, c, 200*time.Millisecond)
	})
	add("tcp: half length prefix (1 byte)", func(t *testing.T) {
		c := m.dialLingering(t, "half prefix", []byte{0x00})
		expectOpen(t, c, 200*time.Millisecond)
	})
	add("tcp: 50 unauthenticated STUN frames then silence", func(t *testing.T) {
		var b []byte
		for i := 0; i < 50; i++ {
			b = append(b, frameOf(bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true))...)
		}
		c := m.dialLingering(t, "unknown ufrag", b)
		expectOpen(t, c, 300*time.Millisecond)
	})
	add("tcp: victim's ufrag with a wrong password", func(t *testing.T) {
		c := m.dialLingering(t, "wrong password", frameOf(bindingRequest(t, m.victim(), "wrongpasswordwrongpassword012345", true, useCandidate)))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			t.Fatalf("no 401 over TCP: %v", err)
		}
		body := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, body); err != nil {
			t.Fatal(err)
		}
		checkSTUNError(t, body, stun.CodeUnauthorized)
	})
	add("tcp: 64 KiB frame length", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(append([]byte{0xff, 0xff}, randBytes(4096)...))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: zero-length frames", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(make([]byte, 64))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: 8 KiB of garbage", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		g := randBytes(8192)
		g[0], g[1], g[2] = 0x00, 0x40, 0xff // a 64-byte frame no range claims
		_, _ = c.Write(g)
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: an HTTP request", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: first frame a DTLS ClientHello", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(frameOf(clientHello(t)))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: first frame SRTP", func(t *testing.T) {
		c := m.dialTCP(t)
		defer c.Close()
		_, _ = c.Write(frameOf(append(rtpHeader(0x80, 96, 1, m.v.prod.SSRC), randBytes(200)...)))
		expectClosed(t, c, 3*time.Second)
	})
	add("tcp: 500 connections opened and closed", func(t *testing.T) {
		for i := 0; i < 500; i++ {
			c := m.dialTCP(t)
			if i%2 == 0 {
				_, _ = c.Write([]byte{0x00, 0x20, 0x00})
			}
			c.Close()
		}
	})
	add("tcp: 100 connections reset mid-frame", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			c := m.dialTCP(t)
			_, _ = c.Write([]byte{0x00, 0x64, 0x00, 0x01})
			_ = c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}
	})

}

// stunCases are the STUN attacks over UDP.
func (m *mediaPort) stunCases(add func(name string, run func(t *testing.T))) {
	// STUN over UDP.
	add("stun: unknown ufrag", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)), mpQuiet)
	})
	add("stun: no USERNAME", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, "", "whatever", true)), mpQuiet)
	})
	add("stun: USERNAME without a colon", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, m.sendUfrag, "whatever", true)), mpQuiet)
	})
	add("stun: victim's ufrag, no FINGERPRINT", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, bindingRequest(t, m.victim(), "wrongpassword", false, useCandidate)), mpQuiet)
	})
	add("stun: victim's ufrag, corrupt FINGERPRINT", func(t *testing.T) {
		req := bindingRequest(t, m.victim(), "wrongpassword", true, useCandidate)
		req[len(req)-1] ^= 0x55
		expectSilence(t, m.sendFresh(t, req), mpQuiet)
	})
	add("stun: victim's ufrag, wrong password", func(t *testing.T) {
		expectSTUNError(t, m.sendFresh(t, bindingRequest(t, m.victim(), "wrongpasswordwrongpassword012345", true)), stun.CodeUnauthorized)
	})
	add("stun: victim's ufrag, wrong password, USE-CANDIDATE", func(t *testing.T) {
		c := m.sendFresh(t, bindingRequest(t, m.recvUfrag+":atk", "wrongpasswordwrongpassword012345", true, useCandidate))
		expectSTUNError(t, c, stun.CodeUnauthorized)
		// The address did not become the victim's: DTLS and SRTP from it go nowhere.
		_, _ = c.Write(clientHello(t))
		_, _ = c.Write(append(rtpHeader(0x80, 96, 7, 1234), randBytes(100)...))
		expectSilence(t, c, mpQuiet)
	})
	add("stun: victim's ufrag, no MESSAGE-INTEGRITY", func(t *testing.T) {
		expectSTUNError(t, m.sendFresh(t, bindingRequest(t, m.victim(), "", true, useCandidate)), stun.CodeBadRequest)
	})
	add("stun: victim's ufrag, real password, one MESSAGE-INTEGRITY bit flipped", func(t *testing.T) {
		pwd := m.victimSend.ICEParameters().Password
		req := bindingRequest(t, m.victim(), pwd, true, useCandidate)
		req[len(req)-8-1] ^= 0x01 // last byte of the HMAC, before FINGERPRINT
		expectSTUNError(t, m.sendFresh(t, refingerprint(t, req)), stun.CodeUnauthorized)
	})
	add("stun: truncated headers, 1 to 19 bytes", func(t *testing.T) {
		req := bindingRequest(t, m.victim(), "wrongpassword", true)
		var pkts [][]byte
		for n := 1; n < 20; n++ {
			pkts = append(pkts, req[:n])
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("stun: truncated bodies, length past the datagram", func(t *testing.T) {
		req := bindingRequest(t, m.victim(), "wrongpassword", true)
		var pkts [][]byte
		for n := 20; n < len(req); n += 4 {
			pkts = append(pkts, req[:n])
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("stun: wrong magic cookie", func(t *testing.T) {
		req := bindingRequest(t, m.victim(), "wrongpassword", true)
		req[4] ^= 0xff
		expectSilence(t, m.sendFresh(t, req), mpQuiet)
	})
	add("stun: 1400-byte USERNAME", func(t *testing.T) {
		huge := stun.RawAttribute{Type: stun.AttrUsername, Value: []byte(m.victim() + strings.Repeat("x", 1400))}
		expectNoSuccess(t, m.sendFresh(t, bindingRequest(t, "", "wrongpassword", true, huge)), mpQuiet)
	})
	add("stun: 300 unknown attributes", func(t *testing.T) {
		var extra []stun.Setter
		for i := 0; i < 300; i++ {
			extra = append(extra, stun.RawAttribute{Type: stun.AttrType(0x7000 + i), Value: []byte{1}})
		}
		expectNoSuccess(t, m.sendFresh(t, bindingRequest(t, m.victim(), "wrongpassword", true, extra...)), mpQuiet)
	})
	add("stun: attribute lengths 0xffff and past the end", func(t *testing.T) {
		a := []byte{0x00, 0x06, 0xff, 0xff, 'a', 'b', 'c', 'd'}
		b := append([]byte{0x00, 0x06, 0x00, 0x40}, []byte(m.victim())...)
		c := []byte{0x00, 0x08, 0x00, 0x14, 1, 2}
		expectSilence(t, m.sendFresh(t, rawSTUN(a), rawSTUN(b), rawSTUN(c), rawSTUN(append(b, c...))), mpQuiet)
	})
	add("stun: Binding success, indication and Allocate naming the victim", func(t *testing.T) {
		var pkts [][]byte
		for _, typ := range []stun.MessageType{stun.BindingSuccess, stun.BindingError,
			stun.NewType(stun.MethodBinding, stun.ClassIndication), stun.NewType(stun.MethodAllocate, stun.ClassRequest)} {
			msg, err := stun.Build(stun.TransactionID, typ, stun.NewUsername(m.victim()), stun.NewShortTermIntegrity("wrongpassword"), stun.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, msg.Raw)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("stun: first bytes 0-3 with 1000 random tails", func(t *testing.T) {
		var pkts [][]byte
		for i := 0; i < 1000; i++ {
			p := randBytes(20 + i%200)
			p[0] &= 3
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("stun: flood of 20k unauthenticated binding requests", func(t *testing.T) {
		start := time.Now()
		before := m.g.SFU.Counts().PacketsReceived
		var wg sync.WaitGroup
		for s := 0; s < 4; s++ {
			c := m.dial(t)
			req := bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 5000 && time.Since(start) < 10*time.Second; i++ {
					_, _ = c.Write(req)
					if i%256 == 255 {
						time.Sleep(time.Millisecond)
					}
				}
			}()
		}
		wg.Wait()
		if d := time.Since(start); d > 15*time.Second {
			t.Fatalf("flood took %v", d)
		}
		t.Logf("20k requests sent in %v; server read %d datagrams meanwhile", time.Since(start), m.g.SFU.Counts().PacketsReceived-before)
	})
	add("stun: 5000 wrong-password requests to the victim's ufrag", func(t *testing.T) {
		c := m.dial(t)
		start := time.Now()
		answers := 0
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 2048)
			for {
				_ = c.SetReadDeadline(time.Now().Add(time.Second))
				n, err := c.Read(buf)
				if err != nil {
					return
				}
				if n > 120 {
					return // a 401 is small: no amplification
				}
				answers++
			}
		}()
		for i := 0; i < 5000; i++ {
			_, _ = c.Write(bindingRequest(t, m.victim(), "wrongpassword", true, useCandidate))
			if i%256 == 255 {
				time.Sleep(time.Millisecond)
			}
		}
		<-done
		t.Logf("5000 requests in %v, %d answered with 401", time.Since(start), answers)
	})

}
