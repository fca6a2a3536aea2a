package latency

import (
	"slices"
	"testing"
	"time"
)

func TestPermille(t *testing.T) {
	// ms returns 1 ms, 2 ms, ... n ms, sorted.
	ms := func(n int) []time.Duration {
		out := make([]time.Duration, n)
		for i := range out {
			out[i] = time.Duration(i+1) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		n, p int
		want time.Duration
	}{
		{1, 500, 1 * time.Millisecond},
		{1, 990, 1 * time.Millisecond},
		{1, 999, 1 * time.Millisecond},
		{2, 500, 1 * time.Millisecond},
		{3, 500, 2 * time.Millisecond},
		{10, 900, 9 * time.Millisecond},
		{10, 990, 10 * time.Millisecond},
		{100, 500, 50 * time.Millisecond},
		{100, 990, 99 * time.Millisecond},
		{100, 999, 100 * time.Millisecond},
		{2000, 500, 1000 * time.Millisecond},
		{2000, 900, 1800 * time.Millisecond},
		{2000, 990, 1980 * time.Millisecond},
		{2000, 999, 1998 * time.Millisecond},
		{2000, 1000, 2000 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := Permille(ms(tc.n), tc.p); got != tc.want {
			t.Errorf("permille %d of 1..%d ms: got %v, want %v", tc.p, tc.n, got, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	lat := []time.Duration{5, 1, 4, 2, 3} // unsorted on purpose
	s := Summarize(lat)
	if s.Count != 5 || s.P50 != 3 || s.P90 != 5 || s.P99 != 5 || s.P999 != 5 || s.Max != 5 || s.Mean != 3 || s.Total != 15 {
		t.Errorf("Summarize: got %+v", s)
	}
	if !slices.IsSorted(lat) {
		t.Errorf("Summarize left %v unsorted", lat)
	}
	if s := Summarize(nil); s != (Stats{}) {
		t.Errorf("Summarize(nil): got %+v, want the zero Stats", s)
	}
}
