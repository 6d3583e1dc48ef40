// Package record records every audio and video producer of one peer into
// one file with a track per producer: WebM (Opus, VP8, VP9) or, when the
// peer's video is H264 (Safari), fragmented MP4 (Opus, H264). This is
// gosoup's Room.Record. It lives beside sfu rather
// than in it because it is a client of the SFU like any other: for each
// producer it creates an RtpStreamer toward a UDP socket of its own, and
// acts as a receiving browser would — a jitter buffer reorders, gaps are
// asked for again by RTCP NACK, a key frame is asked for (PLI) at the
// start and after a loss that retransmission could not repair (frames
// are dropped until it comes, so the file decodes cleanly), and the
// streamer's sender reports put the audio and video clocks on one
// wall-clock timeline so that the tracks stay in sync.
//
// The file starts at the first video key frame once every video track
// has one (the audio before it is dropped, so the tracks start together)
// and ends when Stop is called, when the peer's producers close (the peer
// left, or its transport timed out), or when a write fails (a full disk:
// Options.OnError). In every case the file is finalized: a WebM file's
// Duration and Cues (seek index) are written; an MP4 file is written in
// fragments of a few seconds as it goes, so even a crash leaves it
// playable up to its last fragment. H264 with VP8 or VP9 in one peer is
// refused (ErrUnsupportedCodec): they need different containers.
package record

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gosoup/gosoup/sfu"
)

// ErrPeerNotFound is returned when the room has no peer of that name.
var ErrPeerNotFound = errors.New("peer not found")

// ErrNoMedia is returned when the peer has no audio or video producer.
var ErrNoMedia = errors.New("peer has no audio or video producer")

// Options configure a recording.
type Options struct {
	// Dir is the directory of the file, named
	// ROOM-PEER-YYYYMMDDTHHMMSSZ-ID.webm (.mp4 with H264). Required
	// unless Path is set.
	Dir string
	// Path is the file to write instead (created or truncated).
	Path string
	// Via routes one track through a relay (tests: loss between the SFU
	// and the recorder). It gets the kind and the recorder's UDP address
	// for that track and returns the address the streamer sends to; the
	// recorder sends its RTCP there too, so the relay forwards both ways,
	// and accepts datagrams only from there (the relay must send to the
	// recorder from the address it returned).
	Via func(kind string, recorder netip.AddrPort) (netip.AddrPort, error)
	// StartTimeout is how long the file waits for the first video key
	// frame before it starts with the audio alone (default 5 s).
	StartTimeout time.Duration
	// OnError is called once, from a goroutine of the recording, when
	// writing the file fails; the recording then stops.
	OnError func(error)
	// OnStop is called once, from a goroutine of the recording, when the
	// file is finalized, whatever stopped it.
	OnStop func(Result)
	// Logger receives the recording's logs (default slog.Default()).
	Logger *slog.Logger
}

// Result is what a finished recording wrote.
type Result struct {
	// File is the path of the file.
	File string
	// Duration is the span of the file's frames.
	Duration time.Duration
	// Reason says what stopped it: "stopped", "producers closed" or
	// "write error".
	Reason string
	// Err is the error that stopped it, if any.
	Err error
	// Tracks describe each track.
	Tracks []TrackStats
}

// TrackStats describe one recorded track.
type TrackStats struct {
	Kind     string // "audio" or "video"
	Codec    string // MIME type
	Producer uint32 // the producer's id
	// Packets received (retransmissions included), Repaired the missing
	// packets that came after a NACK (as RTX or not), Lost the packets
	// never repaired.
	Packets, Repaired, Lost uint64
	// RTX is how many packets came as RTX (the streamer's consumer has an
	// RTX stream when the producer has one).
	RTX uint64
	// NACKs is how many sequence numbers were asked for again, PLIs how
	// many key-frame requests were sent.
	NACKs, PLIs uint64
	// Frames written to the file; KeyFrames among those assembled;
	// Dropped frames dropped while waiting for a key frame.
	Frames, KeyFrames, Dropped uint64
	// StartOffset is the track's first frame from the file's start.
	StartOffset time.Duration
	// Width and Height are the video size in the file's header.
	Width, Height int
}

