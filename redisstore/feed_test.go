package redisstore_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

// KeyInPartition returns an idempotency key whose ticket lands in partition
// p (the store hashes keys with FNV-32a modulo the partition count), made
// unique by salt.
func KeyInPartition(p int, salt string) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s-%d", salt, i)
		h := fnv.New32a()
		h.Write([]byte(k))
		if int(h.Sum32()%redisstore.Partitions) == p {
			return k
		}
	}
}

// PartitionOf returns the partition that holds ticket id.
func PartitionOf(tb testing.TB, id string) int {
	tb.Helper()
	var n int
	if _, err := fmt.Sscanf(id[:len(id)-1], "%d", &n); err != nil {
		tb.Fatalf("ticket id %q: %v", id, err)
	}
	return n % redisstore.Partitions
}

// MustReadSince reads the feed after pos and fails the test on error.
func MustReadSince(tb testing.TB, f *redisstore.Feed, pos hotline.FeedPosition, limit int) []hotline.FeedEvent {
	tb.Helper()
	evs, err := f.ReadSince(context.Background(), pos, limit)
	if err != nil {
		tb.Fatalf("read since %s: %v", pos, err)
	}
	return evs
}

// MustHead returns the feed's head and fails the test on error.
func MustHead(tb testing.TB, f *redisstore.Feed) hotline.FeedPosition {
	tb.Helper()
	pos, err := f.Head(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return pos
}

// streamIDs lists the partition and stream id of every event, the identity
// of a feed entry.
func streamIDs(evs []hotline.FeedEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d/%s", e.Partition, e.StreamID)
	}
	return out
}

// Busy writes n tickets, each routed once and half of them accepted, and
// returns them as last stored.
func Busy(tb testing.TB, s *redisstore.TicketStore, n int) []*hotline.Ticket {
	tb.Helper()
	var out []*hotline.Ticket
	for i := range n {
		tk := MustCreateTicket(tb, s, NewTicket(), "")
		tk = MustUpdateTicket(tb, s, tk.ID, route("c0"+fmt.Sprint(1+i%5)))
		if i%2 == 0 {
			tk = MustUpdateTicket(tb, s, tk.ID, setStatus(hotline.StatusAccepted, hotline.EventTicketAccepted))
		}
		out = append(out, tk)
	}
	return out
}

func TestFeedEntriesCarrySummaries(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		tk := NewTicket()
		tk.Description = strings.Repeat("楼道灯坏了，晚上看不见台阶。", 8) // 112 characters
		created := MustCreateTicket(t, s, tk, "")
		routed := MustUpdateTicket(t, s, created.ID, route("c01"))

		evs := MustReadSince(t, f, hotline.NewFeedPosition(f.Partitions()), 0)
		if len(evs) != 2 {
			t.Fatalf("got %d feed events, want 2", len(evs))
		}
		for i, want := range []*hotline.Ticket{created, routed} {
			got := evs[i]
			if g, w := asJSON(t, got.Ticket), asJSON(t, hotline.Summarize(want)); g != w {
				t.Errorf("event %d summary:\n got %s\nwant %s", i, g, w)
			}
			if got.Partition != PartitionOf(t, want.ID) || got.StreamID == "" || got.Event.Position != got.StreamID ||
				got.Event.TicketID != want.ID || got.Event.Version != want.Version {
				t.Errorf("event %d = partition %d, stream id %q, event %+v", i, got.Partition, got.StreamID, got.Event)
			}
		}
		if got, want := evs[0].Event.Type, hotline.EventTicketCreated; got != want {
			t.Errorf("first event type = %q, want %q", got, want)
		}
		if got, want := evs[1].Ticket.UnitID, "c01"; got != want {
			t.Errorf("routed summary unit = %q, want %q", got, want)
		}
		if got := []rune(evs[0].Ticket.Excerpt); len(got) != 81 {
			t.Errorf("excerpt has %d runes, want 80 and an ellipsis", len(got))
		}
		// The ticket's own stream and the feed record the same event.
		if g, w := asJSON(t, MustEvents(t, s, created.ID)[1].Type), asJSON(t, evs[1].Event.Type); g != w {
			t.Errorf("ticket stream says %s, feed says %s", g, w)
		}
	})
}

