// Package latency summarises the latencies a benchmark harness under bench/
// measured with exact order statistics: nearest-rank percentiles, nothing
// interpolated.
package latency

import (
	"slices"
	"time"
)

// Stats summarises latencies. The durations are for the text report; the
// same in milliseconds are for -json.
type Stats struct {
	Count int           `json:"count"`
	Total time.Duration `json:"-"`
	P50   time.Duration `json:"-"`
	P90   time.Duration `json:"-"`
	P99   time.Duration `json:"-"`
	P999  time.Duration `json:"-"`
	Max   time.Duration `json:"-"`
	Mean  time.Duration `json:"-"`
	// The same in milliseconds, for -json.
	P50ms  float64 `json:"p50_ms"`
	P90ms  float64 `json:"p90_ms"`
	P99ms  float64 `json:"p99_ms"`
	P999ms float64 `json:"p99_9_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

// Millis is d in milliseconds.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Summarize sorts lat (in place) and returns its statistics, the zero Stats
// when it is empty. A percentile is the nearest-rank order statistic (see
// Permille): p50 of 2000 is the 1000th smallest, p99 the 1980th and p99.9
// the 1998th.
func Summarize(lat []time.Duration) Stats {
	if len(lat) == 0 {
		return Stats{}
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	s := Stats{
		Count: len(lat), Total: total,
		P50: Permille(lat, 500), P90: Permille(lat, 900), P99: Permille(lat, 990), P999: Permille(lat, 999),
		Max: lat[len(lat)-1], Mean: total / time.Duration(len(lat)),
	}
	s.P50ms, s.P90ms, s.P99ms, s.P999ms = Millis(s.P50), Millis(s.P90), Millis(s.P99), Millis(s.P999)
	s.MaxMs, s.MeanMs = Millis(s.Max), Millis(s.Mean)
	return s
}

// Permille returns the nearest-rank p-th permille (0 < p <= 1000) of
// sorted, which must not be empty: the value of rank ceil(p·n/1000) of the
// n values. The p-th percentile is Permille(sorted, 10*p).
func Permille(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 999) / 1000 // ceil(p·n/1000), in integers
	return sorted[max(rank, 1)-1]
}
