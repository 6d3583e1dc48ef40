package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const testSecret = "0123456789abcdef-test-secret"

func mustKeySet(t *testing.T, secret string) *KeySet {
	t.Helper()
	ks, err := NewKeySet(secret)
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

// signRaw signs arbitrary claims and header fields, for tokens Mint
// would never produce.
func signRaw(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMintVerifyRoundTrip(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	for _, spy := range []bool{false, true} {
		tok, err := ks.Mint(Claims{Room: "room1", Peer: "alice", Spy: spy, ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		c, err := ks.Verify(tok, time.Now())
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		want := Claims{Room: "room1", Peer: "alice", Spy: spy, ExpiresAt: exp}
		if c.Room != want.Room || c.Peer != want.Peer || c.Spy != want.Spy || !c.ExpiresAt.Equal(want.ExpiresAt) {
			t.Fatalf("claims = %+v, want %+v", c, want)
		}
		parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
		if err != nil {
			t.Fatal(err)
		}
		if parsed.Header["kid"] != DefaultKeyID || parsed.Header["alg"] != "HS256" {
			t.Fatalf("header = %v", parsed.Header)
		}
		mc := parsed.Claims.(jwt.MapClaims)
		for _, name := range []string{"room", "peer", "spy", "exp", "iat"} {
			if _, ok := mc[name]; !ok {
				t.Errorf("claim %q missing: %v", name, mc)
			}
		}
	}
}

func TestVerifyExpired(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	tok, err := ks.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks.Verify(tok, time.Now())
	if !errors.Is(err, ErrExpired) || !strings.HasPrefix(err.Error(), "token expired") {
		t.Fatalf("err = %v, want token expired", err)
	}
	// A valid token is expired once now passes exp.
	tok, _ = ks.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: time.Now().Add(time.Minute)})
	if _, err := ks.Verify(tok, time.Now().Add(2*time.Minute)); !errors.Is(err, ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}

func TestVerifyForged(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	other := mustKeySet(t, "another-secret-of-16+bytes")
	tok, err := other.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = ks.Verify(tok, time.Now())
	if !errors.Is(err, ErrBadSignature) || err.Error() != "bad signature" {
		t.Fatalf("err = %v, want bad signature", err)
	}
	// Changed claims under a genuine signature.
	good, _ := ks.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: time.Now().Add(time.Hour)})
	evil, _ := ks.Mint(Claims{Room: "r", Peer: "admin", ExpiresAt: time.Now().Add(time.Hour)})
	gp, ep := strings.Split(good, "."), strings.Split(evil, ".")
	spliced := gp[0] + "." + ep[1] + "." + gp[2]
	if _, err := ks.Verify(spliced, time.Now()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("spliced: err = %v, want ErrBadSignature", err)
	}
}

func TestVerifyRejectsOtherAlgorithms(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	claims := jwt.MapClaims{"room": "r", "peer": "p", "exp": time.Now().Add(time.Hour).Unix()}
	none := signRaw(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims, map[string]any{"kid": DefaultKeyID})
	hs512 := signRaw(t, jwt.SigningMethodHS512, []byte(testSecret), claims, map[string]any{"kid": DefaultKeyID})
	noAlg := signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": DefaultKeyID, "alg": nil})
	for name, tok := range map[string]string{"none": none, "HS512": hs512, "missing": noAlg} {
		_, err := ks.Verify(tok, time.Now())
		if !errors.Is(err, ErrAlgorithm) {
			t.Errorf("alg %s: err = %v, want ErrAlgorithm", name, err)
		}
	}
}

func TestVerifyUnknownKeyID(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	claims := jwt.MapClaims{"room": "r", "peer": "p", "exp": time.Now().Add(time.Hour).Unix()}
	tok := signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": "k9"})
	_, err := ks.Verify(tok, time.Now())
	if !errors.Is(err, ErrUnknownKey) || err.Error() != "unknown key id" {
		t.Fatalf("err = %v, want unknown key id", err)
	}
	noKid := signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), claims, nil)
	if _, err := ks.Verify(noKid, time.Now()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("no kid: err = %v, want ErrMalformed", err)
	}
	numKid := signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": 7})
	if _, err := ks.Verify(numKid, time.Now()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("numeric kid: err = %v, want ErrMalformed", err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	ks := mustKeySet(t, testSecret)
	exp := time.Now().Add(time.Hour).Unix()
	sign := func(c jwt.MapClaims) string {
		return signRaw(t, jwt.SigningMethodHS256, []byte(testSecret), c, map[string]any{"kid": DefaultKeyID})
	}
	cases := map[string]string{
		"empty":        "",
		"not a jwt":    "hello",
		"two parts":    "a.b",
		"garbage":      "a.b.c",
		"bad base64":   "eyJhbGciOiJIUzI1NiJ9.!!!.abc",
		"too long":     strings.Repeat("a", MaxTokenLen+1),
		"no room":      sign(jwt.MapClaims{"peer": "p", "exp": exp}),
		"no peer":      sign(jwt.MapClaims{"room": "r", "exp": exp}),
		"no exp":       sign(jwt.MapClaims{"room": "r", "peer": "p"}),
		"room type":    sign(jwt.MapClaims{"room": 5, "peer": "p", "exp": exp}),
		"exp type":     sign(jwt.MapClaims{"room": "r", "peer": "p", "exp": "soon"}),
		"spy type":     sign(jwt.MapClaims{"room": "r", "peer": "p", "exp": exp, "spy": "yes"}),
		"empty claims": sign(jwt.MapClaims{}),
	}
	for name, tok := range cases {
		_, err := ks.Verify(tok, time.Now())
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
			continue
		}
		if len(err.Error()) > 80 {
			t.Errorf("%s: error too long for a user: %q", name, err)
		}
	}
	future := sign(jwt.MapClaims{"room": "r", "peer": "p", "exp": exp, "nbf": time.Now().Add(time.Minute).Unix()})
	if _, err := ks.Verify(future, time.Now()); !errors.Is(err, ErrNotYetValid) {
		t.Errorf("nbf in the future: err = %v, want ErrNotYetValid", err)
	}
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys")
	file := "# gosoup join token keys\n\nk2 second-secret-0123456789\n  # old key, still accepted\nk1\tfirst-secret-0123456789\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ks.KeyIDs(), ","); got != "k2,k1" {
		t.Fatalf("KeyIDs = %s", got)
	}
	old, err := ParseKeys(strings.NewReader("k1 first-secret-0123456789\n"))
	if err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Hour)
	oldTok, _ := old.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: exp})
	if _, err := ks.Verify(oldTok, time.Now()); err != nil {
		t.Fatalf("token of the second key: %v", err)
	}
	newTok, _ := ks.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: exp})
	parsed, _, _ := jwt.NewParser().ParseUnverified(newTok, jwt.MapClaims{})
	if parsed.Header["kid"] != "k2" {
		t.Fatalf("Mint signed with kid %v, want k2", parsed.Header["kid"])
	}
	if _, err := old.Verify(newTok, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("old key set on new token: err = %v, want ErrUnknownKey", err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	cases := []struct{ name, file, want string }{
		{"empty", "", "no keys"},
		{"only comments", "# nothing\n\n", "no keys"},
		{"one field", "# c\nk1\n", "line 2:"},
		{"three fields", "k1 secret-0123456789abcdef extra\n", "line 1:"},
		{"short secret", "k1 0123456789abcdef\nk2 short\n", "line 2: key \"k2\": secret is 5 bytes"},
		{"duplicate", "k1 0123456789abcdef\n\nk1 fedcba9876543210\n", "line 3: duplicate key id \"k1\" (first on line 1)"},
		{"long kid", strings.Repeat("k", 200) + " 0123456789abcdef\n", "line 1: key id longer"},
		{"long line", "k1 " + strings.Repeat("s", 70000) + "\n", "after line 0"},
	}
	for _, c := range cases {
		_, err := ParseKeys(strings.NewReader(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
	if _, err := LoadKeyFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file accepted")
	}
	path := filepath.Join(t.TempDir(), "bad")
	_ = os.WriteFile(path, []byte("k1 short\n"), 0o600)
	if _, err := LoadKeyFile(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("bad file: err = %v, want path and line", err)
	}
}

func TestNewKeySetAndMintChecks(t *testing.T) {
	if _, err := NewKeySet("short"); err == nil {
		t.Error("short secret accepted")
	}
	ks := mustKeySet(t, testSecret)
	exp := time.Now().Add(time.Hour)
	for name, c := range map[string]Claims{
		"no room": {Peer: "p", ExpiresAt: exp},
		"no peer": {Room: "r", ExpiresAt: exp},
		"no exp":  {Room: "r", Peer: "p"},
	} {
		if _, err := ks.Mint(c); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	var nilSet *KeySet
	if _, err := nilSet.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: exp}); err == nil {
		t.Error("nil KeySet minted")
	}
	tok, _ := ks.Mint(Claims{Room: "r", Peer: "p", ExpiresAt: exp})
	if _, err := nilSet.Verify(tok, time.Now()); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("nil KeySet verify: err = %v", err)
	}
}
