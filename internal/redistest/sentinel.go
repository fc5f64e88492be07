package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sentinel is a primary and one replica watched by three sentinels
// (quorum 2): the README's Sentinel setup with one replica instead of two.
//
// Both data nodes run with min-replicas-to-write 1: a primary that has lost
// its replica refuses writes (NOREPLICAS) instead of acknowledging ones the
// promoted replica will not have. That and Failover's pause are what let a
// test demand that no acknowledged write is lost across Failover; the price
// of having one replica only is that writes stop between the promotion and
// the old primary rejoining as a replica (some ten seconds).
type Sentinel struct {
	// Master is the name the sentinels know the primary by.
	Master string
	// Addrs are the sentinels' addresses (host:port).
	Addrs []string

	shared bool
	// procs are the two data nodes and the three sentinels.
	procs []*proc
	dir   string
	// remover removes dir when the test binary exits (removeOnExit).
	remover *os.Process
}

var (
	sentinelOnce   sync.Once
	sharedSentinel *Sentinel
	sentinelErr    error
)

const (
	// masterName is what the sentinels call the primary.
	masterName = "hotline"
	// sentinelReady bounds how long the group may take to be complete
	// (replica in sync, sentinels aware of each other and of the replica)
	// and how long a failover may take until the old primary has become a
	// replica: the sentinels convert it only some ten seconds after it was
	// replaced.
	sentinelReady = 60 * time.Second
)

// SharedSentinel returns the Sentinel group of this test binary, started the
// first time and stopped when the binary exits. Tests share it, each under
// its own prefix (Sentinel.New); it is never failed over. It fails the test
// when no group can be started.
func SharedSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	sentinelOnce.Do(startSharedSentinel)
	if sentinelErr != nil {
		tb.Fatalf("redistest: sentinel: %v", sentinelErr)
	}
	return sharedSentinel
}

func startSharedSentinel() {
	sharedSentinel, sentinelErr = bootSentinel()
	if sentinelErr == nil {
		sharedSentinel.shared = true
	}
}

// StartSentinel starts a Sentinel group of the test's own, stopped when the
// test ends: for tests that fail it over. Starting one takes a few seconds,
// until the sentinels have found each other.
func StartSentinel(tb testing.TB) *Sentinel {
	tb.Helper()
	s, err := bootSentinel()
	if err != nil {
		tb.Fatalf("redistest: sentinel: %v", err)
	}
	tb.Cleanup(func() { stopAll(s.procs, s.remover, s.dir) })
	return s
}

// New returns a client that finds the primary through the sentinels and
// follows it across failovers (closed when the test ends), and a key prefix
// unique to this call.
func (s *Sentinel) New(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.Master, SentinelAddrs: s.Addrs})
	tb.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		tb.Fatalf("redistest: ping the primary through sentinels %v: %v", s.Addrs, err)
	}
	return c, newPrefix()
}

// Primary returns the address the sentinels give for the primary.
func (s *Sentinel) Primary(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.primaryOf(ctx, s.Addrs[0])
	if err != nil {
		tb.Fatalf("redistest: primary: %v", err)
	}
	return addr
}

// Failover switches the primary over as an operator plans it: it holds
// writes at the primary (CLIENT PAUSE WRITE) until the replica has received
// everything, has the sentinels promote the replica (SENTINEL FAILOVER),
// lets the held writes go once the sentinels name the new primary (the old
// one, left without its replica, refuses them with NOREPLICAS), and waits
// until the new primary says it is one and the old primary has become its
// replica with the link up, so that writes are accepted again. It fails
// the test after a minute.
//
// The pause is what makes "no acknowledged write is lost" hold: Sentinel
// promotes the replica without waiting for it to catch up, so a write the
// primary acknowledged a moment before, still on its way to the replica,
// would be lost (Redis replicates asynchronously; a primary that crashes
// loses them the same way). Failing over the shared group would disturb
// every test on it: use StartSentinel.
func (s *Sentinel) Failover(tb testing.TB) {
	tb.Helper()
	if s.shared {
		tb.Fatal("redistest: the shared Sentinel group is never failed over; start one with StartSentinel")
	}
	ctx, cancel := context.WithTimeout(context.Background(), sentinelReady)
	defer cancel()
	if err := s.failover(ctx); err != nil {
		tb.Fatalf("redistest: failover: %v", err)
	}
}

