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
	"github.com/redis/go-redis/v9"
)

// SecondClient opens another client to the server c talks to, closed when
// the test ends: what a second replica would use.
func SecondClient(tb testing.TB, c redis.UniversalClient) redis.UniversalClient {
	tb.Helper()
	var c2 redis.UniversalClient
	switch c := c.(type) {
	case *redis.Client:
		c2 = redis.NewClient(c.Options())
	case *redis.ClusterClient:
		c2 = redis.NewClusterClient(c.Options())
	default:
		tb.Fatalf("no second client for a %T", c)
	}
	tb.Cleanup(func() { c2.Close() })
	return c2
}

// dueScore returns the ticket's score in its partition's due queue, false
// when it is not queued.
func dueScore(tb testing.TB, db *redisstore.DB, id string) (int64, bool) {
	tb.Helper()
	k := fmt.Sprintf("%s:{p%d}:due", db.Prefix(), PartitionOf(tb, id))
	s, err := db.Client().ZScore(context.Background(), k, id).Result()
	if errors.Is(err, redis.Nil) {
		return 0, false
	} else if err != nil {
		tb.Fatal(err)
	}
	return int64(s), true
}

// storedDeadline returns the ticket hash's field n.
func storedDeadline(tb testing.TB, db *redisstore.DB, id string) string {
	tb.Helper()
	k := fmt.Sprintf("%s:{p%d}:t:%s", db.Prefix(), PartitionOf(tb, id), id)
	n, err := db.Client().HGet(context.Background(), k, "n").Result()
	if err != nil {
		tb.Fatalf("field n of %s: %v", id, err)
	}
	return n
}

// AssertDue checks that id is queued at want (zero: not queued) and that
// the ticket hash stores the same deadline.
func AssertDue(tb testing.TB, db *redisstore.DB, id string, want time.Time) {
	tb.Helper()
	got, ok := dueScore(tb, db, id)
	switch {
	case want.IsZero() && ok:
		tb.Errorf("ticket %s queued at %d, want not queued", id, got)
	case !want.IsZero() && (!ok || got != want.UnixMilli()):
		tb.Errorf("ticket %s queued at %d (queued: %v), want %d", id, got, ok, want.UnixMilli())
	}
	wantN := "0"
	if !want.IsZero() {
		wantN = fmt.Sprint(want.UnixMilli())
	}
	if n := storedDeadline(tb, db, id); n != wantN {
		tb.Errorf("ticket %s stores deadline %s, want %s", id, n, wantN)
	}
}

func TestDeadlinesFollowTheTicket(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		acceptBy := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
		resolveBy := acceptBy.Add(48 * time.Hour)

		none := MustCreateTicket(t, s, NewTicket(), "")
		AssertDue(t, b.db, none.ID, time.Time{})

		tk := NewTicket()
		tk.UnitID, tk.Status, tk.AcceptBy, tk.ResolveBy = "c01", hotline.StatusRouted, acceptBy, resolveBy
		tk = MustCreateTicket(t, s, tk, "")
		AssertDue(t, b.db, tk.ID, acceptBy)

		steps := []struct {
			name   string
			change hotline.TicketChange
			want   time.Time
		}{
			{"accepted: the resolve limit", setStatus(hotline.StatusAccepted, hotline.EventTicketAccepted), resolveBy},
			{"overdue noted: none", func(t *hotline.Ticket) (*hotline.Event, error) {
				t.OverdueNoted = true
				return &hotline.Event{Type: hotline.EventTicketOverdue, Actor: "system"}, nil
			}, time.Time{}},
			{"rerouted with a new accept limit", func(t *hotline.Ticket) (*hotline.Event, error) {
				t.Status, t.UnitID, t.AcceptBy, t.OverdueNoted = hotline.StatusRouted, "c02", acceptBy.Add(time.Hour), false
				return &hotline.Event{Type: hotline.EventTicketRouted, Actor: "system", UnitID: "c02"}, nil
			}, acceptBy.Add(time.Hour)},
			{"in progress: the resolve limit", setStatus(hotline.StatusInProgress, hotline.EventTicketStarted), resolveBy},
			{"resolved: none", setStatus(hotline.StatusResolved, hotline.EventTicketResolved), time.Time{}},
			{"reopened: the accept limit again", setStatus(hotline.StatusReopened, hotline.EventTicketReopened), acceptBy.Add(time.Hour)},
			{"cancelled: none", setStatus(hotline.StatusCancelled, hotline.EventTicketCancelled), time.Time{}},
		}
		for _, st := range steps {
			MustUpdateTicket(t, s, tk.ID, st.change)
			t.Run(st.name, func(t *testing.T) { AssertDue(t, b.db, tk.ID, st.want) })
		}
	})
}

