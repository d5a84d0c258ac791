package recovery

import (
	"bytes"
	"container/heap"
	"encoding/binary"
	"maps"
	"slices"
	"time"

	"github.com/weftnet/weft/blob"
)

// SchedulerConfig bounds background recovery. The zero value is ready to
// use.
type SchedulerConfig struct {
	// Concurrency is how many batches run at once. Default 2.
	Concurrency int
	// BatchBlobs and BatchBytes bound one batch: at most this many blobs,
	// and (but for a single big blob) at most this many bytes to rebuild.
	// Defaults 64 and 64 MiB.
	BatchBlobs int
	BatchBytes int64
	// MinBackoff and MaxBackoff bound the wait before a failed blob is
	// tried again; it doubles with each failure. Defaults 1 s and 5 min.
	MinBackoff, MaxBackoff time.Duration
}

func (c *SchedulerConfig) defaults() {
	if c.Concurrency <= 0 {
		c.Concurrency = 2
	}
	if c.BatchBlobs <= 0 {
		c.BatchBlobs = 64
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = 64 << 20
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(5*time.Minute, c.MinBackoff)
	}
}

// Entry is a blob waiting for recovery, as the node persists it.
type Entry struct {
	ID blob.ID `json:"blobId"`
	// Weight is about how many bytes the node has to rebuild.
	Weight int64 `json:"weight"`
	// Attempts counts failed tries.
	Attempts int `json:"attempts"`
	// NotBefore is when the blob may next be tried.
	NotBefore time.Time `json:"notBefore"`
	// Reason says what put the blob in the queue, for operators.
	Reason string `json:"reason"`
	// LastError is why the last try failed.
	LastError string `json:"lastError,omitempty"`
}

// Scheduler decides which blobs to recover when: a queue ordered by the
// time each blob may be tried, batches bounded in blobs and bytes, a
// bounded number of batches at once, and exponential back-off with
// jitter for blobs that fail. It is a pure state machine: time is an
// argument, and the node persists entries as they change. It is not safe
// for concurrent use.
type Scheduler struct {
	cfg     SchedulerConfig
	entries map[blob.ID]*item
	ready   queue
	seq     uint64
	batches int
	running int
}

type item struct {
	Entry
	seq     uint64
	index   int // in the queue, -1 when running
	running bool
	again   bool // added again while running: run once more
}

// NewScheduler returns an empty scheduler.
func NewScheduler(cfg SchedulerConfig) *Scheduler {
	cfg.defaults()
	return &Scheduler{cfg: cfg, entries: map[blob.ID]*item{}}
}

// Add queues a blob. A blob already waiting keeps its place, but may move
// earlier; one running is run once more after it finishes. It reports
// whether the entry is new.
func (s *Scheduler) Add(e Entry) bool {
	if it, ok := s.entries[e.ID]; ok {
		if it.running {
			it.again = true
		} else if e.NotBefore.Before(it.NotBefore) {
			it.NotBefore = e.NotBefore
			heap.Fix(&s.ready, it.index)
		}
		if e.Weight > it.Weight {
			it.Weight = e.Weight
		}
		return false
	}
	s.seq++
	it := &item{Entry: e, seq: s.seq}
	s.entries[e.ID] = it
	heap.Push(&s.ready, it)
	return true
}

// Remove drops a blob (it is gone from the network). A running blob is
// forgotten when its batch finishes.
func (s *Scheduler) Remove(id blob.ID) {
	it, ok := s.entries[id]
	if !ok {
		return
	}
	if it.running {
		it.again = false
		it.Attempts = -1 // marks it dropped
		return
	}
	heap.Remove(&s.ready, it.index)
	delete(s.entries, id)
}

// Next returns the next batch to run, or nil when as many batches as
// allowed are running or nothing is due at now.
func (s *Scheduler) Next(now time.Time) []Entry {
	if s.batches >= s.cfg.Concurrency {
		return nil
	}
	var out []Entry
	var bytes int64
	for s.ready.Len() > 0 && len(out) < s.cfg.BatchBlobs {
		it := s.ready[0]
		if it.NotBefore.After(now) {
			break
		}
		if len(out) > 0 && bytes+it.Weight > s.cfg.BatchBytes {
			break
		}
		heap.Pop(&s.ready)
		it.running = true
		bytes += it.Weight
		out = append(out, it.Entry)
	}
	if len(out) > 0 {
		s.batches++
		s.running += len(out)
	}
	return out
}

