package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxTokenLen bounds the length of a token Verify accepts, in bytes.
const MaxTokenLen = 8 << 10

// Reasons Verify rejects a token. Verify wraps them with context, so test
// them with errors.Is; their texts are short enough to show to a user.
var (
	// ErrMalformed: not a JWT, undecodable header or claims, or a required
	// claim (room, peer, exp) or the key id missing.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: the header's alg is not HS256 (e.g. "none").
	ErrAlgorithm = errors.New("token algorithm not allowed (want HS256)")
	// ErrUnknownKey: the header's kid names no key of the KeySet.
	ErrUnknownKey = errors.New("unknown key id")
	// ErrBadSignature: the signature does not match the named key.
	ErrBadSignature = errors.New("bad signature")
	// ErrExpired: the token's exp is not in the future.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: the token carries an nbf in the future.
	ErrNotYetValid = errors.New("token not valid yet")
)

// Claims is what a join token grants: peer name Peer may join room Room,
// as a spy when Spy is set, until ExpiresAt.
type Claims struct {
	Room      string
	Peer      string
	Spy       bool
	ExpiresAt time.Time
}

// tokenClaims is the JSON payload of a join token.
type tokenClaims struct {
	Room string `json:"room"`
	Peer string `json:"peer"`
	Spy  bool   `json:"spy"`
	jwt.RegisteredClaims
}

// Mint returns a join token for c, signed with the KeySet's first key,
// its id in the "kid" header and the current time as "iat". Room, Peer and
// ExpiresAt are required.
func (k *KeySet) Mint(c Claims) (string, error) {
	sk, ok := k.signing()
	if !ok {
		return "", errors.New("mint join token: no signing key")
	}
	switch {
	case c.Room == "":
		return "", errors.New("mint join token: room is empty")
	case c.Peer == "":
		return "", errors.New("mint join token: peer is empty")
	case c.ExpiresAt.IsZero():
		return "", errors.New("mint join token: no expiry")
	}
	tc := tokenClaims{
		Room: c.Room,
		Peer: c.Peer,
		Spy:  c.Spy,
		RegisteredClaims: jwt.RegisteredClaims{
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			IssuedAt:  jwt.NewNumericDate(time.Now()),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, tc)
	t.Header["kid"] = sk.id
	s, err := t.SignedString(sk.secret)
	if err != nil {
		return "", fmt.Errorf("mint join token: %w", err)
	}
	return s, nil
}

// Verify checks a join token at time now and returns its claims. The token
// must be HS256, name a known key id, carry a valid signature, an exp
// after now and non-empty room and peer claims. The error wraps one of
// ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrBadSignature, ErrExpired
// or ErrNotYetValid.
func (k *KeySet) Verify(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLen)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	var tc tokenClaims
	tok, err := p.ParseWithClaims(token, &tc, k.keyFunc)
	if err != nil {
		return Claims{}, classify(tok, &tc, err)
	}
	switch {
	case tc.Room == "":
		return Claims{}, fmt.Errorf("%w: no room claim", ErrMalformed)
	case tc.Peer == "":
		return Claims{}, fmt.Errorf("%w: no peer claim", ErrMalformed)
	case tc.ExpiresAt == nil:
		// WithExpirationRequired already refuses this; keep Verify safe
		// if the parser options change.
		return Claims{}, fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	return Claims{Room: tc.Room, Peer: tc.Peer, Spy: tc.Spy, ExpiresAt: tc.ExpiresAt.Time}, nil
}

// Errors of keyFunc, recognised again by classify.
var (
	errNoKeyID   = fmt.Errorf("%w: no kid in header", ErrMalformed)
	errLongKeyID = fmt.Errorf("%w: kid too long", ErrMalformed)
)

// keyFunc returns the secret named by the token's kid header.
func (k *KeySet) keyFunc(t *jwt.Token) (any, error) {
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" {
		return nil, errNoKeyID
	}
	if len(kid) > maxKeyIDLen {
		return nil, errLongKeyID
	}
	kk, ok := k.lookup(kid)
	if !ok {
		return nil, ErrUnknownKey
	}
	return kk.secret, nil
}

// classify turns a jwt parse error into one of the package's reasons. The
// jwt library's own texts are not passed on: they are long and name
// internals.
func classify(tok *jwt.Token, tc *tokenClaims, err error) error {
	if tok == nil || errors.Is(err, jwt.ErrTokenMalformed) {
		return ErrMalformed
	}
	if alg, _ := tok.Header["alg"].(string); alg != jwt.SigningMethodHS256.Alg() {
		if alg == "" {
			return fmt.Errorf("%w: no alg in header", ErrAlgorithm)
		}
		return fmt.Errorf("%w: %.16q", ErrAlgorithm, alg)
	}
	for _, reason := range []error{ErrUnknownKey, errNoKeyID, errLongKeyID} {
		if errors.Is(err, reason) {
			return reason
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		if tc.ExpiresAt != nil {
			return fmt.Errorf("%w at %s", ErrExpired, tc.ExpiresAt.UTC().Format(time.RFC3339))
		}
		return ErrExpired
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: no exp claim", ErrMalformed)
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrNotYetValid
	}
	return ErrMalformed
}
