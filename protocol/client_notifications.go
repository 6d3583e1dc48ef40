package protocol

import (
	"encoding/json"

	"github.com/gosoup/gosoup/rtpparams"
)

// ClientNotification holds the envelope of a client notification.
type ClientNotification struct {
	Method       string `json:"method"`
	Target       string `json:"target"`
	Notification bool   `json:"notification"`
}

// LeaveNotification: the client leaves the room.
type LeaveNotification struct {
	ClientNotification
	AppData json.RawMessage `json:"appData,omitempty"`
}

// UpdateTransportNotification gives a receive transport's DTLS parameters.
type UpdateTransportNotification struct {
	ClientNotification
	ID                 uint32              `json:"id"`
	DtlsParameters     *DtlsParameters     `json:"dtlsParameters,omitempty"`
	PlainRtpParameters *PlainRtpParameters `json:"plainRtpParameters,omitempty"`
}

// IDNotification is a client notification about one object, with optional
// appData: closeTransport, pause/resume/closeProducer, pause/resumeConsumer
// and the disable*Stats ones.
type IDNotification struct {
	ClientNotification
	ID      uint32          `json:"id"`
	AppData json.RawMessage `json:"appData,omitempty"`
}

// StatsNotification enables periodic stats of one object.
type StatsNotification struct {
	ClientNotification
	ID       uint32 `json:"id"`
	Interval int    `json:"interval"`
}

// The client notifications about one object.
type (
	// CloseTransportNotification closes a transport.
	CloseTransportNotification struct{ IDNotification }
	// PauseProducerNotification pauses a producer.
	PauseProducerNotification struct{ IDNotification }
	// ResumeProducerNotification resumes a producer.
	ResumeProducerNotification struct{ IDNotification }
	// CloseProducerNotification closes a producer.
	CloseProducerNotification struct{ IDNotification }
	// PauseConsumerNotification pauses a consumer.
	PauseConsumerNotification struct{ IDNotification }
	// ResumeConsumerNotification resumes a consumer.
	ResumeConsumerNotification struct{ IDNotification }
	// DisableTransportStatsNotification stops transport stats.
	DisableTransportStatsNotification struct{ IDNotification }
	// DisableProducerStatsNotification stops producer stats.
	DisableProducerStatsNotification struct{ IDNotification }
	// DisableConsumerStatsNotification stops consumer stats.
	DisableConsumerStatsNotification struct{ IDNotification }
	// EnableTransportStatsNotification starts transport stats.
	EnableTransportStatsNotification struct{ StatsNotification }
	// EnableProducerStatsNotification starts producer stats.
	EnableProducerStatsNotification struct{ StatsNotification }
	// EnableConsumerStatsNotification starts consumer stats.
	EnableConsumerStatsNotification struct{ StatsNotification }
)

// UpdateProducerNotification gives new RTP parameters (Plan-B clients).
type UpdateProducerNotification struct {
	ClientNotification
	ID            uint32               `json:"id"`
	RTPParameters rtpparams.Parameters `json:"rtpParameters"`
}

// SetConsumerPreferredProfileNotification sets a consumer's preferred
// simulcast profile.
type SetConsumerPreferredProfileNotification struct {
	ClientNotification
	ID      uint32 `json:"id"`
	Profile string `json:"profile"`
}

// DecodeNotification decodes m into the typed client notification for
// m.Method.
func DecodeNotification(m *Message) (any, error) {
	if !m.Notification {
		return nil, NewError("%q is not a notification", m.Method)
	}
	if err := m.checkTarget(); err != nil {
		return nil, err
	}
	f := m.fields()
	env := ClientNotification{Method: m.Method, Target: m.Target, Notification: true}
	idn := func() (IDNotification, error) {
		id, err := f.id("id")
		return IDNotification{ClientNotification: env, ID: id, AppData: f.appData()}, err
	}
	stats := func() (StatsNotification, error) {
		id, err := f.id("id")
		if err != nil {
			return StatsNotification{}, err
		}
		n := StatsNotification{ClientNotification: env, ID: id, Interval: 1000}
		if raw, ok := f["interval"]; ok && string(raw) != "null" {
			var v float64
			if json.Unmarshal(raw, &v) != nil || v < 0 || v > 1<<31-1 {
				return n, NewTypeError("interval must be a number of milliseconds")
			}
			n.Interval = int(v)
		}
		return n, nil
	}
	switch m.Method {
	case "leave":
		return &LeaveNotification{ClientNotification: env, AppData: f.appData()}, nil
	case "updateTransport":
		id, err := f.id("id")
		if err != nil {
			return nil, err
		}
		n := &UpdateTransportNotification{ClientNotification: env, ID: id}
		var d DtlsParameters
		if ok, err := f.object("dtlsParameters", &d, false); err != nil {
			return nil, err
		} else if ok {
			n.DtlsParameters = &d
		}
		var pr PlainRtpParameters
		if ok, err := f.object("plainRtpParameters", &pr, false); err != nil {
			return nil, err
		} else if ok {
			if err := checkPlainRtpParameters("plainRtpParameters", &pr); err != nil {
				return nil, err
			}
			n.PlainRtpParameters = &pr
		}
		return n, nil
	case "updateProducer":
		id, err := f.id("id")
		if err != nil {
			return nil, err
		}
		n := &UpdateProducerNotification{ClientNotification: env, ID: id}
		if _, err := f.object("rtpParameters", &n.RTPParameters, true); err != nil {
			return nil, err
		}
		if err := checkRTPParameters(n.RTPParameters); err != nil {
			return nil, err
		}
		return n, nil
	case "setConsumerPreferredProfile":
		id, err := f.id("id")
		if err != nil {
			return nil, err
		}
		p, err := f.str("profile", true)
		if err != nil {
			return nil, err
		}
		if !preferredProfiles[p] {
			return nil, NewTypeError("invalid profile %s", rtpparams.Clip(p))
		}
		return &SetConsumerPreferredProfileNotification{ClientNotification: env, ID: id, Profile: p}, nil
	case "enableTransportStats", "enableProducerStats", "enableConsumerStats":
		s, err := stats()
		if err != nil {
			return nil, err
		}
		switch m.Method {
		case "enableTransportStats":
			return &EnableTransportStatsNotification{s}, nil
		case "enableProducerStats":
			return &EnableProducerStatsNotification{s}, nil
		}
		return &EnableConsumerStatsNotification{s}, nil
	}
	ctors := map[string]func(IDNotification) any{
		"closeTransport":        func(n IDNotification) any { return &CloseTransportNotification{n} },
		"pauseProducer":         func(n IDNotification) any { return &PauseProducerNotification{n} },
		"resumeProducer":        func(n IDNotification) any { return &ResumeProducerNotification{n} },
		"closeProducer":         func(n IDNotification) any { return &CloseProducerNotification{n} },
		"pauseConsumer":         func(n IDNotification) any { return &PauseConsumerNotification{n} },
		"resumeConsumer":        func(n IDNotification) any { return &ResumeConsumerNotification{n} },
		"disableTransportStats": func(n IDNotification) any { return &DisableTransportStatsNotification{n} },
		"disableProducerStats":  func(n IDNotification) any { return &DisableProducerStatsNotification{n} },
		"disableConsumerStats":  func(n IDNotification) any { return &DisableConsumerStatsNotification{n} },
	}
	if ctor, ok := ctors[m.Method]; ok {
		n, err := idn()
		if err != nil {
			return nil, err
		}
		return ctor(n), nil
	}
	return nil, NewError("unknown notification method %s", rtpparams.Clip(m.Method))
}
