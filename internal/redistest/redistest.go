// Package redistest gives tests a real Redis: a standalone server (URL,
// New), a Redis Cluster of three masters (StartCluster) and a primary with a
// replica watched by three sentinels (SharedSentinel, StartSentinel, with
// Failover). Each is the one named in the environment when set (REDIS_URL,
// REDIS_CLUSTER_ADDRS), else throwaway redis-server processes on free
// loopback ports, started once per test binary (a failover group once per
// test) and stopped when the process exits. Every client comes with a
// fresh key prefix, so tests can run in parallel on one server without
// seeing each other's keys.
package redistest

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	once    sync.Once
	url     string
	bootErr error
)

// URL returns the address of the test Redis server as a redis:// URL,
// starting one if needed. It fails the test when no server can be had.
func URL(tb testing.TB) string {
	tb.Helper()
	once.Do(boot)
	if bootErr != nil {
		tb.Fatalf("redistest: %v", bootErr)
	}
	return url
}

// New returns a client of the test Redis server and a key prefix unique to
// this call. The client is closed when the test ends.
func New(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	opt, err := redis.ParseURL(URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(opt)
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: ping %s: %v", url, err)
	}
	return c, newPrefix()
}

func boot() {
	if u := os.Getenv("REDIS_URL"); u != "" {
		url = u
		return
	}
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		bootErr = err
		return
	}
	remover := removeOnExit(dir)
	s, err := startProc(dir, "redis", func(int) ([]string, error) {
		return []string{"--save", "", "--appendonly", "no", "--dir", dir}, nil
	})
	if err != nil {
		stopAll(nil, remover, dir)
		bootErr = err
		return
	}
	url = "redis://" + s.addr + "/0"
}
