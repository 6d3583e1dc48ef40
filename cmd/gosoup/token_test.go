package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gosoup/gosoup/auth"
)

// mint runs "gosoup token" and returns its output.
func mint(t *testing.T, args, environ []string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runToken(args, environ, &out, io.Discard)
	return out.String(), err
}

func TestTokenCommand(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	keys, err := auth.NewKeySet(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"flag", []string{"--auth-secret", secret}, nil},
		{"environment", nil, []string{"GOSOUP_AUTH_SECRET=" + secret, "GOSOUP_RTC_PORT=41000"}},
		{"file", []string{"--config", writeFile(t, "gosoup.yaml", "rtc-port: 41000\nauth-secret: "+secret+"\n")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := mint(t, append(tc.args, "--room", "r1", "--peer", "alice", "--spy", "--ttl", "10m"), tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("output %q: want one line", out)
			}
			claims, err := keys.Verify(strings.TrimSpace(out), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if claims.Room != "r1" || claims.Peer != "alice" || !claims.Spy {
				t.Fatalf("claims %+v", claims)
			}
			if d := time.Until(claims.ExpiresAt); d < 9*time.Minute || d > 11*time.Minute {
				t.Fatalf("expires in %v", d)
			}
			if _, err := keys.Verify(strings.TrimSpace(out), time.Now().Add(11*time.Minute)); !errors.Is(err, auth.ErrExpired) {
				t.Fatalf("after the ttl: %v", err)
			}
		})
	}
}

func TestTokenKeyFile(t *testing.T) {
	file := writeFile(t, "keys", "# newest first\nk2 second-secret-0123456789\nk1 first-secret-0123456789\n")
	out, err := mint(t, []string{"--auth-keys", file, "--room", "r", "--peer", "p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.LoadKeyFile(file)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := keys.Verify(strings.TrimSpace(out), time.Now())
	if err != nil || claims.Spy || claims.Room != "r" {
		t.Fatalf("claims %+v, %v", claims, err)
	}
	old, _ := auth.NewKeySet("first-secret-0123456789")
	if _, err := old.Verify(strings.TrimSpace(out), time.Now()); err == nil {
		t.Fatal("signed with the second key of the file")
	}
}

func TestTokenErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--room", "r", "--peer", "p"}, nil, "no key"},
		{[]string{"--peer", "p", "--auth-secret", "0123456789abcdef"}, nil, "--room"},
		{[]string{"--room", "r", "--auth-secret", "0123456789abcdef"}, nil, "--peer"},
		{[]string{"--room", "r", "--peer", "p", "--ttl", "-1h", "--auth-secret", "0123456789abcdef"}, nil, "--ttl"},
		{[]string{"--room", "r", "--peer", "p", "--auth-secret", "short"}, nil, "auth-secret (flag --auth-secret)"},
		{[]string{"--room", "r", "--peer", "p"}, []string{"GOSOUP_ROOM=r"}, "GOSOUP_ROOM"},
		{[]string{"--room", "r", "--peer", "p", "--auth-keys", "/nonexistent"}, nil, "auth-keys"},
		{[]string{"--room", "*", "--peer", "p", "--auth-secret", "0123456789abcdef"}, nil, "--admin"},
		{[]string{"--room", "r", "--peer", "p", "--publish", "screen", "--auth-secret", "0123456789abcdef"}, nil, "unknown kind"},
	} {
		out, err := mint(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: err %v, want %q", tc.args, tc.env, err, tc.want)
		}
		if out != "" {
			t.Errorf("%v: printed %q", tc.args, out)
		}
	}
}

func TestTokenGrants(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	keys, err := auth.NewKeySet(secret)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want auth.Grants
	}{
		{[]string{"--room", "r", "--peer", "p"}, auth.Participant()},
		{[]string{"--room", "r", "--peer", "p", "--no-publish"}, auth.Grants{Subscribe: true}},
		{[]string{"--room", "r", "--peer", "p", "--publish", "audio", "--no-subscribe"}, auth.Grants{Publish: []string{"audio"}}},
		{[]string{"--room", "r", "--admin"}, auth.Grants{Publish: []string{"audio", "video"}, Subscribe: true, Admin: true}},
		{[]string{"--room", "*", "--admin", "--no-publish", "--no-subscribe"}, auth.Grants{Admin: true}},
	} {
		out, err := mint(t, append(tc.args, "--auth-secret", secret), nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		c, err := keys.Verify(strings.TrimSpace(out), time.Now())
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		if g := c.Grant(); g.String() != tc.want.String() {
			t.Errorf("%v: grants %v, want %v", tc.args, g, tc.want)
		}
	}
}