// Recording is a running recording of one peer.
type Recording struct {
	id     string
	file   string
	opts   Options
	log    *slog.Logger
	mux    *muxer
	fw     *fileWriter
	tracks []*track

	wg       sync.WaitGroup // the tracks' goroutines
	quit     chan struct{}  // closed when stopping
	done     chan struct{}  // closed once finalized
	stopOnce sync.Once

	mu     sync.Mutex
	ended  int
	result Result
}

// ID returns the recording's id (16 hex digits).
func (r *Recording) ID() string { return r.id }

// File returns the path of the file being written.
func (r *Recording) File() string { return r.file }

// Done is closed once the file is finalized.
func (r *Recording) Done() <-chan struct{} { return r.done }

// Result returns what the recording wrote; complete once Done is closed.
func (r *Recording) Result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result
}

// Stop ends the recording, finalizes the file and returns the result.
// Safe to call more than once and after the recording stopped by itself.
func (r *Recording) Stop() Result {
	r.stop("stopped", nil)
	<-r.done
	return r.Result()
}

// Start records peerName's audio and video (every producer, a track
// each) in room until Stop, the producers' end or a write error. This is
// gosoup's Room.Record.
func Start(room *sfu.Room, peerName string, opts Options) (*Recording, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 5 * time.Second
	}
	peer := room.PeerByName(peerName)
	if peer == nil {
		return nil, fmt.Errorf("record: %w: %q in room %q", ErrPeerNotFound, peerName, room.ID())
	}
	prods, codecs, err := pickProducers(peer)
	if err != nil {
		return nil, err
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	r := &Recording{id: hex.EncodeToString(idb[:]), opts: opts, quit: make(chan struct{}), done: make(chan struct{})}
	r.file = opts.Path
	if r.file == "" {
		if opts.Dir == "" {
			return nil, errors.New("record: Options.Dir or Options.Path is required")
		}
		name := fmt.Sprintf("%s-%s-%s-%s%s", safeName(room.ID()), safeName(peerName),
			time.Now().UTC().Format("20060102T150405Z"), r.id, extension(codecs))
		r.file = filepath.Join(opts.Dir, name)
	}
	r.log = opts.Logger.With("component", "record", "room", room.ID(), "peer", peerName, "recording", r.id)
	if r.fw, err = createFile(r.file, r.onWriteError); err != nil {
		return nil, err
	}
	r.mux = newMuxer(r.log, r.fw, codecs, opts.StartTimeout, time.Now())
	for i, prod := range prods {
		t, err := r.newTrack(room, i, prod, codecs[i])
		if err != nil {
			for _, t := range r.tracks {
				_ = t.conn.Close()
				t.streamer.Close()
			}
			_ = r.fw.f.Close()
			if opts.Path == "" {
				_ = os.Remove(r.file) // created empty above
			}
			return nil, err
		}
		r.tracks = append(r.tracks, t)
	}
	r.result = Result{File: r.file}
	r.wg.Add(len(r.tracks))
	for _, t := range r.tracks {
		go t.run()
	}
	r.log.Info("recording started", "file", r.file, "tracks", len(r.tracks))
	return r, nil
}

