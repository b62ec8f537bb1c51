package llm

import (
	"sync"
	"time"
)

// bucket is a token bucket holding up to a minute's worth of tokens, so a
// per-minute limit allows that minute's burst and then a steady rate.
// Takes may drive it negative: a take returns how long to wait until its
// tokens exist, so waiters are served in order and a take larger than the
// bucket still goes through, later. A nil bucket is unlimited.
type bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	size   float64
	tokens float64
	last   time.Time
}

// newBucket returns a bucket for perMinute tokens a minute, full at now;
// nil if perMinute is 0.
func newBucket(perMinute int, now time.Time) *bucket {
	if perMinute <= 0 {
		return nil
	}
	n := float64(perMinute)
	return &bucket{rate: n / 60, size: n, tokens: n, last: now}
}

// take removes n tokens at now and returns how long to wait for them.
func (b *bucket) take(now time.Time, n float64) time.Duration {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.size, b.tokens+d.Seconds()*b.rate)
		b.last = now
	}
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

// give returns n tokens: a take that never ran, or an estimate that was
// too high. A negative n takes more, for an estimate that was too low.
func (b *bucket) give(n float64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.tokens = min(b.size, b.tokens+n)
	b.mu.Unlock()
}
