package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress shows how far long work (a sync, an import) has gone: a bar
// redrawn in place on a terminal, a plain line every few seconds otherwise.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	// total is the expected number of entries, 0 when unknown (a bar
	// needs it; without it the count and rate are shown).
	total int
	start time.Time
	last  time.Time
	now   func() time.Time
	drawn bool
}

// Redraw intervals.
const (
	ttyEvery   = 200 * time.Millisecond
	plainEvery = 5 * time.Second
)

// newProgress starts a progress display on w.
func newProgress(w io.Writer, label string, total int) *progress {
	return &progress{w: w, tty: isTerminal(w), label: label, total: total, start: time.Now(), now: time.Now}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Update reports done entries; it draws at most every few hundred
// milliseconds on a terminal, every few seconds otherwise.
func (p *progress) Update(done int) {
	now := p.now()
	every := plainEvery
	if p.tty {
		every = ttyEvery
	}
	if now.Sub(p.last) < every {
		return
	}
	p.last = now
	p.draw(done, now)
}

// Done draws the final state and ends the line.
func (p *progress) Done(done int) {
	if !p.tty && !p.drawn {
		return // short work: the summary says it all
	}
	p.draw(done, p.now())
	if p.tty {
		fmt.Fprintln(p.w)
	}
}

func (p *progress) draw(done int, now time.Time) {
	p.drawn = true
	elapsed := now.Sub(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(done) / elapsed
	}
	var b strings.Builder
	if p.tty {
		b.WriteString("\r\033[K")
	}
	fmt.Fprintf(&b, "%s ", p.label)
	if p.total > 0 {
		frac := min(float64(done)/float64(p.total), 1)
		const width = 30
		n := int(frac * width)
		if p.tty {
			fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", n), strings.Repeat(".", width-n))
		}
		fmt.Fprintf(&b, "%3.0f%% %d/%d entries", frac*100, done, p.total)
		if rate > 0 && done < p.total {
			eta := time.Duration(float64(p.total-done)/rate) * time.Second
			fmt.Fprintf(&b, ", about %s left", eta.Round(time.Second))
		}
	} else {
		fmt.Fprintf(&b, "%d entries", done)
	}
	fmt.Fprintf(&b, ", %.0f/s", rate)
	if !p.tty {
		b.WriteByte('\n')
	}
	io.WriteString(p.w, b.String())
}
