package redistest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline/internal/redistest"
)

// The cluster spreads keys over three masters, and a client of it reads
// back what it wrote wherever each key landed.
func TestClusterHasThreeMastersSharingTheSlots(t *testing.T) {
	cl := redistest.StartCluster(t)
	if again := redistest.StartCluster(t); again != cl {
		t.Error("a second StartCluster started another cluster; the binary should share one")
	}
	c, prefix := cl.New(t)
	ctx := context.Background()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client is a %T, want a cluster client", c)
	}
	for i := range 100 {
		if err := c.Set(ctx, fmt.Sprintf("%s:k%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var holding []int64
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		n, err := m.Eval(ctx, "return #redis.call('KEYS', ARGV[1])", nil, prefix+":*").Int64()
		mu.Lock()
		holding = append(holding, n)
		mu.Unlock()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(holding) != 3 || slices.Contains(holding, 0) {
		t.Errorf("keys per master = %v, want three masters each holding some", holding)
	}
	for i := range 100 {
		got, err := c.Get(ctx, fmt.Sprintf("%s:k%d", prefix, i)).Int()
		if err != nil || got != i {
			t.Fatalf("k%d = %d, %v; want %d", i, got, err, i)
		}
	}
	// Two keys of one hash tag go to one node, so a script may take both.
	keys := []string{prefix + ":{tag}:a", prefix + ":{tag}:b"}
	if err := c.Eval(ctx, "redis.call('SET', KEYS[1], 1); return redis.call('SET', KEYS[2], 2)", keys).Err(); err != nil {
		t.Errorf("script over one hash tag: %v", err)
	}
	err = c.Eval(ctx, "return redis.call('MGET', KEYS[1], KEYS[2])", []string{prefix + ":k1", prefix + ":k2"}).Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("script over two slots answered %v, want CROSSSLOT: is this really a cluster?", err)
	}
}
