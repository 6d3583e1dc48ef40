package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gosoup/gosoup/auth"
	"github.com/gosoup/gosoup/rtpparams"
)

// config is the server configuration. Every field is a flag, which can
// also be set in the YAML file given by --config (key: the flag name) and
// by a GOSOUP_* environment variable (the flag name upper-cased, '-' as
// '_'). Precedence: flag > environment > file > default.
type config struct {
	configFile string

	listen             string
	web                string
	rtcListenIP        string
	rtcPort            int
	announcedIPs       []string
	announcedIPv6      string
	announcedPort      int
	noTCP              bool
	videoCodecs        string
	noRetransmission   bool
	maxIncomingBitrate int
	maxPeersPerRoom    int
	audioSlots         int
	lastN              int
	transportCC        bool
	fullHeaderExt      bool
	pprof              bool
	logLevel           slog.Level

	tlsCert       string
	tlsKey        string
	tlsSelfSigned bool

	authSecret     string
	authKeys       string
	allowedOrigins []string

	drainTimeout time.Duration

	recordDir string

	limits limitsConfig // per-source limits (config_limits.go)

	cluster clusterConfig // several nodes on one Redis (cluster.go)

	turn turnConfig // built-in TURN server, /ice-servers (turn.go)

	keys *auth.KeySet // loaded from authSecret/authKeys when the server starts
}

// configFlag is the flag naming the YAML configuration file; it is the
// only flag that cannot itself come from the file (GOSOUP_CONFIG sets it).
const configFlag = "config"

// secretKeys are the keys whose values never appear in logs or errors.
var secretKeys = map[string]bool{"auth-secret": true, "cluster-secret": true, "turn-secret": true}

// registerServerFlags defines the server flags on fs and returns the
// configuration they fill, with the defaults set.
func registerServerFlags(fs *flag.FlagSet) *config {
	c := &config{}
	fs.StringVar(&c.configFile, configFlag, "", "YAML configuration `file`; its keys are the flag names (also GOSOUP_CONFIG)")

	fs.Var(checked(&c.listen, "127.0.0.1:3443", checkHostPort), "listen",
		"`host:port` of HTTP(S): the signaling WebSocket, the demo page, /metrics and the health checks")
	fs.StringVar(&c.web, "web", "", "`directory` of the demo page to serve from disk (default: the page embedded in the binary)")
	fs.Var(checked(&c.rtcListenIP, "0.0.0.0", checkIP), "rtc-listen-ip", "`IP` the media UDP socket binds to (:: for IPv4 and IPv6)")
	fs.Var(intRange(&c.rtcPort, 40000, 0, 65535), "rtc-port", "UDP (and ICE-TCP) `port` shared by all transports (0: any free port)")
	fs.Var(list(&c.announcedIPs, checkIP), "announced-ip",
		"`IP` announced in ICE candidates; repeat for several (default: every usable local address)")
	fs.Var(checked(&c.announcedIPv6, "", checkIPv6), "announced-ipv6", "`IPv6` address announced in ICE candidates too (needs --rtc-listen-ip ::)")
	fs.Var(intRange(&c.announcedPort, 0, 0, 65535), "announced-port", "UDP `port` announced in ICE candidates (0: the bound one; for a relay or NAT)")
	fs.BoolVar(&c.noTCP, "no-tcp", false, "disable passive ICE-TCP on the RTC port")
	fs.Var(checked(&c.videoCodecs, "vp8,h264", checkVideoCodecs), "video-codecs", "room video `codecs` in order of preference: vp8, vp9, h264")
	fs.BoolVar(&c.noRetransmission, "no-retransmission", false, "do not answer NACKs nor send them (to measure what retransmission brings)")
	fs.Var(intRange(&c.maxIncomingBitrate, 0, 0, math.MaxUint32), "max-incoming-bitrate",
		"cap, in `bits` per second, of what a client sends on a send transport (REMB); 0: none")
	fs.Var(intRange(&c.maxPeersPerRoom, 1000, 1, math.MaxInt32), "max-peers-per-room", "`peers` per room before join is refused")
	fs.Var(intRange(&c.audioSlots, 0, 0, 16), "audio-slots",
		"offer each peer this many audio `slots` carrying the loudest current speakers instead of one consumer per microphone (0: every microphone, as mediasoup)")
	fs.Var(intRange(&c.lastN, 0, 0, 64), "last-n",
		"offer each peer the video of at most this many `producers`, the most recent speakers' (0: every video, as mediasoup)")
	fs.BoolVar(&c.transportCC, "transport-cc", false,
		"offer transport-wide-cc so senders get transport-cc feedback (breaks video-first sending in current Chrome with mediasoup-client 2.4.12)")
	fs.BoolVar(&c.fullHeaderExt, "full-header-extensions", false,
		"advertise mediasoup 2.6.19's full header-extension list (breaks video-first sending in current Chrome)")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go profiles at /debug/pprof/ on the HTTP address")
	c.logLevel = slog.LevelInfo
	fs.Var((*levelValue)(&c.logLevel), "log-level", "log `level`: debug, info (default), warn or error")

	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate (chain) `file`: serve https and wss (with --tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key `file` of --tls-cert")
	fs.BoolVar(&c.tlsSelfSigned, "tls-self-signed", false,
		"serve https and wss with a generated development certificate (its SHA-256 fingerprint is logged)")

	fs.StringVar(&c.authSecret, "auth-secret", "", "HS256 `secret` (at least 16 bytes) of the join tokens; set: every join needs a token")
	fs.StringVar(&c.authKeys, "auth-keys", "", "`file` of join-token keys, one \"KID SECRET\" per line, the first signs (for rotation)")
	fs.Var(list(&c.allowedOrigins, checkNotEmpty), "allowed-origin",
		"`origin` (scheme://host[:port]) allowed to open the signaling WebSocket; repeat for several (default: any)")

	fs.Var(durationMin(&c.drainTimeout, 60*time.Second, 0), "drain-timeout",
		"on SIGTERM, the longest `duration` to wait for peers to leave before closing their sessions")
	fs.Var(checked(&c.recordDir, "", checkRecordDir), "record-dir",
		"`directory` of the recordings made through the admin API (WebM files); empty: recording is off")
	c.limits.register(fs)
	c.cluster.register(fs)
	c.turn.register(fs)
	return c
}

// validate checks what single values cannot: combinations, and the length
// of the secret (checked here so that no error message carries it).
// Errors name the keys and where their values came from.
func (c *config) validate(src sources) error {
	if c.tlsSelfSigned && (c.tlsCert != "" || c.tlsKey != "") {
		return fmt.Errorf("tls-self-signed (%s) cannot be used with tls-cert/tls-key (%s)",
			src.of("tls-self-signed"), src.of(firstSet(c.tlsCert, "tls-cert", "tls-key")))
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		set := firstSet(c.tlsCert, "tls-cert", "tls-key")
		return fmt.Errorf("%s (%s) needs tls-cert and tls-key together", set, src.of(set))
	}
	if c.authSecret != "" && c.authKeys != "" {
		return fmt.Errorf("auth-secret (%s) and auth-keys (%s): use one of them", src.of("auth-secret"), src.of("auth-keys"))
	}
	if c.authSecret != "" && len(c.authSecret) < auth.MinSecretLen {
		return fmt.Errorf("auth-secret (%s): %d bytes, want at least %d", src.of("auth-secret"), len(c.authSecret), auth.MinSecretLen)
	}
	if err := c.turn.validate(src); err != nil {
		return err
	}
	return c.cluster.validate(src)
}

// firstSet returns a when value is non-empty, else b.
func firstSet(value, a, b string) string {
	if value != "" {
		return a
	}
	return b
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("want host:port: %w", err)
	}
	return nil
}

