package main

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFile writes a file in a test directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// load runs the server configuration loading.
func load(t *testing.T, args, environ []string) (*config, *loader, error) {
	t.Helper()
	return loadServerConfig(args, environ, io.Discard)
}

func TestConfigDefaults(t *testing.T) {
	c, ld, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.listen != "127.0.0.1:3443" || c.rtcPort != 40000 || c.web != "" || c.announcedIPs != nil ||
		c.drainTimeout != 60*time.Second || c.logLevel != slog.LevelInfo || c.maxPeersPerRoom != 1000 || c.videoCodecs != "vp8,h264" {
		t.Fatalf("defaults: %+v", c)
	}
	if got := ld.sources.of("rtc-port"); got != "default" {
		t.Fatalf("source of rtc-port = %q", got)
	}
}

func TestConfigPrecedence(t *testing.T) {
	file := writeFile(t, "gosoup.yaml", `
# every source sets rtc-port; the file alone sets no-tcp and drain-timeout
rtc-port: 41000
announced-ip: [192.0.2.1, 192.0.2.2]
allowed-origin: https://file.example
no-tcp: true
drain-timeout: 90s
log-level: debug
max-peers-per-room: 50
`)
	env := []string{"GOSOUP_CONFIG=" + file, "GOSOUP_RTC_PORT=42000", "GOSOUP_ANNOUNCED_IP=192.0.2.3, 192.0.2.4",
		"GOSOUP_LOG_LEVEL=warn", "HOME=/root", "GOSOUPX=1"}

	c, ld, err := load(t, nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.rtcPort != 42000 || !slices.Equal(c.announcedIPs, []string{"192.0.2.3", "192.0.2.4"}) || c.logLevel != slog.LevelWarn {
		t.Fatalf("env over file: port %d ips %v level %v", c.rtcPort, c.announcedIPs, c.logLevel)
	}
	if !c.noTCP || c.drainTimeout != 90*time.Second || c.maxPeersPerRoom != 50 ||
		!slices.Equal(c.allowedOrigins, []string{"https://file.example"}) {
		t.Fatalf("file values: %+v", c)
	}
	if got := ld.sources.of("rtc-port"); got != "environment GOSOUP_RTC_PORT" {
		t.Fatalf("source of rtc-port = %q", got)
	}
	if got := ld.sources.of("no-tcp"); !strings.HasPrefix(got, "file "+file+" line ") {
		t.Fatalf("source of no-tcp = %q", got)
	}

	c, ld, err = load(t, []string{"--rtc-port", "43000", "--announced-ip", "192.0.2.5", "--announced-ip=192.0.2.6",
		"--log-level", "error", "--no-tcp=false"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.rtcPort != 43000 || !slices.Equal(c.announcedIPs, []string{"192.0.2.5", "192.0.2.6"}) || c.logLevel != slog.LevelError || c.noTCP {
		t.Fatalf("flag over env: port %d ips %v level %v noTCP %v", c.rtcPort, c.announcedIPs, c.logLevel, c.noTCP)
	}
	if got := ld.sources.of("announced-ip"); got != "flag --announced-ip" {
		t.Fatalf("source of announced-ip = %q", got)
	}
	if c.drainTimeout != 90*time.Second {
		t.Fatalf("file value lost: %v", c.drainTimeout)
	}

	// --config on the command line wins over GOSOUP_CONFIG.
	other := writeFile(t, "other.yaml", "rtc-port: 44000\n")
	c, _, err = load(t, []string{"--config", other}, []string{"GOSOUP_CONFIG=" + file})
	if err != nil {
		t.Fatal(err)
	}
	if c.rtcPort != 44000 || c.noTCP {
		t.Fatalf("--config: port %d noTCP %v", c.rtcPort, c.noTCP)
	}
}

func TestConfigFileForms(t *testing.T) {
	for _, text := range []string{"", "# only a comment\n", "---\n"} {
		if _, _, err := load(t, []string{"--config", writeFile(t, "c.yaml", text)}, nil); err != nil {
			t.Errorf("file %q: %v", text, err)
		}
	}
	c, _, err := load(t, []string{"--config", writeFile(t, "c.yaml", "announced-ip: 192.0.2.9\nweb:\n")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.announcedIPs, []string{"192.0.2.9"}) || c.web != "" {
		t.Fatalf("scalar list: %v web %q", c.announcedIPs, c.web)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := []struct {
		name    string
		file    string
		args    []string
		env     []string
		wantAll []string
	}{
		{name: "unknown file key", file: "rtc-port: 1\nrtc-prot: 2\n", wantAll: []string{"line 2", `unknown key "rtc-prot"`}},
		{name: "config key in file", file: "config: x.yaml\n", wantAll: []string{`unknown key "config"`}},
		{name: "repeated file key", file: "rtc-port: 1\nrtc-port: 2\n", wantAll: []string{"line 2", "repeated"}},
		{name: "not a mapping", file: "- a\n- b\n", wantAll: []string{"want a mapping"}},
		{name: "list for a single value", file: "rtc-port: [1, 2]\n", wantAll: []string{"rtc-port", "want one value"}},
		{name: "bad file value", file: "log-level: info\nrtc-port: lots\n", wantAll: []string{"line 2", "rtc-port", `"lots"`, "not an integer"}},
		{name: "bad file list item", file: "announced-ip: [192.0.2.1, nope]\n", wantAll: []string{"line 1", "announced-ip", `"nope"`}},
		{name: "bad file value overridden", file: "rtc-port: lots\n", args: []string{"--rtc-port", "1"}, wantAll: []string{"rtc-port", "lots"}},
		{name: "unknown env", env: []string{"GOSOUP_RTC_PROT=1"}, wantAll: []string{"GOSOUP_RTC_PROT", "unknown"}},
		{name: "bad env value", env: []string{"GOSOUP_DRAIN_TIMEOUT=soon"}, wantAll: []string{"environment GOSOUP_DRAIN_TIMEOUT", "drain-timeout", "soon"}},
		{name: "bad env bool", env: []string{"GOSOUP_NO_TCP=maybe"}, wantAll: []string{"GOSOUP_NO_TCP", "no-tcp"}},
		{name: "port out of range", env: []string{"GOSOUP_RTC_PORT=70000"}, wantAll: []string{"GOSOUP_RTC_PORT", "out of range"}},
		{name: "bad flag value", args: []string{"--video-codecs", "av1"}, wantAll: []string{"video-codecs", "av1"}},
		{name: "bad log level", args: []string{"--log-level", "loud"}, wantAll: []string{"log-level", "loud"}},
		{name: "missing file", args: []string{"--config", "/nonexistent/gosoup.yaml"}, wantAll: []string{"config file", "/nonexistent/gosoup.yaml"}},
		{name: "tls both", args: []string{"--tls-self-signed", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, wantAll: []string{"tls-self-signed", "flag --tls-cert"}},
		{name: "tls cert alone", env: []string{"GOSOUP_TLS_CERT=c.pem"}, wantAll: []string{"tls-cert", "environment GOSOUP_TLS_CERT", "together"}},
		{name: "secret and key file", args: []string{"--auth-secret", "0123456789abcdef", "--auth-keys", "k"}, wantAll: []string{"auth-secret", "auth-keys"}},
		{name: "short secret", file: "auth-secret: tooshort\n", wantAll: []string{"auth-secret", "line 1", "8 bytes"}},
		{name: "cluster ttl too short", env: []string{"GOSOUP_CLUSTER_TTL=1s"}, wantAll: []string{"GOSOUP_CLUSTER_TTL", "cluster-ttl", "below 2s"}},
		{name: "argument", args: []string{"serve"}, wantAll: []string{`unexpected argument "serve"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"--config", writeFile(t, "gosoup.yaml", tc.file)}, args...)
			}
			_, _, err := load(t, args, tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tc.wantAll {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "tooshort") {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestConfigHelp(t *testing.T) {
	var out bytes.Buffer
	_, _, err := loadServerConfig([]string{"--help"}, nil, &out)
	if err != flag.ErrHelp {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"GOSOUP_RTC_PORT", "-announced-ip", "-tls-self-signed", "-drain-timeout"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestConfigLogRedactsSecret(t *testing.T) {
	const secret = "correct-horse-battery-staple"
	_, ld, err := load(t, []string{"--announced-ip", "192.0.2.1"}, []string{"GOSOUP_AUTH_SECRET=" + secret})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ld.logEffective(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})))
	logged := out.String()
	if strings.Contains(logged, secret) {
		t.Fatalf("secret logged: %s", logged)
	}
	for _, want := range []string{"auth-secret=REDACTED", "announced-ip=192.0.2.1", "rtc-port=40000",
		"drain-timeout=1m0s", `auth-secret="environment GOSOUP_AUTH_SECRET"`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %s:\n%s", want, logged)
		}
	}
	if got := strings.Count(logged, "\n"); got != 2 {
		t.Errorf("%d log lines, want 2:\n%s", got, logged)
	}

	// Without a secret nothing is redacted.
	_, ld, _ = load(t, nil, nil)
	out.Reset()
	ld.logEffective(slog.New(slog.NewTextHandler(&out, nil)))
	if !strings.Contains(out.String(), `auth-secret=""`) {
		t.Errorf("empty secret: %s", out.String())
	}
}

// TestExampleConfig checks that gosoup.example.yaml loads, names every key
// and sets the defaults.
func TestExampleConfig(t *testing.T) {
	const example = "../../gosoup.example.yaml"
	text, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	_, withFile, err := load(t, []string{"--config", example}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, defaults, _ := load(t, nil, nil)
	for key := range defaults.keys {
		if !strings.Contains(string(text), "\n"+key+":") {
			t.Errorf("example lacks %s", key)
		}
	}
	a, b := withFile.attrs(), defaults.attrs()
	for i := range a {
		if sa, sb := a[i].(slog.Attr), b[i].(slog.Attr); sa.Key != configFlag && !sa.Equal(sb) {
			t.Errorf("example sets %v, default %v", sa, sb)
		}
	}
}

// TestGCPercentDefault: the server collects at GOGC=50 unless the GOGC
// environment variable says otherwise.
func TestGCPercentDefault(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	applyGCPercent([]string{"HOME=/root"})
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Fatalf("GC percent without GOGC = %d, want %d", got, defaultGCPercent)
	}
	applyGCPercent([]string{"GOGC=200"})
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("GC percent with GOGC set = %d, want it left alone (100)", got)
	}
}
