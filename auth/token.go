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
// as a spy when Spy is set, until ExpiresAt, and do what Grants allows.
// An admin token may leave Peer empty (it then opens the admin API only)
// and may name every room with Room "*" (AllRooms).
type Claims struct {
	Room string
	Peer string
	Spy  bool
	// Grants, when nil, makes a participant token (see Participant) and
	// leaves the "grants" claim out, as tokens were before grants
	// existed. Verify always sets it.
	Grants    *Grants
	ExpiresAt time.Time
}

// Grant returns what the token allows: its Grants (a participant when
// nil), without any publishing for a spy token.
func (c Claims) Grant() Grants {
	g := Participant()
	if c.Grants != nil {
		g = *c.Grants
	}
	if c.Spy {
		g.Publish = nil
	}
	return g
}

// AdminOf reports whether the token opens the admin API of room: it has
// the admin grant and names that room or every room.
func (c Claims) AdminOf(room string) bool {
	return c.Grant().Admin && (c.Room == AllRooms || c.Room == room && room != "")
}

// check verifies the claims' shape, shared by Mint and Verify: room
// required, peer required unless the token is an admin token, "*" only
// for admin tokens, known kinds in the publish grant.
func (c Claims) check() error {
	g := c.Grant()
	switch {
	case c.Room == "":
		return errors.New("no room claim")
	case c.Peer == "" && !g.Admin:
		return errors.New("no peer claim")
	case c.Room == AllRooms && !g.Admin:
		return errors.New(`room "*" needs the admin grant`)
	}
	return g.validate()
}

// tokenClaims is the JSON payload of a join token.
type tokenClaims struct {
	Room   string       `json:"room"`
	Peer   string       `json:"peer,omitempty"`
	Spy    bool         `json:"spy"`
	Grants *grantsClaim `json:"grants,omitempty"`
	jwt.RegisteredClaims
}

// Mint returns a join token for c, signed with the KeySet's first key,
// its id in the "kid" header and the current time as "iat". Room, Peer and
// ExpiresAt are required (Peer may be empty in an admin token).
func (k *KeySet) Mint(c Claims) (string, error) {
	sk, ok := k.signing()
	if !ok {
		return "", errors.New("mint join token: no signing key")
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("mint join token: %w", err)
	}
	if c.ExpiresAt.IsZero() {
		return "", errors.New("mint join token: no expiry")
	}
	var gc *grantsClaim
	if c.Grants != nil {
		gc = &grantsClaim{Publish: c.Grants.Publish, Subscribe: c.Grants.Subscribe, Admin: c.Grants.Admin}
	}
	tc := tokenClaims{
		Room:   c.Room,
		Peer:   c.Peer,
		Spy:    c.Spy,
		Grants: gc,
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
// after now, a room claim and a peer claim (unless it is an admin token),
// and known kinds in its grants. The error wraps one of
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
	if tc.ExpiresAt == nil {
		// WithExpirationRequired already refuses this; keep Verify safe
		// if the parser options change.
		return Claims{}, fmt.Errorf("%w: no exp claim", ErrMalformed)
	}
	g := grantsOf(tc.Grants)
	c := Claims{Room: tc.Room, Peer: tc.Peer, Spy: tc.Spy, Grants: &g, ExpiresAt: tc.ExpiresAt.Time}
	if err := c.check(); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return c, nil
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
