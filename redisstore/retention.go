package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

// Erasing residents' personal details from finished tickets once the
// retention period has passed (package retention decides what goes;
// docs/RETENTION.md). Two fields of the ticket hash serve it:
//
//	rk  the resident key (ResidentKey) of the phone an erasure removed, so
//	    that the nightly grouping still counts distinct residents
//	xv  the version at which the ticket was last erased, or found with
//	    nothing left to erase: a later sweep skips the ticket while v
//	    still equals it, without reading its JSON
//
// Both survive later changes: the update script sets only v, d and n.

// erasePage is how many ids ScanFinished reads from an index per round
// trip; their tickets are read only when changed since their erasure.
const erasePage = 500

// finishedStatuses are the statuses whose tickets may be erased: work on
// them is over (hotline.Status.Open is false).
var finishedStatuses = []hotline.Status{hotline.StatusResolved, hotline.StatusClosed, hotline.StatusCancelled}

// eraseScript stores the erased form of a ticket if nobody changed it since
// it was read: the ticket JSON, the resident key, the erased version, the
// ticket's history rebuilt with the same stream ids (a stream entry cannot
// be edited in place, and a new id would move every event's Position),
// then the erasure's own event on the ticket stream and the feed.
//
// KEYS: 1 ticket hash, 2 ticket stream, 3 feed, 4 due.
// ARGV: 1 expected version, 2 new version, 3 ticket JSON, 4 resident key
// ("" keeps the stored one), 5 ticket id, 6 feed MAXLEN, 7 the erasure's
// event JSON, 8 summary JSON, 9 next deadline unix ms ("0": none), 10 k,
// the number of history entries that follow (0: the history is kept as it
// is), then k pairs of stream id and event JSON, oldest first.
//
// Returns 1 when stored, 0 when the version moved on, -1 when the ticket is
// gone.
var eraseScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  return -1
end
if v ~= ARGV[1] then
  return 0
end
local k = tonumber(ARGV[10])
if k > 0 then
  -- Every change appends one event with the version it bumps, so the
  -- history read at this version has exactly this many entries.
  if redis.call('XLEN', KEYS[2]) ~= k then
    return redis.error_reply('ERR the history of ticket ' .. ARGV[5] .. ' does not match its version')
  end
  redis.call('DEL', KEYS[2])
  for i = 0, k - 1 do
    redis.call('XADD', KEYS[2], ARGV[11 + 2 * i], 'e', ARGV[12 + 2 * i])
  end
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'd', ARGV[3], 'n', ARGV[9], 'xv', ARGV[2])
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[1], 'rk', ARGV[4])
end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[7])
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 't', ARGV[5], 'e', ARGV[7], 's', ARGV[8])
if tonumber(ARGV[9]) > 0 then
  redis.call('ZADD', KEYS[4], ARGV[9], ARGV[5])
else
  redis.call('ZREM', KEYS[4], ARGV[5])
end
return 1
`)

// markErasedScript records that a ticket holds nothing more to erase at
// its version, so sweeps skip it until it changes.
//
// KEYS: 1 ticket hash. ARGV: 1 expected version.
// Returns 1, 0 when the version moved on, -1 when the ticket is gone.
var markErasedScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], 'v')
if not v then
  return -1
end
if v ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'xv', v)
return 1
`)

