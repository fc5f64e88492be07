package memlimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
)

func TestBurstThenOneEveryInterval(t *testing.T) {
	l := New()
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	ctx := context.Background()
	for i := range 3 {
		if ok, _, _ := l.Allow(ctx, "a", 3, time.Minute); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait, err := l.Allow(ctx, "a", 3, time.Minute)
	if err != nil || ok || wait != 20*time.Second {
		t.Fatalf("4th: ok=%v wait=%v err=%v; want refused, 20s", ok, wait, err)
	}
	if ok, _, _ := l.Allow(ctx, "b", 3, time.Minute); !ok {
		t.Fatal("another key refused")
	}
	now = now.Add(20 * time.Second)
	if ok, _, _ := l.Allow(ctx, "a", 3, time.Minute); !ok {
		t.Fatal("refused after waiting the interval")
	}
	now = now.Add(2 * time.Minute) // everything forgiven: a sweep forgets it
	total := 0
	for i := range l.shards {
		l.shards[i].expire(now, time.Minute)
		total += len(l.shards[i].tat)
	}
	if total != 0 {
		t.Fatalf("%d keys kept after a sweep, want 0", total)
	}
	if _, _, err := l.Allow(ctx, "a", 0, time.Minute); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("limit 0: %v", err)
	}
}

func TestConcurrentCallersNeverExceedTheBurst(t *testing.T) {
	l := New()
	l.now = func() time.Time { return time.Unix(1_800_000_000, 0) }
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _, _ := l.Allow(context.Background(), "k", 10, time.Minute); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 10 {
		t.Fatalf("allowed %d, want 10", allowed)
	}
}