// Two claimers racing over the same due tickets take each exactly once;
// the tickets come due again when the lease ends.
func TestClaimDueOncePerLease(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		const lease = time.Minute

		var due []string
		for i := range 40 {
			tk := NewTicket()
			tk.Status, tk.UnitID, tk.AcceptBy = hotline.StatusRouted, "c01", now.Add(-time.Duration(i)*time.Second)
			due = append(due, MustCreateTicket(t, s, tk, "").ID)
		}
		later := NewTicket()
		later.Status, later.AcceptBy = hotline.StatusRouted, now.Add(time.Second)
		later = MustCreateTicket(t, s, later, "")
		plain := MustCreateTicket(t, s, NewTicket(), "")

		// A second client, as a second replica would have.
		c2 := SecondClient(t, b.db.Client())
		queues := []*redisstore.DeadlineQueue{
			redisstore.NewDeadlineQueue(b.db),
			redisstore.NewDeadlineQueue(redisstore.NewDB(c2, b.db.Prefix())),
		}
		claimAll := func(at time.Time) []string {
			t.Helper()
			var mu sync.Mutex
			var got []string
			var wg sync.WaitGroup
			for _, q := range queues {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						ids, err := q.ClaimDue(ctx, at, lease, 3)
						if err != nil {
							t.Error(err)
							return
						}
						if len(ids) > 3 {
							t.Errorf("claimed %d ids, max 3", len(ids))
						}
						if len(ids) == 0 {
							return
						}
						mu.Lock()
						got = append(got, ids...)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			return got
		}
		sameSet := func(name string, got, want []string) {
			t.Helper()
			g, w := slices.Clone(got), slices.Clone(want)
			slices.Sort(g)
			slices.Sort(w)
			if !slices.Equal(g, w) {
				t.Errorf("%s: claimed %d ids %v, want each of %d exactly once", name, len(got), g, len(w))
			}
		}

		sameSet("first claim", claimAll(now), due)
		for _, id := range due {
			if score, _ := dueScore(t, b.db, id); score != now.Add(lease).UnixMilli() {
				t.Errorf("claimed %s rescored to %d, want the lease end %d", id, score, now.Add(lease).UnixMilli())
				break
			}
		}
		if got := claimAll(now.Add(lease - time.Millisecond)); len(got) != 1 || got[0] != later.ID {
			t.Errorf("during the lease: claimed %v, want only %s, which came due meanwhile", got, later.ID)
		}
		sameSet("after the lease", claimAll(now.Add(lease)), due)

		// A ticket with no deadline is never handed out.
		if got := claimAll(now.Add(365 * 24 * time.Hour)); slices.Contains(got, plain.ID) || len(got) != len(due)+1 {
			t.Errorf("a year later: claimed %d ids, want %d", len(got), len(due)+1)
		}
	})
}

