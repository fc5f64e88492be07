package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
)

// AuditLog keeps the record of every disclosure of a resident's personal
// details (hotline.AuditEntry). Every key lives under the {audit} hash tag,
// so one MULTI writes an entry to all its streams, also on Cluster (a
// street's disclosures are hundreds a day: one slot holds years of them):
//
//	P:{audit}:day:<yyyymmdd>  stream, every entry of that day (Shanghai)
//	P:{audit}:t:<ticket id>   stream, the entries of one ticket
//	P:{audit}:u:<user id>     stream, the entries of one reader
//
// Each stream entry has one field, e, the entry's JSON. The three copies
// make "who read this ticket", "what did this person read" and "what was
// read that week" each one range read, newest first.
//
// Entries are kept for Retention (DefaultAuditRetention): a day stream
// expires that long after its day, the per-ticket and per-reader streams
// that long after their last entry and lose older entries as they grow
// (XADD MINID).
type AuditLog struct {
	db *DB
	// Retention is how long entries are kept; zero means
	// DefaultAuditRetention.
	Retention time.Duration
}

// DefaultAuditRetention is three years: China's personal information law
// (art. 56) asks that records of processing be kept at least that long.
const DefaultAuditRetention = 3 * 365 * 24 * time.Hour

// Bounds of a query. A query without ticket or reader reads one day stream
// per day of its period, so the period is bounded; auditPage is how many
// entries one XREVRANGE fetches and auditScan how many a query may read
// in all before it answers with what it found.
const (
	defaultAuditLimit = 200
	maxAuditLimit     = 1000
	maxAuditDays      = 366
	auditPage         = 500
	auditScan         = 100_000
	// auditSkew widens the stream-id range a query of a ticket's or a
	// reader's stream reads: ids come from Redis's clock, entries' At
	// from the replica's, which agree within seconds wherever clocks are
	// kept (NTP); an hour leaves room for a badly kept one. The exact
	// period is applied to At afterwards. Day streams are chosen by At
	// and read whole.
	auditSkew = time.Hour
)

var _ hotline.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns the audit log on db.
func NewAuditLog(db *DB) *AuditLog { return &AuditLog{db: db} }

func (l *AuditLog) key(parts ...string) string {
	return join(l.db.prefix+":{audit}", parts)
}

func (l *AuditLog) retention() time.Duration {
	if l.Retention > 0 {
		return l.Retention
	}
	return DefaultAuditRetention
}

// shanghai is the street's clock: a day stream holds a Shanghai day.
var shanghai = time.FixedZone("CST", 8*60*60)

func (l *AuditLog) dayKey(t time.Time) string {
	return l.key("day", t.In(shanghai).Format("20060102"))
}

// RecordRead implements hotline.AuditLog. The entry goes to its day, its
// ticket's and its reader's streams in one MULTI: all three or none.
// Errors: EINVALID (no reader, no fields), EUNAVAILABLE.
func (l *AuditLog) RecordRead(ctx context.Context, e *hotline.AuditEntry) error {
	switch {
	case e == nil || e.UserID == "":
		return hotline.Errorf(hotline.EINVALID, "an audit entry needs the reader")
	case len(e.Fields) == 0:
		return hotline.Errorf(hotline.EINVALID, "an audit entry needs what was shown")
	case e.TicketID != "" && !hotline.ValidTicketID(e.TicketID):
		return hotline.Errorf(hotline.EINVALID, "an audit entry's ticket must be a ticket id")
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC()
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return hotline.Internal(err)
	}
	e.ID = strconv.FormatInt(e.At.UnixMilli(), 10) + "-" + hex.EncodeToString(rnd[:])
	b, err := json.Marshal(e)
	if err != nil {
		return hotline.Internal(err)
	}
	keep := l.retention()
	cutoff := strconv.FormatInt(e.At.Add(-keep).UnixMilli(), 10)
	day := l.dayKey(e.At)
	// The day stream lives for the retention after the day has ended.
	dayEnds := time.Date(e.At.In(shanghai).Year(), e.At.In(shanghai).Month(), e.At.In(shanghai).Day()+1, 0, 0, 0, 0, shanghai)
	_, err = l.db.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAdd(ctx, &redis.XAddArgs{Stream: day, ID: "*", Values: []string{"e", string(b)}})
		p.ExpireAt(ctx, day, dayEnds.Add(keep))
		for _, k := range l.indexKeys(e) {
			p.XAdd(ctx, &redis.XAddArgs{Stream: k, ID: "*", MinID: cutoff, Approx: true, Values: []string{"e", string(b)}})
			p.PExpire(ctx, k, keep)
		}
		return nil
	})
	return storeErr(err)
}