// Reading the whole feed, then reading it again page by page from every
// position reached, yields every entry exactly once, in one order.
func TestFeedReadSinceNoGapNoDuplicate(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		Busy(t, s, 40)
		start := hotline.NewFeedPosition(f.Partitions())
		all := MustReadSince(t, f, start, 0)
		if got, want := int64(len(all)), feedLen(t, b.db); got != want {
			t.Fatalf("read %d entries, the feed holds %d", got, want)
		}
		// Sorted by stream id; hence in order within each partition too.
		for i := 1; i < len(all); i++ {
			if hotline.CompareStreamIDs(all[i-1].StreamID, all[i].StreamID) > 0 {
				t.Fatalf("entries %d and %d out of order: %s then %s", i-1, i, all[i-1].StreamID, all[i].StreamID)
			}
		}
		versions := map[string]int64{}
		for _, e := range all {
			if e.Event.Version != versions[e.Event.TicketID]+1 {
				t.Fatalf("ticket %s: version %d after %d", e.Event.TicketID, e.Event.Version, versions[e.Event.TicketID])
			}
			versions[e.Event.TicketID] = e.Event.Version
		}

		for _, limit := range []int{1, 7, 64} {
			pos := start.Copy()
			var paged []hotline.FeedEvent
			for range len(all) + 1 {
				page := MustReadSince(t, f, pos, limit)
				if len(page) > limit {
					t.Fatalf("limit %d: got a page of %d", limit, len(page))
				}
				if len(page) == 0 {
					break
				}
				for _, e := range page {
					if !pos.Advance(e.Partition, e.StreamID) {
						t.Fatalf("limit %d: entry %d/%s at or before the position", limit, e.Partition, e.StreamID)
					}
				}
				paged = append(paged, page...)
			}
			if g, w := streamIDs(paged), streamIDs(all); !slices.Equal(g, w) {
				t.Errorf("limit %d: pages hold\n %v\nwant\n %v", limit, g, w)
			}
		}

		// From the position reached after any prefix, exactly the rest.
		for _, k := range []int{0, 1, len(all) / 3, len(all) - 1, len(all)} {
			pos := start.Copy()
			for _, e := range all[:k] {
				pos.Advance(e.Partition, e.StreamID)
			}
			if g, w := streamIDs(MustReadSince(t, f, pos, 0)), streamIDs(all[k:]); !slices.Equal(g, w) {
				t.Errorf("after %d entries: got %v, want %v", k, g, w)
			}
		}
	})
}

func TestFeedHeadMoves(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		h0 := MustHead(t, f)
		if g, w := h0.String(), hotline.NewFeedPosition(redisstore.Partitions).String(); g != w {
			t.Fatalf("head of an empty feed = %s, want %s", g, w)
		}
		tk := MustCreateTicket(t, s, NewTicket(), "")
		h1 := MustHead(t, f)
		evs := MustReadSince(t, f, h0, 0)
		if len(evs) != 1 {
			t.Fatalf("got %d events after the empty head, want 1", len(evs))
		}
		for p := range redisstore.Partitions {
			want := h0[p]
			if p == PartitionOf(t, tk.ID) {
				want = evs[0].StreamID
			}
			if h1[p] != want {
				t.Errorf("partition %d: head %s, want %s", p, h1[p], want)
			}
		}
		if evs := MustReadSince(t, f, h1, 0); len(evs) != 0 {
			t.Errorf("got %d events after the head, want none", len(evs))
		}
		MustUpdateTicket(t, s, tk.ID, route("c02"))
		if evs := MustReadSince(t, f, h1, 0); len(evs) != 1 || evs[0].Ticket.UnitID != "c02" {
			t.Errorf("after the head: %+v, want the routing", evs)
		}
	})
}

