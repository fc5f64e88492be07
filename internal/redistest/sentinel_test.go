package redistest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline/internal/redistest"
)

// A failover promotes the replica; what was written before is on the new
// primary, and the client follows it.
func TestSentinelFailoverPromotesTheReplica(t *testing.T) {
	s := redistest.StartSentinel(t)
	c, prefix := s.New(t)
	ctx := context.Background()
	before := s.Primary(t)
	for i := range 50 {
		if err := c.Set(ctx, fmt.Sprintf("%s:k%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	s.Failover(t)
	after := s.Primary(t)
	if after == before {
		t.Fatalf("the primary is still %s after the failover", before)
	}
	var err error
	for range 50 { // the client may hold a connection the switch closes
		if err = c.Set(ctx, prefix+":after", "yes", 0).Err(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("writing after the failover: %v", err)
	}
	for i := range 50 {
		got, err := c.Get(ctx, fmt.Sprintf("%s:k%d", prefix, i)).Int()
		if err != nil || got != i {
			t.Fatalf("k%d = %d, %v after the failover; want %d", i, got, err, i)
		}
	}
	direct := redis.NewClient(&redis.Options{Addr: after})
	defer direct.Close()
	if got, err := direct.Get(ctx, prefix+":after").Result(); err != nil || got != "yes" {
		t.Errorf("the new primary %s holds %q, %v; the client wrote elsewhere", after, got, err)
	}
	old := redis.NewClient(&redis.Options{Addr: before})
	defer old.Close()
	role, err := old.Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 || role[0] != "slave" {
		t.Errorf("the old primary's ROLE = %v, %v; want slave", role, err)
	}
}

// The shared group serves tests under their own prefixes.
func TestSharedSentinelServes(t *testing.T) {
	s := redistest.SharedSentinel(t)
	if again := redistest.SharedSentinel(t); again != s {
		t.Error("a second SharedSentinel started another group")
	}
	c, prefix := s.New(t)
	ctx := context.Background()
	if err := c.Set(ctx, prefix+":k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, prefix+":k").Result(); err != nil || got != "v" {
		t.Fatalf("got %q, %v; want v", got, err)
	}
	if len(s.Addrs) != 3 {
		t.Errorf("sentinels = %v, want three", s.Addrs)
	}
}
