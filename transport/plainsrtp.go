package transport

import (
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// PlainSRTPKeyLen is the length of a plain transport's SRTP master key
// and salt together (AEAD_AES_128_GCM: 16 + 12 bytes).
const PlainSRTPKeyLen = 28

// PlainSRTP keys a PlainTransport's SRTP (AEAD_AES_128_GCM), one master
// key and salt per direction, agreed out of band (a pipe between nodes
// carries them in its setup message).
type PlainSRTP struct {
	SendKey, RecvKey []byte
}

// NewPlainSRTPKey returns a random master key and salt.
func NewPlainSRTPKey() []byte {
	k := make([]byte, PlainSRTPKeyLen)
	_, _ = rand.Read(k)
	return k
}

// plainCrypto is a plain transport's SRTP state: the send context under
// sendMu with its buffer; the receive context is used by the read
// goroutines, one at a time (recvMu). No allocation per packet.
type plainCrypto struct {
	sendMu   sync.Mutex
	send     *srtp.Context
	sendBuf  []byte
	sendHdr  rtp.Header
	sendRTCP rtcp.Header

	recvMu   sync.Mutex
	recv     *srtp.Context
	recvHdr  rtp.Header
	recvRTCP rtcp.Header
}

func newPlainCrypto(k *PlainSRTP) (*plainCrypto, error) {
	if len(k.SendKey) != PlainSRTPKeyLen || len(k.RecvKey) != PlainSRTPKeyLen {
		return nil, fmt.Errorf("plain transport SRTP: keys must be %d bytes", PlainSRTPKeyLen)
	}
	const p = srtp.ProtectionProfileAeadAes128Gcm
	send, err := srtp.CreateContext(k.SendKey[:16], k.SendKey[16:], p)
	if err != nil {
		return nil, fmt.Errorf("plain transport SRTP send context: %w", err)
	}
	recv, err := srtp.CreateContext(k.RecvKey[:16], k.RecvKey[16:], p,
		srtp.SRTPReplayProtection(256), srtp.SRTCPReplayProtection(256))
	if err != nil {
		return nil, fmt.Errorf("plain transport SRTP receive context: %w", err)
	}
	return &plainCrypto{send: send, sendBuf: make([]byte, 0, 1600), recv: recv}, nil
}

// seal protects an outgoing packet (RTP, or RTCP when isRTCP) into the
// send buffer; the caller holds sendMu until it has sent the result.
func (c *plainCrypto) seal(pkt []byte, isRTCP bool) ([]byte, error) {
	var out []byte
	var err error
	if isRTCP {
		out, err = c.send.EncryptRTCP(c.sendBuf[:0], pkt, &c.sendRTCP)
	} else {
		out, err = c.send.EncryptRTP(c.sendBuf[:0], pkt, &c.sendHdr)
	}
	if err != nil {
		return nil, fmt.Errorf("plain transport SRTP: %w", err)
	}
	c.sendBuf = out[:0]
	return out, nil
}

// open authenticates and decrypts an incoming packet: RTP in place, RTCP
// into dst (the read goroutine's own buffer).
func (c *plainCrypto) open(dst, pkt []byte, isRTCP bool) ([]byte, error) {
	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	if isRTCP {
		return c.recv.DecryptRTCP(dst[:0], pkt, &c.recvRTCP)
	}
	return c.recv.DecryptRTP(pkt, pkt, &c.recvHdr)
}