// pickProducers returns the peer's producers and their codecs, audio
// first (so the file's first tracks are audio and video as before).
func pickProducers(peer *sfu.Peer) ([]*sfu.Producer, []codec, error) {
	var prods []*sfu.Producer
	var codecs []codec
	h264, webmVideo := false, false
	for _, kind := range []string{"audio", "video"} {
		for _, p := range peer.Producers() {
			if p.Kind() != kind {
				continue
			}
			mc, ok := p.RTPParameters().MediaCodec()
			if !ok {
				continue
			}
			c, err := codecOf(mc)
			if err != nil {
				return nil, nil, fmt.Errorf("record: %s producer %d: %w", p.Kind(), p.ID(), err)
			}
			h264, webmVideo = h264 || c.h264, webmVideo || c.video && !c.h264
			prods, codecs = append(prods, p), append(codecs, c)
		}
	}
	if len(prods) == 0 {
		return nil, nil, fmt.Errorf("record: %w: %q", ErrNoMedia, peer.Name())
	}
	if h264 && webmVideo {
		return nil, nil, fmt.Errorf("record: %w: %q publishes H264 and VP8 or VP9 (MP4 and WebM)", ErrUnsupportedCodec, peer.Name())
	}
	return prods, codecs, nil
}

// extension is the file name extension of a recording of those codecs.
func extension(codecs []codec) string {
	for _, c := range codecs {
		if c.h264 {
			return ".mp4"
		}
	}
	return ".webm"
}

// safeName keeps a room or peer name usable in a file name.
func safeName(s string) string {
	s = strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			return c
		}
		return '_'
	}, s)
	if len(s) > 48 {
		s = s[:48]
	}
	if s == "" {
		s = "_"
	}
	return s
}

// onWriteError stops the recording after a write error.
func (r *Recording) onWriteError(err error) {
	r.log.Error("recording stopped: cannot write the file", "file", r.file, "err", err)
	if r.opts.OnError != nil {
		go r.opts.OnError(err)
	}
	r.stop("write error", err)
}

// trackEnded is called by each track's goroutine as it ends; when every
// producer closed, the recording stops.
func (r *Recording) trackEnded(i int, producerClosed bool) {
	r.mux.trackEnded(i)
	if !producerClosed {
		return
	}
	r.mu.Lock()
	r.ended++
	all := r.ended == len(r.tracks)
	r.mu.Unlock()
	if all {
		r.stop("producers closed", nil)
	}
}

// stop starts the end of the recording (once): the tracks flush and end,
// then the file is finalized on a goroutine that closes done.
func (r *Recording) stop(reason string, err error) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.result.Reason, r.result.Err = reason, err
		r.mu.Unlock()
		close(r.quit)
		go r.finalize()
	})
}

// finalize waits for the tracks (bounded), closes the file and reports.
func (r *Recording) finalize() {
	defer close(r.done)
	ended := make(chan struct{})
	go func() { r.wg.Wait(); close(ended) }()
	tracksEnded := true
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		tracksEnded = false
		r.log.Warn("recording: a track did not end in 5 s")
	}
	d, err := r.mux.close(10 * time.Second)
	res := r.Result()
	if err != nil && res.Err == nil {
		res.Err = err
		if res.Reason != "write error" {
			r.log.Error("recording: finalizing the file failed", "file", r.file, "err", err)
		}
	}
	res.Duration = d
	for i, t := range r.tracks {
		frames, offset, w, h := r.mux.trackStats(i)
		st := TrackStats{Kind: t.kind, Codec: t.codec.mime, Producer: t.producer, Frames: frames, StartOffset: offset}
		if tracksEnded { // else the track's goroutine still owns its counters
			st.Packets, st.Repaired, st.RTX, st.Lost = t.packets, t.jitter.repaired, t.retransmitted, t.jitter.lost
			st.NACKs, st.PLIs, st.KeyFrames, st.Dropped = t.nacks, t.plis, t.asm.keyFrames, t.asm.dropped
		}
		if t.codec.video {
			st.Width, st.Height = w, h
		}
		res.Tracks = append(res.Tracks, st)
	}
	r.mu.Lock()
	r.result = res
	r.mu.Unlock()
	r.log.Info("recording finished", "file", r.file, "reason", res.Reason, "duration", d, "err", res.Err)
	if r.opts.OnStop != nil {
		r.opts.OnStop(res)
	}
}
