// Package retention erases residents' personal details from finished
// tickets once the retention period has passed, and keeps the anonymous
// facts the statistics and the nightly grouping of needs are made of
// (docs/RETENTION.md). China's Personal Information Protection Law (art.
// 19, 47) asks that personal information be kept no longer than its
// purpose needs; a ticket's purpose is served some time after the work on
// it ended, when the resident can no longer rate it or ask for it again.
//
// A Sweeper runs once a day on every replica; a lock shared through Redis
// lets one run at a time, and a run is idempotent: a second one finds
// nothing left and writes nothing.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/caojiadu/hotline"
)

const (
	// DefaultPeriod is how long after its last change a finished ticket
	// keeps the resident's personal details.
	DefaultPeriod = 365 * 24 * time.Hour
	// MinPeriod is the shortest period accepted. The outbox keeps every SMS
	// (to a resident's number, and the resident's contact sent to the
	// volunteer who took the task) for 90 days after it was sent, and a
	// resident may rate a ticket, have it redone or complain about its
	// handling for weeks after it was resolved; a shorter period would
	// erase a ticket while those still hold its details or need them.
	MinPeriod = 90 * 24 * time.Hour

	// LockName is the lock a sweep holds while it runs.
	LockName = "retention"
	// DefaultLockTTL is how long the lock outlives a replica that died
	// holding it; the holder extends it every third of this while it runs.
	DefaultLockTTL = time.Minute

	// Actor is the actor of the erasure's event.
	Actor = "system"

	// dryRunListed is how many tickets a dry run lists by id.
	dryRunListed = 50
)

// Store is what a sweep needs of the ticket store (redisstore.TicketStore).
type Store interface {
	// ScanFinished calls fn with every resolved, closed or cancelled
	// ticket created before createdBefore, except those erased (or found
	// with nothing to erase) at their current version.
	// Errors: EUNAVAILABLE, and fn's.
	ScanFinished(ctx context.Context, createdBefore time.Time, fn func(*hotline.Ticket) error) error
	// EraseTicket applies change to the ticket and its events and stores
	// them with the returned event in one step, keeping the resident key
	// of a phone it removes; a nil event marks the ticket as holding
	// nothing to erase (erased false). Errors: ENOTFOUND, ECONFLICT,
	// change's, EUNAVAILABLE.
	EraseTicket(ctx context.Context, id string, change func(t *hotline.Ticket, events []*hotline.Event) (*hotline.Event, error)) (t *hotline.Ticket, erased bool, err error)
	// TicketEvents is hotline.TicketStore's, for dry runs.
	TicketEvents(ctx context.Context, id string) ([]*hotline.Event, error)
	// TrimFeed drops the live boards' feed entries written before before
	// and returns how many went. Errors: EUNAVAILABLE.
	TrimFeed(ctx context.Context, before time.Time) (int64, error)
}

// Locker hands out a lock shared by every replica (redisstore.Locker):
// ok is false, with no error, when another holder has name.
type Locker interface {
	Lock(ctx context.Context, name string, ttl time.Duration) (unlock func() error, ok bool, err error)
}

