package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressAbove is the transfer size from which a bar is drawn.
const progressAbove = 4 << 20

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// bar draws a progress bar on a terminal, at most ten times a second.
type bar struct {
	w     io.Writer
	label string
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

// newBar returns a bar for a transfer of size bytes, or nil when w is not
// a terminal or the transfer is small. A nil bar draws nothing.
func newBar(w io.Writer, label string, size int64) *bar {
	if size < progressAbove || !isTerminal(w) {
		return nil
	}
	return &bar{w: w, label: label}
}

// update is a progress callback.
func (b *bar) update(done, total int64) {
	if b == nil || total <= 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.last) < 100*time.Millisecond && done < total {
		return
	}
	b.last = time.Now()
	const width = 30
	filled := int(min(done, total) * width / total)
	fmt.Fprintf(b.w, "\r%s [%s%s] %3d%% %.1f/%.1f MB", b.label, strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		min(done, total)*100/total, float64(done)/1e6, float64(total)/1e6)
	b.drawn = true
}

// done ends the bar's line.
func (b *bar) done() {
	if b != nil && b.drawn {
		fmt.Fprintln(b.w)
	}
}

// callback returns the bar's update function, or nil for a nil bar.
func (b *bar) callback() func(done, total int64) {
	if b == nil {
		return nil
	}
	return b.update
}
