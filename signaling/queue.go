package signaling

import "sync"

// outQueue holds the messages waiting to be written to a session's
// socket. It holds memory only for what waits (a slice grown on demand and
// released once drained), not a fixed buffer per client, and no goroutine
// while nothing waits: the first message queued while no writer runs
// starts one, which ends once it has drained the queue. Most of the time a
// client's queue is empty, and a server holds thousands of them.
type outQueue struct {
	mu      sync.Mutex
	msgs    [][]byte
	writing bool // a writer goroutine is draining msgs (or its write failed)
	stopped bool // the session is closing: no writer starts or goes on
	// writers counts the writer goroutines; Add only under mu while not
	// stopped, so that Wait after stop waits for every one.
	writers sync.WaitGroup
}

func newOutQueue() *outQueue { return &outQueue{} }

// push queues b; ok is false when max messages already wait. start is true
// when the caller must start a writer goroutine (counted in writers) that
// calls next until it returns nil, then writers.Done.
func (q *outQueue) push(b []byte, max int) (ok, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.msgs) >= max {
		return false, false
	}
	q.msgs = append(q.msgs, b)
	if !q.writing && !q.stopped {
		q.writing = true
		q.writers.Add(1)
		return true, true
	}
	return true, false
}

// next returns every waiting message, oldest first, for the writer, and
// empties the queue; nil when none waits or the queue is stopped, and the
// writer must then end.
func (q *outQueue) next() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped || len(q.msgs) == 0 {
		q.writing = false
		return nil
	}
	out := q.msgs
	q.msgs = nil
	return out
}

// stop lets no writer start or take more messages; the writer running
// ends after the messages it took. Wait on writers next.
func (q *outQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}

// take returns every waiting message, oldest first, and empties the queue.
func (q *outQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.msgs
	q.msgs = nil
	return out
}
