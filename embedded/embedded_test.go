package embedded_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline/embedded"
)

func mustOpen(tb testing.TB, dir string) (*embedded.Store, *redis.Client) {
	tb.Helper()
	s, err := embedded.Open(dir, time.Hour, nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr()})
	tb.Cleanup(func() { c.Close(); s.Close() })
	return s, c
}

func TestDataSurvivesACleanRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := mustOpen(t, dir)
	c.Set(ctx, "str", "值", 0)
	c.Set(ctx, "ttl", "v", time.Hour)
	c.HSet(ctx, "h", "a", "1", "b", "二")
	c.SAdd(ctx, "s", "x", "y")
	c.ZAdd(ctx, "z", redis.Z{Member: "m", Score: 1.5}, redis.Z{Member: "n", Score: -2})
	c.GeoAdd(ctx, "g", &redis.GeoLocation{Name: "c01", Longitude: 121.43, Latitude: 31.24})
	c.RPush(ctx, "l", "1", "2", "3")
	id1 := c.XAdd(ctx, &redis.XAddArgs{Stream: "x", Values: []any{"e", "one"}}).Val()
	c.XGroupCreate(ctx, "x", "board", "0")
	id2 := c.XAdd(ctx, &redis.XAddArgs{Stream: "x", Values: []any{"e", "two"}}).Val()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, c2 := mustOpen(t, dir)
	if got := c2.Get(ctx, "str").Val(); got != "值" {
		t.Errorf("string = %q", got)
	}
	if ttl := c2.PTTL(ctx, "ttl").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("ttl = %v, want kept", ttl)
	}
	if got, want := c2.HGetAll(ctx, "h").Val(), map[string]string{"a": "1", "b": "二"}; !reflect.DeepEqual(got, want) {
		t.Errorf("hash = %v", got)
	}
	if got := c2.SCard(ctx, "s").Val(); got != 2 {
		t.Errorf("set size = %d", got)
	}
	if got := c2.ZScore(ctx, "z", "n").Val(); got != -2 {
		t.Errorf("zscore = %v", got)
	}
	if got := c2.GeoSearch(ctx, "g", &redis.GeoSearchQuery{Longitude: 121.43, Latitude: 31.24, Radius: 1, RadiusUnit: "km"}).Val(); len(got) != 1 {
		t.Errorf("geo = %v", got)
	}
	if got := c2.LRange(ctx, "l", 0, -1).Val(); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Errorf("list = %v", got)
	}
	xs := c2.XRange(ctx, "x", "-", "+").Val()
	if len(xs) != 2 || xs[0].ID != id1 || xs[1].ID != id2 {
		t.Fatalf("stream = %v", xs)
	}
	// The consumer group kept its place: it has read nothing yet, so it gets both.
	got := c2.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "board", Consumer: "a", Streams: []string{"x", ">"}, Count: 10}).Val()
	if len(got) != 1 || len(got[0].Messages) != 2 {
		t.Errorf("group read = %v", got)
	}
	// New entries go after the restored ones.
	if id3 := c2.XAdd(ctx, &redis.XAddArgs{Stream: "x", Values: []any{"e", "three"}}).Val(); id3 <= id2 {
		t.Errorf("new id %s not after %s", id3, id2)
	}
}

// Keys given a time to live expire by the clock, before and after a
// restart, as Redis's do: the login limit, the nightly job's lock and
// idempotency keys count on it.
func TestKeysExpireByTheClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, c := mustOpen(t, dir)
	c.Set(ctx, "short", "v", 300*time.Millisecond)
	c.Set(ctx, "later", "v", 1500*time.Millisecond)
	c.Set(ctx, "kept", "v", 0)
	time.Sleep(600 * time.Millisecond)
	if n := c.Exists(ctx, "short").Val(); n != 0 {
		t.Errorf("a key 300 ms old with a 300 ms TTL still exists 600 ms later")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	_, c2 := mustOpen(t, dir)
	if n := c2.Exists(ctx, "later").Val(); n != 1 {
		t.Fatalf("the key with 900 ms left did not survive the restart")
	}
	deadline := time.Now().Add(5 * time.Second)
	for c2.Exists(ctx, "later").Val() == 1 {
		if time.Now().After(deadline) {
			t.Fatalf("a restored key with 900 ms left still exists 5 s later (TTL %v)", c2.PTTL(ctx, "later").Val())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := c2.Get(ctx, "kept").Val(); got != "v" {
		t.Errorf("a key without a TTL = %q after the restart, want it kept", got)
	}
}

func TestOneOwnerPerDataDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, ok := embedded.Locate(dir); ok {
		t.Fatal("Locate found an owner of an empty directory")
	}
	s, _ := mustOpen(t, dir)
	if _, err := embedded.Open(dir, time.Hour, nil); !errors.Is(err, embedded.ErrRunning) {
		t.Fatalf("second Open err = %v, want ErrRunning", err)
	}
	addr, ok := embedded.Locate(dir)
	if !ok || addr != s.Addr() {
		t.Fatalf("Locate = %q, %v; want %q", addr, ok, s.Addr())
	}
	s.Close()
	if _, ok := embedded.Locate(dir); ok {
		t.Fatal("Locate found an owner after Close")
	}
	s2, err := embedded.Open(dir, time.Hour, nil)
	if err != nil {
		t.Fatalf("reopen after close: %v", err)
	}
	s2.Close()
}
