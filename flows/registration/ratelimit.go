package registration

import (
	"time"

	"github.com/canonid/canonid/ratelimit"
)

// newLimiter is a token bucket per key (package ratelimit): l.Events
// tokens per l.Per, up to l.Burst.
func newLimiter(l Limit, now func() time.Time) *ratelimit.Limiter {
	return ratelimit.New(float64(l.Events)/l.Per.Seconds(), l.Burst, now)
}
