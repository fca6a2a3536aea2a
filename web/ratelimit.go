package web

import (
	"time"

	"github.com/canonid/canonid/ratelimit"
)

// newLimiter is a token bucket per key (package ratelimit): r's rate, up to
// burst.
func newLimiter(r Rate, burst int, now func() time.Time) *ratelimit.Limiter {
	return ratelimit.New(r.perSecond(), burst, now)
}
