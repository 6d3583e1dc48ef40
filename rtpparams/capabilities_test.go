package rtpparams

import "testing"

func TestTransportCCIsOfferedWithItsExtension(t *testing.T) {
	exts := append(DefaultHeaderExtensions(), TransportCCHeaderExtensions()...)
	caps, err := NewRoomCapabilities(DefaultMediaCodecs(), exts)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range caps.Codecs {
		has := false
		for _, fb := range c.RTCPFeedback {
			has = has || fb.Type == "transport-cc"
		}
		if has == (c.Name == "rtx") {
			t.Fatalf("%s transport-cc feedback = %v", c.Name, has)
		}
	}
	plain, _ := NewRoomCapabilities(DefaultMediaCodecs(), DefaultHeaderExtensions())
	for _, c := range plain.Codecs {
		for _, fb := range c.RTCPFeedback {
			if fb.Type == "transport-cc" {
				t.Fatalf("%s offers transport-cc without the extension", c.Name)
			}
		}
	}
}
