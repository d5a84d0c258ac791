package recovery

import (
	"errors"
	"testing"
	"time"

	"github.com/weftnet/weft/blob"
	"github.com/weftnet/weft/internal/testseed"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func id(i int) blob.ID { return blob.ID{byte(i), byte(i >> 8), 7} }

func ids(es []Entry) []blob.ID {
	var out []blob.ID
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestSchedulerBatches(t *testing.T) {
	s := NewScheduler(SchedulerConfig{Concurrency: 2, BatchBlobs: 3, BatchBytes: 100})
	for i := 0; i < 8; i++ {
		s.Add(Entry{ID: id(i), Weight: 30, NotBefore: t0})
	}
	s.Add(Entry{ID: id(9), Weight: 500, NotBefore: t0.Add(time.Second)})
	if s.Add(Entry{ID: id(0), NotBefore: t0}) {
		t.Fatal("a queued blob was added twice")
	}
	b1 := s.Next(t0)
	if got := ids(b1); len(got) != 3 || got[0] != id(0) || got[2] != id(2) {
		t.Fatalf("first batch %v", got)
	}
	// 30+30+30 ≤ 100 < 120: three blobs, within bytes too.
	b2 := s.Next(t0)
	if len(b2) != 3 {
		t.Fatalf("second batch of %d", len(b2))
	}
	if s.Next(t0) != nil {
		t.Fatal("a third batch ran beyond the concurrency of 2")
	}
	if _, ok := s.Wake(); ok {
		t.Fatal("wake while no batch can start")
	}
	if s.Pending() != 3 || s.InProgress() != 6 || s.Len() != 9 {
		t.Fatalf("pending %d, in progress %d, len %d", s.Pending(), s.InProgress(), s.Len())
	}
	// Listing: waiting and running alike, by blob ID.
	if got := ids(s.Entries(3)); len(got) != 3 || got[0] != id(0) || got[1] != id(1) || got[2] != id(2) {
		t.Fatalf("entries %v", got)
	}
	keep, drop := s.Finish([]Outcome{{ID: id(0)}, {ID: id(1)}, {ID: id(2)}}, t0)
	if len(keep) != 0 || len(drop) != 3 {
		t.Fatalf("keep %v drop %v", keep, drop)
	}
	// The big blob is not due yet; the two left are.
	if got := ids(s.Next(t0)); len(got) != 2 || got[0] != id(6) {
		t.Fatalf("third batch %v", got)
	}
	s.Finish([]Outcome{{ID: id(6)}, {ID: id(7)}}, t0)
	if w, ok := s.Wake(); !ok || !w.Equal(t0.Add(time.Second)) {
		t.Fatalf("wake %v %v", w, ok)
	}
	if s.Next(t0) != nil {
		t.Fatal("ran a blob before it was due")
	}
	// A blob over the byte bound runs alone.
	if got := ids(s.Next(t0.Add(time.Second))); len(got) != 1 || got[0] != id(9) {
		t.Fatalf("big batch %v", got)
	}
}

func TestSchedulerBackoff(t *testing.T) {
	s := NewScheduler(SchedulerConfig{MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	s.Add(Entry{ID: id(1), NotBefore: t0})
	now := t0
	fail := errors.New("peers down")
	var waits []time.Duration
	for i := 0; i < 7; i++ {
		b := s.Next(now)
		if len(b) != 1 {
			t.Fatalf("try %d: batch %v", i, b)
		}
		keep, _ := s.Finish([]Outcome{{ID: id(1), Err: fail}}, now)
		if len(keep) != 1 || keep[0].Attempts != i+1 || keep[0].LastError != "peers down" {
			t.Fatalf("try %d: keep %+v", i, keep)
		}
		wait := keep[0].NotBefore.Sub(now)
		waits = append(waits, wait)
		if s.Next(now.Add(wait-time.Millisecond)) != nil {
			t.Fatalf("try %d: ran before its back-off of %v", i, wait)
		}
		now = now.Add(wait)
	}
	base := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, w := range waits {
		lo, hi := base[i]*time.Second*3/4, base[i]*time.Second*5/4
		if w < lo || w >= hi {
			t.Fatalf("wait %d is %v, want in [%v, %v)", i, w, lo, hi)
		}
	}
	// A final failure leaves the queue.
	s.Next(now)
	if _, drop := s.Finish([]Outcome{{ID: id(1), Err: fail, Final: true}}, now); len(drop) != 1 || s.Len() != 0 {
		t.Fatalf("final failure kept: %v, len %d", drop, s.Len())
	}
}

// TestSchedulerPutOff: a blob put off (its peers withhold it for now)
// comes back at the time given, with no attempt counted and no back-off.
func TestSchedulerPutOff(t *testing.T) {
	s := NewScheduler(SchedulerConfig{MinBackoff: time.Second, MaxBackoff: 10 * time.Second})
	s.Add(Entry{ID: id(1), NotBefore: t0})
	now := t0
	for i := 0; i < 3; i++ {
		if b := s.Next(now); len(b) != 1 {
			t.Fatalf("round %d: batch %v", i, b)
		}
		until := now.Add(7 * time.Second)
		keep, drop := s.Finish([]Outcome{{ID: id(1), Until: until}}, now)
		if len(drop) != 0 || len(keep) != 1 || keep[0].Attempts != 0 || !keep[0].NotBefore.Equal(until) {
			t.Fatalf("round %d: put off: keep %+v, drop %v", i, keep, drop)
		}
		if b := s.Next(until.Add(-time.Millisecond)); b != nil {
			t.Fatalf("round %d: ran before it was due: %v", i, b)
		}
		now = until
	}
}

func TestSchedulerAgainAndRemove(t *testing.T) {
	s := NewScheduler(SchedulerConfig{})
	s.Add(Entry{ID: id(1), NotBefore: t0})
	s.Add(Entry{ID: id(2), NotBefore: t0})
	s.Add(Entry{ID: id(3), NotBefore: t0.Add(time.Hour)})
	s.Next(t0)
	s.Add(Entry{ID: id(1), NotBefore: t0}) // found missing again while running
	s.Remove(id(2))                        // deleted while running
	s.Remove(id(3))                        // deleted while waiting
	keep, drop := s.Finish([]Outcome{{ID: id(1)}, {ID: id(2)}}, t0)
	if len(keep) != 1 || keep[0].ID != id(1) || len(drop) != 1 || drop[0] != id(2) {
		t.Fatalf("keep %v drop %v", keep, drop)
	}
	if got := ids(s.Next(t0)); len(got) != 1 || got[0] != id(1) {
		t.Fatalf("rerun %v", got)
	}
	// Moving a waiting blob earlier.
	s.Add(Entry{ID: id(4), NotBefore: t0.Add(time.Hour)})
	s.Add(Entry{ID: id(4), NotBefore: t0})
	if w, ok := s.Wake(); !ok || !w.Equal(t0) {
		t.Fatalf("wake %v", w)
	}
}

// TestSchedulerProperty: random adds, removes, batches and outcomes keep
// the counts consistent and the concurrency bound; with every try
// succeeding at the end, the queue drains.
func TestSchedulerProperty(t *testing.T) {
	rng := testseed.Rand(t)
	for round := 0; round < 50; round++ {
		cfg := SchedulerConfig{Concurrency: 1 + rng.IntN(3), BatchBlobs: 1 + rng.IntN(5), BatchBytes: int64(1 + rng.IntN(300))}
		s := NewScheduler(cfg)
		now := t0
		var running [][]Entry
		live := map[blob.ID]bool{}
		for step := 0; step < 300; step++ {
			switch rng.IntN(5) {
			case 0:
				i := rng.IntN(40)
				s.Add(Entry{ID: id(i), Weight: int64(rng.IntN(100)), NotBefore: now.Add(time.Duration(rng.IntN(3)) * time.Second)})
				live[id(i)] = true
			case 1:
				i := rng.IntN(40)
				s.Remove(id(i))
				delete(live, id(i))
			case 2:
				if b := s.Next(now); b != nil {
					running = append(running, b)
				}
			case 3:
				if len(running) > 0 {
					k := rng.IntN(len(running))
					var outs []Outcome
					for _, e := range running[k] {
						var err error
						if rng.IntN(3) == 0 {
							err = errors.New("x")
						}
						outs = append(outs, Outcome{ID: e.ID, Err: err})
					}
					_, drop := s.Finish(outs, now)
					for _, d := range drop {
						delete(live, d)
					}
					running = append(running[:k], running[k+1:]...)
				}
			case 4:
				now = now.Add(time.Duration(rng.IntN(2000)) * time.Millisecond)
			}
			if len(running) > cfg.Concurrency {
				t.Fatalf("round %d: %d batches running", round, len(running))
			}
			if s.Pending()+s.InProgress() != s.Len() {
				t.Fatalf("round %d: pending %d + in progress %d != %d", round, s.Pending(), s.InProgress(), s.Len())
			}
		}
		// Drain: everything succeeds.
		for _, b := range running {
			var outs []Outcome
			for _, e := range b {
				outs = append(outs, Outcome{ID: e.ID})
			}
			s.Finish(outs, now)
		}
		for i := 0; s.Len() > 0; i++ {
			if i > 10000 {
				t.Fatalf("round %d: queue does not drain: %d left", round, s.Len())
			}
			now = now.Add(time.Hour)
			b := s.Next(now)
			var outs []Outcome
			for _, e := range b {
				outs = append(outs, Outcome{ID: e.ID})
			}
			s.Finish(outs, now)
		}
	}
}