func TestFeedRejectsMalformedPositions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		f := redisstore.NewFeed(b.db)
		ctx := context.Background()
		short := hotline.NewFeedPosition(3)
		bad := hotline.NewFeedPosition(redisstore.Partitions)
		bad[4] = "yesterday"
		for _, pos := range []hotline.FeedPosition{nil, short, bad} {
			_, err := f.ReadSince(ctx, pos, 10)
			AssertCode(t, err, hotline.EINVALID)
			AssertCode(t, f.Tail(ctx, pos, func(hotline.FeedEvent) {}), hotline.EINVALID)
		}
		// The largest id has nothing after it; Redis refuses it as an
		// exclusive start, the feed just answers nothing.
		last := hotline.NewFeedPosition(redisstore.Partitions)
		last[0] = "18446744073709551615-18446744073709551615"
		if evs := MustReadSince(t, f, last, 10); len(evs) != 0 {
			t.Errorf("got %d events after the largest id", len(evs))
		}
	})
}

// A board whose position is older than what the feed keeps is told to
// reload instead of silently missing events.
func TestFeedGoneAfterTrim(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		const keep = 5
		redisstore.SetFeedMaxLen(b.db, keep)
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		ctx := context.Background()
		other := MustCreateTicket(t, s, NewTicket(), KeyInPartition(1, "other"))
		tk := MustCreateTicket(t, s, NewTicket(), KeyInPartition(0, "trim"))
		start := hotline.NewFeedPosition(f.Partitions())
		for range 20 {
			MustUpdateTicket(t, s, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
				return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "u1", Note: "called back"}, nil
			})
		}
		// Redis trims "~" only by whole radix nodes (100 entries), miniredis
		// exactly: trim exactly so both hold the last five.
		feed0 := fmt.Sprintf("%s:{p0}:feed", b.db.Prefix())
		if err := b.db.Client().XTrimMaxLen(ctx, feed0, keep).Err(); err != nil {
			t.Fatal(err)
		}
		kept, err := b.db.Client().XRange(ctx, feed0, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(kept) != keep {
			t.Fatalf("partition 0 holds %d entries after trimming, want %d", len(kept), keep)
		}

		_, err = f.ReadSince(ctx, start, 0)
		AssertCode(t, err, redisstore.CodeGone)
		if msg := hotline.ErrorMessage(err); msg == "" || msg == "internal error" {
			t.Errorf("message %q should tell the board to reload", msg)
		}
		AssertCode(t, f.Tail(ctx, start, func(hotline.FeedEvent) {}), redisstore.CodeGone)

		// From the oldest entry kept, nothing is missing.
		pos := start.Copy()
		pos[0] = kept[0].ID
		pos[1] = MustHead(t, f)[1]
		evs := MustReadSince(t, f, pos, 0)
		if got, want := len(evs), keep-1; got != want {
			t.Errorf("from the oldest kept entry: %d events, want %d", got, want)
		}
		// Another partition's position is unaffected by partition 0's trim.
		pos = MustHead(t, f)
		pos[1] = "0-0"
		evs = MustReadSince(t, f, pos, 0)
		if len(evs) != 1 || evs[0].Ticket.ID != other.ID {
			t.Errorf("partition 1 from the start: %v, want the one creation", streamIDs(evs))
		}
	})
}

