package rtpparams

import (
	"fmt"
	"strings"
)

// MediaCodecsFor returns room codecs for a comma-separated list of video
// codec names (vp8, vp9, h264), after opus, in that order of preference.
func MediaCodecsFor(video string) ([]MediaCodec, error) {
	def := DefaultMediaCodecs()
	out := []MediaCodec{def[0]}
	for _, name := range strings.Split(strings.ToLower(video), ",") {
		switch strings.TrimSpace(name) {
		case "vp8":
			out = append(out, def[1])
		case "vp9":
			out = append(out, MediaCodec{Kind: KindVideo, Name: "VP9", MimeType: "video/VP9", ClockRate: 90000, Parameters: map[string]any{"profile-id": 0}})
		case "h264":
			out = append(out, def[2])
		case "":
		default:
			return nil, fmt.Errorf("unknown video codec %q (vp8, vp9, h264)", name)
		}
	}
	return out, nil
}
