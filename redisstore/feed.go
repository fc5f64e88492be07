package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

const (
	// codeGone is hotline.EGONE, which feed.go documents but error.go does
	// not declare yet; it must equal it once it does, since the HTTP layer
	// maps codes by value.
	codeGone = "gone"

	// readDefault and readMax bound ReadSince's limit: enough to replay a
	// busy hour in one call, few enough that the answer stays a few MB.
	readDefault = 1000
	readMax     = 10000

	// tailBlock is how long one XREAD waits for new entries. It only bounds
	// how long a dead connection goes unnoticed: a cancelled Tail closes its
	// connections and does not wait for it.
	tailBlock = 5 * time.Second
	// tailCount is the most entries one XREAD returns: a partition that fell
	// behind catches up in batches without one reply growing unbounded.
	tailCount = 256
	// tailBackoffMin and tailBackoffMax bound the wait between failed
	// reads; doubling from 100 ms reaches the ceiling after six failures.
	tailBackoffMin = 100 * time.Millisecond
	tailBackoffMax = 5 * time.Second
)

// maxStreamID is the largest stream id: nothing can follow it, and Redis
// refuses it as an exclusive start.
const maxStreamID = "18446744073709551615-18446744073709551615"

// Feed reads the per-partition feed streams P:{pN}:feed that the ticket
// scripts append to: every entry carries the ticket id (t), the event (e)
// and the ticket's board summary after the change (s).
type Feed struct {
	db *DB
	// Logger receives Tail's warnings about failed reads (partition and
	// error only: entries hold no contact details, and none are logged).
	// Nil means slog.Default().
	Logger *slog.Logger
}

var _ hotline.Feed = (*Feed)(nil)

// NewFeed returns the feed of the tickets stored on db.
func NewFeed(db *DB) *Feed { return &Feed{db: db} }

func (f *Feed) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.Default()
}

// Partitions implements hotline.Feed: one partition per ticket partition.
func (f *Feed) Partitions() int { return partitions }

