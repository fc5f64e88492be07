package redistest_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline/internal/redistest"
)

// A server of one's own keeps what it acknowledged across a SIGKILL and a
// clean stop (append-only file, fsync always), stops answering while
// paused, and comes back on the same address each time.
func TestServerSurvivesKillStopAndPause(t *testing.T) {
	s := redistest.MustStartServer(t, redistest.ServerOptions{AppendFsync: "always"})
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 300 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before the crash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a killed server answers")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "before the crash" {
		t.Fatalf("after SIGKILL and start: %q, %v", got, err)
	}

	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("a paused server answers")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, "k", "before the stop", 0).Err(); err != nil {
		t.Fatalf("after resume: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "before the stop" {
		t.Fatalf("after a clean stop and start: %q, %v", got, err)
	}
}

// Without the append-only file a restarted server starts empty: tests
// that need data to survive must ask for it.
func TestServerWithoutPersistenceStartsEmpty(t *testing.T) {
	s := redistest.MustStartServer(t, redistest.ServerOptions{})
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("exists after restart = %d, %v; want 0", n, err)
	}
}