func (s *Sentinel) failover(ctx context.Context) error {
	old, err := s.primaryOf(ctx, s.Addrs[0])
	if err != nil {
		return err
	}
	oc := redis.NewClient(&redis.Options{Addr: old, MaxRetries: -1})
	defer oc.Close()
	// The pause lasts until CLIENT UNPAUSE below, or ends by itself should
	// this function fail before.
	if err := oc.Do(ctx, "CLIENT", "PAUSE", sentinelReady.Milliseconds(), "WRITE").Err(); err != nil {
		return fmt.Errorf("CLIENT PAUSE on %s: %w", old, err)
	}
	defer oc.Do(context.Background(), "CLIENT", "UNPAUSE")
	// A paused primary sends nothing more to its replica, not even pings,
	// so the offsets meet once the replica has applied everything.
	err = poll(ctx, func() error {
		f, err := replication(ctx, old)
		if err != nil {
			return err
		}
		if want := "offset=" + f["master_repl_offset"] + ","; !strings.Contains(f["slave0"]+",", want) {
			return fmt.Errorf("the replica is behind: primary at %s, replica %s", f["master_repl_offset"], f["slave0"])
		}
		return nil
	})
	if err != nil {
		return err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addrs[0]})
	defer sc.Close()
	// NOGOODSLAVE and INPROG pass by themselves: the sentinel has not yet
	// heard from the replica, or is finishing an earlier failover.
	err = poll(ctx, func() error { return sc.Failover(ctx, s.Master).Err() })
	if err != nil {
		return fmt.Errorf("SENTINEL FAILOVER %s: %w", s.Master, err)
	}
	var primary string
	err = poll(ctx, func() error {
		primary = ""
		for _, a := range s.Addrs {
			p, err := s.primaryOf(ctx, a)
			if err != nil {
				return err
			}
			if p == old {
				return fmt.Errorf("sentinel %s still names %s", a, old)
			}
			if primary != "" && p != primary {
				return fmt.Errorf("sentinels disagree: %s and %s", primary, p)
			}
			primary = p
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := oc.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		return fmt.Errorf("CLIENT UNPAUSE on %s: %w", old, err)
	}
	err = poll(ctx, func() error {
		if err := isPrimary(ctx, primary); err != nil {
			return err
		}
		return isReplicaOf(ctx, old, primary)
	})
	if err != nil {
		return fmt.Errorf("after the sentinels named %s: %w", primary, err)
	}
	return nil
}

// primaryOf asks the sentinel at addr for the primary's address.
func (s *Sentinel) primaryOf(ctx context.Context, addr string) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, s.Master).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: %w", addr, err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("sentinel %s answered %v", addr, hp)
	}
	return hp[0] + ":" + hp[1], nil
}

// poll calls f until it succeeds or ctx ends, and returns f's last error.
func poll(ctx context.Context, f func() error) error {
	for {
		err := f()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replication returns the fields of INFO replication at addr.
func replication(ctx context.Context, addr string) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	fields := make(map[string]string)
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

// isPrimary checks that addr is a primary with a replica in sync: one that
// accepts writes under min-replicas-to-write 1.
func isPrimary(ctx context.Context, addr string) error {
	f, err := replication(ctx, addr)
	if err != nil {
		return err
	}
	if f["role"] != "master" || f["connected_slaves"] == "0" || !strings.Contains(f["slave0"], "state=online") {
		return fmt.Errorf("%s is not yet a primary with a replica online (role %s, replicas %s, %s)",
			addr, f["role"], f["connected_slaves"], f["slave0"])
	}
	return nil
}

// isReplicaOf checks that addr replicates primary with the link up.
func isReplicaOf(ctx context.Context, addr, primary string) error {
	f, err := replication(ctx, addr)
	if err != nil {
		return err
	}
	if f["role"] != "slave" || f["master_host"]+":"+f["master_port"] != primary || f["master_link_status"] != "up" {
		return fmt.Errorf("%s is not yet a replica of %s (role %s, of %s:%s, link %s)",
			addr, primary, f["role"], f["master_host"], f["master_port"], f["master_link_status"])
	}
	return nil
}

// bootSentinel starts the primary, its replica and three sentinels, and
// waits until the replica is in sync and every sentinel knows the replica
// and the two other sentinels: only then can a failover be asked for.
func bootSentinel() (*Sentinel, error) {
	dir, err := os.MkdirTemp("", "redistest-sentinel")
	if err != nil {
		return nil, err
	}
	s := &Sentinel{Master: masterName, dir: dir, remover: removeOnExit(dir)}
	fail := func(err error) (*Sentinel, error) {
		stopAll(s.procs, s.remover, dir)
		return nil, err
	}
	// A replica's full sync otherwise waits 5 s for others to join it
	// (repl-diskless-sync-delay).
	data := []string{"--save", "", "--appendonly", "no", "--dir", dir, "--repl-diskless-sync-delay", "0",
		"--min-replicas-to-write", "1", "--min-replicas-max-lag", "10"}
	primary, err := startProc(dir, "primary", func(int) ([]string, error) { return data, nil })
	if err != nil {
		return fail(err)
	}
	s.procs = append(s.procs, primary)
	host, port, _ := strings.Cut(primary.addr, ":")
	replica, err := startProc(dir, "replica", func(int) ([]string, error) {
		return append(data, "--replicaof", host, port), nil
	})
	if err != nil {
		return fail(err)
	}
	s.procs = append(s.procs, replica)
	ctx, cancel := context.WithTimeout(context.Background(), sentinelReady)
	defer cancel()
	if err := poll(ctx, func() error { return isPrimary(ctx, primary.addr) }); err != nil {
		return fail(err)
	}
	for i := range 3 {
		// A sentinel rewrites its configuration file, so each has one.
		conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
		lines := []string{
			"sentinel monitor " + masterName + " " + host + " " + port + " 2",
			// Long enough that a machine busy with tests never takes a slow
			// answer for a dead primary; Failover does not wait for it.
			"sentinel down-after-milliseconds " + masterName + " 10000",
			"sentinel failover-timeout " + masterName + " 20000",
		}
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return fail(err)
		}
		sn, err := startProc(dir, "sentinel", func(int) ([]string, error) {
			return []string{conf, "--sentinel", "--dir", dir}, nil
		})
		if err != nil {
			return fail(err)
		}
		s.procs = append(s.procs, sn)
		s.Addrs = append(s.Addrs, sn.addr)
	}
	for _, addr := range s.Addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
		err := poll(ctx, func() error {
			m, err := sc.Master(ctx, masterName).Result()
			if err != nil {
				return err
			}
			if m["num-other-sentinels"] != "2" || m["num-slaves"] != "1" {
				return fmt.Errorf("sentinel %s knows %s other sentinels and %s replicas, want 2 and 1",
					addr, m["num-other-sentinels"], m["num-slaves"])
			}
			return nil
		})
		sc.Close()
		if err != nil {
			return fail(err)
		}
	}
	return s, nil
}
