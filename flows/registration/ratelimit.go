package registration

import (
	"crypto/sha256"
	"math"
	"sync"
	"time"
)

// maxBuckets is how many keys a limiter keeps before it forgets the buckets
// that are full again.
const maxBuckets = 10000

// limiter is a token bucket per key, in memory (per replica): Limit.Events
// tokens per Limit.Per, up to Limit.Burst. Keys are hashed so that long keys
// cost no more memory.
type limiter struct {
	mu      sync.Mutex
	rate    float64 // tokens per second
	burst   float64
	now     func() time.Time
	buckets map[[16]byte]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newLimiter(l Limit, now func() time.Time) *limiter {
	return &limiter{rate: float64(l.Events) / l.Per.Seconds(), burst: float64(l.Burst), now: now, buckets: map[[16]byte]*bucket{}}
}

func limiterKey(key string) [16]byte {
	sum := sha256.Sum256([]byte(key))
	return [16]byte(sum[:16])
}

// take takes a token from key's bucket. When it is empty it returns false
// and how long until a token is back.
func (l *limiter) take(key string) (bool, time.Duration) {
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
	if b.tokens >= 1-1e-9 {
		b.tokens = max(b.tokens-1, 0)
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) / l.rate * float64(time.Second)))
}

// give puts back a token take took: redemption limits count failures only.
func (l *limiter) give(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.buckets[limiterKey(key)]; ok {
		l.refill(b, l.now())
		b.tokens = math.Min(l.burst, b.tokens+1)
	}
}

func (l *limiter) refill(b *bucket, now time.Time) {
	if now.After(b.at) {
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
		b.at = now
	}
}

// prune forgets the buckets that are full again.
func (l *limiter) prune(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