// Head implements hotline.Feed with XREVRANGE + - COUNT 1 on every
// partition, in one pipeline. Errors: EUNAVAILABLE.
func (f *Feed) Head(ctx context.Context) (hotline.FeedPosition, error) {
	pipe := f.db.client.Pipeline()
	cmds := make([]*redis.XMessageSliceCmd, partitions)
	for p := range partitions {
		cmds[p] = pipe.XRevRangeN(ctx, f.db.pkey(p, "feed"), "+", "-", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	pos := hotline.NewFeedPosition(partitions)
	for p, c := range cmds {
		if msgs := c.Val(); len(msgs) > 0 {
			pos[p] = msgs[0].ID
		}
	}
	return pos, nil
}

// ReadSince implements hotline.Feed. It reads up to limit entries after pos
// from every partition, sorts them all by stream id (the time Redis gave
// each entry; ties by partition) and keeps the first limit. Within a
// partition ids only grow, so what is kept is a prefix of each partition's
// entries: a board that advances its position by every event returned and
// asks again gets the rest, with no gap and no duplicate. limit ≤ 0 means
// 1000; it is capped at 10,000.
//
// Errors: EINVALID for a position of the wrong length or with a malformed
// id, EGONE (code "gone") when entries after pos were already trimmed from
// some partition, EUNAVAILABLE.
func (f *Feed) ReadSince(ctx context.Context, pos hotline.FeedPosition, limit int) ([]hotline.FeedEvent, error) {
	if err := checkPosition(pos); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = readDefault
	}
	limit = min(limit, readMax)
	msgs, err := f.readAfter(ctx, pos, limit)
	if err != nil {
		return nil, err
	}
	var out []hotline.FeedEvent
	for p, ms := range msgs {
		for _, m := range ms {
			fe, err := decodeFeedEntry(p, m)
			if err != nil {
				return nil, err
			}
			out = append(out, fe)
		}
	}
	slices.SortFunc(out, func(a, b hotline.FeedEvent) int {
		if c := hotline.CompareStreamIDs(a.StreamID, b.StreamID); c != 0 {
			return c
		}
		return a.Partition - b.Partition
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// checkPosition refuses a position that does not name one valid stream id
// per partition. Errors: EINVALID.
func checkPosition(pos hotline.FeedPosition) error {
	_, err := hotline.ParseFeedPosition(pos.String(), partitions)
	return err
}

// readAfter returns, per partition, up to count entries after pos, and
// EGONE when some entry after pos was trimmed.
//
// The feed only loses entries by MAXLEN trimming, which drops the oldest,
// so entries after pos can only be missing when pos is before the first
// entry kept and something was dropped. Redis 7 says whether anything was
// (XINFO STREAM: entries-added exceeds length). It cannot say whether pos
// is exactly the last entry dropped, so a board that saw that very entry
// is sent to reload too: a wasted reload, never a silent gap. (Its
// max-deleted-entry-id would be exact, but Redis sets it only for XDEL,
// not for trimming.) The XINFO goes after the XRANGE in the same pipeline,
// hence runs after it on the server: a trim between the two moves the
// first entry past pos and shows up as gone rather than going unnoticed.
//
// miniredis reports neither entries-added nor the first entry; there, a
// partition counts as trimmed once it holds MAXLEN entries (its trimming is
// exact), and the first entry is read with one more XRANGE.
func (f *Feed) readAfter(ctx context.Context, pos hotline.FeedPosition, count int) ([][]redis.XMessage, error) {
	pipe := f.db.client.Pipeline()
	ranges := make([]*redis.XMessageSliceCmd, partitions)
	infos := make([]*redis.XInfoStreamCmd, partitions)
	for p := range partitions {
		if pos[p] == maxStreamID {
			continue
		}
		k := f.db.pkey(p, "feed")
		ranges[p] = pipe.XRangeN(ctx, k, "("+pos[p], "+", int64(count))
		infos[p] = pipe.XInfoStream(ctx, k)
	}
	// Per-command errors are read below: a missing stream fails XINFO,
	// and that is not a failure of the read.
	if _, err := pipe.Exec(ctx); err != nil && !isNoSuchKey(err) {
		return nil, storeErr(err)
	}
	out := make([][]redis.XMessage, partitions)
	var unsure []int
	for p := range partitions {
		if ranges[p] == nil {
			continue
		}
		msgs, err := ranges[p].Result()
		if err != nil {
			return nil, storeErr(err)
		}
		out[p] = msgs
		info, err := infos[p].Result()
		switch {
		case isNoSuchKey(err):
			continue // nothing was ever written, so nothing was trimmed
		case err != nil:
			return nil, storeErr(err)
		case info.EntriesAdded > 0:
			if info.EntriesAdded > info.Length && hotline.CompareStreamIDs(pos[p], firstKept(info)) < 0 {
				return nil, feedGone()
			}
		case info.Length >= f.db.feedMaxLen:
			unsure = append(unsure, p)
		}
	}
	if len(unsure) == 0 {
		return out, nil
	}
	pipe = f.db.client.Pipeline()
	firsts := make([]*redis.XMessageSliceCmd, len(unsure))
	for i, p := range unsure {
		firsts[i] = pipe.XRangeN(ctx, f.db.pkey(p, "feed"), "-", "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	for i, p := range unsure {
		if first := firsts[i].Val(); len(first) > 0 && hotline.CompareStreamIDs(pos[p], first[0].ID) < 0 {
			return nil, feedGone()
		}
	}
	return out, nil
}

// firstKept is the id of the oldest entry a stream still holds; for a
// stream trimmed to nothing, its last id, after which nothing is missing.
func firstKept(info *redis.XInfoStream) string {
	if info.Length == 0 || info.FirstEntry.ID == "" {
		return info.LastGeneratedID
	}
	return info.FirstEntry.ID
}

func isNoSuchKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

func feedGone() error {
	return hotline.Errorf(codeGone, "the board was away too long and missed events that are no longer kept; reload it")
}

// decodeFeedEntry reads one feed entry. Entries written before summaries
// were added carry only t and e; their summary holds just the id, which
// tells a board to fetch the ticket rather than show a blank.
func decodeFeedEntry(p int, m redis.XMessage) (hotline.FeedEvent, error) {
	ev, err := decodeEvent(m)
	if err != nil {
		return hotline.FeedEvent{}, err
	}
	fe := hotline.FeedEvent{Partition: p, StreamID: m.ID, Event: ev}
	if s, ok := m.Values["s"].(string); ok {
		if err := json.Unmarshal([]byte(s), &fe.Ticket); err != nil {
			return hotline.FeedEvent{}, hotline.Internal(fmt.Errorf("decode feed summary %s: %w", m.ID, err))
		}
	} else {
		fe.Ticket.ID, _ = m.Values["t"].(string)
	}
	return fe, nil
}

// Tail implements hotline.Feed. One goroutine per partition runs XREAD
// BLOCK on that partition's stream alone (on Cluster each stream lives in
// its own slot, and one XREAD may only name streams of one slot), over a
// client of its own so that sixteen blocked connections never starve the
// shared pool. Calls to fn are serialised: fn sees one event at a time, in
// order within each partition. A failed read is retried with backoff, from
// the last entry delivered, for as long as ctx lasts.
//
// It returns nil once ctx ends, EINVALID for a malformed position, and
// EGONE when entries after from were already trimmed when it started (the
// feed keeps 100,000 entries per partition, so a tail that is running does
// not fall that far behind).
func (f *Feed) Tail(ctx context.Context, from hotline.FeedPosition, fn func(hotline.FeedEvent)) error {
	if err := checkPosition(from); err != nil {
		return err
	}
	from = from.Copy() // the goroutines read it after the caller may reuse it
	for attempt := 0; ; attempt++ {
		_, err := f.readAfter(ctx, from, 1)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
			return err
		}
		f.logger().Warn("feed tail: cannot check the start position", "err", err)
		if !sleepCtx(ctx, backoff(attempt)) {
			return nil
		}
	}

	client, closeClient := f.db.blockingClient(partitions)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		// Closing the connections is what interrupts the blocked reads.
		defer wg.Done()
		<-ctx.Done()
		closeClient()
	}()
	st := &tailState{last: from.Copy(), fn: fn}
	f.db.echo.add(st)
	defer f.db.echo.remove(st)
	for p := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.tailPartition(ctx, client, p, from[p], st)
		}()
	}
	wg.Wait()
	return nil
}

// tailPartition follows one partition from last until ctx ends. Entries
// the tail already delivered (echoed by this process) are skipped before
// they are decoded.
func (f *Feed) tailPartition(ctx context.Context, client redis.UniversalClient, p int, last string, st *tailState) {
	key := f.db.pkey(p, "feed")
	failures := 0
	for ctx.Err() == nil {
		res, err := client.XRead(ctx, &redis.XReadArgs{
			Streams: []string{key, last}, Count: tailCount, Block: tailBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			failures = 0
			continue // BLOCK ran out with nothing new
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.logger().Warn("feed tail: read failed, retrying", "partition", p, "err", err)
			if !sleepCtx(ctx, backoff(failures)) {
				return
			}
			failures++
			continue
		}
		failures = 0
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				if st.seen(p, m.ID) {
					continue
				}
				fe, err := decodeFeedEntry(p, m)
				if err != nil {
					// Skipping is the only way past an entry that cannot be
					// decoded; stopping would freeze the partition for good.
					f.logger().Error("feed tail: skipping an undecodable entry", "partition", p, "stream_id", m.ID, "err", err)
					st.skip(p, m.ID)
					continue
				}
				st.deliver(fe)
			}
		}
	}
}

