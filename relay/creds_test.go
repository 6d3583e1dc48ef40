package relay

import (
	"errors"
	"testing"
	"time"
)

func TestCredentialsCoturnScheme(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	user, pass := Credentials("s3cret", "alice", time.Hour, now)
	if user != "1700003600:alice" {
		t.Fatalf("username %q, want EXPIRY:peerName", user)
	}
	// coturn's use-auth-secret password of that username and secret
	// (echo -n 1700003600:alice | openssl dgst -sha1 -hmac s3cret -binary | base64).
	if want := "YAFdW/YDZewZsR1QSgUk2IrfbRI="; pass != want {
		t.Fatalf("password %q, want %q", pass, want)
	}
	got, p2, err := CheckUsername("s3cret", user, now)
	if err != nil || got != "alice" || p2 != pass {
		t.Fatalf("CheckUsername = %q, %q, %v", got, p2, err)
	}
	if u, _ := Credentials("s", "a:b", time.Hour, now); u != "1700003600:a_b" {
		t.Fatalf("a ':' in the user: %q", u)
	}
}

func TestCheckUsernameRefuses(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tc := range []struct {
		name, username string
		want           error
	}{
		{"expired", "1699999999:alice", ErrExpired},
		{"expiring now", "1700000000:alice", ErrExpired},
		{"no timestamp", "alice", ErrUsername},
		{"bad timestamp", "x17:alice", ErrUsername},
		{"negative", "-5:alice", ErrUsername},
		{"empty", "", ErrUsername},
		{"too long", "1800000000:" + string(make([]byte, 300)), ErrUsername},
	} {
		if _, _, err := CheckUsername("s3cret", tc.username, now); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	// A bare timestamp is a valid coturn username.
	if _, _, err := CheckUsername("s3cret", "1800000000", now); err != nil {
		t.Errorf("bare timestamp: %v", err)
	}
}