// Sweeper erases personal details from the tickets whose period has
// passed. Set its fields before the first Run.
type Sweeper struct {
	Store Store
	// Period is how long a finished ticket keeps personal details after
	// its last change; at least MinPeriod.
	Period time.Duration
	// Locker makes a run exclusive across replicas. Nil: no lock (one
	// process, as in tests).
	Locker  Locker
	LockTTL time.Duration // 0: DefaultLockTTL
	// Now is the clock; tests replace it. Nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Report says what a run did (or, in a dry run, would do).
type Report struct {
	DryRun bool `json:"dry_run"`
	// Cutoff is the run's time less the period: tickets last changed
	// before it are due.
	Cutoff   time.Time     `json:"cutoff"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Read counts the finished tickets created before the cutoff that
	// were not erased since their last change.
	Read int `json:"read"`
	// Erased counts the tickets whose personal details were erased;
	// Events the events among theirs whose note changed.
	Erased int `json:"erased"`
	Events int `json:"events"`
	// Marked counts tickets erased before and changed since, with nothing
	// left to erase: only marked, so later runs skip them.
	Marked int `json:"marked"`
	// Waiting counts tickets changed within the period (a late note, a
	// rating): they are erased on a later run.
	Waiting int `json:"waiting"`
	// FeedTrimmed counts the live boards' feed entries older than the
	// cutoff that were dropped (0 in a dry run).
	FeedTrimmed int64 `json:"feed_trimmed"`
	// Due lists, in a dry run, the first tickets that would be erased.
	Due []string `json:"due,omitempty"`
}

func (s *Sweeper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Sweeper) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// errNotDue aborts an erasure of a ticket that changed, since it was read,
// into one that is not due (reopened, noted again).
var errNotDue = errors.New("retention: not due")

// Due reports whether t's personal details are due for erasure at cutoff:
// work on it is over (resolved, closed or cancelled) and its last change
// was before cutoff. The last change is UpdatedAt, which is never before
// the resolution or the closing; an erasure leaves it alone, so a ticket
// erased once is due again only when it is changed, finished again and
// left for another period.
func Due(t *hotline.Ticket, cutoff time.Time) bool {
	last := t.UpdatedAt
	for _, at := range []time.Time{t.ResolvedAt, t.ClosedAt, t.CreatedAt} {
		if at.After(last) {
			last = at
		}
	}
	return !t.Status.Open() && last.Before(cutoff)
}

// Run erases the personal details of every ticket due (Due at now less
// Period) and drops the feed entries older than that. A dry run reads
// the same tickets and counts what it would change, writing nothing and
// taking no lock. Running it again erases nothing more.
// Errors: EINVALID (period shorter than MinPeriod), ECONFLICT (another
// replica holds the lock: nothing was done), EUNAVAILABLE.
func (s *Sweeper) Run(ctx context.Context, dryRun bool) (*Report, error) {
	if s.Period < MinPeriod {
		return nil, hotline.Errorf(hotline.EINVALID, "the retention period must be at least %d days, not %s", int(MinPeriod/(24*time.Hour)), s.Period)
	}
	if s.Locker != nil && !dryRun {
		ttl := s.LockTTL
		if ttl <= 0 {
			ttl = DefaultLockTTL
		}
		unlock, ok, err := s.Locker.Lock(ctx, LockName, ttl)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, hotline.Errorf(hotline.ECONFLICT, "another replica is erasing personal details")
		}
		defer func() {
			if err := unlock(); err != nil {
				s.logger().Warn("retention: releasing the lock failed; it lapses by itself", "err", err)
			}
		}()
	}

	started := s.now()
	r := &Report{DryRun: dryRun, Started: started.UTC(), Cutoff: started.Add(-s.Period).UTC()}
	if !dryRun {
		// First, so that this run's own events (written after) stay.
		n, err := s.Store.TrimFeed(ctx, r.Cutoff)
		if err != nil {
			return nil, err
		}
		r.FeedTrimmed = n
	}
	note := fmt.Sprintf("居民个人信息已删除（办结后保存 %d 天期满） / the resident's personal details were erased (%d days after the work on the ticket ended)",
		s.days(), s.days())
	err := s.Store.ScanFinished(ctx, r.Cutoff, func(t *hotline.Ticket) error {
		r.Read++
		if !Due(t, r.Cutoff) {
			r.Waiting++
			return nil
		}
		if dryRun {
			return s.dry(ctx, t, r)
		}
		var events int
		_, erased, err := s.Store.EraseTicket(ctx, t.ID, func(t *hotline.Ticket, evs []*hotline.Event) (*hotline.Event, error) {
			if !Due(t, r.Cutoff) {
				return nil, errNotDue
			}
			ev, n := erasure(t, evs, s.now(), note)
			events = n
			return ev, nil
		})
		switch {
		case errors.Is(err, errNotDue), hotline.ErrorCode(err) == hotline.ENOTFOUND:
			r.Waiting++
		case err != nil:
			return err
		case erased:
			r.Erased++
			r.Events += events
		default:
			r.Marked++
		}
		return nil
	})
	r.Duration = s.now().Sub(started)
	if err != nil {
		return nil, err
	}
	if !dryRun {
		s.logger().Info("retention: personal details erased", "cutoff", r.Cutoff, "read", r.Read, "erased", r.Erased,
			"events", r.Events, "marked", r.Marked, "waiting", r.Waiting, "feed_trimmed", r.FeedTrimmed, "took", r.Duration.Round(time.Millisecond))
	}
	return r, nil
}

// days is the period in whole days, as configured and as residents are told.
func (s *Sweeper) days() int { return int(s.Period / (24 * time.Hour)) }

// erasure erases t and evs in place and returns the event that records it
// with the number of events changed, or a nil event when t was erased
// before and nothing is left: then only the mark is stored. A ticket
// erased for the first time always gets its event, even with nothing
// personal in it, so its history says when the period ended.
func erasure(t *hotline.Ticket, evs []*hotline.Event, now time.Time, note string) (*hotline.Event, int) {
	known := Known(t.Contact)
	changed := Erase(t)
	n := 0
	for _, e := range evs {
		if EraseEvent(e, known...) {
			n++
		}
	}
	if !changed && n == 0 && !t.ErasedAt.IsZero() {
		return nil, 0
	}
	t.ErasedAt = now.UTC()
	return &hotline.Event{Type: hotline.EventTicketErased, At: now.UTC(), Actor: Actor, Status: t.Status,
		UnitID: t.UnitID, Note: note}, n
}

// dry counts what erasing t would change, on copies.
func (s *Sweeper) dry(ctx context.Context, t *hotline.Ticket, r *Report) error {
	evs, err := s.Store.TicketEvents(ctx, t.ID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	c := *t
	ev, n := erasure(&c, evs, s.now(), "")
	if ev == nil {
		r.Marked++
		return nil
	}
	r.Erased++
	r.Events += n
	if len(r.Due) < dryRunListed {
		r.Due = append(r.Due, t.ID)
	}
	return nil
}