// backoff is the wait before retry number attempt (from 0): doubling from
// tailBackoffMin up to tailBackoffMax, each with up to half again of
// jitter so that replicas that lost Redis together do not return in step.
func backoff(attempt int) time.Duration {
	d := tailBackoffMax
	if attempt < 16 {
		d = min(tailBackoffMin<<attempt, tailBackoffMax)
	}
	return d + rand.N(d/2+1)
}

// sleepCtx waits d and reports false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// blockingClient returns a client with its own pool of conns connections,
// built from the shared client's options, for commands that hold a
// connection while they block; the second result closes it. A client type
// it does not know how to copy is returned as is, with a no-op close: it
// works, but blocked reads then hold connections of the shared pool and a
// cancelled tail waits out its BLOCK.
func (db *DB) blockingClient(conns int) (redis.UniversalClient, func()) {
	switch c := db.client.(type) {
	case *redis.Client:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = conns, 0, conns
		nc := redis.NewClient(&o)
		return nc, func() { nc.Close() }
	case *redis.ClusterClient:
		o := *c.Options()
		o.PoolSize, o.MinIdleConns, o.MaxIdleConns = conns, 0, conns
		nc := redis.NewClusterClient(&o)
		return nc, func() { nc.Close() }
	}
	return db.client, func() {}
}