// Outcome is how one blob of a batch fared.
type Outcome struct {
	ID  blob.ID
	Err error // nil: done
	// Final marks a failure that retrying will not mend (an inconsistent
	// blob): the blob leaves the queue.
	Final bool
	// Until, if set, puts the blob off until then without counting an
	// attempt: nothing was tried (its peers withhold it for now).
	Until time.Time
}

// Finish ends a batch. It returns the entries to persist (those that stay
// queued, with their new back-off) and the IDs to drop from the persisted
// queue.
func (s *Scheduler) Finish(outcomes []Outcome, now time.Time) (keep []Entry, drop []blob.ID) {
	s.batches--
	for _, o := range outcomes {
		it, ok := s.entries[o.ID]
		if !ok || !it.running {
			continue
		}
		it.running = false
		s.running--
		switch {
		case it.Attempts < 0 || o.Final || (o.Err == nil && o.Until.IsZero() && !it.again):
			delete(s.entries, o.ID)
			drop = append(drop, o.ID)
			continue
		case !o.Until.IsZero():
			it.NotBefore = o.Until
		case o.Err == nil:
			it.NotBefore = now
		default:
			it.Attempts++
			it.LastError = o.Err.Error()
			it.NotBefore = now.Add(s.backoff(it.ID, it.Attempts))
		}
		it.again = false
		s.seq++
		it.seq = s.seq
		heap.Push(&s.ready, it)
		keep = append(keep, it.Entry)
	}
	return keep, drop
}

// backoff is min × 2^(attempts−1), capped, times a jitter in [0.75, 1.25)
// fixed by the blob and the attempt, so that blobs that failed together do
// not come back together.
func (s *Scheduler) backoff(id blob.ID, attempts int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < attempts && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	j := mix(binary.BigEndian.Uint64(id[:8]) ^ uint64(attempts))
	return time.Duration(float64(d) * (0.75 + 0.5*float64(j)/float64(1<<32)))
}

// Wake returns when the next waiting blob becomes due, if any is waiting
// and a batch could start.
func (s *Scheduler) Wake() (time.Time, bool) {
	if s.ready.Len() == 0 || s.batches >= s.cfg.Concurrency {
		return time.Time{}, false
	}
	return s.ready[0].NotBefore, true
}

// Pending is the number of blobs waiting; InProgress the number in
// running batches.
func (s *Scheduler) Pending() int    { return s.ready.Len() }
func (s *Scheduler) InProgress() int { return s.running }

// Len is the number of blobs queued, waiting or running.
func (s *Scheduler) Len() int { return len(s.entries) }

// Entry returns the queued entry of a blob.
func (s *Scheduler) Entry(id blob.ID) (Entry, bool) {
	it, ok := s.entries[id]
	if !ok {
		return Entry{}, false
	}
	return it.Entry, true
}

// Entries returns up to limit queued entries, in blob ID order.
func (s *Scheduler) Entries(limit int) []Entry {
	out := make([]Entry, 0, min(limit, len(s.entries)))
	for _, id := range slices.SortedFunc(maps.Keys(s.entries), func(a, b blob.ID) int { return bytes.Compare(a[:], b[:]) }) {
		if len(out) == limit {
			break
		}
		out = append(out, s.entries[id].Entry)
	}
	return out
}

// queue is a heap of waiting items, earliest NotBefore first, then in
// the order they were queued.
type queue []*item

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if !q[i].NotBefore.Equal(q[j].NotBefore) {
		return q[i].NotBefore.Before(q[j].NotBefore)
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *queue) Push(x any) {
	it := x.(*item)
	it.index = len(*q)
	*q = append(*q, it)
}
func (q *queue) Pop() any {
	old := *q
	it := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	it.index = -1
	return it
}
