package redisstore

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/redis/go-redis/v9"
)

const (
	// partitions spreads tickets over this many hash tags so that a Cluster
	// can put them on different nodes. Every ticket id encodes its
	// partition (number % partitions), so this can never change once a
	// ticket exists: changing it would send lookups to the wrong keys.
	partitions = 16

	// feedMaxLen bounds each partition's feed: 16 × 100,000 events is
	// years of a street's traffic, and the live board only needs the tail.
	// XADD trims with "~", so a stream holds up to one radix node (100
	// entries by default) more before whole nodes are dropped.
	feedMaxLen = 100000

	// idemTTL is how long a retry with the same idempotency key returns the
	// first ticket: long enough for an SMS gateway's or a phone's retries
	// over a weekend, short enough that keys do not pile up.
	idemTTL = 48 * time.Hour

	// updateAttempts bounds optimistic retries of UpdateTicket. A ticket
	// is rarely touched by more than two people at once; ten attempts with
	// growing jitter ride out bursts of dozens.
	updateAttempts = 10

	defaultLimit = 100
	maxLimit     = 1000
)

// TicketStore keeps tickets, their event streams and their indexes.
type TicketStore struct {
	db *DB
}

var _ hotline.TicketStore = (*TicketStore)(nil)

// NewTicketStore returns a ticket store on db.
func NewTicketStore(db *DB) *TicketStore { return &TicketStore{db: db} }

func (s *TicketStore) pkey(p int, parts ...string) string { return s.db.pkey(p, parts...) }

// partitionOf returns the partition that holds id, or false when id is not
// a well-formed ticket id.
func partitionOf(id string) (int, bool) {
	if !hotline.ValidTicketID(id) {
		return 0, false
	}
	n, err := strconv.ParseUint(id[:len(id)-1], 10, 64)
	if err != nil {
		return 0, false
	}
	return int(n % partitions), true
}

// indexKeys lists the zsets t belongs to. Unplaced tickets (no unit, no
// committee) are only in the created and status indexes.
func (s *TicketStore) indexKeys(p int, t *hotline.Ticket) []string {
	keys := []string{s.pkey(p, "idx", "created"), s.pkey(p, "idx", "status", string(t.Status))}
	if t.UnitID != "" {
		keys = append(keys, s.pkey(p, "idx", "unit", t.UnitID))
	}
	if t.Location.Committee != "" {
		keys = append(keys, s.pkey(p, "idx", "committee", t.Location.Committee))
	}
	return keys
}

// CreateTicket implements hotline.TicketStore. Without an idempotency key
// the ticket goes to a random partition; with one, to the partition the key
// hashes to, so that the key and the ticket share a slot and one script can
// check the one and write the other.
func (s *TicketStore) CreateTicket(ctx context.Context, t *hotline.Ticket, idempotencyKey string) (bool, error) {
	if t == nil {
		return false, hotline.Errorf(hotline.EINVALID, "no ticket given")
	}
	fe := hotline.FieldErrors{}
	if t.Channel != "" && !t.Channel.Valid() {
		fe.Add("channel", "unknown channel")
	}
	if t.Status != "" && !t.Status.Valid() {
		fe.Add("status", "unknown status")
	}
	if err := fe.Err(); err != nil {
		return false, err
	}

	c := *t
	c.ID = ""
	c.Version = 1
	if c.Status == "" {
		c.Status = hotline.StatusNew
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now().UTC()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	ev := hotline.Event{
		Type:    hotline.EventTicketCreated,
		At:      c.CreatedAt,
		Actor:   cmp.Or(c.CreatedBy, "resident"),
		Version: 1,
		Status:  c.Status,
		UnitID:  c.UnitID,
		// Why the ticket sits where it does: intake's placement, or the
		// router's reason when the ticket was routed before it was stored.
		Note: c.RouteReason,
	}
	tHead, tTail, err := marshalAround(&c, "id")
	if err != nil {
		return false, err
	}
	eHead, eTail, err := marshalAround(&ev, "ticket_id")
	if err != nil {
		return false, err
	}
	sum := hotline.Summarize(&c)
	sHead, sTail, err := marshalAround(&sum, "id")
	if err != nil {
		return false, err
	}
	_, inc := loadDeltas(nil, &c)

	var p int
	if idempotencyKey != "" {
		h := fnv.New32a()
		h.Write([]byte(idempotencyKey))
		p = int(h.Sum32() % partitions)
	} else {
		p = rand.IntN(partitions)
	}
	idx := s.indexKeys(p, &c)
	keys := append([]string{s.pkey(p, "seq"), s.pkey(p, "feed"), s.pkey(p, "due"), s.pkey(p, "load")}, idx...)
	if idempotencyKey != "" {
		h := sha256.Sum256([]byte(idempotencyKey))
		keys = append(keys, s.pkey(p, "idem", hex.EncodeToString(h[:])))
	}
	res, err := s.db.evalBatched(ctx, createScript, keys,
		s.pkey(p)+":", p, tHead, tTail, eHead, eTail, sHead, sTail, c.CreatedAt.UnixMilli(),
		s.db.feedMaxLen, int64(idemTTL/time.Second), len(idx), deadlineMS(&c), inc, s.db.echo.wanted()).Slice()
	if err != nil {
		return false, storeErr(err)
	}
	if len(res) < 2 {
		return false, hotline.Internal(fmt.Errorf("create script answered %v", res))
	}
	created, _ := res[0].(int64)
	id, _ := res[1].(string)
	if created == 1 {
		c.ID = id
		*t = c
		if len(res) == 4 {
			fid, _ := res[2].(string)
			prev, _ := res[3].(string)
			s.db.echo.offer(p, prev, fid, id, eHead+id+eTail, sHead+id+sTail)
		}
		return true, nil
	}
	first, err := s.FindTicket(ctx, id)
	if err != nil {
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return false, hotline.Internal(fmt.Errorf("idempotency key points at missing ticket %s", id))
		}
		return false, err
	}
	*t = *first
	return false, nil
}

