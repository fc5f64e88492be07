package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

// consumed collects what consumers handled, by stream identity.
type consumed struct {
	mu   sync.Mutex
	seen map[string]int // "partition/id" → times handled
	by   map[string]string
	ch   chan struct{}
}

func newConsumed() *consumed {
	return &consumed{seen: map[string]int{}, by: map[string]string{}, ch: make(chan struct{}, 10000)}
}

func (c *consumed) handler(name string) func(hotline.FeedEvent) error {
	return func(e hotline.FeedEvent) error {
		c.mu.Lock()
		id := fmt.Sprintf("%d/%s", e.Partition, e.StreamID)
		c.seen[id]++
		c.by[id] = name
		c.mu.Unlock()
		c.ch <- struct{}{}
		return nil
	}
}

// waitFor waits until n entries were handled.
func (c *consumed) waitFor(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.After(15 * time.Second)
	for range n {
		select {
		case <-c.ch:
		case <-deadline:
			c.mu.Lock()
			defer c.mu.Unlock()
			tb.Fatalf("handled %d of %d entries", len(c.seen), n)
		}
	}
}

func (c *consumed) ids() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, n := range c.seen {
		for range n {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// waitGroups waits until group exists on every partition's feed.
func waitGroups(tb testing.TB, db *redisstore.DB, group string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p := range redisstore.Partitions {
		k := fmt.Sprintf("%s:{p%d}:feed", db.Prefix(), p)
		for {
			gs, _ := db.Client().XInfoGroups(context.Background(), k).Result()
			if slices.ContainsFunc(gs, func(g redis.XInfoGroup) bool { return g.Name == group }) {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("group %s not created on partition %d", group, p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// waitAcked waits until group has nothing pending on any partition: a
// handler signals before its entry is acknowledged, so a consumer stopped
// right after the last handler returned could leave that entry pending,
// to be handled again by design (at least once) by its next run.
func waitAcked(tb testing.TB, db *redisstore.DB, group string) {
	tb.Helper()
	for p := range redisstore.Partitions {
		k := fmt.Sprintf("%s:{p%d}:feed", db.Prefix(), p)
		deadline := time.Now().Add(5 * time.Second)
		for {
			pe, err := db.Client().XPending(context.Background(), k, group).Result()
			if err != nil {
				tb.Fatal(err)
			}
			if pe.Count == 0 {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("partition %d: %d entries still pending", p, pe.Count)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// StartConsumer runs c with fn until the returned stop is called (and
// at the end of the test).
func StartConsumer(tb testing.TB, c *redisstore.FeedConsumer, fn func(hotline.FeedEvent) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, fn) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("consumer ended with %v", err)
				}
			case <-time.After(10 * time.Second):
				tb.Error("consumer did not stop")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

func wantIDs(evs []hotline.FeedEvent) []string {
	out := streamIDs(evs)
	slices.Sort(out)
	return out
}

// Two consumers of one group handle every new entry once between them; a
// consumer restarted later resumes where the group stood.
func TestFeedConsumerOncePerGroupAcrossRestarts(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		Busy(t, s, 3) // before the group: not handled
		from := MustHead(t, f)

		got := newConsumed()
		stopA := StartConsumer(t, redisstore.NewFeedConsumer(b.db, "notify", "a"), got.handler("a"))
		stopB := StartConsumer(t, redisstore.NewFeedConsumer(b.db, "notify", "b"), got.handler("b"))
		waitGroups(t, b.db, "notify")

		Busy(t, s, 20)
		want := MustReadSince(t, f, from, 0)
		got.waitFor(t, len(want))
		waitAcked(t, b.db, "notify")
		stopA()
		stopB()
		mid := MustHead(t, f)

		// While no consumer runs.
		Busy(t, s, 10)
		later := MustReadSince(t, f, mid, 0)
		stopC := StartConsumer(t, redisstore.NewFeedConsumer(b.db, "notify", "a"), got.handler("a2"))
		got.waitFor(t, len(later))
		time.Sleep(100 * time.Millisecond) // room for a duplicate to show
		stopC()

		all := wantIDs(append(want, later...))
		if g := got.ids(); !slices.Equal(g, all) {
			t.Errorf("handled %d entries (%v),\nwant each of %d once (%v)", len(g), g, len(all), all)
		}

		// Another group sees the same entries independently, from its own
		// start.
		other := newConsumed()
		StartConsumer(t, redisstore.NewFeedConsumer(b.db, "audit", "a"), other.handler("x"))
		waitGroups(t, b.db, "audit")
		h := MustHead(t, f)
		Busy(t, s, 2)
		fresh := MustReadSince(t, f, h, 0)
		other.waitFor(t, len(fresh))
		if g := other.ids(); !slices.Equal(g, wantIDs(fresh)) {
			t.Errorf("second group handled %v, want %v", g, wantIDs(fresh))
		}
	})
}

// A failing handler has its entry handed over again, in order, until it
// succeeds; entries after it in the partition wait.
func TestFeedConsumerRetriesFailedHandler(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		var (
			mu       sync.Mutex
			order    []string
			failures = map[string]int{}
		)
		arrived := make(chan struct{}, 100)
		fn := func(e hotline.FeedEvent) error {
			mu.Lock()
			defer mu.Unlock()
			if e.Event.Type == hotline.EventTicketCreated && failures[e.StreamID] < 2 {
				failures[e.StreamID]++
				return hotline.Unavailable(errors.New("redis away"))
			}
			order = append(order, e.StreamID)
			arrived <- struct{}{}
			return nil
		}
		from := MustHead(t, f)
		StartConsumer(t, redisstore.NewFeedConsumer(b.db, "notify", "a"), fn)
		waitGroups(t, b.db, "notify")
		tk := MustCreateTicket(t, s, NewTicket(), "")
		MustUpdateTicket(t, s, tk.ID, route("c01"))
		want := MustReadSince(t, f, from, 0)
		for range want {
			select {
			case <-arrived:
			case <-time.After(15 * time.Second):
				t.Fatalf("handled %d of %d", len(order), len(want))
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if w := streamIDsOnly(want); !slices.Equal(order, w) {
			t.Errorf("handled %v, want %v in order", order, w)
		}
	})
}

func streamIDsOnly(evs []hotline.FeedEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.StreamID
	}
	return out
}

// Entries a consumer read and never acknowledged (it died) are taken over
// by a live consumer of the group once idle long enough.
func TestFeedConsumerTakesOverADeadConsumersEntries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		// The live consumer starts first, creating the group, then stops
		// so that the dead one can read the entries alone.
		got := newConsumed()
		stop := StartConsumer(t, redisstore.NewFeedConsumer(b.db, "notify", "live"), got.handler("live"))
		waitGroups(t, b.db, "notify")
		stop()

		from := MustHead(t, f)
		Busy(t, s, 4)
		want := MustReadSince(t, f, from, 0)
		// "dead" reads everything and never acknowledges.
		for p := range redisstore.Partitions {
			k := fmt.Sprintf("%s:{p%d}:feed", b.db.Prefix(), p)
			err := b.db.Client().XReadGroup(context.Background(), &redis.XReadGroupArgs{
				Group: "notify", Consumer: "dead", Streams: []string{k, ">"}, Count: 1000, Block: -1,
			}).Err()
			if err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
		}

		live := redisstore.NewFeedConsumer(b.db, "notify", "live")
		live.ClaimIdle, live.ClaimEvery = 200*time.Millisecond, 50*time.Millisecond
		StartConsumer(t, live, got.handler("live"))
		got.waitFor(t, len(want))
		if g, w := got.ids(), wantIDs(want); !slices.Equal(g, w) {
			t.Errorf("live consumer handled %v, want %v", g, w)
		}
		// Nothing stays pending.
		waitAcked(t, b.db, "notify")
	})
}
