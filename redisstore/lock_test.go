package redisstore_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

func TestLockIsHeldByOneAtATime(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		a, other := redisstore.NewLocker(b.db), redisstore.NewLocker(b.db)
		unlock, ok, err := a.Lock(ctx, "grouping", 2*time.Second)
		if err != nil || !ok {
			t.Fatalf("first lock: ok %v err %v", ok, err)
		}
		if _, ok, err := other.Lock(ctx, "grouping", 2*time.Second); ok || err != nil {
			t.Fatalf("second lock while held: ok %v err %v, want refused", ok, err)
		}
		if u, ok, err := other.Lock(ctx, "another job", 2*time.Second); !ok || err != nil {
			t.Fatalf("a lock of another name: ok %v err %v", ok, err)
		} else if err := u(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		if err := unlock(); err != nil {
			t.Fatalf("second unlock: %v", err)
		}
		u, ok, err := other.Lock(ctx, "grouping", 2*time.Second)
		if err != nil || !ok {
			t.Fatalf("lock after unlock: ok %v err %v", ok, err)
		}
		u()

		_, _, err = a.Lock(ctx, "grouping", time.Millisecond)
		AssertCode(t, err, hotline.EINVALID)
	})
}

// A holder keeps its lock past the ttl while it runs: the lock is
// extended, not left to expire under a long job.
func TestLockIsExtendedWhileHeld(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		l := redisstore.NewLocker(b.db)
		unlock, ok, err := l.Lock(ctx, "long", time.Second)
		if err != nil || !ok {
			t.Fatalf("lock: ok %v err %v", ok, err)
		}
		defer unlock()
		for range 5 {
			b.wait(500 * time.Millisecond)
			if MustTryLock(t, l, "long", time.Second) {
				t.Fatal("taken again while its holder runs")
			}
		}
	})
}

// MustTryLock tries to take the lock name once Redis answers, and reports
// whether it did (releasing it at once). A try is given 5% of ttl (redsync's
// timeout factor), 50 ms for a second, which a busy machine may exceed
// without anything being wrong: EUNAVAILABLE is tried again, for up to 10 s.
func MustTryLock(tb testing.TB, l *redisstore.Locker, name string, ttl time.Duration) bool {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		unlock, ok, err := l.Lock(context.Background(), name, ttl)
		if hotline.ErrorCode(err) == hotline.EUNAVAILABLE && time.Now().Before(deadline) {
			continue
		}
		if err != nil {
			tb.Fatalf("lock %s: %v", name, err)
		}
		if ok {
			unlock()
		}
		return ok
	}
}

func TestLockOfUnreachableStoreIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	_, ok, err := redisstore.NewLocker(redisstore.NewDB(c, "")).Lock(context.Background(), "grouping", time.Minute)
	if ok {
		t.Fatal("locked on no server")
	}
	AssertCode(t, err, hotline.EUNAVAILABLE)
}