// deadlineMS is t's NextDeadline as the due queue scores it: unix
// milliseconds, 0 for none.
func deadlineMS(t *hotline.Ticket) int64 {
	d := t.NextDeadline()
	if d.IsZero() {
		return 0
	}
	// A deadline before 1970 is nonsense but must not read as "none".
	return max(d.UnixMilli(), 1)
}

// loadDeltas says which unit's open-ticket counter goes down and which goes
// up when a ticket changes from old (nil on creation) to next; "" means
// none. A ticket counts for its unit while its status is open. When it
// stays open at the same unit nothing moves, so a counter is never touched
// by notes, ratings or other changes that leave the load alone.
func loadDeltas(old, next *hotline.Ticket) (dec, inc string) {
	if old != nil && old.UnitID != "" && old.Status.Open() {
		dec = old.UnitID
	}
	if next.UnitID != "" && next.Status.Open() {
		inc = next.UnitID
	}
	if dec == inc {
		return "", ""
	}
	return dec, inc
}

// marshalAround encodes v and splits the JSON around the empty string value
// of the top-level field name, so a script can put the id it allocates in
// between without decoding and re-encoding (which in Lua would round floats
// and turn empty arrays into objects). The first `"name":""` is the field
// itself: inside a JSON string every quote is escaped, so the sequence
// cannot appear in a value.
func marshalAround(v any, name string) (head, tail string, err error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", "", hotline.Internal(err)
	}
	mark := []byte(`"` + name + `":""`)
	i := bytes.Index(b, mark)
	if i < 0 {
		return "", "", hotline.Internal(fmt.Errorf("no empty %q field in %T JSON", name, v))
	}
	cut := i + len(mark) - 1 // just after the value's opening quote
	return string(b[:cut]), string(b[cut:]), nil
}

// FindTicket implements hotline.TicketStore. A malformed id is simply not
// found: the caller cannot tell a typo from an unknown ticket, which keeps
// ids from being probed.
func (s *TicketStore) FindTicket(ctx context.Context, id string) (*hotline.Ticket, error) {
	p, ok := partitionOf(id)
	if !ok {
		return nil, ticketNotFound()
	}
	d, err := s.db.client.HGet(ctx, s.pkey(p, "t", id), "d").Result()
	if errors.Is(err, redis.Nil) {
		return nil, ticketNotFound()
	} else if err != nil {
		return nil, storeErr(err)
	}
	return decodeTicket(d)
}

func ticketNotFound() error {
	return hotline.Errorf(hotline.ENOTFOUND, "no ticket with this number; please check the digits")
}

func decodeTicket(d string) (*hotline.Ticket, error) {
	var t hotline.Ticket
	if err := json.Unmarshal([]byte(d), &t); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored ticket: %w", err))
	}
	return &t, nil
}

