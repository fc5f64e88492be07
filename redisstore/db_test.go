package redisstore_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
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

var clusterRuns atomic.Int64

// eachBackend runs scenario against a real redis-server and against
// miniredis, the embedded default store: both must behave the same. With
// REDIS_CLUSTER_ADDRS (comma-separated) it runs on that Redis Cluster too,
// which proves every script keeps to one slot.
func eachBackend(t *testing.T, scenario func(t *testing.T, b backend)) {
	t.Helper()
	if addrs := os.Getenv("REDIS_CLUSTER_ADDRS"); addrs != "" {
		t.Run("cluster", func(t *testing.T) {
			t.Parallel()
			c, err := redisstore.NewClient(redisstore.ClientOptions{ClusterAddrs: strings.Split(addrs, ",")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			prefix := fmt.Sprintf("test%d-%d-%d", os.Getpid(), time.Now().UnixNano()%1e6, clusterRuns.Add(1))
			scenario(t, backend{db: redisstore.NewDB(c, prefix), wait: time.Sleep})
		})
	}
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		c, prefix := redistest.New(t)
		scenario(t, backend{db: redisstore.NewDB(c, prefix), wait: time.Sleep})
	})
	t.Run("miniredis", func(t *testing.T) {
		t.Parallel()
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		scenario(t, backend{db: redisstore.NewDB(c, ""), wait: func(d time.Duration) {
			time.Sleep(d)
			m.FastForward(d)
		}})
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
