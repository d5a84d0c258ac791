package sim

import (
	"container/heap"
	"time"
)

// event is something that happens at a simulated time; seq orders the
// events of one instant in the order they were scheduled.
type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// loop is the event loop: simulated time and its ordered queue.
type loop struct {
	now time.Duration
	seq uint64
	q   queue
}

// at schedules fn at time t (never before now).
func (l *loop) at(t time.Duration, fn func()) {
	t = max(t, l.now)
	l.seq++
	heap.Push(&l.q, &event{at: t, seq: l.seq, fn: fn})
}

// after schedules fn d after now.
func (l *loop) after(d time.Duration, fn func()) { l.at(l.now+d, fn) }

// run runs the events before end, one instant at a time, calling batch
// after the events of each instant; it stops early when stop says so.
func (l *loop) run(end time.Duration, batch func(), stop func() bool) {
	for len(l.q) > 0 && l.q[0].at < end && !stop() {
		l.now = l.q[0].at
		for len(l.q) > 0 && l.q[0].at == l.now {
			heap.Pop(&l.q).(*event).fn()
		}
		batch()
	}
	l.now = end
}
