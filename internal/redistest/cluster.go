package redistest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of three masters, no replicas.
type Cluster struct {
	// Addrs are the masters' addresses (host:port).
	Addrs []string
}

var (
	clusterOnce sync.Once
	cluster     *Cluster
	clusterErr  error
)

// clusterReady bounds how long the masters may take to agree on the slots.
const clusterReady = 30 * time.Second

// StartCluster returns the Redis Cluster of this test binary: the one named
// by REDIS_CLUSTER_ADDRS (comma-separated addresses) when set, else three
// masters started the first time on free loopback ports (cluster-enabled,
// no persistence, in a temporary directory) and stopped when the binary
// exits. Tests share it, each under its own prefix (Cluster.New). It fails
// the test when no cluster can be had.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	clusterOnce.Do(startCluster)
	if clusterErr != nil {
		tb.Fatalf("redistest: cluster: %v", clusterErr)
	}
	return cluster
}

func startCluster() {
	if addrs := os.Getenv("REDIS_CLUSTER_ADDRS"); addrs != "" {
		cluster = &Cluster{Addrs: strings.Split(addrs, ",")}
		return
	}
	cluster, clusterErr = bootCluster()
}

// Prestart starts the shared Cluster and Sentinel group in the background
// (each once per test binary), so that the first test to ask for one finds
// it ready or nearly so, and the two start side by side rather than one
// after the other. A failure is reported to the tests that ask.
func Prestart() {
	prestartOnce.Do(func() {
		go clusterOnce.Do(startCluster)
		go sentinelOnce.Do(startSharedSentinel)
	})
}

var prestartOnce sync.Once

// New returns a client of the cluster, closed when the test ends, and a key
// prefix unique to this call.
func (c *Cluster) New(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	tb.Cleanup(func() { rc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: ping cluster %v: %v", c.Addrs, err)
	}
	return rc, newPrefix()
}

// bootCluster starts three masters and hands each a third of the slots,
// as redis-cli --cluster create does but without needing redis-cli: every
// node takes its own range (CLUSTER ADDSLOTSRANGE) and a distinct config
// epoch, then the first one meets the others and gossip does the rest.
func bootCluster() (*Cluster, error) {
	dir, err := os.MkdirTemp("", "redistest-cluster")
	if err != nil {
		return nil, err
	}
	remover := removeOnExit(dir)
	var nodes []*proc
	fail := func(err error) (*Cluster, error) {
		stopAll(nodes, remover, dir)
		return nil, err
	}
	busPorts := make(map[string]int)
	for i := range 3 {
		var bus int
		s, err := startProc(dir, "cluster", func(port int) ([]string, error) {
			// The bus port is by default port+10000, which may be taken or
			// beyond 65535 for a high free port: choose one too.
			var err error
			if bus, err = freePort(); err != nil {
				return nil, err
			}
			return []string{"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(bus),
				"--cluster-config-file", fmt.Sprintf("nodes-%d-%d.conf", i, port),
				"--cluster-node-timeout", "5000",
				"--save", "", "--appendonly", "no", "--dir", dir}, nil
		})
		if err != nil {
			return fail(err)
		}
		nodes = append(nodes, s)
		busPorts[s.addr] = bus
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterReady)
	defer cancel()
	const slots = 16384
	clients := make([]*redis.Client, len(nodes))
	for i, n := range nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.addr})
		defer clients[i].Close()
		from, to := i*slots/len(nodes), (i+1)*slots/len(nodes)-1
		if err := clients[i].Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			return fail(fmt.Errorf("%s: CLUSTER ADDSLOTSRANGE %d %d: %w", n.addr, from, to, err))
		}
		if err := clients[i].Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fail(fmt.Errorf("%s: CLUSTER SET-CONFIG-EPOCH: %w", n.addr, err))
		}
	}
	for _, n := range nodes[1:] {
		host, port, _ := strings.Cut(n.addr, ":")
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", host, port, busPorts[n.addr]).Err(); err != nil {
			return fail(fmt.Errorf("CLUSTER MEET %s: %w", n.addr, err))
		}
	}
	// Every node must see every slot covered and every other node before a
	// client that asks any of them gets the whole map.
	for _, c := range clients {
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:3") && strings.Contains(info, "cluster_slots_ok:16384") {
				break
			}
			select {
			case <-ctx.Done():
				return fail(fmt.Errorf("%s never saw the whole cluster within %v: %q, %v", c.Options().Addr, clusterReady, info, err))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	cl := &Cluster{}
	for _, n := range nodes {
		cl.Addrs = append(cl.Addrs, n.addr)
	}
	return cl, nil
}
