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

// container is the file format's writer: WebM (ebml-go) or fragmented MP4.
type container interface {
	// write adds a frame of track i at pts (ms from the file's start).
	write(i int, key bool, pts int64, data []byte) error
	// close finalizes the file, then closes it (the fileWriter's closed
	// channel tells when).
	close()
}

// webmContainer is the WebM file as ebml-go writes it.
type webmContainer []webm.BlockWriteCloser

func (c webmContainer) write(i int, key bool, pts int64, data []byte) error {
	_, err := c[i].Write(key, pts, data)
	return err
}

// close closes every track's writer: the last one's Close returns once
// the file is finalized.
func (c webmContainer) close() {
	for _, w := range c {
		_ = w.Close()
	}
}

// mp4Container is the fragmented MP4 file.
type mp4Container struct{ w *mp4Writer }

func (c mp4Container) write(i int, key bool, pts int64, data []byte) error {
	c.w.write(i, key, pts, data)
	return nil
}

func (c mp4Container) close() { c.w.close() }

// muxer puts the tracks' frames, each with its wall-clock time, into one
// file: WebM (Opus, VP8, VP9) or, when a video track is H264, fragmented
// MP4 (Opus, H264). The file starts at the first video key frame once
// every video track has one (audio before it is dropped, so the tracks
// start together), or, without video or when a video track had none
// within startTimeout, at the first video key frame or the first frame;
// each frame's timestamp is its wall-clock time from there. Safe for
// concurrent use.
type muxer struct {
	log          *slog.Logger
	file         *fileWriter
	startTimeout time.Duration
	created      time.Time

	mu        sync.Mutex
	tracks    []*muxTrack
	video     int  // index of the first video track (WebM: its key frames start clusters), -1 without
	mp4       bool // a video track is H264: the file is a fragmented MP4
	started   bool
	startWall time.Time
	queue     []queued
	out       container
	closed    bool
}

func newMuxer(log *slog.Logger, file *fileWriter, codecs []codec, startTimeout time.Duration, now time.Time) *muxer {
	m := &muxer{log: log, file: file, startTimeout: startTimeout, created: now, video: -1}
	for i, c := range codecs {
		m.tracks = append(m.tracks, &muxTrack{codec: c, needKey: c.video})
		if c.video && m.video < 0 {
			m.video = i
		}
		m.mp4 = m.mp4 || c.h264
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
	firstKey := make([]int, len(m.tracks)) // index in the queue of each video track's first key frame
	firstVideo := -1                       // the earliest of those
	waitVideo := false
	for k, t := range m.tracks {
		firstKey[k] = -1
		if !t.codec.video {
			continue
		}
		for j, q := range m.queue {
			if q.track == k && q.f.key {
				firstKey[k] = j
				break
			}
		}
		switch j := firstKey[k]; {
		case j < 0 && !t.ended:
			waitVideo = true
		case j >= 0 && (firstVideo < 0 || m.queue[j].wall.Before(m.queue[firstVideo].wall)):
			firstVideo = j
		}
	}
	waitVideo = waitVideo && now.Sub(m.created) < m.startTimeout
	switch {
	case len(m.queue) == 0 && !force:
		return
	case waitVideo && !force:
		return
	case firstVideo >= 0:
		m.startWall = m.queue[firstVideo].wall
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
		"atVideoKeyFrame", firstVideo >= 0, "mp4", m.mp4)
	for k, t := range m.tracks {
		t.width, t.height = defaultVideoWidth, defaultVideoHeight
		if j := firstKey[k]; j >= 0 {
			if f := m.queue[j].f; f.width > 0 && f.height > 0 {
				t.width, t.height = f.width, f.height
			}
		}
	}
	if m.mp4 {
		tracks := make([]*mp4Track, len(m.tracks))
		for k, t := range m.tracks {
			tracks[k] = &mp4Track{codec: t.codec, width: t.width, height: t.height}
			if j := firstKey[k]; j >= 0 {
				tracks[k].sps, tracks[k].pps = m.queue[j].f.sps, m.queue[j].f.pps
			}
		}
		m.out = mp4Container{newMP4Writer(m.file, tracks, m.video)}
	} else {
		entries := make([]webm.TrackEntry, len(m.tracks))
		for k, t := range m.tracks {
			entries[k] = trackEntry(k+1, t.codec, t.width, t.height)
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
		m.out = webmContainer(ws)
	}
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
	if err := m.out.write(i, f.key, pts, f.data); err != nil {
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
	out := m.out
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

	if out == nil {
		_ = m.file.Close() // the header could not be written
	} else {
		go out.close()
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
