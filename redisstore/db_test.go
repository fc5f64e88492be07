package redisstore_test

import (
	"context"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

// backend is one Redis the contract tests run against.
type backend struct {
	db *redisstore.DB
	// wait lets d pass for the server as well as for us: miniredis only
	// expires keys when its clock is fast-forwarded.
	wait func(d time.Duration)
}

// eachBackend runs scenario against every Redis the hotline may be given,
// in parallel: a real redis-server, miniredis (the embedded default store),
// a Redis Cluster of three masters (REDIS_CLUSTER_ADDRS, else started by
// redistest), which proves every script keeps to one slot and every
// multi-key read copes with keys on several nodes, and a primary behind
// Sentinel (through go-redis's failover client, as NewClient builds it).
// The cluster and the Sentinel group are shared by the whole test binary.
func eachBackend(t *testing.T, scenario func(t *testing.T, b backend)) {
	t.Helper()
	redistest.Prestart()
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		c, prefix := redistest.New(t)
		scenario(t, backend{db: redisstore.NewDB(c, prefix), wait: time.Sleep})
	})
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		// miniredis runs Lua inside this process, under the race detector:
		// one big script (TestLuaCheckDigitMatchesGo) can outlast go-redis's
		// 3 s read timeout on a busy machine without anything being wrong.
		c := redis.NewClient(&redis.Options{Addr: m.Addr(), ReadTimeout: 30 * time.Second})
		t.Cleanup(func() { c.Close() })
		scenario(t, backend{db: redisstore.NewDB(c, ""), wait: func(d time.Duration) {
			time.Sleep(d)
			m.FastForward(d)
		}})
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		c, prefix := redistest.StartCluster(t).New(t)
		scenario(t, backend{db: redisstore.NewDB(c, prefix), wait: time.Sleep})
	})
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		c, prefix := redistest.SharedSentinel(t).New(t)
		scenario(t, backend{db: redisstore.NewDB(c, prefix), wait: time.Sleep})
	})
}

// AssertCode fails the test unless err carries the hotline error code want.
func AssertCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := hotline.ErrorCode(err); got != want {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, want, err)
	}
}

func TestPing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		if err := b.db.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}

// A store that cannot be reached answers EUNAVAILABLE on every call, so the
// HTTP layer says "try again" (503) instead of "internal error".
func TestUnreachableStoreIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	db := redisstore.NewDB(c, "")
	tickets, users := redisstore.NewTicketStore(db), redisstore.NewUserStore(db)
	network, limiter := redisstore.NewNetworkStore(db), redisstore.NewRateLimiter(db)
	ctx := context.Background()
	id := hotline.TicketIDWithCheck("16003")

	calls := []struct {
		name string
		call func() error
	}{
		{"Ping", func() error { return db.Ping(ctx) }},
		{"CreateTicket", func() error {
			_, err := tickets.CreateTicket(ctx, &hotline.Ticket{Channel: hotline.ChannelWeb}, "")
			return err
		}},
		{"CreateTicket with key", func() error {
			_, err := tickets.CreateTicket(ctx, &hotline.Ticket{Channel: hotline.ChannelWeb}, "k")
			return err
		}},
		{"FindTicket", func() error { _, err := tickets.FindTicket(ctx, id); return err }},
		{"FindTickets", func() error { _, _, err := tickets.FindTickets(ctx, hotline.TicketFilter{}); return err }},
		{"FindTickets by status", func() error {
			_, _, err := tickets.FindTickets(ctx, hotline.TicketFilter{Statuses: []hotline.Status{hotline.StatusNew}})
			return err
		}},
		{"UpdateTicket", func() error {
			_, err := tickets.UpdateTicket(ctx, id, func(*hotline.Ticket) (*hotline.Event, error) {
				return &hotline.Event{Type: hotline.EventTicketNoted}, nil
			})
			return err
		}},
		{"TicketEvents", func() error { _, err := tickets.TicketEvents(ctx, id); return err }},
		{"CreateUser", func() error {
			return users.CreateUser(ctx, &hotline.User{Username: "wang", Role: hotline.RoleAdmin})
		}},
		{"ListUsers", func() error { _, err := users.ListUsers(ctx); return err }},
		{"FindSession", func() error { _, err := users.FindSession(ctx, "tok"); return err }},
		{"LoadNetwork", func() error { _, err := network.LoadNetwork(ctx); return err }},
		{"SaveCatalogue", func() error { return network.SaveCatalogue(ctx, &hotline.Catalogue{}) }},
		{"Allow", func() error { _, _, err := limiter.Allow(ctx, "ip:1", 5, time.Minute); return err }},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			AssertCode(t, tc.call(), hotline.EUNAVAILABLE)
		})
	}
}

func TestNewClient(t *testing.T) {
	url := redistest.URL(t)
	scenarios := []struct {
		name     string
		opts     redisstore.ClientOptions
		wantCode string
	}{
		{"standalone URL", redisstore.ClientOptions{URL: url}, ""},
		{"nothing", redisstore.ClientOptions{}, hotline.EINVALID},
		{"bad URL", redisstore.ClientOptions{URL: "http://nope"}, hotline.EINVALID},
		{"URL and cluster", redisstore.ClientOptions{URL: url, ClusterAddrs: []string{"127.0.0.1:7000"}}, hotline.EINVALID},
		{"sentinel without addresses", redisstore.ClientOptions{SentinelMaster: "mymaster"}, hotline.EINVALID},
		{"sentinel", redisstore.ClientOptions{SentinelMaster: "mymaster", SentinelAddrs: []string{"127.0.0.1:26379"}}, ""},
		{"cluster", redisstore.ClientOptions{ClusterAddrs: []string{"127.0.0.1:7000", "127.0.0.1:7001"}}, ""},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			c, err := redisstore.NewClient(sc.opts)
			AssertCode(t, err, sc.wantCode)
			if c != nil {
				c.Close()
			}
		})
	}

	c, err := redisstore.NewClient(redisstore.ClientOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := redisstore.NewDB(c, "").Ping(context.Background()); err != nil {
		t.Fatalf("ping through a client built from the URL: %v", err)
	}
}

// MustKeys returns every key matching pattern, sorted. On a Cluster it asks
// every master: KEYS answers for one node only, and a cluster client sends
// it to whichever node the pattern itself would hash to.
func MustKeys(tb testing.TB, c redis.UniversalClient, pattern string) []string {
	tb.Helper()
	ctx := context.Background()
	var keys []string
	if cc, ok := c.(*redis.ClusterClient); ok {
		var mu sync.Mutex
		err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			ks, err := m.Keys(ctx, pattern).Result()
			mu.Lock()
			keys = append(keys, ks...)
			mu.Unlock()
			return err
		})
		if err != nil {
			tb.Fatalf("keys %s: %v", pattern, err)
		}
	} else {
		var err error
		if keys, err = c.Keys(ctx, pattern).Result(); err != nil {
			tb.Fatalf("keys %s: %v", pattern, err)
		}
	}
	slices.Sort(keys)
	return keys
}
