package protocol

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/gosoup/gosoup/rtpparams"
)

// MaxPeerNameLength is the longest peerName accepted, in bytes (the
// signaling server refuses longer names in the URL too).
const MaxPeerNameLength = 256

// MaxFingerprints is the most DTLS fingerprints accepted in one
// dtlsParameters (a browser sends one).
const MaxFingerprints = 8

// fingerprintSizes are the digest sizes, in bytes, of the DTLS fingerprint
// algorithms mediasoup knows.
var fingerprintSizes = map[string]int{"sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64}

// dtlsRoles are the DTLS roles a client may announce.
var dtlsRoles = map[string]bool{"auto": true, "client": true, "server": true}

// transportOptionKeys are the createTransport options gosoup reads; each
// must be a boolean when present.
var transportOptionKeys = []string{"udp", "tcp", "preferUdp", "preferTcp", "preferIPv4", "preferIPv6"}

// fieldError turns a structural error of package rtpparams into the
// TypeError the client gets, e.g. "TypeError:
// rtpCapabilities.codecs[0].clockRate: clock rate 0 out of range
// 1..4294967295".
func fieldError(err error) error {
	if err == nil {
		return nil
	}
	return NewTypeError("%s", err.Error())
}

// checkPeerName checks join's peerName: a non-empty string of at most
// MaxPeerNameLength bytes without control characters.
func checkPeerName(name string) error {
	if name == "" {
		return NewTypeError("peerName must be a string")
	}
	if p := rtpparams.CheckText(name, MaxPeerNameLength); p != "" {
		return NewTypeError("peerName: %s", p)
	}
	return nil
}

// checkKind checks createProducer's kind: "audio" or "video".
func checkKind(kind string) error {
	if kind != rtpparams.KindAudio && kind != rtpparams.KindVideo {
		if p := rtpparams.CheckText(kind, 32); p != "" {
			return NewTypeError("unsupported kind: %s", rtpparams.Clip(kind))
		}
		return NewTypeError("unsupported kind: %s", kind)
	}
	return nil
}

// checkTransportOptions checks the createTransport options gosoup reads:
// each of transportOptionKeys, when present and not null, is a boolean.
// Other keys are the application's and are ignored.
func checkTransportOptions(raw json.RawMessage) error {
	var o map[string]json.RawMessage
	if err := json.Unmarshal(raw, &o); err != nil {
		return NewTypeError("options must be an object")
	}
	for _, k := range transportOptionKeys {
		v, ok := o[k]
		if !ok || string(v) == "null" {
			continue
		}
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return NewTypeError("options.%s must be a boolean", k)
		}
	}
	return nil
}

// CheckDtlsParameters checks the client's DTLS parameters at field (e.g.
// "dtlsParameters"): role "auto", "client" or "server"; one to
// MaxFingerprints fingerprints, each with an algorithm of sha-1, sha-224,
// sha-256, sha-384 or sha-512 (any case) and a value of that digest's
// length in colon-separated hex bytes. The error is a TypeError naming
// the field, e.g. "TypeError: dtlsParameters.fingerprints[0].value: not a
// sha-256 fingerprint (32 hex bytes separated by colons)".
func CheckDtlsParameters(field string, d *DtlsParameters) error {
	if d == nil {
		return NewTypeError("missing %s", field)
	}
	if d.Role == "" {
		return NewTypeError("%s.role: missing", field)
	}
	if !dtlsRoles[d.Role] {
		return NewTypeError(`%s.role: %s is not "auto", "client" or "server"`, field, rtpparams.Clip(d.Role))
	}
	if len(d.Fingerprints) == 0 {
		return NewTypeError("%s.fingerprints: missing", field)
	}
	if len(d.Fingerprints) > MaxFingerprints {
		return NewTypeError("%s.fingerprints: %d fingerprints, limit %d", field, len(d.Fingerprints), MaxFingerprints)
	}
	for i, fp := range d.Fingerprints {
		f := fmt.Sprintf("%s.fingerprints[%d]", field, i)
		alg := strings.ToLower(fp.Algorithm)
		size, ok := fingerprintSizes[alg]
		if !ok {
			return NewTypeError("%s.algorithm: unknown algorithm %s (sha-1, sha-224, sha-256, sha-384 or sha-512)", f, rtpparams.Clip(fp.Algorithm))
		}
		if !isFingerprint(fp.Value, size) {
			return NewTypeError("%s.value: not a %s fingerprint (%d hex bytes separated by colons)", f, alg, size)
		}
	}
	return nil
}

// isFingerprint reports whether v is size bytes written as two hex digits
// each, separated by colons ("3A:9F:...").
func isFingerprint(v string, size int) bool {
	if len(v) != 3*size-1 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// checkPlainRtpParameters checks plainRtpParameters at field: ip an IPv4
// or IPv6 address and port 1 to 65535, or both left out (comedia learns
// the remote, or updateTransport gives it later, as mediasoup 2.6.19
// allows), rtcpPort 0 or a port, localIP empty or an address.
func checkPlainRtpParameters(field string, p *PlainRtpParameters) error {
	if p.IP != "" || p.Port != 0 {
		if _, err := netip.ParseAddr(p.IP); err != nil {
			return NewTypeError("%s.ip: %s is not an IP address", field, rtpparams.Clip(p.IP))
		}
		if p.Port < 1 || p.Port > 65535 {
			return NewTypeError("%s.port: %d out of range 1..65535", field, p.Port)
		}
	}
	if p.RTCPPort < 0 || p.RTCPPort > 65535 {
		return NewTypeError("%s.rtcpPort: %d out of range 1..65535", field, p.RTCPPort)
	}
	if p.LocalIP != "" {
		if _, err := netip.ParseAddr(p.LocalIP); err != nil {
			return NewTypeError("%s.localIP: %s is not an IP address", field, rtpparams.Clip(p.LocalIP))
		}
	}
	return nil
}

// checkRTPCapabilities checks join's rtpCapabilities structurally
// (rtpparams.CheckCapabilities).
func checkRTPCapabilities(c rtpparams.Capabilities) error {
	return fieldError(rtpparams.CheckCapabilities(c))
}

// checkRTPParameters checks updateProducer's rtpParameters structurally
// (rtpparams.CheckParameters). createProducer's go through
// rtpparams.MapProducer, which runs the same checks after the transport
// is found.
func checkRTPParameters(p rtpparams.Parameters) error {
	return fieldError(rtpparams.CheckParameters(p))
}