// With more due than one claim takes, successive claims start at
// successive partitions, so no partition waits behind the others.
func TestClaimDueRotatesPartitions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		q := redisstore.NewDeadlineQueue(b.db)
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		for p := range redisstore.Partitions {
			for i := range 2 {
				tk := NewTicket()
				tk.Status, tk.AcceptBy = hotline.StatusRouted, now.Add(-time.Hour)
				MustCreateTicket(t, s, tk, KeyInPartition(p, fmt.Sprint("rot", i)))
			}
		}
		seen := map[int]bool{}
		for range redisstore.Partitions {
			ids, err := q.ClaimDue(ctx, now, time.Minute, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != 1 {
				t.Fatalf("claimed %v, want one id", ids)
			}
			seen[PartitionOf(t, ids[0])] = true
		}
		if len(seen) != redisstore.Partitions {
			t.Errorf("16 claims of one took from %d partitions, want all 16", len(seen))
		}
		_, err := q.ClaimDue(ctx, now, 0, 1)
		AssertCode(t, err, hotline.EINVALID)
		if ids, err := q.ClaimDue(ctx, now, time.Minute, 0); err != nil || len(ids) != 0 {
			t.Errorf("max 0: got %v, %v; want nothing", ids, err)
		}
	})
}

func TestReschedule(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		q := redisstore.NewDeadlineQueue(b.db)
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		tk := NewTicket()
		tk.Status, tk.AcceptBy = hotline.StatusRouted, now.Add(-time.Minute)
		tk = MustCreateTicket(t, s, tk, "")

		if ids, err := q.ClaimDue(ctx, now, time.Hour, 10); err != nil || len(ids) != 1 {
			t.Fatalf("claim: %v, %v", ids, err)
		}
		if err := q.Reschedule(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
		AssertDue(t, b.db, tk.ID, tk.AcceptBy)

		// Queued by mistake, or by a claim, without a deadline: taken out.
		plain := MustCreateTicket(t, s, NewTicket(), "")
		k := fmt.Sprintf("%s:{p%d}:due", b.db.Prefix(), PartitionOf(t, plain.ID))
		b.db.Client().ZAdd(ctx, k, redis.Z{Score: 1, Member: plain.ID})
		if err := q.Reschedule(ctx, plain.ID); err != nil {
			t.Fatal(err)
		}
		AssertDue(t, b.db, plain.ID, time.Time{})

		AssertCode(t, q.Reschedule(ctx, hotline.TicketIDWithCheck("99999")), hotline.ENOTFOUND)
		AssertCode(t, q.Reschedule(ctx, "12345"), hotline.ENOTFOUND)
	})
}

// BenchmarkClaimDue claims 10 at a time from 10,000 due tickets spread over
// the partitions ("busy": one script per claim), and from an empty queue
// ("idle": the claim asks all 16 partitions).
func BenchmarkClaimDue(b *testing.B) {
	c, prefix := redistest.New(b)
	db := redisstore.NewDB(c, prefix)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	pipe := c.Pipeline()
	for i := range 10000 {
		id := hotline.TicketIDWithCheck(fmt.Sprint(16000 + i))
		k := fmt.Sprintf("%s:{p%d}:due", prefix, (16000+i)%redisstore.Partitions)
		pipe.ZAdd(ctx, k, redis.Z{Score: float64(now.UnixMilli()), Member: id})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	b.Run("busy", func(b *testing.B) {
		q := redisstore.NewDeadlineQueue(db)
		at := now
		for b.Loop() {
			// Each claim's lease (1 s) has ended by the next one (2 s on),
			// so the queue stays full of due tickets.
			at = at.Add(2 * time.Second)
			ids, err := q.ClaimDue(ctx, at, time.Second, 10)
			if err != nil || len(ids) != 10 {
				b.Fatalf("claimed %d: %v", len(ids), err)
			}
		}
	})
	b.Run("idle", func(b *testing.B) {
		q := redisstore.NewDeadlineQueue(db)
		for b.Loop() {
			if ids, err := q.ClaimDue(ctx, now.Add(-time.Hour), time.Second, 10); err != nil || len(ids) != 0 {
				b.Fatalf("claimed %d: %v", len(ids), err)
			}
		}
	})
}