// ScanFinished calls fn with every resolved, closed or cancelled ticket
// created before createdBefore, except those erased (or found with nothing
// to erase) at their current version. It reads each partition's status
// indexes in pages by score (created unix ms), and a page's tickets in one
// pipeline; fn may erase the ticket it is given (an erasure leaves the
// indexes alone). A ticket whose status changes during the scan may be
// given once more or not at all: a sweep runs every day. fn's error stops
// the scan and is returned. Errors: EUNAVAILABLE.
func (s *TicketStore) ScanFinished(ctx context.Context, createdBefore time.Time, fn func(*hotline.Ticket) error) error {
	hi := "(" + strconv.FormatInt(createdBefore.UnixMilli(), 10)
	for p := range partitions {
		for _, st := range finishedStatuses {
			key := s.pkey(p, "idx", "status", string(st))
			// The cursor is a score and how many ids of that score were
			// read: ids created in the same millisecond may straddle pages.
			lo, skip := "-inf", int64(0)
			for {
				zs, err := s.db.client.ZRangeByScoreWithScores(ctx, key, &redis.ZRangeBy{
					Min: lo, Max: hi, Offset: skip, Count: erasePage,
				}).Result()
				if err != nil {
					return storeErr(err)
				}
				ids := make([]string, len(zs))
				for i, z := range zs {
					ids[i], _ = z.Member.(string)
				}
				tickets, err := s.unerased(ctx, p, ids)
				if err != nil {
					return err
				}
				for _, t := range tickets {
					if err := fn(t); err != nil {
						return err
					}
				}
				if len(zs) < erasePage {
					break
				}
				last := zs[len(zs)-1].Score
				same := int64(0)
				for i := len(zs) - 1; i >= 0 && zs[i].Score == last; i-- {
					same++
				}
				if next := strconv.FormatFloat(last, 'f', -1, 64); next == lo {
					skip += same
				} else {
					lo, skip = next, same
				}
			}
		}
	}
	return nil
}

// unerased reads the tickets ids of partition p that changed since their
// last erasure (or were never erased): first v and xv of each, then the
// JSON of those that differ, two pipelines in all.
func (s *TicketStore) unerased(ctx context.Context, p int, ids []string) ([]*hotline.Ticket, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.db.client.Pipeline()
	marks := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		marks[i] = pipe.HMGet(ctx, s.pkey(p, "t", id), "v", "xv")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	var todo []string
	for i, c := range marks {
		vals := c.Val()
		if len(vals) != 2 || vals[0] == nil {
			continue // gone between the index read and now
		}
		if v, _ := vals[0].(string); vals[1] != nil && vals[1].(string) == v {
			continue
		}
		todo = append(todo, ids[i])
	}
	return s.load(ctx, todo)
}

