package ratelimit

import (
	"testing"
	"time"
)

// TestLimiter: a burst, then refusal with the wait until a token is back,
// refill with time, Give returning a token, and keys apart.
func TestLimiter(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	l := New(10.0/60, 2, func() time.Time { return now }) // 10 a minute, burst 2
	for i := range 2 {
		if ok, _ := l.Take("a"); !ok {
			t.Fatalf("take %d refused within the burst", i)
		}
	}
	ok, wait := l.Take("a")
	if ok || wait != 6*time.Second {
		t.Fatalf("third take: %v, wait %v; want refused, 6s", ok, wait)
	}
	if ok, _ := l.Take("b"); !ok {
		t.Fatal("another key is refused")
	}
	now = now.Add(6 * time.Second)
	if ok, _ := l.Take("a"); !ok {
		t.Fatal("refused after the refill")
	}
	l.Give("a")
	if ok, _ := l.Take("a"); !ok {
		t.Fatal("the token given back was not there")
	}
	if ok, _ := l.Take("a"); ok {
		t.Fatal("more tokens than given back")
	}
}
