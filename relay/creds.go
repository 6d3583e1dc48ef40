package relay

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme is HMAC-SHA1, as coturn's use-auth-secret
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxUsernameLen bounds the TURN usernames the server considers.
const maxUsernameLen = 256

// Credentials returns short-lived TURN credentials in the TURN REST scheme
// that coturn's use-auth-secret checks: username "EXPIRY:user" (EXPIRY the
// Unix time at now+ttl) and password base64(HMAC-SHA1(secret, username)).
// A ':' in user is replaced by '_' so that the username keeps one.
func Credentials(secret, user string, ttl time.Duration, now time.Time) (username, password string) {
	user = strings.ReplaceAll(user, ":", "_")
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + user
	return username, hmacPassword(secret, username)
}

func hmacPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Why CheckUsername refuses a username.
var (
	ErrUsername = errors.New("TURN username is not EXPIRY:user")
	ErrExpired  = errors.New("TURN credentials expired")
)

// CheckUsername returns the password of a TURN REST username made with
// secret, and the user it names, if its expiry is after now.
func CheckUsername(secret, username string, now time.Time) (user, pass string, err error) {
	if len(username) > maxUsernameLen {
		return "", "", ErrUsername
	}
	exp, user, ok := strings.Cut(username, ":")
	if !ok {
		// coturn also takes a bare timestamp.
		exp, user = username, ""
	}
	t, perr := strconv.ParseInt(exp, 10, 64)
	if perr != nil || t <= 0 {
		return "", "", ErrUsername
	}
	if t <= now.Unix() {
		return "", "", fmt.Errorf("%w at %s", ErrExpired, time.Unix(t, 0).UTC().Format(time.RFC3339))
	}
	return user, hmacPassword(secret, username), nil
}
