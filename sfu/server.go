// Package sfu is gosoup's public Go API: a Go-shaped mirror of mediasoup
// v2's Node API. A Server owns the media network and its Rooms; a Room
// holds Peers; a Peer owns Transports, Producers and Consumers. Requests
// and notifications of the mediasoup v2 protocol enter through
// Room.ReceiveRequest, Peer.ReceiveRequest and Peer.ReceiveNotification;
// notifications for a client leave through the Notifier given at join.
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gosoup/gosoup/rtpparams"
	"github.com/gosoup/gosoup/transport"
)

// Config configures a Server. The zero value works: UDP on 0.0.0.0 with a
// random port, candidates announcing 127.0.0.1, the default room codecs
// and the reduced header-extension list.
type Config struct {
	// RTC configures the shared UDP socket for media.
	RTC transport.Config
	// MediaCodecs are the room codecs; default rtpparams.DefaultMediaCodecs().
	MediaCodecs []rtpparams.MediaCodec
	// HeaderExtensions are the room header extensions; default
	// rtpparams.DefaultHeaderExtensions() (use FullHeaderExtensions for
	// mediasoup 2.6.19's list).
	HeaderExtensions []rtpparams.HeaderExtensionCapability
	// Logger receives logs; default slog.Default().
	Logger *slog.Logger
	// Limits bound what one client can create; zero fields take defaults.
	Limits Limits
	// MaxIncomingBitrate caps what a client may send on each send
	// transport (bits per second, REMB); 0: no cap. Transport.SetMaxBitrate
	// changes it per transport, as mediasoup's setMaxBitrate.
	MaxIncomingBitrate uint32
	// NoRetransmission turns NACK handling off (no retransmission buffer,
	// no NACKs to senders), for comparisons.
	NoRetransmission bool
	// AudioSlots, when above 0, gives every room that many audio slots
	// (Room.EnableAudioSlots, docs/protocol.md "Audio slots"); 0 offers
	// every audio producer, as mediasoup.
	AudioSlots int
	// RoomAudioSlots, if set, gives the number of audio slots of each new
	// room by its id (0: off), instead of AudioSlots.
	RoomAudioSlots func(roomID string) int
	// LastN, when above 0, offers each peer of every room the video of at
	// most that many producers, the most recent speakers'
	// (Room.EnableLastN, docs/protocol.md "Video last-N"); 0 offers every
	// video producer, as mediasoup.
	LastN int
	// RoomLastN, if set, gives the last-N of each new room by its id (0:
	// off), instead of LastN.
	RoomLastN func(roomID string) int
}

// Limits bound rooms and peers so that one client cannot exhaust the
// server. mediasoup has none; gosoup answers a request beyond a limit
// with an error naming it.
type Limits struct {
	PeersPerRoom      int // default 1000
	TransportsPerPeer int // default 8
	ProducersPerPeer  int // default 16
}

func (l Limits) withDefaults() Limits {
	if l.PeersPerRoom <= 0 {
		l.PeersPerRoom = 1000
	}
	if l.TransportsPerPeer <= 0 {
		l.TransportsPerPeer = 8
	}
	if l.ProducersPerPeer <= 0 {
		l.ProducersPerPeer = 16
	}
	return l
}

// Server owns the media network and the rooms.
type Server struct {
	cfg Config
	net *transport.Network
	log *slog.Logger

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool

	started  time.Time
	counters serverCounters
	clock    *reportClock // transports' periodic RTCP work
}

// NewServer opens the media network.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MediaCodecs == nil {
		cfg.MediaCodecs = rtpparams.DefaultMediaCodecs()
	}
	if cfg.HeaderExtensions == nil {
		cfg.HeaderExtensions = rtpparams.DefaultHeaderExtensions()
	}
	if _, err := rtpparams.NewRoomCapabilities(cfg.MediaCodecs, cfg.HeaderExtensions); err != nil {
		return nil, fmt.Errorf("room codecs: %w", err)
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.AudioSlots < 0 || cfg.AudioSlots > maxAudioSlots {
		return nil, fmt.Errorf("audio slots: %d is not in 0..%d", cfg.AudioSlots, maxAudioSlots)
	}
	if cfg.LastN < 0 || cfg.LastN > maxLastN {
		return nil, fmt.Errorf("last-n: %d is not in 0..%d", cfg.LastN, maxLastN)
	}
	if cfg.RTC.Logger == nil {
		cfg.RTC.Logger = cfg.Logger
	}
	n, err := transport.NewNetwork(cfg.RTC)
	if err != nil {
		return nil, fmt.Errorf("open media network: %w", err)
	}
	return &Server{cfg: cfg, net: n, log: cfg.Logger, rooms: map[string]*Room{}, started: time.Now(), clock: newReportClock()}, nil
}

func (s *Server) announcedIP() string { return s.net.AnnouncedIP() }

// AnnouncedIPs returns the addresses put in ICE candidates, in order of
// preference.
func (s *Server) AnnouncedIPs() []string { return s.net.AnnouncedIPs() }

// RTCPort returns the UDP port media flows on.
func (s *Server) RTCPort() int { return s.net.Port() }

// MediaNetwork returns the network of the media port, for a relay in the
// same process that hands it packets without a socket
// (transport.Network.OpenLink).
func (s *Server) MediaNetwork() *transport.Network { return s.net }

// Room returns the open room with this id, creating it with the server's
// codecs if there is none.
func (s *Server) Room(id string) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("server closed")
	}
	if r := s.rooms[id]; r != nil {
		return r, nil
	}
	r, err := s.newRoom(id, s.cfg.MediaCodecs)
	if err != nil {
		return nil, err
	}
	s.rooms[id] = r
	return r, nil
}

// Rooms returns the open rooms.
func (s *Server) Rooms() []*Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

func (s *Server) forgetRoom(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

// Close closes every room and the media network. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := make([]*Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.Close()
	}
	s.clock.close()
	return s.net.Close()
}
