package rtpparams

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Limits of the structural checks (docs/validation.md). They sit far
// above what mediasoup-client 2.4.12 sends from any browser.
const (
	MaxTextLength      = 256  // names, MIME types, URIs, muxId, parameter names
	MaxParameterLength = 1024 // a string value of codec parameters
	MaxCNAMELength     = 255  // an RTCP SDES item holds at most 255 bytes
	MaxListLength      = 64   // codecs, header extensions, feedback, parameters, fec mechanisms
	MaxEncodings       = 16
	MaxChannels        = 8 // 7.1 surround, the most a browser sends
	MaxPayloadType     = 127
	MaxHeaderExtID     = 255 // RFC 8285 two-byte header
	MaxClockRate       = 1<<32 - 1
)

// FieldError is a structural problem of one field of RTP parameters or
// capabilities. Error() is "field: problem", e.g.
// "rtpParameters.codecs[1].payloadType: duplicated payload type 100".
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, a...)}
}

// Clip shortens s for an error message: at most 32 bytes, quoted.
func Clip(s string) string {
	if len(s) > 32 {
		s = s[:32] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// CheckText reports what is wrong with a free text field (peerName, cname,
// parameter values): longer than limit bytes or holding a control
// character. "" means nothing is wrong.
func CheckText(s string, limit int) string {
	if len(s) > limit {
		return fmt.Sprintf("too long (%d bytes, limit %d)", len(s), limit)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("control character U+%04X", r)
		}
	}
	return ""
}

// isToken reports whether s is an RFC 4566 token (the characters of
// rtcp-fb types, MIDs and fec mechanisms).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// isMIMEName reports whether s is an RFC 6838 restricted-name (a codec
// name such as "opus", "H264", "telephone-event").
func isMIMEName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || strings.IndexByte("!#$&-^_.+", c) < 0) {
			return false
		}
	}
	return true
}

// isURI reports whether s can be a header extension URI: printable ASCII
// without spaces.
func isURI(s string) bool {
	if s == "" || len(s) > MaxTextLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// codec is what the codec checks need of a CodecCapability or a
// CodecParameters.
type codec struct {
	kind, name, mimeType string
	pt, clockRate        int
	channels             int
	feedback             []RTCPFeedback
	params               map[string]any
}

// checkCodec checks one codec at path f ("rtpParameters.codecs[1]");
// ptKey names its payload type field. kind, when given, must match.
func checkCodec(f, ptKey string, c codec) error {
	if !isMIMEName(c.name) {
		return fieldErr(f+".name", "invalid codec name %s", Clip(c.name))
	}
	typ, sub, ok := strings.Cut(c.mimeType, "/")
	typ = strings.ToLower(typ)
	if !ok || (typ != KindAudio && typ != KindVideo) || !strings.EqualFold(sub, c.name) {
		return fieldErr(f+".mimeType", "%s is not \"audio/%s\" or \"video/%s\"", Clip(c.mimeType), c.name, c.name)
	}
	if c.kind != "" && c.kind != typ {
		return fieldErr(f+".mimeType", "%s does not match kind %s", Clip(c.mimeType), Clip(c.kind))
	}
	if c.pt < 0 || c.pt > MaxPayloadType {
		return fieldErr(f+"."+ptKey, "payload type %d out of range 0..127", c.pt)
	}
	if c.clockRate <= 0 || c.clockRate > MaxClockRate {
		return fieldErr(f+".clockRate", "clock rate %d out of range 1..4294967295", c.clockRate)
	}
	if typ == KindVideo && c.channels != 0 {
		return fieldErr(f+".channels", "a video codec has no channels")
	}
	if c.channels < 0 || c.channels > MaxChannels {
		return fieldErr(f+".channels", "%d channels out of range 1..%d", c.channels, MaxChannels)
	}
	if len(c.feedback) > MaxListLength {
		return fieldErr(f+".rtcpFeedback", "%d entries, limit %d", len(c.feedback), MaxListLength)
	}
	for i, fb := range c.feedback {
		if !isToken(fb.Type) || len(fb.Type) > 64 {
			return fieldErr(fmt.Sprintf("%s.rtcpFeedback[%d].type", f, i), "invalid feedback type %s", Clip(fb.Type))
		}
		if fb.Parameter != "" && (!isToken(fb.Parameter) || len(fb.Parameter) > 64) {
			return fieldErr(fmt.Sprintf("%s.rtcpFeedback[%d].parameter", f, i), "invalid feedback parameter %s", Clip(fb.Parameter))
		}
	}
	if err := checkParameterMap(f+".parameters", c.params); err != nil {
		return err
	}
	if strings.EqualFold(c.name, "rtx") {
		apt, ok := number(c.params["apt"])
		if !ok {
			return fieldErr(f+".parameters.apt", "missing apt in RTX codec")
		}
		if apt < 0 || apt > MaxPayloadType || apt != math.Trunc(apt) {
			return fieldErr(f+".parameters.apt", "apt %v out of range 0..127", apt)
		}
	}
	return nil
}

// checkParameterMap checks the parameters object at field f (a codec's or
// a header extension's): at most MaxListLength entries named by tokens,
// each a string of at most MaxParameterLength bytes without control
// characters, or a number; an integral number must fit a 32-bit signed
// integer, as mediasoup's worker stores it (a fraction stays a double).
func checkParameterMap(f string, params map[string]any) error {
	if len(params) > MaxListLength {
		return fieldErr(f, "%d parameters, limit %d", len(params), MaxListLength)
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := params[k]
		if k == "" || len(k) > MaxTextLength || !isToken(k) {
			return fieldErr(f, "invalid parameter name %s", Clip(k))
		}
		if str, ok := v.(string); ok {
			if p := CheckText(str, MaxParameterLength); p != "" {
				return fieldErr(f+"."+k, "%s", p)
			}
			continue
		}
		n, ok := number(v)
		if !ok {
			return fieldErr(f+"."+k, "must be a string or a number")
		}
		if n == math.Trunc(n) && (n < math.MinInt32 || n > math.MaxInt32) {
			return fieldErr(f+"."+k, "%s out of range of a 32-bit integer (%d..%d)",
				strconv.FormatFloat(n, 'f', -1, 64), math.MinInt32, math.MaxInt32)
		}
	}
	return nil
}

// checkCodecList checks the payload types of a codec list are unique and
// that each RTX codec's apt names a media codec of the list with its
// clock rate (aptRequired: a dangling apt is an error).
func checkCodecList(f, ptKey string, cs []codec, aptRequired bool) error {
	byPT := map[int]int{}
	for i, c := range cs {
		if j, dup := byPT[c.pt]; dup {
			return fieldErr(fmt.Sprintf("%s[%d].%s", f, i, ptKey), "duplicated payload type %d (also codecs[%d])", c.pt, j)
		}
		byPT[c.pt] = i
	}
	for i, c := range cs {
		if !strings.EqualFold(c.name, "rtx") {
			continue
		}
		apt, _ := number(c.params["apt"])
		j, ok := byPT[int(apt)]
		if !ok || strings.EqualFold(cs[j].name, "rtx") {
			if !aptRequired {
				continue
			}
			return fieldErr(fmt.Sprintf("%s[%d].parameters.apt", f, i), "apt %d names no media codec (no RTX codec found for it)", int(apt))
		}
		if cs[j].clockRate != c.clockRate {
			return fieldErr(fmt.Sprintf("%s[%d].clockRate", f, i), "RTX clock rate %d differs from its media codec's %d", c.clockRate, cs[j].clockRate)
		}
	}
	return nil
}
