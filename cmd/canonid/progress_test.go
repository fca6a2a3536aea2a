package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "sync campus", 1000)
	now := p.start
	p.now = func() time.Time { return now }

	now = now.Add(time.Second)
	p.Update(100) // first update: drawn
	now = now.Add(time.Second)
	p.Update(200) // within 5 s of the last line: not drawn
	now = now.Add(5 * time.Second)
	p.Update(700)
	p.Done(1000)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines = %q", lines)
	}
	if lines[0] != "sync campus  10% 100/1000 entries, about 9s left, 100/s" {
		t.Errorf("first line = %q", lines[0])
	}
	if !strings.HasPrefix(lines[2], "sync campus 100% 1000/1000 entries") {
		t.Errorf("last line = %q", lines[2])
	}

	// Unknown total: count and rate. Short work prints nothing.
	buf.Reset()
	p = newProgress(&buf, "sync campus", 0)
	p.Done(5)
	if buf.Len() != 0 {
		t.Fatalf("short work printed %q", buf.String())
	}
	p.now = func() time.Time { return p.start.Add(10 * time.Second) }
	p.Update(50)
	if got := buf.String(); got != "sync campus 50 entries, 5/s\n" {
		t.Fatalf("unknown total = %q", got)
	}
}
