package record

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/at-wat/ebml-go/mkvcore"
	"github.com/at-wat/ebml-go/webm"
)

// cuesReserve is the room kept after the header for the Cues (seek
// index), written at the end: a cue point takes about 20 bytes and a
// cluster starts every 2 to 5 s, so 32 KiB index hours; a longer
// recording gets every second cue point, and so on.
const cuesReserve = 32 << 10

// Clusters start on a video key frame at least clusterMin after the
// previous one, and every clusterMax at the latest.
const (
	clusterMin = 2000 // ms
	clusterMax = 5000 // ms
)

// sortWindow is how long the multiplexer waits for a late track (video
// waiting for retransmissions) before writing the other's frames; a
// frame later than that is dropped.
const sortWindow = 3000 // ms

// fileWriter is the WebM file as ebml-go writes it. The first write error
// is kept and reported once (onErr); later writes are dropped and
// reported as done, so that ebml-go's goroutines end as usual and the
// recording stops cleanly.
type fileWriter struct {
	f     *os.File
	onErr func(error)

	mu     sync.Mutex
	err    error
	closed chan struct{}
}

// createFile opens path for writing (created or truncated).
func createFile(path string, onErr func(error)) (*fileWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return &fileWriter{f: f, onErr: onErr, closed: make(chan struct{})}, nil
}

// fail keeps the first error and reports it.
func (w *fileWriter) fail(err error) {
	w.mu.Lock()
	first := w.err == nil
	if first {
		w.err = err
	}
	w.mu.Unlock()
	if first && w.onErr != nil {
		w.onErr(err)
	}
}

// failed reports whether a write failed.
func (w *fileWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Write implements io.Writer.
func (w *fileWriter) Write(p []byte) (int, error) {
	if w.failed() != nil {
		return len(p), nil
	}
	if _, err := w.f.Write(p); err != nil {
		w.fail(fmt.Errorf("record: writing %s: %w", w.f.Name(), err))
	}
	return len(p), nil
}

// WriteAt implements io.WriterAt (ebml-go writes the Cues and the
// Duration into their reserved places at the end).
func (w *fileWriter) WriteAt(p []byte, off int64) (int, error) {
	if w.failed() != nil {
		return len(p), nil
	}
	if _, err := w.f.WriteAt(p, off); err != nil {
		w.fail(fmt.Errorf("record: finalizing %s: %w", w.f.Name(), err))
	}
	return len(p), nil
}

// Close closes the file: ebml-go calls it once the file is finalized.
func (w *fileWriter) Close() error {
	err := w.f.Close()
	if err != nil {
		w.fail(fmt.Errorf("record: closing %s: %w", w.f.Name(), err))
	}
	select {
	case <-w.closed:
	default:
		close(w.closed)
	}
	return nil
}

// opusHead is the CodecPrivate of an Opus track (RFC 7845 5.1): version
// 1, the channel count, no pre-skip, 48 kHz, no gain, mapping family 0.
func opusHead(channels int) []byte {
	b := make([]byte, 19)
	copy(b, "OpusHead")
	b[8], b[9] = 1, byte(channels)
	binary.LittleEndian.PutUint32(b[12:], 48000)
	return b
}

// trackEntry is the WebM TrackEntry of a track numbered n (from 1).
func trackEntry(n int, c codec, width, height int) webm.TrackEntry {
	e := webm.TrackEntry{TrackNumber: uint64(n), TrackUID: rand.Uint64N(1<<53) + 1, CodecID: c.webmID}
	if c.video {
		e.Name, e.TrackType = "video", 1
		e.Video = &webm.Video{PixelWidth: uint64(width), PixelHeight: uint64(height)}
		return e
	}
	e.Name, e.TrackType = "audio", 2
	e.CodecPrivate = opusHead(c.channels)
	e.SeekPreRoll = uint64(80 * time.Millisecond) // RFC 7845 / Matroska Opus mapping
	e.Audio = &webm.Audio{SamplingFrequency: float64(c.clockRate), Channels: uint64(c.channels)}
	return e
}

// newWebMWriter starts the file: header, tracks and room for the Cues;
// Duration and Cues are written when every returned writer is closed.
// mainTrack (from 1) is the track whose key frames start clusters.
func newWebMWriter(w *fileWriter, entries []webm.TrackEntry, mainTrack int, start time.Time) ([]webm.BlockWriteCloser, error) {
	sorter, err := mkvcore.NewMultiTrackBlockSorter(
		mkvcore.WithMaxTimescaleDelay(sortWindow), mkvcore.WithSortRule(mkvcore.BlockSorterDropOutdated))
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	ws, err := webm.NewSimpleBlockWriter(w, entries,
		mkvcore.WithSegmentInfo(&webm.Info{TimecodeScale: uint64(time.Millisecond), MuxingApp: "gosoup", WritingApp: "gosoup", DateUTC: start}),
		mkvcore.WithSeekHead(true),
		mkvcore.WithCues(cuesReserve),
		mkvcore.WithBlockInterceptor(sorter),
		mkvcore.WithMinMaxClusterDuration(uint64(mainTrack), clusterMin, clusterMax),
		mkvcore.WithOnFatalHandler(w.fail),
		mkvcore.WithOnErrorHandler(func(error) {}), // a frame too old for its cluster: dropped
	)
	if err != nil {
		return nil, fmt.Errorf("record: webm: %w", err)
	}
	return ws, nil
}
