// Package auth owns gosoup's join tokens: HS256 JSON Web Tokens that allow
// one peer name to join one room (optionally as a spy) until they expire,
// with grants: which kinds it may publish, whether it may subscribe, and
// whether it opens the admin API (of one room or, with room "*", of all).
// A KeySet mints and verifies them; it holds one or more named secrets so
// that keys can be rotated: the first key signs, every key verifies, and
// the key id travels in the token header ("kid").
package auth

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MinSecretLen is the shortest secret a KeySet accepts, in bytes.
const MinSecretLen = 16

// DefaultKeyID is the key id NewKeySet gives its only key.
const DefaultKeyID = "default"

// maxKeyIDLen bounds a key id, in the key file and in token headers.
const maxKeyIDLen = 128

// key is one named HMAC secret.
type key struct {
	id     string
	secret []byte
}

// KeySet holds the secrets join tokens are signed and verified with. The
// first key signs (Mint); every key verifies (Verify), so a new key can be
// put first while tokens signed with the previous one stay valid until
// they expire. A KeySet is immutable and safe for concurrent use.
type KeySet struct {
	keys []key
}

// NewKeySet returns a KeySet of one key, id DefaultKeyID, with this
// secret (at least MinSecretLen bytes).
func NewKeySet(secret string) (*KeySet, error) {
	if err := checkSecret(secret); err != nil {
		return nil, fmt.Errorf("join token secret: %w", err)
	}
	return &KeySet{keys: []key{{id: DefaultKeyID, secret: []byte(secret)}}}, nil
}

// LoadKeyFile reads a KeySet from a text file in the ParseKeys format.
func LoadKeyFile(path string) (*KeySet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	ks, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return ks, nil
}

// ParseKeys reads a KeySet: one "KID SECRET" pair per line, separated by
// spaces or tabs; blank lines and lines starting with '#' are ignored. The
// first key is the signing key. A key id may appear once; each secret must
// be at least MinSecretLen bytes. Errors name the line.
func ParseKeys(r io.Reader) (*KeySet, error) {
	var ks KeySet
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"KID SECRET\", got %d fields", line, len(fields))
		}
		id, secret := fields[0], fields[1]
		if len(id) > maxKeyIDLen {
			return nil, fmt.Errorf("line %d: key id longer than %d bytes", line, maxKeyIDLen)
		}
		if prev, dup := seen[id]; dup {
			return nil, fmt.Errorf("line %d: duplicate key id %q (first on line %d)", line, id, prev)
		}
		if err := checkSecret(secret); err != nil {
			return nil, fmt.Errorf("line %d: key %q: %w", line, id, err)
		}
		seen[id] = line
		ks.keys = append(ks.keys, key{id: id, secret: []byte(secret)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("after line %d: %w", line, err)
	}
	if len(ks.keys) == 0 {
		return nil, errors.New("no keys")
	}
	return &ks, nil
}

func checkSecret(secret string) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("secret is %d bytes, want at least %d", len(secret), MinSecretLen)
	}
	return nil
}

// KeyIDs returns the key ids, the signing key first.
func (k *KeySet) KeyIDs() []string {
	if k == nil {
		return nil
	}
	ids := make([]string, len(k.keys))
	for i, kk := range k.keys {
		ids[i] = kk.id
	}
	return ids
}

// signing returns the signing key.
func (k *KeySet) signing() (key, bool) {
	if k == nil || len(k.keys) == 0 {
		return key{}, false
	}
	return k.keys[0], true
}

// lookup returns the key with this id.
func (k *KeySet) lookup(id string) (key, bool) {
	if k == nil {
		return key{}, false
	}
	for _, kk := range k.keys {
		if kk.id == id {
			return kk, true
		}
	}
	return key{}, false
}
