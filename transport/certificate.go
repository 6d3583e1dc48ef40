package transport

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // sha-1 fingerprints are part of the signaling format.
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"hash"
	"math/big"
	"strings"
	"time"
)

// fingerprintAlgorithms are the algorithms mediasoup 2.6.19 signals, in its
// order; the client uses the last one.
var fingerprintAlgorithms = []struct {
	name string
	hash func() hash.Hash
}{
	{"sha-1", sha1.New},
	{"sha-224", sha256.New224},
	{"sha-256", sha256.New},
	{"sha-384", sha512.New384},
	{"sha-512", sha512.New},
}

// Certificate is the DTLS certificate shared by all transports of a Network.
type Certificate struct {
	tls          tls.Certificate
	fingerprints []Fingerprint
}

// NewCertificate generates a self-signed ECDSA P-256 certificate valid from
// ten years ago to ten years ahead, as mediasoup does with RSA.
func NewCertificate() (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate DTLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, fmt.Errorf("generate DTLS serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "gosoup"},
		NotBefore:    now.AddDate(-10, 0, 0),
		NotAfter:     now.AddDate(10, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create DTLS certificate: %w", err)
	}
	c := &Certificate{tls: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: crypto.Signer(key)}}
	for _, a := range fingerprintAlgorithms {
		c.fingerprints = append(c.fingerprints, Fingerprint{Algorithm: a.name, Value: fingerprint(a.hash(), der)})
	}
	return c, nil
}

// Fingerprints returns the certificate's fingerprints, sha-1 to sha-512.
func (c *Certificate) Fingerprints() []Fingerprint {
	return append([]Fingerprint(nil), c.fingerprints...)
}

func fingerprint(h hash.Hash, der []byte) string {
	h.Write(der)
	sum := h.Sum(nil)
	var b strings.Builder
	for i, v := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", v)
	}
	return b.String()
}

// verifyFingerprint checks a peer certificate against the signaled
// fingerprints: the last one with an algorithm we know is used, as mediasoup
// does. Comparison ignores case.
func verifyFingerprint(der []byte, fps []Fingerprint) error {
	for i := len(fps) - 1; i >= 0; i-- {
		for _, a := range fingerprintAlgorithms {
			if strings.EqualFold(a.name, fps[i].Algorithm) {
				got := fingerprint(a.hash(), der)
				if !strings.EqualFold(got, fps[i].Value) {
					return fmt.Errorf("remote certificate %s fingerprint mismatch", a.name)
				}
				return nil
			}
		}
	}
	return fmt.Errorf("no remote fingerprint with a supported algorithm")
}