// UpdateTicket implements hotline.TicketStore with optimistic locking:
// read, apply change to a copy, and store only if the version is still the
// one read; otherwise read again and re-apply. change may therefore run more
// than once and must not have side effects outside the ticket.
func (s *TicketStore) UpdateTicket(ctx context.Context, id string, change hotline.TicketChange) (*hotline.Ticket, error) {
	p, ok := partitionOf(id)
	if !ok {
		return nil, ticketNotFound()
	}
	for attempt := 0; attempt < updateAttempts; attempt++ {
		if attempt > 0 {
			// Jitter spreads the losers of a race so they do not collide
			// again; the ceiling doubles from 1 ms up to 32 ms.
			d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-1, 5)))
			select {
			case <-ctx.Done():
				return nil, hotline.Unavailable(ctx.Err())
			case <-time.After(d):
			}
		}
		cur, err := s.FindTicket(ctx, id)
		if err != nil {
			return nil, err
		}
		next := *cur
		ev, err := change(&next)
		if err != nil {
			return nil, err
		}
		if ev == nil {
			// Every version has exactly one event; a change without one is
			// a bug in the caller, not something to paper over.
			return nil, hotline.Internal(errors.New("ticket change returned no event"))
		}
		now := time.Now().UTC()
		next.ID = cur.ID
		next.Version = cur.Version + 1
		next.UpdatedAt = now
		ev.Position = ""
		ev.TicketID = cur.ID
		ev.Version = next.Version
		if ev.At.IsZero() {
			ev.At = now
		}
		if ev.Status == "" {
			ev.Status = next.Status
		}
		d, err := json.Marshal(&next)
		if err != nil {
			return nil, hotline.Internal(err)
		}
		e, err := json.Marshal(ev)
		if err != nil {
			return nil, hotline.Internal(err)
		}
		sum, err := json.Marshal(hotline.Summarize(&next))
		if err != nil {
			return nil, hotline.Internal(err)
		}
		dec, inc := loadDeltas(cur, &next)
		oldIdx, newIdx := s.indexKeys(p, cur), s.indexKeys(p, &next)
		var leave []string
		for _, k := range oldIdx {
			if !slices.Contains(newIdx, k) {
				leave = append(leave, k)
			}
		}
		tkey := s.pkey(p, "t", id)
		keys := append([]string{tkey, tkey + ":ev", s.pkey(p, "feed"), s.pkey(p, "due"), s.pkey(p, "load")}, leave...)
		keys = append(keys, newIdx...)
		res, err := updateScript.Run(ctx, s.db.client, keys,
			cur.Version, next.Version, d, e, id, next.CreatedAt.UnixMilli(), s.db.feedMaxLen,
			len(leave), len(newIdx), sum, deadlineMS(&next), dec, inc, s.db.echo.wanted()).Slice()
		if err != nil {
			return nil, storeErr(err)
		}
		if len(res) == 0 {
			return nil, hotline.Internal(fmt.Errorf("update script answered nothing"))
		}
		switch code, _ := res[0].(int64); code {
		case 1:
			if len(res) == 3 {
				fid, _ := res[1].(string)
				prev, _ := res[2].(string)
				s.db.echo.offer(p, prev, fid, id, string(e), string(sum))
			}
			return &next, nil
		case -1:
			return nil, ticketNotFound()
		}
	}
	return nil, hotline.Errorf(hotline.ECONFLICT, "the ticket is being changed by several people at once; please reload it and try again")
}

