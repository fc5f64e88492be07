package redisstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

func TestRateLimiterAllowsLimitThenRefuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := redisstore.NewRateLimiter(b.db)
		ctx := context.Background()
		const limit, window = 3, 400 * time.Millisecond
		for i := range limit {
			ok, wait, err := r.Allow(ctx, "login:ip:192.0.2.1", limit, window)
			if err != nil {
				t.Fatal(err)
			}
			if !ok || wait != 0 {
				t.Fatalf("request %d: ok=%v retryAfter=%v, want allowed", i+1, ok, wait)
			}
		}
		ok, wait, err := r.Allow(ctx, "login:ip:192.0.2.1", limit, window)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Fatal("request 4 of 3 allowed")
		}
		if wait <= 0 || wait > window {
			t.Errorf("retryAfter = %v, want in (0, %v]", wait, window)
		}

		ok, _, err = r.Allow(ctx, "login:ip:192.0.2.2", limit, window)
		if err != nil || !ok {
			t.Errorf("another key was refused (%v, %v): keys must count apart", ok, err)
		}

		b.wait(wait + 50*time.Millisecond)
		ok, _, err = r.Allow(ctx, "login:ip:192.0.2.1", limit, window)
		if err != nil || !ok {
			t.Errorf("after retryAfter the request was refused (%v, %v)", ok, err)
		}

		keys := MustKeys(t, b.db.Client(), b.db.Prefix()+":rl:*")
		// 192.0.2.1's key is live; 192.0.2.2's may already have expired,
		// its one request being long forgiven.
		if len(keys) < 1 || len(keys) > 2 {
			t.Fatalf("rate-limit keys = %v; want 1 or 2", keys)
		}
		for _, k := range keys {
			if strings.Contains(k, "192.0.2") {
				t.Errorf("key %q holds the client address in clear", k)
			}
			ttl, err := b.db.Client().PTTL(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= 0 || ttl > window {
				t.Errorf("key TTL = %v, want in (0, %v]", ttl, window)
			}
		}
	})
}

func TestRateLimiterRejectsNonsense(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		r := redisstore.NewRateLimiter(b.db)
		_, _, err := r.Allow(context.Background(), "k", 0, time.Minute)
		AssertCode(t, err, hotline.EINVALID)
		_, _, err = r.Allow(context.Background(), "k", 5, 0)
		AssertCode(t, err, hotline.EINVALID)
	})
}
