package dispatch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
)

// Clock is a settable clock shared by the services of a test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sh is a time on Shanghai's clock.
func sh(year int, month time.Month, day, hour, min int) time.Time {
	return time.Date(year, month, day, hour, min, 0, 0, dispatch.Shanghai)
}

// wednesday11 is a working Wednesday late morning: committees, most
// organizations and the meal groups (10:30–12:30) are on duty; the weekend
// repair teams are not.
var wednesday11 = sh(2025, time.March, 12, 11, 0)

// Store is a kind of Redis a deployment may give the hotline. Every
// scenario of this package runs on each (eachStore): routing reads GEO sets
// and load counters that live in different hash slots on a Cluster, and the
// deadline loop claims from every partition.
type Store string

const (
	StoreRedis    Store = "redis"    // one server
	StoreCluster  Store = "cluster"  // three masters (redistest.StartCluster)
	StoreSentinel Store = "sentinel" // a primary found through Sentinel (redistest.SharedSentinel)
)

// eachStore runs scenario on every store, in parallel.
func eachStore(t *testing.T, scenario func(t *testing.T, store Store)) {
	t.Helper()
	redistest.Prestart()
	for _, s := range []Store{StoreRedis, StoreCluster, StoreSentinel} {
		t.Run(string(s), func(t *testing.T) {
			t.Parallel()
			scenario(t, s)
		})
	}
}

// client opens a client of the store, closed when the test ends, with a
// fresh key prefix.
func (s Store) client(tb testing.TB) (redis.UniversalClient, string) {
	tb.Helper()
	switch s {
	case StoreCluster:
		return redistest.StartCluster(tb).New(tb)
	case StoreSentinel:
		return redistest.SharedSentinel(tb).New(tb)
	}
	return redistest.New(tb)
}

// Street is the demo street over a real Redis: the stores, the unit index
// built from the network, intake and a dispatch service on a fake clock.
type Street struct {
	Store    Store
	Client   redis.UniversalClient
	Prefix   string
	DB       *redisstore.DB
	Tickets  *redisstore.TicketStore
	Network  *hotline.Network
	Catalog  *hotline.Catalogue
	Dir      *hotline.StaticDirectory
	Intake   *intake.Service
	Clock    *Clock
	Dispatch *dispatch.Service
}

// MustStreet opens the demo street on the store. Options change the
// dispatch config.
func (s Store) MustStreet(tb testing.TB, options ...func(*dispatch.Config)) *Street {
	tb.Helper()
	client, prefix := s.client(tb)
	n, c := network.Demo()
	st := &Street{Store: s, Client: client, Prefix: prefix, Network: n, Catalog: c,
		Dir: hotline.NewStaticDirectory(n, c), Clock: &Clock{t: wednesday11}}
	st.DB = redisstore.NewDB(client, prefix)
	st.Tickets = redisstore.NewTicketStore(st.DB)
	if err := redisstore.NewUnitIndex(st.DB).IndexUnits(context.Background(), n); err != nil {
		tb.Fatal(err)
	}
	st.Intake = intake.New(st.Tickets, st.Dir)
	st.Intake.Now = st.Clock.Now
	st.Dispatch = st.MustService(tb, client, options...)
	return st
}

// MustService returns another dispatch service on the same street, talking
// to Redis through client: a second replica, or the same one restarted.
func (st *Street) MustService(tb testing.TB, client redis.UniversalClient, options ...func(*dispatch.Config)) *dispatch.Service {
	tb.Helper()
	cfg := dispatch.DefaultConfig()
	// Scenarios fill and free capacity one ticket at a time: read every
	// count fresh.
	cfg.LoadCache = ""
	for _, o := range options {
		o(&cfg)
	}
	compiled, err := cfg.Compile(st.Catalog)
	if err != nil {
		tb.Fatal(err)
	}
	db := redisstore.NewDB(client, st.Prefix)
	s := dispatch.New(compiled, redisstore.NewTicketStore(db), redisstore.NewUnitIndex(db),
		redisstore.NewDeadlineQueue(db), st.Dir, nil)
	s.Now = st.Clock.Now
	return s
}

// MustClient opens another connection to the street's Redis: what a
// second replica, or the same one restarted, would use.
func (st *Street) MustClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c, _ := st.Store.client(tb)
	return c
}

// MustFile files a need through intake at (lat, long), as a resident would.
func (st *Street) MustFile(tb testing.TB, code string, lat, long float64) *hotline.Ticket {
	tb.Helper()
	t, _, err := st.Intake.Submit(context.Background(), intake.Submission{
		Channel: hotline.ChannelWeb, ServiceCode: code, Description: "需要帮助",
		Lat: &lat, Long: &long, Actor: "resident"}, "")
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// MustRouted files a need at the office of committee and routes it.
func (st *Street) MustRouted(tb testing.TB, code, committee string) *hotline.Ticket {
	tb.Helper()
	lat, long := st.Office(tb, committee)
	t := st.MustFile(tb, code, lat, long)
	routed, err := st.Dispatch.RouteNew(context.Background(), t.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return routed
}

// Office returns the point of unit id.
func (st *Street) Office(tb testing.TB, id string) (lat, long float64) {
	tb.Helper()
	u, ok := st.Network.Unit(id)
	if !ok {
		tb.Fatalf("no unit %s", id)
	}
	return u.Lat, u.Long
}

// MustTicket reads a ticket back.
func (st *Street) MustTicket(tb testing.TB, id string) *hotline.Ticket {
	tb.Helper()
	t, err := st.Tickets.FindTicket(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Events returns the types of the ticket's events, oldest first.
func (st *Street) Events(tb testing.TB, id string) []string {
	tb.Helper()
	evs, err := st.Tickets.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// Count returns how many of the ticket's events are of type typ.
func (st *Street) Count(tb testing.TB, id, typ string) int {
	tb.Helper()
	n := 0
	for _, e := range st.Events(tb, id) {
		if e == typ {
			n++
		}
	}
	return n
}

// Staff returns a user of role at unit (no store needed: dispatch takes
// the acting user as given).
func Staff(role hotline.Role, unit string) *hotline.User {
	return &hotline.User{ID: "u-" + string(role) + "-" + unit, Username: string(role) + "-" + unit, Role: role, UnitID: unit}
}

func demo() (*hotline.Network, *hotline.Catalogue) { return network.Demo() }

// MustStreetNetworkOnly is the demo network without Redis.
func MustStreetNetworkOnly(tb testing.TB) *hotline.Network {
	tb.Helper()
	n, _ := network.Demo()
	return n
}