// TicketEvents implements hotline.TicketStore.
func (s *TicketStore) TicketEvents(ctx context.Context, id string) ([]*hotline.Event, error) {
	p, ok := partitionOf(id)
	if !ok {
		return nil, ticketNotFound()
	}
	msgs, err := s.db.client.XRange(ctx, s.pkey(p, "t", id, "ev"), "-", "+").Result()
	if err != nil {
		return nil, storeErr(err)
	}
	if len(msgs) == 0 {
		// Creation writes the first event, so no events means no ticket.
		return nil, ticketNotFound()
	}
	out := make([]*hotline.Event, 0, len(msgs))
	for _, m := range msgs {
		ev, err := decodeEvent(m)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// decodeEvent reads a ticket-stream or feed entry; its stream id becomes the
// event's Position.
func decodeEvent(m redis.XMessage) (*hotline.Event, error) {
	raw, _ := m.Values["e"].(string)
	var ev hotline.Event
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		return nil, hotline.Internal(fmt.Errorf("decode stored event %s: %w", m.ID, err))
	}
	ev.Position = m.ID
	return &ev, nil
}

// FindTickets implements hotline.TicketStore. In each partition it reads
// the smallest of the indexes that apply (counted first with ZCOUNT over the
// date range), then loads the candidates and applies the whole filter in
// Go, so an index only ever narrows the search and never decides a match.
func (s *TicketStore) FindTickets(ctx context.Context, f hotline.TicketFilter) ([]*hotline.Ticket, int, error) {
	var ids []string
	var err error
	if len(f.IDs) > 0 {
		ids = f.IDs
	} else if ids, err = s.candidates(ctx, f); err != nil {
		return nil, 0, err
	}
	tickets, err := s.load(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	matched := tickets[:0]
	for _, t := range tickets {
		if matches(t, f) {
			matched = append(matched, t)
		}
	}
	slices.SortFunc(matched, func(a, b *hotline.Ticket) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		// Same instant: the longer (later-allocated) number first.
		return cmp.Or(cmp.Compare(len(b.ID), len(a.ID)), cmp.Compare(b.ID, a.ID))
	})
	total := len(matched)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	limit = min(limit, maxLimit)
	offset := min(max(f.Offset, 0), total)
	return matched[offset:min(offset+limit, total)], total, nil
}

// candidates returns the ids of every ticket that might match f.
func (s *TicketStore) candidates(ctx context.Context, f hotline.TicketFilter) ([]string, error) {
	// Scores are whole milliseconds, so the range is widened to whole
	// milliseconds here and made exact by matches.
	lo, hi := "-inf", "+inf"
	if !f.From.IsZero() {
		lo = strconv.FormatInt(f.From.UnixMilli(), 10)
	}
	if !f.To.IsZero() {
		hi = strconv.FormatInt(f.To.UnixMilli(), 10)
	}

	// Each source is a set of zsets whose union holds every match.
	sources := make([][][]string, partitions)
	for p := range partitions {
		var src [][]string
		if len(f.Units) > 0 && !slices.Contains(f.Units, "") {
			var ks []string
			for _, u := range f.Units {
				ks = append(ks, s.pkey(p, "idx", "unit", u))
			}
			src = append(src, ks)
		}
		if f.Committee != "" {
			src = append(src, []string{s.pkey(p, "idx", "committee", f.Committee)})
		}
		if len(f.Statuses) > 0 {
			var ks []string
			for _, st := range f.Statuses {
				ks = append(ks, s.pkey(p, "idx", "status", string(st)))
			}
			src = append(src, ks)
		}
		src = append(src, []string{s.pkey(p, "idx", "created")})
		sources[p] = src
	}

	chosen := make([][]string, partitions)
	if len(sources[0]) == 1 {
		for p := range partitions {
			chosen[p] = sources[p][0]
		}
	} else {
		counts := make([][][]*redis.IntCmd, partitions)
		pipe := s.db.client.Pipeline()
		for p, src := range sources {
			counts[p] = make([][]*redis.IntCmd, len(src))
			for i, ks := range src {
				for _, k := range ks {
					counts[p][i] = append(counts[p][i], pipe.ZCount(ctx, k, lo, hi))
				}
			}
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, storeErr(err)
		}
		for p, src := range sources {
			best, bestN := 0, int64(-1)
			for i := range src {
				var n int64
				for _, c := range counts[p][i] {
					n += c.Val()
				}
				if bestN < 0 || n < bestN {
					best, bestN = i, n
				}
			}
			chosen[p] = src[best]
		}
	}

	pipe := s.db.client.Pipeline()
	var ranges []*redis.StringSliceCmd
	for _, ks := range chosen {
		for _, k := range ks {
			ranges = append(ranges, pipe.ZRangeByScore(ctx, k, &redis.ZRangeBy{Min: lo, Max: hi}))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, storeErr(err)
	}
	seen := map[string]bool{}
	var ids []string
	for _, r := range ranges {
		for _, id := range r.Val() {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	return ids, nil
}

// load reads the tickets with the given ids in one pipeline, skipping ids
// that are malformed or unknown.
func (s *TicketStore) load(ctx context.Context, ids []string) ([]*hotline.Ticket, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.db.client.Pipeline()
	cmds := make([]*redis.StringCmd, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		p, ok := partitionOf(id)
		if !ok || seen[id] {
			continue
		}
		seen[id] = true
		cmds = append(cmds, pipe.HGet(ctx, s.pkey(p, "t", id), "d"))
	}
	if len(cmds) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, storeErr(err)
	}
	out := make([]*hotline.Ticket, 0, len(cmds))
	for _, c := range cmds {
		d, err := c.Result()
		if errors.Is(err, redis.Nil) {
			continue
		} else if err != nil {
			return nil, storeErr(err)
		}
		t, err := decodeTicket(d)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// matches applies every field of f to t.
func matches(t *hotline.Ticket, f hotline.TicketFilter) bool {
	switch {
	case len(f.IDs) > 0 && !slices.Contains(f.IDs, t.ID),
		f.ServiceCode != "" && t.ServiceCode != f.ServiceCode,
		len(f.Statuses) > 0 && !slices.Contains(f.Statuses, t.Status),
		len(f.Units) > 0 && !slices.Contains(f.Units, t.UnitID),
		f.Committee != "" && t.Location.Committee != f.Committee,
		!f.From.IsZero() && t.CreatedAt.Before(f.From),
		!f.To.IsZero() && !t.CreatedAt.Before(f.To):
		return false
	}
	return true
}