// Tail delivers what is written after its start, in order in every
// partition, one call at a time, and stops promptly when cancelled.
func TestFeedTail(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		Busy(t, s, 3) // history before the start, which Tail must skip
		from := MustHead(t, f)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			mu      sync.Mutex
			got     []hotline.FeedEvent
			inside  atomic.Int32
			overlap atomic.Bool
		)
		arrived := make(chan struct{}, 1000)
		done := make(chan error, 1)
		go func() {
			done <- f.Tail(ctx, from, func(e hotline.FeedEvent) {
				if inside.Add(1) > 1 {
					overlap.Store(true)
				}
				time.Sleep(100 * time.Microsecond) // widen any overlap
				mu.Lock()
				got = append(got, e)
				mu.Unlock()
				inside.Add(-1)
				arrived <- struct{}{}
			})
		}()

		Busy(t, s, 30)
		want := MustReadSince(t, f, from, 0)
		deadline := time.After(10 * time.Second)
		for range want {
			select {
			case <-arrived:
			case <-deadline:
				mu.Lock()
				t.Fatalf("tail delivered %d of %d events", len(got), len(want))
			}
		}
		if overlap.Load() {
			t.Error("fn was called concurrently")
		}

		byPartition := func(evs []hotline.FeedEvent) map[int][]string {
			m := map[int][]string{}
			for _, e := range evs {
				m[e.Partition] = append(m[e.Partition], e.StreamID)
			}
			return m
		}
		mu.Lock()
		g, w := byPartition(got), byPartition(want)
		for p := range redisstore.Partitions {
			if !slices.Equal(g[p], w[p]) {
				t.Errorf("partition %d: tail gave %v, want %v", p, g[p], w[p])
			}
		}
		for _, e := range got {
			if e.Ticket.ID != e.Event.TicketID || e.Event.Position != e.StreamID {
				t.Errorf("tail event %+v: summary or position missing", e)
				break
			}
		}
		mu.Unlock()

		cancelled := time.Now()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("tail ended with %v, want nil after cancel", err)
			}
			// Well under the 5 s BLOCK: cancelling closes the connections.
			if d := time.Since(cancelled); d > 2*time.Second {
				t.Errorf("tail took %v to stop", d)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("tail did not stop after cancel")
		}
	})
}

// Tail keeps going across a connection loss, from where it was.
func TestFeedTailSurvivesDroppedConnections(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		c, ok := b.db.Client().(*redis.Client)
		if !ok {
			t.Skip("needs a standalone server to kill clients on")
		}
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		from := MustHead(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		seen := make(chan hotline.FeedEvent, 100)
		done := make(chan error, 1)
		go func() { done <- f.Tail(ctx, from, func(e hotline.FeedEvent) { seen <- e }) }()

		first := MustCreateTicket(t, s, NewTicket(), "")
		wait := func(id string) {
			t.Helper()
			for {
				select {
				case e := <-seen:
					if e.Event.TicketID == id {
						return
					}
				case <-time.After(15 * time.Second):
					t.Fatalf("no event for %s", id)
				}
			}
		}
		wait(first.ID)
		// Drop every connection blocked in XREAD: the tail's sixteen (and
		// those of tails in parallel tests, which retry just the same).
		// Other clients are spared so parallel tests see no failures. The
		// first event may have come by the local echo before every
		// partition's connection was up (through Sentinel each dial asks a
		// sentinel first): wait until sixteen readers are blocked.
		var readers []string
		for deadline := time.Now().Add(15 * time.Second); len(readers) < redisstore.Partitions && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
			list, err := c.ClientList(ctx).Result()
			if err != nil {
				t.Skipf("server cannot list clients: %v", err)
			}
			readers = readers[:0]
			for _, line := range strings.Split(list, "\n") {
				if strings.Contains(line, " cmd=xread") {
					id, _, _ := strings.Cut(strings.TrimPrefix(line, "id="), " ")
					readers = append(readers, id)
				}
			}
		}
		killed := 0
		for _, id := range readers {
			if c.ClientKillByFilter(ctx, "ID", id).Err() == nil {
				killed++
			}
		}
		if killed < redisstore.Partitions {
			t.Fatalf("killed %d blocked readers, want at least %d", killed, redisstore.Partitions)
		}
		second := MustCreateTicket(t, s, NewTicket(), "")
		wait(second.ID)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tail ended with %v", err)
		}
	})
}

