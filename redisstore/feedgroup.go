package redisstore

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

const (
	// consumeBlock is how long one XREADGROUP waits for new entries; like
	// tailBlock it only bounds how long a dead connection goes unnoticed
	// and how often idle entries are looked for.
	consumeBlock = 5 * time.Second
	// consumeCount is the most entries one XREADGROUP returns.
	consumeCount = 100
	// DefaultClaimIdle is how long an entry stays pending with a consumer
	// before another takes it over: far above the time a handler needs
	// (a ticket read and an outbox write), so only a dead or stuck
	// consumer's entries move.
	DefaultClaimIdle = time.Minute
	// defaultClaimEvery is how often each partition looks for entries to
	// take over: a dead replica's entries wait at most ClaimIdle plus this.
	defaultClaimEvery = 15 * time.Second
	// claimCount and claimRounds bound one look: up to 1000 entries per
	// partition per look, the rest at the next.
	claimCount  = 100
	claimRounds = 10
	// handlerTries is how often an entry is handed to a handler that fails
	// with anything but EUNAVAILABLE before it is given up (logged and
	// acknowledged): a bug in the handler must not stop its partition for
	// good. EUNAVAILABLE (Redis away) is retried for as long as it lasts.
	handlerTries = 5
)

// FeedConsumer reads the feed as one member of a Redis consumer group, so
// that every entry is handled once by the group however many replicas run
// it, and none is lost across restarts: an entry is acknowledged (XACK)
// only after its handler succeeded; one whose consumer died before that is
// taken over (XAUTOCLAIM) by a live consumer once it has been pending for
// ClaimIdle.
//
// The group is created at the end of each partition's stream (XGROUP
// CREATE … $ MKSTREAM) the first time any consumer of that name starts:
// entries written before the first deployment are not handled, everything
// after is. From then on the group remembers its place in Redis, so a
// restart, a new replica or a redeploy resumes exactly where the group
// stood. Should the group disappear while running (its stream deleted, a
// FLUSHDB), it is created again after the last entry this consumer handled
// in that partition. The embedded store's snapshots keep each group's
// place but not its pending list.
//
// Delivery is at least once: a handler that succeeded but whose XACK was
// lost, or that was slower than ClaimIdle, sees the entry again (as may
// another consumer), so handlers must be idempotent, as the notifier is
// through its outbox keys. Entries trimmed from a stream (MAXLEN 100,000
// per partition) before the group read them are skipped.
type FeedConsumer struct {
	db       *DB
	group    string
	consumer string
	// ClaimIdle is how long an entry must have been pending with another
	// consumer before this one takes it over (0: DefaultClaimIdle).
	ClaimIdle time.Duration
	// ClaimEvery is how often to look for such entries (0: 15 s).
	ClaimEvery time.Duration
	// Logger receives warnings about failed reads and handlers (partition,
	// stream id and error only). Nil means slog.Default().
	Logger *slog.Logger
}

// NewFeedConsumer returns consumer of group on db's feed. group names the
// purpose ("notify"); consumer must be unique among the group's live
// members and stable across a replica's restarts if possible (e.g. the
// host name), so that a restarted replica first finishes its own pending
// entries instead of waiting ClaimIdle for them.
func NewFeedConsumer(db *DB, group, consumer string) *FeedConsumer {
	return &FeedConsumer{db: db, group: group, consumer: consumer}
}

// Consume runs a FeedConsumer of group with default settings: see
// FeedConsumer and FeedConsumer.Run.
func (f *Feed) Consume(ctx context.Context, group, consumer string, fn func(hotline.FeedEvent) error) error {
	c := NewFeedConsumer(f.db, group, consumer)
	c.Logger = f.Logger
	return c.Run(ctx, fn)
}

