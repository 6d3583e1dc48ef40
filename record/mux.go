package record

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/webm"
)

// defaultVideoSize is the size written for a video track whose first key
// frame did not say (decoders follow the stream's own size anyway).
const defaultVideoWidth, defaultVideoHeight = 640, 480

// muxTrack is the multiplexer's state of one track.
type muxTrack struct {
	codec   codec
	ended   bool
	needKey bool // video: a frame was dropped, wait for a key frame
	wrote   bool
	first   int64 // pts (ms) of the first frame written
	last    int64 // pts (ms) of the last frame written
	frames  uint64
	width   int
	height  int
}

// queued is a frame waiting for the file to start.
type queued struct {
	track int
	wall  time.Time
	f     frame
}

// muxer puts the tracks' frames, each with its wall-clock time, into one
// WebM file. The file starts at the first video key frame (audio before
// it is dropped, so both tracks start together), or, without video or
// when none came within startTimeout, at the first frame; each frame's
// timestamp is its wall-clock time from there. Safe for concurrent use.
type muxer struct {
	log          *slog.Logger
	file         *fileWriter
	startTimeout time.Duration
	created      time.Time

	mu        sync.Mutex
	tracks    []*muxTrack
	video     int // index of the video track, -1 without
	started   bool
	startWall time.Time
	queue     []queued
	writers   []webm.BlockWriteCloser
	closed    bool
}

func newMuxer(log *slog.Logger, file *fileWriter, codecs []codec, startTimeout time.Duration, now time.Time) *muxer {
	m := &muxer{log: log, file: file, startTimeout: startTimeout, created: now, video: -1}
	for i, c := range codecs {
		m.tracks = append(m.tracks, &muxTrack{codec: c, needKey: c.video})
		if c.video && m.video < 0 {
			m.video = i
		}
	}
	return m
}

// write adds a frame of track i taken at wall.
func (m *muxer) write(i int, wall time.Time, f frame) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.file.failed() != nil {
		return
	}
	if m.started {
		m.writeLocked(i, wall, f)
		return
	}
	m.queue = append(m.queue, queued{track: i, wall: wall, f: f})
	m.maybeStartLocked(time.Now(), false)
}

// trackEnded records that track i will write no more (its producer
// closed): the start no longer waits for it.
func (m *muxer) trackEnded(i int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracks[i].ended = true
	if !m.started && !m.closed {
		m.maybeStartLocked(time.Now(), false)
	}
}

// maybeStartLocked starts the file when the frame to start it with is
// there (force: with whatever is queued).
func (m *muxer) maybeStartLocked(now time.Time, force bool) {
	firstVideo := -1
	for k, q := range m.queue {
		if q.track == m.video {
			firstVideo = k
			break
		}
	}
	waitVideo := m.video >= 0 && !m.tracks[m.video].ended && now.Sub(m.created) < m.startTimeout
	switch {
	case len(m.queue) == 0 && !force:
		return
	case firstVideo >= 0:
		m.startWall = m.queue[firstVideo].wall
	case waitVideo && !force:
		return
	default:
		for k, q := range m.queue {
			if k == 0 || q.wall.Before(m.startWall) {
				m.startWall = q.wall
			}
		}
	}
	if m.startWall.IsZero() {
		m.startWall = now
	}
	m.started = true
	m.log.Info("recording: the file starts", "after", m.startWall.Sub(m.created).Round(time.Millisecond),
		"atVideoKeyFrame", firstVideo >= 0)
	entries := make([]webm.TrackEntry, len(m.tracks))
	for k, t := range m.tracks {
		w, h := defaultVideoWidth, defaultVideoHeight
		if k == m.video && firstVideo >= 0 {
			if f := m.queue[firstVideo].f; f.width > 0 && f.height > 0 {
				w, h = f.width, f.height
			}
		}
		t.width, t.height = w, h
		entries[k] = trackEntry(k+1, t.codec, w, h)
	}
	main := m.video + 1
	if m.video < 0 {
		main = 1
	}
	ws, err := newWebMWriter(m.file, entries, main, m.startWall)
	if err != nil {
		m.file.fail(err)
		return
	}
	m.writers = ws
	for _, q := range m.queue {
		m.writeLocked(q.track, q.wall, q.f)
	}
	m.queue = nil
}

// writeLocked writes a frame of the started file.
func (m *muxer) writeLocked(i int, wall time.Time, f frame) {
	t := m.tracks[i]
	pts := wall.Sub(m.startWall).Round(time.Millisecond).Milliseconds()
	if pts < 0 {
		t.needKey = t.codec.video
		return // from before the start
	}
	if t.needKey {
		if !f.key {
			return
		}
		t.needKey = false
	}
	if t.wrote {
		if t.codec.video {
			pts = max(pts, t.last+1) // after a clock correction: keep the track strictly increasing
		} else {
			// An audio frame must not overlap the previous one: after the
			// clock stepped back by less than a frame the audio is delayed
			// a little; after a bigger step frames are dropped until the
			// timeline caught up.
			span := max(f.span.Milliseconds(), 1)
			if short := t.last + span - pts; short > 0 {
				if short > span {
					return
				}
				pts += short
			}
		}
	}
	if !t.wrote {
		t.first = pts
	}
	t.wrote, t.last = true, pts
	t.frames++
	if _, err := m.writers[i].Write(f.key, pts, f.data); err != nil {
		m.file.fail(fmt.Errorf("record: %w", err))
	}
}

// close starts the file if it has not (with what came), writes the end
// (Duration, Cues) and closes it, waiting at most timeout. It returns the
// file's duration.
func (m *muxer) close(timeout time.Duration) (time.Duration, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0, errors.New("record: closed twice")
	}
	if !m.started && m.file.failed() == nil {
		m.maybeStartLocked(time.Now(), true)
	}
	m.closed = true
	writers := m.writers
	var first, last int64 = -1, -1
	for _, t := range m.tracks {
		if !t.wrote {
			continue
		}
		if first < 0 || t.first < first {
			first = t.first
		}
		last = max(last, t.last)
	}
	m.mu.Unlock()

	if writers == nil {
		_ = m.file.Close() // the header could not be written
	} else {
		// The last writer's Close returns once the file is finalized.
		go func() {
			for _, w := range writers {
				_ = w.Close()
			}
		}()
	}
	select {
	case <-m.file.closed:
	case <-time.After(timeout):
		return 0, fmt.Errorf("record: finalizing the file took more than %s", timeout)
	}
	if err := m.file.failed(); err != nil {
		return 0, err
	}
	if first < 0 {
		return 0, nil
	}
	return time.Duration(last-first) * time.Millisecond, nil
}

// trackStats returns what was written of track i: frames, the first
// frame's offset from the file's start, the video size in the header.
func (m *muxer) trackStats(i int) (frames uint64, offset time.Duration, width, height int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.tracks[i]
	var first int64 = -1
	for _, u := range m.tracks {
		if u.wrote && (first < 0 || u.first < first) {
			first = u.first
		}
	}
	if t.wrote {
		offset = time.Duration(t.first-first) * time.Millisecond
	}
	return t.frames, offset, t.width, t.height
}
