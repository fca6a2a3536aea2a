// Package benchfmt writes the text of the benchmark harnesses' reports the
// same way in every harness: latencies, ratios and elapsed times, a writer
// that keeps the first error, and the progress lines of a long run.
package benchfmt

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/canonid/canonid/bench/internal/benchenv"
)

// Ms formats a latency in milliseconds: "1.23 ms".
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// Seconds formats an elapsed time in seconds: "1.23 s".
func Seconds(d time.Duration) string {
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// Ratio formats how many times a figure is its reference's: "1.23×", or
// "12.3×" from 10 on; "–" for 0, a ratio there is no reference for.
func Ratio(r float64) string {
	if r == 0 {
		return "–"
	}
	if r >= 10 {
		return fmt.Sprintf("%.1f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// Writer writes to an io.Writer until a write fails, then keeps that
// error and writes nothing more, so that a report is printed with plain
// fmt.Fprintf calls and its error checked once, with Err.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Write writes p, unless an earlier write failed.
func (e *Writer) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = fmt.Errorf("write report: %w", err)
	}
	return n, err
}

// Err is the first write error, nil if there was none.
func (e *Writer) Err() error { return e.err }

// Progress returns a function, called with the number of operations done,
// that prints a line to w at most every every: what, the number done (of n
// when n > 0), the time elapsed, the rate and the load average. With a nil
// w or every <= 0 it prints nothing. It may be called from several
// goroutines at once.
func Progress(w io.Writer, every time.Duration, what string, n int) func(done int) {
	if w == nil || every <= 0 {
		return func(int) {}
	}
	of := ""
	if n > 0 {
		of = "/" + strconv.Itoa(n)
	}
	var mu sync.Mutex
	start := time.Now()
	last := start
	return func(done int) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) >= every {
			last = now
			el := now.Sub(start)
			fmt.Fprintf(w, "%s: %d%s in %s (%.0f/s), load %s\n", what, done, of, el.Round(time.Second), float64(done)/el.Seconds(), benchenv.LoadAvg())
		}
	}
}
