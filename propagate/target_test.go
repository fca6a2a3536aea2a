package propagate_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/canonid/canonid/propagate"
)

// TestRetryAfter: seconds and HTTP dates (all three formats), relative to
// now; absent, negative, past or unreadable values wait nothing.
func TestRetryAfter(t *testing.T) {
	clock := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"120", 2 * time.Minute},
		{" 7 ", 7 * time.Second},
		{"0", 0},
		{"-5", 0},
		{clock.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{clock.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"Sunday, 02-Mar-25 10:00:00 GMT", 24 * time.Hour}, // RFC 850
		{"soon", 0},
	} {
		if got := propagate.RetryAfter(c.header, clock); got != c.want {
			t.Errorf("RetryAfter(%q) = %s, want %s", c.header, got, c.want)
		}
	}
}
