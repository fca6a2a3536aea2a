// Package ratelimit is a token bucket per key, in memory (one set per
// replica), for the login page and the self-service flows: failed logins
// and token redemptions per client address, account or identifier.
package ratelimit

import (
	"crypto/sha256"
	"math"
	"sync"
	"time"
)

// maxBuckets is how many keys a Limiter keeps before it forgets the
// buckets that are full again.
const maxBuckets = 10000

// Limiter is a token bucket per key: rate tokens a second, up to burst.
// New makes one; it is safe for concurrent use.
// Keys are hashed, so that an attacker sending long identifiers cannot grow
// the memory per bucket.
type Limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[[16]byte]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// New returns a Limiter refilling perSecond tokens a second up to burst,
// reading time from now.
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	return &Limiter{rate: perSecond, burst: float64(burst), now: now, buckets: map[[16]byte]*bucket{}}
}

func limiterKey(key string) [16]byte {
	sum := sha256.Sum256([]byte(key))
	return [16]byte(sum[:16])
}

// Take takes a token from key's bucket. When it is empty it returns false
// and how long until a token is back.
func (l *Limiter) Take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := limiterKey(key)
	b, ok := l.buckets[k]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[k] = b
	}
	l.refill(b, now)
	// The epsilon absorbs the rounding of rates such as 10 a minute.
	if b.tokens >= 1-1e-9 {
		b.tokens = max(b.tokens-1, 0)
		return true, 0
	}
	wait := time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
	return false, wait
}

// Give puts back the token a Take took, for limits that count failed
// attempts only (a successful login returns its token).
func (l *Limiter) Give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[limiterKey(key)]; ok {
		l.refill(b, l.now())
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
}

// prune forgets the buckets that are full again.
func (l *Limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