func (l *AuditLog) indexKeys(e *hotline.AuditEntry) []string {
	keys := []string{l.key("u", e.UserID)}
	if e.TicketID != "" {
		keys = append(keys, l.key("t", e.TicketID))
	}
	return keys
}

// FindReads implements hotline.AuditLog: a ticket's or a reader's stream
// when the filter names one (any period), else the day streams of the
// period (at most a year; the last 30 days when it names none).
func (l *AuditLog) FindReads(ctx context.Context, f hotline.AuditFilter) ([]*hotline.AuditEntry, bool, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	limit = min(limit, maxAuditLimit)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, false, hotline.Errorf(hotline.EINVALID, "the period's start must be before its end")
	}
	keep := func(e *hotline.AuditEntry) bool {
		return (f.TicketID == "" || e.TicketID == f.TicketID) && (f.UserID == "" || e.UserID == f.UserID) &&
			(f.From.IsZero() || !e.At.Before(f.From)) && (f.To.IsZero() || e.At.Before(f.To))
	}
	q := &auditQuery{l: l, keep: keep, want: limit + 1}
	switch {
	case f.TicketID != "":
		if !hotline.ValidTicketID(f.TicketID) {
			return []*hotline.AuditEntry{}, false, nil
		}
		if err := q.read(ctx, l.key("t", f.TicketID), f.From, f.To); err != nil {
			return nil, false, err
		}
	case f.UserID != "":
		if err := q.read(ctx, l.key("u", f.UserID), f.From, f.To); err != nil {
			return nil, false, err
		}
	default:
		to, from := f.To, f.From
		if to.IsZero() {
			to = time.Now()
		}
		if from.IsZero() {
			from = to.Add(-30 * 24 * time.Hour)
		}
		first := dayStart(from)
		if days := int(dayStart(to.Add(-time.Nanosecond)).Sub(first).Hours()/24) + 1; days > maxAuditDays {
			return nil, false, hotline.Errorf(hotline.EINVALID, "choose a period of at most %d days, or a ticket or a person", maxAuditDays)
		}
		for d := dayStart(to.Add(-time.Nanosecond)); !d.Before(first) && !q.done(); d = d.AddDate(0, 0, -1) {
			if err := q.read(ctx, l.dayKey(d), time.Time{}, time.Time{}); err != nil {
				return nil, false, err
			}
		}
	}
	got := q.found
	sortNewestFirst(got)
	more := len(got) > limit
	if more {
		got = got[:limit]
	}
	return got, more, nil
}

// dayStart is the start of t's day in Shanghai.
func dayStart(t time.Time) time.Time {
	t = t.In(shanghai)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, shanghai)
}

// auditQuery gathers entries newest first across the streams read one
// after another (each one newer than the next).
type auditQuery struct {
	l       *AuditLog
	keep    func(*hotline.AuditEntry) bool
	want    int
	scanned int
	found   []*hotline.AuditEntry
}

func (q *auditQuery) done() bool { return len(q.found) >= q.want || q.scanned >= auditScan }

// read pages through key newest first, within [from, to) widened by
// auditSkew, until the query has what it wants.
func (q *auditQuery) read(ctx context.Context, key string, from, to time.Time) error {
	end, start := "+", "-"
	if !to.IsZero() {
		end = strconv.FormatInt(to.Add(auditSkew).UnixMilli(), 10)
	}
	if !from.IsZero() {
		start = strconv.FormatInt(max(0, from.Add(-auditSkew).UnixMilli()), 10)
	}
	for !q.done() {
		msgs, err := q.l.db.client.XRevRangeN(ctx, key, end, start, auditPage).Result()
		if err != nil {
			return storeErr(err)
		}
		for _, m := range msgs {
			q.scanned++
			s, _ := m.Values["e"].(string)
			var e hotline.AuditEntry
			if err := json.Unmarshal([]byte(s), &e); err != nil {
				return hotline.Internal(fmt.Errorf("decode audit entry %s of %s: %w", m.ID, key, err))
			}
			if q.keep(&e) {
				q.found = append(q.found, &e)
			}
		}
		if len(msgs) < auditPage {
			return nil
		}
		end = "(" + msgs[len(msgs)-1].ID
	}
	return nil
}

// sortNewestFirst orders entries by time, newest first, ties by id.
func sortNewestFirst(es []*hotline.AuditEntry) {
	slices.SortStableFunc(es, func(a, b *hotline.AuditEntry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		if a.ID > b.ID {
			return -1
		} else if a.ID < b.ID {
			return 1
		}
		return 0
	})
}
