// Package memlimit is an in-process rate limiter (GCRA per key) for limits
// that protect one replica from one client: public intake and lookups. It
// costs no round trip to Redis, which matters on the hottest path of the
// service. Limits that guard secrets (login attempts) must be shared by
// every replica and use the Redis limiter instead: with N replicas behind a
// load balancer a client gets up to N times a per-replica limit.
package memlimit

import (
	"context"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
)

const shards = 64

// Limiter implements hotline.RateLimiter in memory.
type Limiter struct {
	seed   maphash.Seed
	now    func() time.Time
	shards [shards]shard
}

type shard struct {
	mu sync.Mutex
	// tat is each key's theoretical arrival time of its next request.
	tat   map[string]time.Time
	sweep time.Time
}

var _ hotline.RateLimiter = (*Limiter)(nil)

// New returns an empty limiter.
func New() *Limiter {
	l := &Limiter{seed: maphash.MakeSeed(), now: time.Now}
	for i := range l.shards {
		l.shards[i].tat = map[string]time.Time{}
	}
	return l
}

// Allow implements hotline.RateLimiter: a burst of limit requests, then one
// every window/limit. A refused request is not counted.
func (l *Limiter) Allow(_ context.Context, key string, limit int, window time.Duration) (bool, time.Duration, error) {
	if limit < 1 || window <= 0 {
		return false, 0, hotline.Errorf(hotline.EINVALID, "rate limit needs a limit of at least 1 and a positive window")
	}
	now := l.now()
	interval := time.Duration(math.Ceil(float64(window) / float64(limit)))
	s := &l.shards[maphash.String(l.seed, key)%shards]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now, window)
	tat := s.tat[key]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if wait := next.Sub(now) - window; wait > 0 {
		return false, wait, nil
	}
	s.tat[key] = next
	return true, 0, nil
}

// expire drops keys whose allowance is full again, at most once per
// window, so the map holds only clients seen lately.
func (s *shard) expire(now time.Time, window time.Duration) {
	if now.Sub(s.sweep) < window {
		return
	}
	s.sweep = now
	for k, t := range s.tat {
		if !t.After(now) {
			delete(s.tat, k)
		}
	}
}