func (c *FeedConsumer) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Run hands every entry of the group's share of the feed to fn until ctx
// ends, then returns nil. One goroutine per partition reads that
// partition's stream (over a client of its own, as Tail does), so fn is
// called concurrently for different partitions and must be safe for that;
// within a partition entries come in order, and one whose handler fails
// holds back those after it until it succeeds or is given up.
//
// fn returns nil once the entry is handled (or deliberately ignored). An
// error has the entry handed over again after a backoff: indefinitely for
// EUNAVAILABLE, up to 5 times for anything else, after which the entry is
// logged and acknowledged. Errors: EINVALID for an empty group or consumer
// name.
func (c *FeedConsumer) Run(ctx context.Context, fn func(hotline.FeedEvent) error) error {
	if c.group == "" || c.consumer == "" {
		return hotline.Errorf(hotline.EINVALID, "feed consumer: a group and a consumer name are required")
	}
	client, closeClient := c.db.blockingClient(partitions)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		closeClient() // interrupts the blocked reads
	}()
	for p := range partitions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.consumePartition(ctx, client, p, fn)
		}()
	}
	wg.Wait()
	return nil
}

// partitionConsumer is one partition's reading state.
type partitionConsumer struct {
	*FeedConsumer
	client redis.UniversalClient
	p      int
	key    string
	fn     func(hotline.FeedEvent) error
	// last is the newest entry this consumer handled here, where a lost
	// group is created again.
	last string
	// tries counts failed handler calls per entry id; an entry leaves it
	// when acknowledged.
	tries map[string]int
}

func (c *FeedConsumer) consumePartition(ctx context.Context, client redis.UniversalClient, p int, fn func(hotline.FeedEvent) error) {
	pc := &partitionConsumer{
		FeedConsumer: c, client: client, p: p, key: c.db.pkey(p, "feed"), fn: fn,
		last: "$", tries: map[string]int{},
	}
	claimIdle, claimEvery := c.ClaimIdle, c.ClaimEvery
	if claimIdle <= 0 {
		claimIdle = DefaultClaimIdle
	}
	if claimEvery <= 0 {
		claimEvery = defaultClaimEvery
	}
	failures := 0
	retry := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		if err != nil {
			c.logger().Warn("feed consumer: "+what+", retrying", "group", c.group, "partition", p, "err", err)
		}
		ok := sleepCtx(ctx, backoff(failures))
		failures++
		return ok
	}
	for ctx.Err() == nil {
		if err := pc.createGroup(ctx); err == nil {
			break
		} else if !retry("cannot create the group", err) {
			return
		}
	}
	// Own pending entries first: those a previous run of this consumer
	// read but did not acknowledge.
	pending := true
	nextClaim := time.Now()
	for ctx.Err() == nil {
		if !time.Now().Before(nextClaim) {
			nextClaim = time.Now().Add(claimEvery)
			n, err := pc.claim(ctx, claimIdle)
			if err != nil && !retry("cannot claim idle entries", err) {
				return
			}
			if n > 0 {
				pending = true
			}
		}
		args := &redis.XReadGroupArgs{
			Group: c.group, Consumer: c.consumer, Streams: []string{pc.key, ">"},
			Count: consumeCount, Block: consumeBlock,
		}
		if pending {
			// "0" reads this consumer's pending list from its start;
			// acknowledged entries leave it, so reading from "0" again
			// after a round always yields what is still to do.
			args.Streams[1], args.Block = "0", -1
		}
		res, err := pc.client.XReadGroup(ctx, args).Result()
		switch {
		case errors.Is(err, redis.Nil):
			failures = 0
			continue
		case isNoGroup(err):
			c.logger().Error("feed consumer: the group is gone, creating it again after the last entry handled",
				"group", c.group, "partition", p, "last", pc.last)
			if err := pc.createGroup(ctx); err != nil && !retry("cannot create the group", err) {
				return
			}
			continue
		case err != nil:
			if !retry("read failed", err) {
				return
			}
			continue
		}
		var msgs []redis.XMessage
		for _, s := range res {
			msgs = append(msgs, s.Messages...)
		}
		if pending && len(msgs) == 0 {
			pending = false
			continue
		}
		if pc.handle(ctx, msgs) {
			failures = 0
			continue
		}
		// A handler failed: go back to the pending list, where the failed
		// entry comes first, after a pause.
		pending = true
		if !retry("", nil) {
			return
		}
	}
}