// Replica A follows the feed while it and replica B write into the same
// two partitions at once. A hands its own entries to its tail directly
// (the local echo) and gets B's by XREAD; whatever the interleaving, its
// tail delivers every entry once, in stream order within each partition,
// exactly as ReadSince reads them back.
func TestFeedTailEchoKeepsOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		a := b.db
		replicaB := redisstore.NewDB(a.Client(), a.Prefix())
		sa, sb := redisstore.NewTicketStore(a), redisstore.NewTicketStore(replicaB)
		f := redisstore.NewFeed(a)
		from := MustHead(t, f)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			mu  sync.Mutex
			got []hotline.FeedEvent
		)
		go f.Tail(ctx, from, func(e hotline.FeedEvent) {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		})
		// Tail registers itself as it starts; let it.
		for i := 0; i < 100 && redisstore.EchoesTaken(a) == 0; i++ {
			MustCreateTicket(t, sa, NewTicket(), KeyInPartition(0, fmt.Sprintf("warm-%d", i)))
			time.Sleep(5 * time.Millisecond)
		}

		var wg sync.WaitGroup
		for w, s := range []*redisstore.TicketStore{sa, sb, sa, sb} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 40 {
					tk := MustCreateTicket(t, s, NewTicket(), KeyInPartition(i%2, fmt.Sprintf("w%d-%d", w, i)))
					if i%3 == 0 {
						MustUpdateTicket(t, s, tk.ID, route("c02"))
					}
				}
			}()
		}
		wg.Wait()
		want := MustReadSince(t, f, from, 0)
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= len(want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // room for a duplicate to show
		mu.Lock()
		defer mu.Unlock()
		ids := func(evs []hotline.FeedEvent) map[int][]string {
			m := map[int][]string{}
			for _, e := range evs {
				m[e.Partition] = append(m[e.Partition], e.StreamID)
			}
			return m
		}
		g, w := ids(got), ids(want)
		for p := range redisstore.Partitions {
			if !slices.Equal(g[p], w[p]) {
				t.Errorf("partition %d: tail gave %d entries, want %d in order\n got %v\nwant %v", p, len(g[p]), len(w[p]), g[p], w[p])
			}
		}
		for i, e := range got {
			if e.Ticket.ID != e.Event.TicketID || e.Event.Position != e.StreamID || e.Ticket.Status == "" {
				t.Fatalf("delivery %d: %+v: summary or position missing", i, e)
			}
		}
		if redisstore.EchoesTaken(a) == 0 {
			t.Error("no entry reached the tail by the local echo")
		}
	})
}

// Read-your-writes on the live board: once a change made through this
// process has returned, the process's running tail has delivered it.
func TestFeedTailHasOwnChangesBeforeTheyReturn(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, f := redisstore.NewTicketStore(b.db), redisstore.NewFeed(b.db)
		from := MustHead(t, f)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var (
			mu        sync.Mutex
			delivered = map[string]int{} // ticket id → events delivered
		)
		go f.Tail(ctx, from, func(e hotline.FeedEvent) {
			mu.Lock()
			delivered[e.Event.TicketID]++
			mu.Unlock()
		})
		count := func(id string) int {
			mu.Lock()
			defer mu.Unlock()
			return delivered[id]
		}
		// Wait until the tail is running: then it has delivered a change
		// by the time the change returns.
		for i := 0; ; i++ {
			tk := MustCreateTicket(t, s, NewTicket(), "")
			time.Sleep(10 * time.Millisecond)
			if count(tk.ID) == 1 && redisstore.EchoesTaken(b.db) > 0 {
				break
			}
			if i == 300 {
				t.Fatal("the tail never started")
			}
		}
		for i := range 20 {
			tk := MustCreateTicket(t, s, NewTicket(), "")
			if n := count(tk.ID); n != 1 {
				t.Fatalf("change %d: ticket %s created, its event delivered %d times when the create returned", i, tk.ID, n)
			}
			MustUpdateTicket(t, s, tk.ID, route("c03"))
			if n := count(tk.ID); n != 2 {
				t.Fatalf("change %d: ticket %s routed, %d events delivered when the update returned, want 2", i, tk.ID, n)
			}
		}
	})
}
