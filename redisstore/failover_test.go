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
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
)

// errAlready aborts a change that an earlier attempt already made: the
// reply of a write that succeeded can be lost in a failover, and the retry
// must not make it twice.
var errAlready = errors.New("already routed")

// routeOnce routes a new ticket to unit and refuses to route it again.
func routeOnce(unit string) hotline.TicketChange {
	return func(t *hotline.Ticket) (*hotline.Event, error) {
		if t.Status != hotline.StatusNew {
			return nil, errAlready
		}
		return route(unit)(t)
	}
}

// failoverWork is what writers had acknowledged, and what went wrong.
type failoverWork struct {
	mu      sync.Mutex
	created map[string]string // idempotency key → ticket id
	routed  map[string]bool   // ticket id → its routing was acknowledged
	refused int               // EUNAVAILABLE answers, retried
	after   int               // tickets created once Failover had returned
	failed  []error           // anything but EUNAVAILABLE
}

// retry calls op until it succeeds, answers something other than
// EUNAVAILABLE, or ctx ends; a caller would do the same on a 503.
func (w *failoverWork) retry(ctx context.Context, op func() error) error {
	for {
		err := op()
		if hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
			return err
		}
		w.mu.Lock()
		w.refused++
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A Sentinel failover in the middle of steady writing: writes during the
// switch are refused with EUNAVAILABLE (never another code, never lost
// once acknowledged), the client follows the new primary, retried creates
// and changes are made once, and a live tail that ran throughout delivers
// every event exactly once.
func TestSentinelFailoverLosesNoAcknowledgedWrite(t *testing.T) {
	t.Parallel()
	group := redistest.StartSentinel(t)
	c, err := redisstore.NewClient(redisstore.ClientOptions{SentinelMaster: group.Master, SentinelAddrs: group.Addrs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	db := redisstore.NewDB(c, "")
	s, f := redisstore.NewTicketStore(db), redisstore.NewFeed(db)
	ctx := context.Background()

	var (
		tailMu    sync.Mutex
		delivered = map[string]int{} // "partition/stream id" → times
		events    = map[string][]string{}
	)
	tailCtx, stopTail := context.WithCancel(ctx)
	tailDone := make(chan error, 1)
	from := MustHead(t, f)
	go func() {
		tailDone <- f.Tail(tailCtx, from, func(e hotline.FeedEvent) {
			tailMu.Lock()
			defer tailMu.Unlock()
			delivered[fmt.Sprintf("%d/%s", e.Partition, e.StreamID)]++
			events[e.Ticket.ID] = append(events[e.Ticket.ID], e.Event.Type)
		})
	}()
	defer func() {
		stopTail()
		if err := <-tailDone; err != nil {
			t.Errorf("tail ended with %v", err)
		}
	}()

	w := &failoverWork{created: map[string]string{}, routed: map[string]bool{}}
	switched := make(chan struct{}) // closed once Failover has returned
	writeCtx, stopWriting := context.WithTimeout(ctx, 2*time.Minute)
	defer stopWriting()
	const writers = 4
	var wg sync.WaitGroup
	for n := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; writeCtx.Err() == nil; i++ {
				key := fmt.Sprintf("writer%d-%d", n, i)
				tk := NewTicket()
				tk.Description = key
				err := w.retry(writeCtx, func() error {
					tk.ID = "" // a refused attempt may have set nothing or everything
					_, err := s.CreateTicket(writeCtx, tk, key)
					return err
				})
				if writeCtx.Err() != nil {
					return
				}
				w.mu.Lock()
				if err != nil {
					w.failed = append(w.failed, fmt.Errorf("create %s: %w", key, err))
					w.mu.Unlock()
					return
				}
				w.created[key] = tk.ID
				select {
				case <-switched:
					w.after++
				default:
				}
				w.mu.Unlock()

				err = w.retry(writeCtx, func() error {
					_, err := s.UpdateTicket(writeCtx, tk.ID, routeOnce("c01"))
					if errors.Is(err, errAlready) {
						return nil // the lost reply's write is there
					}
					return err
				})
				if writeCtx.Err() != nil {
					return
				}
				w.mu.Lock()
				if err != nil {
					w.failed = append(w.failed, fmt.Errorf("route %s: %w", tk.ID, err))
					w.mu.Unlock()
					return
				}
				w.routed[tk.ID] = true
				w.mu.Unlock()
			}
		}()
	}
	count := func() (created, after int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.created), w.after
	}
	waitUntil := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			w.mu.Lock()
			failed := len(w.failed) > 0
			w.mu.Unlock()
			if failed || writeCtx.Err() != nil {
				w.mu.Lock()
				defer w.mu.Unlock()
				t.Fatalf("%s: gave up after %d tickets (%d after the failover), failures %v", what, len(w.created), w.after, w.failed)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitUntil("writing before the failover", func() bool { n, _ := count(); return n >= 50 })
	before := group.Primary(t)
	group.Failover(t)
	close(switched)
	if after := group.Primary(t); after == before {
		t.Fatalf("the primary is still %s", before)
	}
	waitUntil("writing on the new primary", func() bool { _, n := count(); return n >= 50 })
	stopWriting()
	wg.Wait()

	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("%d tickets acknowledged (%d after the switch), %d routed, %d EUNAVAILABLE answers retried",
		len(w.created), w.after, len(w.routed), w.refused)
	for _, err := range w.failed {
		t.Errorf("a write failed with something other than EUNAVAILABLE: %v", err)
	}

	// Every acknowledged ticket is on the new primary, as acknowledged,
	// and its key still leads to it alone.
	for key, id := range w.created {
		got, err := s.FindTicket(ctx, id)
		if err != nil {
			t.Errorf("ticket %s (key %s) acknowledged, then %v", id, key, err)
			continue
		}
		if got.Description != key {
			t.Errorf("ticket %s holds %q, want %q", id, got.Description, key)
		}
		again := NewTicket()
		if created, err := s.CreateTicket(ctx, again, key); err != nil || created || again.ID != id {
			t.Errorf("key %s again: created=%v id %s, %v; want ticket %s", key, created, again.ID, err, id)
		}
		evs := typesOf(MustEvents(t, s, id))
		want := []string{hotline.EventTicketCreated}
		if w.routed[id] {
			want = append(want, hotline.EventTicketRouted)
		}
		// A routing whose reply the writer never had may be there too.
		if !slices.Equal(evs, want) && !slices.Equal(evs, []string{hotline.EventTicketCreated, hotline.EventTicketRouted}) {
			t.Errorf("ticket %s events %v, want %v", id, evs, want)
		}
	}
	// Nothing more than what was asked: a writer stopped in the middle of
	// a create may have left one ticket it never heard about.
	_, total, err := s.FindTickets(ctx, hotline.TicketFilter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if total < len(w.created) || total > len(w.created)+writers {
		t.Errorf("the store holds %d tickets; %d were acknowledged by %d writers", total, len(w.created), writers)
	}

	// The tail, which ran throughout, delivers every entry of the feed
	// once: it catches up with the head.
	head := MustHead(t, f)
	want := MustReadSince(t, f, from, 10000)
	if len(want) == 10000 {
		t.Fatal("more than 10,000 entries: read the feed in pages")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		tailMu.Lock()
		n := len(delivered)
		tailMu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	tailMu.Lock()
	defer tailMu.Unlock()
	for _, e := range want {
		k := fmt.Sprintf("%d/%s", e.Partition, e.StreamID)
		if n := delivered[k]; n != 1 {
			t.Errorf("entry %s (%s of %s) delivered %d times, want once", k, e.Event.Type, e.Ticket.ID, n)
		}
		delete(delivered, k)
	}
	if len(delivered) > 0 {
		t.Errorf("the tail delivered %d entries the feed does not hold (head %s)", len(delivered), head)
	}
	for id := range w.routed {
		if got := events[id]; !slices.Equal(got, []string{hotline.EventTicketCreated, hotline.EventTicketRouted}) {
			t.Errorf("the tail saw %v for ticket %s, want created then routed", got, id)
		}
	}
}

func typesOf(evs []*hotline.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}