// EraseTicket applies change to the ticket id and its history and stores
// the result in one step, if nobody changed the ticket meanwhile (it reads
// again and retries otherwise, as UpdateTicket does). change gets a copy
// of the ticket and of its events (oldest first, Position set) to change
// in place, and returns the event that records the erasure; the events it
// changed are written back under their stream ids, the others keep their
// stored bytes. A nil event with a nil error means nothing is left to
// erase: the ticket is only marked so that ScanFinished skips it until it
// changes, and erased is false.
//
// When the change removes the ticket's phone, the phone's ResidentKey is
// kept beside the ticket (ScanNeeds reads it), so grouping still counts
// the resident. An erasure must leave where the ticket stands alone: a
// change to its status, unit, committee or creation time is EINTERNAL.
//
// Errors: ENOTFOUND, ECONFLICT (retries exhausted), whatever change
// returns, EINTERNAL, EUNAVAILABLE.
func (s *TicketStore) EraseTicket(ctx context.Context, id string, change func(t *hotline.Ticket, events []*hotline.Event) (*hotline.Event, error)) (t *hotline.Ticket, erased bool, err error) {
	p, ok := partitionOf(id)
	if !ok {
		return nil, false, ticketNotFound()
	}
	tkey := s.pkey(p, "t", id)
	salt := ""
	for attempt := 0; attempt < updateAttempts; attempt++ {
		if attempt > 0 {
			d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-1, 5)))
			select {
			case <-ctx.Done():
				return nil, false, hotline.Unavailable(ctx.Err())
			case <-time.After(d):
			}
		}
		pipe := s.db.client.Pipeline()
		dc := pipe.HGet(ctx, tkey, "d")
		hc := pipe.XRange(ctx, tkey+":ev", "-", "+")
		if _, err := pipe.Exec(ctx); errors.Is(err, redis.Nil) {
			return nil, false, ticketNotFound()
		} else if err != nil {
			return nil, false, storeErr(err)
		}
		cur, err := decodeTicket(dc.Val())
		if err != nil {
			return nil, false, err
		}
		msgs := hc.Val()
		stored := make([]string, len(msgs)) // each event as Go writes it, to spot the changed ones
		events := make([]*hotline.Event, len(msgs))
		for i, m := range msgs {
			ev, err := decodeEvent(m)
			if err != nil {
				return nil, false, err
			}
			if stored[i], err = eventJSON(*ev); err != nil {
				return nil, false, err
			}
			events[i] = ev
		}

		next := *cur
		ev, err := change(&next, events)
		if err != nil {
			return nil, false, err
		}
		if ev == nil {
			res, err := markErasedScript.Run(ctx, s.db.client, []string{tkey}, cur.Version).Int64()
			if err != nil {
				return nil, false, storeErr(err)
			}
			switch res {
			case 1:
				return cur, false, nil
			case -1:
				return nil, false, ticketNotFound()
			}
			continue
		}
		if next.Status != cur.Status || next.UnitID != cur.UnitID || next.Location.Committee != cur.Location.Committee ||
			!next.CreatedAt.Equal(cur.CreatedAt) {
			return nil, false, hotline.Internal(fmt.Errorf("an erasure of ticket %s changed where it stands", id))
		}

		rk := ""
		if cur.Contact.Phone != "" && next.Contact.Phone != cur.Contact.Phone {
			if salt == "" {
				if salt, err = s.residentSalt(ctx); err != nil {
					return nil, false, err
				}
			}
			rk = ResidentKey(salt, cur.Contact.Phone)
		}
		next.ID, next.Version = cur.ID, cur.Version+1
		ev.Position, ev.TicketID, ev.Version = "", cur.ID, next.Version
		if ev.At.IsZero() {
			ev.At = time.Now().UTC()
		}
		if ev.Status == "" {
			ev.Status = next.Status
		}
		d, err := json.Marshal(&next)
		if err != nil {
			return nil, false, hotline.Internal(err)
		}
		e, err := json.Marshal(ev)
		if err != nil {
			return nil, false, hotline.Internal(err)
		}
		sum, err := json.Marshal(hotline.Summarize(&next))
		if err != nil {
			return nil, false, hotline.Internal(err)
		}
		var history []any
		rewrite := false
		for i, m := range msgs {
			after, err := eventJSON(*events[i])
			if err != nil {
				return nil, false, err
			}
			raw, _ := m.Values["e"].(string)
			if after != stored[i] {
				raw, rewrite = after, true
			}
			history = append(history, m.ID, raw)
		}
		k := 0
		if rewrite {
			k = len(msgs)
		} else {
			history = nil
		}
		args := append([]any{cur.Version, next.Version, d, rk, id, s.db.feedMaxLen, e, sum, deadlineMS(&next), k}, history...)
		res, err := eraseScript.Run(ctx, s.db.client,
			[]string{tkey, tkey + ":ev", s.pkey(p, "feed"), s.pkey(p, "due")}, args...).Int64()
		if err != nil {
			return nil, false, storeErr(err)
		}
		switch res {
		case 1:
			return &next, true, nil
		case -1:
			return nil, false, ticketNotFound()
		}
	}
	return nil, false, hotline.Errorf(hotline.ECONFLICT, "the ticket kept changing while its personal details were being erased; the next sweep tries again")
}

// eventJSON is an event as the stores write it: without its Position,
// which is where it was read from, not part of it.
func eventJSON(ev hotline.Event) (string, error) {
	ev.Position = ""
	b, err := json.Marshal(&ev)
	if err != nil {
		return "", hotline.Internal(err)
	}
	return string(b), nil
}

// TrimFeed drops from every partition's feed the entries written before
// before (by their stream ids, the server's clock): the feed only serves
// boards that are connected or resume shortly, so nothing in it is needed
// once the retention period has passed, and it holds events' notes and
// board summaries (the description's start, the map point). Returns how
// many entries went. Errors: EUNAVAILABLE.
func (s *TicketStore) TrimFeed(ctx context.Context, before time.Time) (int64, error) {
	minID := strconv.FormatInt(max(before.UnixMilli(), 0), 10) + "-0"
	pipe := s.db.client.Pipeline()
	cmds := make([]*redis.IntCmd, partitions)
	for p := range partitions {
		cmds[p] = pipe.XTrimMinID(ctx, s.pkey(p, "feed"), minID)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, storeErr(err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
