package signaling

import "sync"

// outQueue holds the messages waiting for a session's writer. It holds
// memory only for what waits (a slice grown on demand and released once
// drained), not a fixed buffer per client: most of the time a client's
// queue is empty, and a server holds thousands of them.
type outQueue struct {
	mu    sync.Mutex
	msgs  [][]byte
	ready chan struct{} // one token when msgs became non-empty
}

func newOutQueue() *outQueue { return &outQueue{ready: make(chan struct{}, 1)} }

// push queues b; false when max messages already wait.
func (q *outQueue) push(b []byte, max int) bool {
	q.mu.Lock()
	if len(q.msgs) >= max {
		q.mu.Unlock()
		return false
	}
	q.msgs = append(q.msgs, b)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns every waiting message, oldest first, and empties the queue.
func (q *outQueue) take() [][]byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.msgs
	q.msgs = nil
	return out
}
