package cluster

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gosoup/gosoup/sfu"
	"github.com/gosoup/gosoup/transport"
)

// MinSecretLen is the shortest Config.Secret accepted, in bytes (as for
// join-token secrets).
const MinSecretLen = 16

// sealVersion starts every sealed value: "g1.<key id>.<MAC>.<payload>".
const sealVersion = "g1"

// pipeNonceLen is the length of the public nonce a pipe's keys are
// derived from.
const pipeNonceLen = 16

// Reasons a sealed value is refused (sealer.open).
var (
	// errUnsealed: the value carries no seal (written by something that
	// does not know the format: an older node, a forger).
	errUnsealed = errors.New("not sealed")
	// errOtherSecret: sealed with another secret (its key id differs).
	errOtherSecret = errors.New("sealed with another cluster secret")
	// errForged: the key id is ours but the MAC is wrong (forged,
	// corrupted, or moved from another key or channel).
	errForged = errors.New("bad MAC: forged, corrupted or moved from another key or channel")
)

// sealer authenticates what a member writes to Redis and derives the
// pipes' SRTP keys, with keys derived from the cluster secret:
//
//   - every value (registry entry, room state, home claim, message) is
//     written as "g1.KID.MAC.PAYLOAD", MAC = HMAC-SHA256 over the Redis key
//     or channel name and the payload, so a value is valid only where its
//     writer put it;
//   - a pipe's keys never travel: the receiving node draws a public nonce,
//     and both ends derive the keys from the secret and that nonce.
//
// KID (a fingerprint of the secret) only tells apart, in logs, a node
// with another secret from a forger.
type sealer struct {
	mac  []byte // HMAC-SHA256 key
	pipe []byte // pipe key derivation key
	kid  string
}

// newSealer derives the keys of secret.
func newSealer(secret string) (*sealer, error) {
	if len(secret) < MinSecretLen {
		return nil, fmt.Errorf("cluster: the cluster secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	derive := func(label string, n int) []byte {
		k, err := hkdf.Key(sha256.New, []byte(secret), nil, "gosoup cluster v1 "+label, n)
		if err != nil {
			panic(fmt.Sprintf("cluster: hkdf: %v", err)) // only for lengths beyond 255*32
		}
		return k
	}
	return &sealer{mac: derive("mac", 32), pipe: derive("pipe", 32), kid: hex.EncodeToString(derive("key id", 4))}, nil
}

// sum is the MAC of payload written under name.
func (s *sealer) sum(name string, payload []byte) []byte {
	h := hmac.New(sha256.New, s.mac)
	h.Write([]byte(sealVersion))
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)
}

// seal returns payload sealed for the Redis key or channel name.
func (s *sealer) seal(name string, payload []byte) string {
	var b strings.Builder
	b.Grow(len(sealVersion) + len(s.kid) + 46 + len(payload))
	b.WriteString(sealVersion)
	b.WriteByte('.')
	b.WriteString(s.kid)
	b.WriteByte('.')
	b.WriteString(base64.RawURLEncoding.EncodeToString(s.sum(name, payload)))
	b.WriteByte('.')
	b.Write(payload)
	return b.String()
}

// open checks a value read from (or received on) name and returns its
// payload; the error is errUnsealed, errOtherSecret or errForged.
func (s *sealer) open(name, v string) ([]byte, error) {
	parts := strings.SplitN(v, ".", 4)
	if len(parts) != 4 || parts[0] != sealVersion {
		return nil, errUnsealed
	}
	if parts[1] != s.kid {
		return nil, fmt.Errorf("%w (key id %s, ours %s)", errOtherSecret, parts[1], s.kid)
	}
	mac, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, errForged
	}
	payload := []byte(parts[3])
	if !hmac.Equal(mac, s.sum(name, payload)) {
		return nil, errForged
	}
	return payload, nil
}

// newPipeNonce returns a fresh public nonce for a pipe's keys.
func newPipeNonce() []byte {
	b := make([]byte, pipeNonceLen)
	_, _ = rand.Read(b)
	return b
}

// pipeKeys derives a pipe's SRTP master keys from the secret and the
// pipe's nonce: both nodes compute them, nothing secret is published.
func (s *sealer) pipeKeys(nonce []byte) (sfu.PipeKeys, error) {
	if len(nonce) != pipeNonceLen {
		return sfu.PipeKeys{}, fmt.Errorf("pipe nonce: %d bytes, want %d", len(nonce), pipeNonceLen)
	}
	derive := func(label string) []byte {
		k, err := hkdf.Key(sha256.New, s.pipe, nonce, "gosoup cluster v1 pipe "+label, transport.PlainSRTPKeyLen)
		if err != nil {
			panic(fmt.Sprintf("cluster: hkdf: %v", err))
		}
		return k
	}
	return sfu.PipeKeys{Media: derive("media"), Feedback: derive("feedback")}, nil
}
