package transport

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Per-stage costs of the packet path, 1200-byte packets.

func benchPacket() []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SequenceNumber: 1, Timestamp: 1, SSRC: 1234}, Payload: make([]byte, 1180)}
	_ = p.Header.SetExtension(3, []byte{1, 2, 3})
	b, _ := p.Marshal()
	return b
}

func benchContexts(b *testing.B, profile srtp.ProtectionProfile) (*srtp.Context, *srtp.Context) {
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	key, salt := make([]byte, keyLen), make([]byte, saltLen)
	enc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		b.Fatal(err)
	}
	dec, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		b.Fatal(err)
	}
	return enc, dec
}

func benchmarkEncrypt(b *testing.B, profile srtp.ProtectionProfile) {
	enc, _ := benchContexts(b, profile)
	pkt := benchPacket()
	dst := make([]byte, 0, 1600)
	var hdr rtp.Header
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		out, err := enc.EncryptRTP(dst[:0], pkt, &hdr)
		if err != nil {
			b.Fatal(err)
		}
		dst = out[:0]
	}
}

func benchmarkDecrypt(b *testing.B, profile srtp.ProtectionProfile) {
	enc, dec := benchContexts(b, profile)
	pkt := benchPacket()
	var hdr rtp.Header
	encrypted := make([][]byte, 1<<12)
	for i := range encrypted {
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		out, _ := enc.EncryptRTP(nil, pkt, &hdr)
		encrypted[i] = out
	}
	buf := make([]byte, 1600)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		src := encrypted[i%len(encrypted)]
		n := copy(buf, src)
		if _, err := dec.DecryptRTP(buf[:n], buf[:n], &hdr); err != nil && i < len(encrypted) {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptRTP_AESGCM(b *testing.B) {
	benchmarkEncrypt(b, srtp.ProtectionProfileAeadAes128Gcm)
}
func BenchmarkEncryptRTP_AESCM(b *testing.B) {
	benchmarkEncrypt(b, srtp.ProtectionProfileAes128CmHmacSha1_80)
}
func BenchmarkDecryptRTP_AESGCM(b *testing.B) {
	benchmarkDecrypt(b, srtp.ProtectionProfileAeadAes128Gcm)
}
func BenchmarkDecryptRTP_AESCM(b *testing.B) {
	benchmarkDecrypt(b, srtp.ProtectionProfileAes128CmHmacSha1_80)
}

// BenchmarkParseHeader is the header parse the decrypt path does.
func BenchmarkParseHeader(b *testing.B) {
	pkt := benchPacket()
	var h rtp.Header
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := h.Unmarshal(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendUDP is one sendto of a 1200-byte datagram on loopback.
func BenchmarkSendUDP(b *testing.B) {
	sink, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	to := netip.MustParseAddrPort(sink.LocalAddr().String())
	pkt := benchPacket()
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.WriteToUDPAddrPort(pkt, to); err != nil {
			b.Fatal(err)
		}
	}
}
