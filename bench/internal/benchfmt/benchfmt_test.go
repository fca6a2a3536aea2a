package benchfmt

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Ms(1234567 * time.Nanosecond), "1.23 ms"},
		{Seconds(1500 * time.Millisecond), "1.50 s"},
		{Ratio(0), "–"},
		{Ratio(1), "1.00×"},
		{Ratio(9.994), "9.99×"},
		{Ratio(12.34), "12.3×"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	fmt.Fprintf(w, "a %d\n", 1)
	if w.Err() != nil || buf.String() != "a 1\n" {
		t.Errorf("wrote %q, err %v", buf.String(), w.Err())
	}
	f := &failWriter{}
	w = NewWriter(f)
	fmt.Fprintln(w, "one")
	fmt.Fprintln(w, "two")
	if f.n != 1 || w.Err() == nil || !strings.Contains(w.Err().Error(), "disk full") {
		t.Errorf("%d writes, err %v; want 1 write and the error kept", f.n, w.Err())
	}
}

func TestProgress(t *testing.T) {
	Progress(nil, time.Second, "x", 0)(1) // prints nothing, does not panic
	var buf bytes.Buffer
	tick := Progress(&buf, time.Nanosecond, "setup", 10)
	for buf.Len() == 0 { // until the clock has moved by a nanosecond
		tick(3)
	}
	if !strings.HasPrefix(buf.String(), "setup: 3/10 in ") || !strings.Contains(buf.String(), ", load ") {
		t.Errorf("progress line %q", buf.String())
	}
}
