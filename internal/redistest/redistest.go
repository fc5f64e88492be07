// Package redistest gives tests a real Redis server: the one named by
// REDIS_URL when set, else a throwaway redis-server started on a free
// loopback port for the test binary and stopped when the process exits.
// Every call hands out a fresh key prefix, so tests can run in parallel on
// one server without seeing each other's keys.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	once    sync.Once
	addr    string
	url     string
	bootErr error
	counter atomic.Int64
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
	prefix := fmt.Sprintf("test%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, counter.Add(1))
	return c, prefix
}

func boot() {
	if u := os.Getenv("REDIS_URL"); u != "" {
		url = u
		return
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		bootErr = fmt.Errorf("no REDIS_URL and no redis-server on PATH (install Debian's redis-server): %w", err)
		return
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		bootErr = err
		return
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "redistest")
	if err != nil {
		bootErr = err
		return
	}
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		bootErr = err
		return
	}
	addr = fmt.Sprintf("127.0.0.1:%d", port)
	url = "redis://" + addr + "/0"
	go reap(cmd, dir)
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			bootErr = fmt.Errorf("redis-server on %s did not answer: %w", addr, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reap stops the server once the test binary has exited. A test binary
// has no reliable exit hook (TestMain may call os.Exit, a test may panic),
// so a small shell outlives us, waits for our pid to go and kills the server.
func reap(cmd *exec.Cmd, dir string) {
	watch := exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %d 2>/dev/null; do sleep 1; done; kill %d 2>/dev/null; rm -rf %q",
		os.Getpid(), cmd.Process.Pid, dir))
	_ = watch.Start()
	_ = cmd.Wait()
}
