package recovery

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/weftnet/weft/blob"
)

// TestSchedulerData runs the scripts in testdata/scheduler: a scheduler
// driven by hand, printing every batch it hands out and every entry it
// keeps or drops. Times are offsets from a fixed start (at=+5s). Rewrite
// the expected output with -rewrite.
//
//	config [concurrency=N] [batch-blobs=N] [batch-bytes=N] [min-backoff=D] [max-backoff=D]
//	add blob=(a, b, ...) [weight=N] [at=D] [reason=text]
//	next at=D
//	finish at=D        one outcome a line: "a ok", "a fail why", "a final why"
//	remove blob=a
//	wake
//	queue
func TestSchedulerData(t *testing.T) {
	datadriven.Walk(t, "testdata/scheduler", func(t *testing.T, path string) {
		d := &schedDriver{}
		datadriven.RunTest(t, path, d.run)
	})
}

type schedDriver struct {
	s *Scheduler
}

// schedID names a test blob: the name's bytes, so IDs sort as names do.
func schedID(name string) blob.ID {
	var id blob.ID
	copy(id[:], name)
	return id
}

func schedName(id blob.ID) string { return strings.TrimRight(string(id[:]), "\x00") }

func offset(t time.Time) string {
	return "+" + t.Sub(t0).Round(time.Millisecond).String()
}

func scanAt(t *testing.T, d *datadriven.TestData) time.Time {
	t.Helper()
	var at string
	d.ScanArgs(t, "at", &at)
	dur, err := time.ParseDuration(at)
	if err != nil {
		d.Fatalf(t, "at=%s: %v", at, err)
	}
	return t0.Add(dur)
}

func scanDuration(t *testing.T, d *datadriven.TestData, key string, into *time.Duration) {
	t.Helper()
	var s string
	if d.MaybeScanArgs(t, key, &s) {
		v, err := time.ParseDuration(s)
		if err != nil {
			d.Fatalf(t, "%s=%s: %v", key, s, err)
		}
		*into = v
	}
}

func (x *schedDriver) run(t *testing.T, d *datadriven.TestData) string {
	if x.s == nil && d.Cmd != "config" {
		x.s = NewScheduler(SchedulerConfig{})
	}
	var out strings.Builder
	switch d.Cmd {
	case "config":
		var cfg SchedulerConfig
		d.MaybeScanArgs(t, "concurrency", &cfg.Concurrency)
		d.MaybeScanArgs(t, "batch-blobs", &cfg.BatchBlobs)
		d.MaybeScanArgs(t, "batch-bytes", &cfg.BatchBytes)
		scanDuration(t, d, "min-backoff", &cfg.MinBackoff)
		scanDuration(t, d, "max-backoff", &cfg.MaxBackoff)
		x.s = NewScheduler(cfg)
		c := x.s.cfg
		fmt.Fprintf(&out, "concurrency %d, batches of at most %d blobs and %d bytes, back-off %v to %v\n",
			c.Concurrency, c.BatchBlobs, c.BatchBytes, c.MinBackoff, c.MaxBackoff)
	case "add":
		arg, ok := d.Arg("blob")
		if !ok {
			d.Fatalf(t, "add needs blob=")
		}
		e := Entry{NotBefore: t0}
		d.MaybeScanArgs(t, "weight", &e.Weight)
		d.MaybeScanArgs(t, "reason", &e.Reason)
		if d.HasArg("at") {
			e.NotBefore = scanAt(t, d)
		}
		for _, name := range arg.Vals {
			e.ID = schedID(name)
			if x.s.Add(e) {
				fmt.Fprintf(&out, "%s: queued\n", name)
			} else {
				fmt.Fprintf(&out, "%s: already queued\n", name)
			}
		}
	case "next":
		batch := x.s.Next(scanAt(t, d))
		if batch == nil {
			out.WriteString("no batch\n")
			break
		}
		var names []string
		var bytes int64
		for _, e := range batch {
			names = append(names, schedName(e.ID))
			bytes += e.Weight
		}
		fmt.Fprintf(&out, "batch: %s (%d bytes)\n", strings.Join(names, " "), bytes)
	case "finish":
		var outcomes []Outcome
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				d.Fatalf(t, "outcome %q: want a blob and ok, fail or final", line)
			}
			o := Outcome{ID: schedID(f[0])}
			why := strings.Join(f[2:], " ")
			switch f[1] {
			case "ok":
			case "fail":
				o.Err = errors.New(why)
			case "final":
				o.Err, o.Final = errors.New(why), true
			default:
				d.Fatalf(t, "outcome %q: want ok, fail or final", line)
			}
			outcomes = append(outcomes, o)
		}
		keep, drop := x.s.Finish(outcomes, scanAt(t, d))
		for _, e := range keep {
			fmt.Fprintf(&out, "keep %s\n", entryString(e))
		}
		for _, id := range drop {
			fmt.Fprintf(&out, "drop %s\n", schedName(id))
		}
		if len(keep)+len(drop) == 0 {
			out.WriteString("nothing changed\n")
		}
	case "remove":
		var name string
		d.ScanArgs(t, "blob", &name)
		x.s.Remove(schedID(name))
		out.WriteString(x.queue())
	case "wake":
		if w, ok := x.s.Wake(); ok {
			fmt.Fprintf(&out, "wake at %s\n", offset(w))
		} else {
			out.WriteString("no wake-up: nothing waits, or no batch may start\n")
		}
	case "queue":
		out.WriteString(x.queue())
	default:
		d.Fatalf(t, "unknown command %s", d.Cmd)
	}
	return out.String()
}

func entryString(e Entry) string {
	s := fmt.Sprintf("%s weight=%d attempts=%d not-before=%s", schedName(e.ID), e.Weight, e.Attempts, offset(e.NotBefore))
	if e.Reason != "" {
		s += " reason=" + e.Reason
	}
	if e.LastError != "" {
		s += fmt.Sprintf(" last-error=%q", e.LastError)
	}
	return s
}

// queue lists every entry, waiting or running, by blob ID.
func (x *schedDriver) queue() string {
	var out strings.Builder
	fmt.Fprintf(&out, "%d waiting, %d running\n", x.s.Pending(), x.s.InProgress())
	for _, e := range x.s.Entries(1000) {
		state := "waiting"
		if x.s.entries[e.ID].running {
			state = "running"
		}
		fmt.Fprintf(&out, "  %s %s\n", state, entryString(e))
	}
	return out.String()
}
