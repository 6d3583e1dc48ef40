package protocol

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gosoup/gosoup/internal/tracetest"
	"github.com/gosoup/gosoup/rtpparams"
)

// browserTraces loads the traces of testdata/traces: what mediasoup-client
// 2.4.12 sent from Chromium and Firefox to gosoup (recorded with the
// harness page's trace(), lines of tracetest.Entry plus the browser), for
// the client messages and the queryRoom responses.
func browserTraces(t *testing.T) map[string][]tracetest.Entry {
	t.Helper()
	files, err := filepath.Glob("testdata/traces/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no browser traces: %v", err)
	}
	out := map[string][]tracetest.Entry{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e tracetest.Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			out[name] = append(out[name], e)
		}
		f.Close()
	}
	return out
}

// TestTracesPassValidation runs every client message that
// mediasoup-client 2.4.12 sent in the recorded traces (the mediasoup
// 2.6.19 reference traces and the browser traces of testdata/traces)
// through every check gosoup makes before acting on it: DecodeMessage,
// DecodeRequest or DecodeNotification, ValidatePeerCapabilities for join,
// MapProducer for createProducer, CheckDtlsParameters for updateTransport.
// None may fail.
func TestTracesPassValidation(t *testing.T) {
	all := browserTraces(t)
	for _, name := range tracetest.Names {
		es, err := tracetest.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		all[name] = es
	}
	seen := map[string]int{}
	for name, es := range all {
		rooms := map[string]rtpparams.Capabilities{} // by page
		for i, e := range es {
			if e.Dir == "in" && e.Type == "response" && e.Method == "queryRoom" {
				var r struct {
					RTPCapabilities rtpparams.Capabilities `json:"rtpCapabilities"`
				}
				if err := json.Unmarshal(e.Data, &r); err != nil {
					t.Fatalf("%s #%d: %v", name, i, err)
				}
				rooms[e.Page] = r.RTPCapabilities
				continue
			}
			if e.Dir != "out" {
				continue
			}
			seen[e.Type+" "+e.Method]++
			if err := validateTraceEntry(e, rooms[e.Page]); err != nil {
				t.Errorf("%s #%d (%s %s %s): %v", name, i, e.Page, e.Type, e.Method, err)
			}
		}
	}
	for _, m := range []string{"request queryRoom", "request join", "request createTransport", "request restartTransport",
		"request createProducer", "request enableConsumer", "notification updateTransport", "notification setConsumerPreferredProfile",
		"notification enableTransportStats", "notification enableProducerStats", "notification enableConsumerStats",
		"notification disableProducerStats", "notification pauseProducer", "notification resumeProducer",
		"notification closeProducer", "notification leave"} {
		if seen[m] == 0 {
			t.Errorf("no %s in the traces", m)
		}
	}
	t.Logf("%d traces, messages checked: %v", len(all), seen)
}

func validateTraceEntry(e tracetest.Entry, room rtpparams.Capabilities) error {
	m, err := DecodeMessage(e.Data)
	if err != nil {
		return err
	}
	var v any
	if e.Type == "request" {
		v, err = DecodeRequest(m)
	} else {
		v, err = DecodeNotification(m)
	}
	if err != nil {
		return err
	}
	switch v := v.(type) {
	case *JoinRequest:
		return rtpparams.ValidatePeerCapabilities(v.RTPCapabilities, room)
	case *CreateProducerRequest:
		_, err := rtpparams.MapProducer(v.Kind, v.RTPParameters, room)
		return err
	case *UpdateTransportNotification:
		return CheckDtlsParameters("dtlsParameters", v.DtlsParameters)
	}
	return nil
}