func checkIP(s string) error {
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Errorf("not an IP address: %w", err)
	}
	return nil
}

func checkIPv6(s string) error {
	if s == "" {
		return nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Is4In6() {
		return errors.New("not an IPv6 address")
	}
	return nil
}

func checkVideoCodecs(s string) error {
	_, err := rtpparams.MediaCodecsFor(s)
	return err
}

func checkNotEmpty(s string) error {
	if s == "" {
		return errors.New("empty")
	}
	return nil
}

// checkedString is a string flag whose values are validated.
type checkedString struct {
	p     *string
	check func(string) error
}

func checked(p *string, def string, check func(string) error) *checkedString {
	*p = def
	return &checkedString{p: p, check: check}
}

func (v *checkedString) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return *v.p
}

func (v *checkedString) Set(s string) error {
	if err := v.check(s); err != nil {
		return err
	}
	*v.p = s
	return nil
}

// intValue is an int flag bounded to [min, max].
type intValue struct {
	p        *int
	min, max int
}

func intRange(p *int, def, lo, hi int) *intValue {
	*p = def
	return &intValue{p: p, min: lo, max: hi}
}

func (v *intValue) String() string {
	if v == nil || v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v *intValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("not an integer")
	}
	if n < v.min || n > v.max {
		return fmt.Errorf("out of range [%d, %d]", v.min, v.max)
	}
	*v.p = n
	return nil
}

// durationValue is a duration flag of at least min.
type durationValue struct {
	p   *time.Duration
	min time.Duration
}

func durationMin(p *time.Duration, def, lo time.Duration) *durationValue {
	*p = def
	return &durationValue{p: p, min: lo}
}

func (v *durationValue) String() string {
	if v == nil || v.p == nil {
		return "0s"
	}
	return v.p.String()
}

func (v *durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration (e.g. 30s, 2m)")
	}
	if d < v.min {
		return fmt.Errorf("below %s", v.min)
	}
	*v.p = d
	return nil
}

// levelValue is a log-level flag.
type levelValue slog.Level

func (v *levelValue) String() string {
	if v == nil {
		return "info"
	}
	return strings.ToLower(slog.Level(*v).String())
}

func (v *levelValue) Set(s string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return errors.New("want debug, info, warn or error")
	}
	*v = levelValue(l)
	return nil
}

// listValue is a repeatable flag. On the command line each use adds
// values (a comma-separated value adds several); a file or environment
// value replaces the list, and the first command-line use after reset
// replaces it too, so that a source of higher precedence overrides a
// list rather than extending it.
type listValue struct {
	p     *[]string
	check func(string) error
	fresh bool // the next Set replaces the list
}

func list(p *[]string, check func(string) error) *listValue {
	return &listValue{p: p, check: check}
}

func (v *listValue) String() string {
	if v == nil || v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v *listValue) Set(s string) error {
	items := splitList(s)
	for _, it := range items {
		if err := v.check(it); err != nil {
			return fmt.Errorf("%q: %w", it, err)
		}
	}
	if v.fresh {
		*v.p = nil
		v.fresh = false
	}
	*v.p = append(*v.p, items...)
	return nil
}

// replace sets the whole list, validating each value.
func (v *listValue) replace(items []string) error {
	var out []string
	for _, s := range items {
		for _, it := range splitList(s) {
			if err := v.check(it); err != nil {
				return fmt.Errorf("%q: %w", it, err)
			}
			out = append(out, it)
		}
	}
	*v.p = out
	return nil
}

// reset makes the next Set replace the list.
func (v *listValue) reset() { v.fresh = true }

// splitList splits a comma-separated value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, it := range strings.Split(s, ",") {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