// createGroup creates the group at the end of the stream (or, after the
// group was lost, after the last entry handled); an existing group is
// left as it is.
func (pc *partitionConsumer) createGroup(ctx context.Context) error {
	err := pc.client.XGroupCreateMkStream(ctx, pc.key, pc.group, pc.last).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return storeErr(err)
	}
	return nil
}

// claim takes over entries pending with other consumers for longer than
// idle; they join this consumer's pending list, which the caller reads
// next. It returns how many it took.
func (pc *partitionConsumer) claim(ctx context.Context, idle time.Duration) (int, error) {
	start, n := "0-0", 0
	for range claimRounds {
		ids, next, err := pc.client.XAutoClaimJustID(ctx, &redis.XAutoClaimArgs{
			Stream: pc.key, Group: pc.group, Consumer: pc.consumer,
			MinIdle: idle, Start: start, Count: claimCount,
		}).Result()
		if isNoGroup(err) {
			return n, nil // the read that follows creates it again
		}
		if err != nil {
			return n, storeErr(err)
		}
		n += len(ids)
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if n > 0 {
		pc.logger().Info("feed consumer: took over idle entries", "group", pc.group, "partition", pc.p, "count", n)
	}
	return n, nil
}

// handle hands msgs to fn in order and acknowledges each that succeeded
// (or was given up). It stops at the first failure and reports false.
func (pc *partitionConsumer) handle(ctx context.Context, msgs []redis.XMessage) bool {
	for _, m := range msgs {
		if ctx.Err() != nil {
			return true // the caller's loop ends
		}
		if len(m.Values) == 0 {
			// Pending, but trimmed from the stream meanwhile: nothing to
			// hand over.
			pc.ack(ctx, m.ID)
			continue
		}
		fe, err := decodeFeedEntry(pc.p, m)
		if err != nil {
			pc.logger().Error("feed consumer: skipping an undecodable entry", "group", pc.group, "partition", pc.p, "stream_id", m.ID, "err", err)
			pc.ack(ctx, m.ID)
			continue
		}
		if err := pc.fn(fe); err != nil {
			if ctx.Err() != nil {
				return true
			}
			pc.tries[m.ID]++
			if hotline.ErrorCode(err) != hotline.EUNAVAILABLE && pc.tries[m.ID] >= handlerTries {
				pc.logger().Error("feed consumer: giving up an entry its handler keeps failing",
					"group", pc.group, "partition", pc.p, "stream_id", m.ID, "tries", pc.tries[m.ID], "err", err)
				pc.ack(ctx, m.ID)
				continue
			}
			pc.logger().Warn("feed consumer: handler failed, will retry", "group", pc.group, "partition", pc.p, "stream_id", m.ID, "err", err)
			return false
		}
		pc.ack(ctx, m.ID)
	}
	return true
}

// ack acknowledges id. A failed XACK leaves the entry pending, to be
// handled again (handlers are idempotent), so it is only logged.
func (pc *partitionConsumer) ack(ctx context.Context, id string) {
	delete(pc.tries, id)
	if hotline.CompareStreamIDs(id, pc.last) > 0 || pc.last == "$" {
		pc.last = id
	}
	if err := pc.client.XAck(ctx, pc.key, pc.group, id).Err(); err != nil && ctx.Err() == nil {
		pc.logger().Warn("feed consumer: XACK failed; the entry will be handled again", "group", pc.group, "partition", pc.p, "stream_id", id, "err", err)
	}
}

func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}
