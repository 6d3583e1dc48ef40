package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
)

// dtlsCases are the DTLS attacks.
func (m *mediaPort) dtlsCases(ctx context.Context, add func(name string, run func(t *testing.T))) {
	// DTLS over UDP.
	add("dtls: real handshake from an address that never did ICE", func(t *testing.T) {
		c := m.dial(t)
		conn, err := dtls.Client(c, m.udpAddr(), dtlsConfig(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		hctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		if err := conn.HandshakeContext(hctx); err == nil {
			t.Fatal("a stranger completed a DTLS handshake")
		}
	})
	add("dtls: ClientHello from an address that never did ICE", func(t *testing.T) {
		expectSilence(t, m.sendFresh(t, clientHello(t)), mpQuiet)
	})
	add("dtls: handshake flood, 5000 ClientHellos from 50 addresses", func(t *testing.T) {
		hello := clientHello(t)
		for s := 0; s < 50; s++ {
			pkts := make([][]byte, 100)
			for i := range pkts {
				pkts[i] = hello
			}
			c := m.sendFresh(t, pkts...)
			if s == 49 {
				expectSilence(t, c, mpQuiet)
			}
		}
	})
	add("dtls: alert, ChangeCipherSpec and application data records from a stranger", func(t *testing.T) {
		var pkts [][]byte
		for _, typ := range []byte{20, 21, 23, 24} {
			for _, epoch := range []uint16{0, 1, 0xffff} {
				rec := []byte{typ, 0xfe, 0xfd, byte(epoch >> 8), byte(epoch), 0, 0, 0, 0, 0, 1, 0, 48}
				pkts = append(pkts, append(rec, randBytes(48)...))
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("dtls: first bytes 20-63 with random bodies and lengths", func(t *testing.T) {
		var pkts [][]byte
		for b := 20; b < 64; b++ {
			for _, n := range []int{1, 13, 100, 1400} {
				p := randBytes(n)
				p[0] = byte(b)
				pkts = append(pkts, p)
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("dtls: garbage and ClientHellos to eve's own ICE-bound transport", func(t *testing.T) {
		m.eve = m.eveICE(ctx, t)
		hello := clientHello(t)
		for i := 0; i < 500; i++ {
			p := hello
			if i%2 == 1 {
				p = randBytes(100)
				p[0] = byte(20 + i%44)
			}
			_, _ = m.eve.Write(p)
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	})

}

// mediaCases are the SRTP, RTP and RTCP attacks, every first byte and
// size, the CPU floods and the final check of lingering ICE-TCP connections.
func (m *mediaPort) mediaCases(add func(name string, run func(t *testing.T))) {
	// SRTP and SRTCP that cannot authenticate.
	add("srtp: 1000 random 0x80-prefixed datagrams from strangers", func(t *testing.T) {
		for s := 0; s < 4; s++ {
			var pkts [][]byte
			for i := 0; i < 250; i++ {
				p := randBytes(12 + (i*37)%1388)
				p[0] = 0x80 | p[0]&0x3f
				pkts = append(pkts, p)
			}
			expectSilence(t, m.sendFresh(t, pkts...), 50*time.Millisecond)
		}
	})
	add("srtp: the victim's SSRCs with bogus auth tags", func(t *testing.T) {
		var pkts [][]byte
		for _, ssrc := range []uint32{m.v.prod.SSRC, m.v.cd.RTPParameters.Encodings[0].SSRC} {
			for seq := uint16(0); seq < 200; seq++ {
				pkts = append(pkts, append(rtpHeader(0x80, 100+byte(seq%28), seq, ssrc), randBytes(216)...))
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("srtcp: SR, RR, SDES, BYE, NACK and PLI headers with bogus tags", func(t *testing.T) {
		var pkts [][]byte
		for pt := byte(200); pt <= 206; pt++ {
			for _, ssrc := range []uint32{m.v.prod.SSRC, m.v.cd.RTPParameters.Encodings[0].SSRC} {
				p := []byte{0x81, pt, 0, 7}
				p = binary.BigEndian.AppendUint32(p, ssrc)
				p = append(p, randBytes(24)...)
				p = append(p, 0x80, 0, 0, 1)    // E flag, SRTCP index
				p = append(p, randBytes(10)...) // auth tag
				pkts = append(pkts, p)
			}
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("rtp: CSRC count 15 in short packets", func(t *testing.T) {
		var pkts [][]byte
		for n := 12; n < 80; n++ {
			pkts = append(pkts, append(rtpHeader(0x8f, 96, uint16(n), m.v.prod.SSRC), randBytes(n-12)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("rtp: extension length 0xffff", func(t *testing.T) {
		var pkts [][]byte
		for _, n := range []int{16, 20, 100, 1400} {
			p := append(rtpHeader(0x90, 96, 1, m.v.prod.SSRC), 0xbe, 0xde, 0xff, 0xff)
			pkts = append(pkts, append(p, randBytes(n-16)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("rtp: padding longer than the packet", func(t *testing.T) {
		var pkts [][]byte
		for _, pad := range []byte{0, 1, 200, 255} {
			p := append(rtpHeader(0xa0, 96, 1, m.v.prod.SSRC), randBytes(20)...)
			p[len(p)-1] = pad
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("rtcp: compound packets with wrong length fields", func(t *testing.T) {
		var pkts [][]byte
		for _, l := range []uint16{0, 1, 6, 7, 0xffff} {
			rr := []byte{0x81, 201, byte(l >> 8), byte(l)}
			rr = binary.BigEndian.AppendUint32(rr, m.v.prod.SSRC)
			rr = append(rr, randBytes(24)...)
			sdes := []byte{0x81, 202, 0xff, 0xf0, 1, 2, 3, 4}
			pkts = append(pkts, append(append(rr, sdes...), randBytes(14)...))
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("rtp: version-2 packets of 1 to 11 bytes", func(t *testing.T) {
		var pkts [][]byte
		for n := 1; n < 12; n++ {
			p := randBytes(n)
			p[0] = 0x80
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("srtp: garbage from eve's ICE-bound address (no keys)", func(t *testing.T) {
		if m.eve == nil {
			t.Skip("eve's ICE case failed")
		}
		for i := 0; i < 1000; i++ {
			p := append(rtpHeader(0x80|byte(i%16), 96, uint16(i), m.v.prod.SSRC), randBytes(i%1000)...)
			if i%3 == 0 {
				p[1] = 200 + byte(i%7)
			}
			_, _ = m.eve.Write(p)
			if i%200 == 199 {
				time.Sleep(time.Millisecond)
			}
		}
	})

	// Every first byte, every size.
	for _, size := range []int{1, 1500, 9000} {
		add(fmt.Sprintf("bytes: every first byte 0-255, %d bytes", size), func(t *testing.T) {
			var pkts [][]byte
			for b := 0; b < 256; b++ {
				p := randBytes(size)
				p[0] = byte(b)
				pkts = append(pkts, p)
			}
			expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
		})
	}
	add("bytes: 100 empty datagrams", func(t *testing.T) {
		pkts := make([][]byte, 100)
		for i := range pkts {
			pkts[i] = []byte{}
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("bytes: 65507-byte datagrams", func(t *testing.T) {
		var pkts [][]byte
		for _, first := range []byte{0, 22, 0x80, 0xff} {
			p := randBytes(65507)
			p[0] = first
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})
	add("bytes: unclaimed ranges 4-19, 64-127, 192-255", func(t *testing.T) {
		var pkts [][]byte
		for b := 4; b < 256; b++ {
			if (b >= 20 && b < 64) || (b >= 128 && b < 192) {
				continue
			}
			p := randBytes(200)
			p[0] = byte(b)
			pkts = append(pkts, p)
		}
		expectSilence(t, m.sendFresh(t, pkts...), mpQuiet)
	})

	// CPU per 100k bad datagrams.
	for _, k := range []struct {
		name string
		pkts func(t *testing.T) [][]byte
	}{
		{"unknown-ufrag STUN requests", func(t *testing.T) [][]byte {
			return [][]byte{bindingRequest(t, "nosuchufrag00000:x", "nosuchpassword", true)}
		}},
		{"100-byte 0x80-prefixed datagrams", func(t *testing.T) [][]byte {
			p := randBytes(100)
			p[0] = 0x80
			return [][]byte{p}
		}},
	} {
		add("cpu: 100k "+k.name, func(t *testing.T) {
			pkts := k.pkts(t)
			closed, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			closedAddr := closed.LocalAddr().(*net.UDPAddr)
			closed.Close()
			closedCPU, closedWall, _ := floodCPU(t, closedAddr, pkts, 100_000, nil)
			// A null server: a socket whose reader only counts.
			null, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			_ = null.SetReadBuffer(4 << 20)
			var nullRead atomic.Uint64
			nullDone := make(chan struct{})
			go func() {
				defer close(nullDone)
				buf := make([]byte, 1564)
				for {
					if _, _, err := null.ReadFromUDPAddrPort(buf); err != nil {
						return
					}
					nullRead.Add(1)
				}
			}()
			baseCPU, baseWall, _ := floodCPU(t, null.LocalAddr().(*net.UDPAddr), pkts, 100_000, nullRead.Load)
			null.Close()
			<-nullDone
			recv := func() uint64 { return m.g.SFU.Counts().PacketsReceived }
			cpu, wall, read := floodCPU(t, m.udpAddr(), pkts, 100_000, recv)
			if wall > 30*time.Second {
				t.Fatalf("100k datagrams took %v", wall)
			}
			t.Logf("100k %s (%d bytes): process CPU %v in %v (server read %d, victim media included); "+
				"same sends to a reader that only counts %v in %v, to a closed port %v in %v; "+
				"server's handling beyond the socket read ≈ %v per 100k (in-process: sender, server and victim share one rusage)",
				k.name, len(pkts[0]), cpu, wall.Round(time.Millisecond), read, baseCPU, baseWall.Round(time.Millisecond),
				closedCPU, closedWall.Round(time.Millisecond), cpu-baseCPU)
		})
	}

	add("tcp: lingering connections closed at the bind deadline", func(t *testing.T) {
		m.mu.Lock()
		ls := m.lingering
		m.mu.Unlock()
		if len(ls) < 200 {
			t.Fatalf("only %d lingering connections", len(ls))
		}
		early, open := 0, 0
		for _, l := range ls {
			// A deadline in the past fails reads at once, closed or not.
			_ = l.c.SetReadDeadline(maxTime(l.dialed.Add(mpTCPBindTimeout+10*time.Second), time.Now().Add(2*time.Second)))
			_, err := io.Copy(io.Discard, l.c)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				open++
				t.Errorf("%s connection still open %v after it was dialed", l.name, time.Since(l.dialed))
			} else if time.Since(l.dialed) < mpTCPBindTimeout-time.Second {
				early++
			}
			l.c.Close()
		}
		if early > 0 {
			t.Errorf("%d connections closed before the bind deadline", early)
		}
		m.mu.Lock()
		m.lingering = nil
		m.mu.Unlock()
		t.Logf("%d lingering ICE-TCP connections closed by the server at its %v bind deadline", len(ls), mpTCPBindTimeout)
	})
}
