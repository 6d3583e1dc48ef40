package sfu

import "sync"

// Observer receives a room's events. Every field is optional. Callbacks
// run one at a time, in the order the events happened, on a goroutine of
// the room's own, never holding a lock: they may call back into the API,
// and a slow callback delays only later callbacks, never signaling or
// media.
type Observer struct {
	NewPeer         func(*Peer)
	PeerClosed      func(*Peer)
	NewTransport    func(*Transport)
	TransportClosed func(*Transport)
	NewProducer     func(*Producer)
	ProducerClosed  func(*Producer)
	ProducerPaused  func(*Producer) // paused by its client or the server
	ProducerResumed func(*Producer)
	NewConsumer     func(*Consumer)
	ConsumerClosed  func(*Consumer)
	RoomClosed      func(*Room)
}

// eventQueue is an unbounded FIFO of callbacks drained by one goroutine.
type eventQueue struct {
	mu      sync.Mutex
	obs     []*Observer
	pending []func(*Observer)
	wake    chan struct{}
	closing bool
	done    chan struct{}
}

// Observe registers o for the room's events from now on; the returned
// function unregisters it.
func (r *Room) Observe(o Observer) (cancel func()) {
	q := &r.events
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.wake == nil {
		q.wake = make(chan struct{}, 1)
		q.done = make(chan struct{})
		go q.run()
	}
	p := &o
	q.obs = append(q.obs, p)
	return func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		for i, x := range q.obs {
			if x == p {
				q.obs = append(q.obs[:i], q.obs[i+1:]...)
				break
			}
		}
	}
}

// emit queues an event; cheap when nobody observes.
func (q *eventQueue) emit(f func(*Observer)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.obs) == 0 || q.closing {
		return
	}
	q.pending = append(q.pending, f)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close lets the goroutine deliver what is queued and end.
func (q *eventQueue) close() {
	q.mu.Lock()
	if q.wake == nil || q.closing {
		q.closing = true
		q.mu.Unlock()
		return
	}
	q.closing = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *eventQueue) run() {
	defer close(q.done)
	for range q.wake {
		for {
			q.mu.Lock()
			if len(q.pending) == 0 {
				closing := q.closing
				q.mu.Unlock()
				if closing {
					return
				}
				break
			}
			f := q.pending[0]
			q.pending = q.pending[1:]
			obs := append([]*Observer(nil), q.obs...)
			q.mu.Unlock()
			for _, o := range obs {
				f(o)
			}
		}
	}
}
