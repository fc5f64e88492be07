// Package dispatch sends each need to the unit that should handle it and
// keeps it moving: routing by place, category, duty hours and load over the
// three tiers (router.go), time limits counted in working time (calendar.go,
// limits.go), the dispatchers' actions on a ticket, escalation when a unit
// declines or lets its accept limit pass, the deadline loop every replica
// runs (Run), and the three rates (stats.go).
//
// It talks to storage only through the root interfaces: TicketStore for
// tickets and their events, UnitIndex for nearby units and their loads,
// DeadlineQueue for the limits that have passed.
package dispatch

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// Service routes tickets and carries out dispatchers' actions on them.
// Set the fields (or use New) before use; it is safe for concurrent use.
type Service struct {
	Tickets   hotline.TicketStore
	Units     hotline.UnitIndex
	Deadlines hotline.DeadlineQueue
	Directory hotline.Directory
	Router    *Router
	Limits    *Limits
	Calendar  *Calendar
	// SameTierFirst sends a declined or timed-out ticket to the next
	// nearest capable unit of the same tier before going up a tier.
	SameTierFirst bool
	// PollInterval is how often Run claims passed limits; Lease is how
	// long a claim is left to this replica before another may take it.
	PollInterval time.Duration
	Lease        time.Duration
	// Now is the clock; tests replace it.
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns a Service configured by c.
func New(c *Compiled, tickets hotline.TicketStore, units hotline.UnitIndex,
	deadlines hotline.DeadlineQueue, dir hotline.Directory, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Service{
		Tickets: tickets, Units: units, Deadlines: deadlines, Directory: dir,
		Router: &Router{Units: units, Directory: dir, VolunteerRadius: c.VolunteerRadius,
			WideRadius: c.WideRadius, LoadTTL: c.LoadCache, Logger: logger},
		Limits: c.Limits, Calendar: c.Calendar, SameTierFirst: c.SameTierFirst,
		PollInterval: c.PollInterval, Lease: c.Lease, Now: time.Now, Logger: logger,
	}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return s.Logger
}

func (s *Service) limits() (*Limits, *Calendar) {
	cal := s.Calendar
	if cal == nil {
		cal = DefaultCalendar()
	}
	lim := s.Limits
	if lim == nil {
		lim = DefaultLimits(cal)
	}
	return lim, cal
}

func (s *Service) network() *hotline.Network {
	if n := s.Directory.Network(); n != nil {
		return n
	}
	return &hotline.Network{}
}

// ActorSystem is the actor of changes dispatch makes by itself.
const ActorSystem = "system"

// errMoved aborts a change whose plan was made on an older version of the
// ticket: routing reads Redis, so it is planned outside the store's change
// function (which must have no effects and may run again) and applied only
// if nobody changed the ticket meanwhile.
var errMoved = errors.New("dispatch: ticket changed while being routed")

// errStale aborts a deadline change whose deadline is no longer due.
var errStale = errors.New("dispatch: deadline no longer due")

// maxReplans bounds how often a routing plan is redone after losing a race.
const maxReplans = 5

// replan reads the ticket, lets plan decide on a change (nil: nothing to
// do) and applies it only to the version plan saw.
func (s *Service) replan(ctx context.Context, id string, plan func(t *hotline.Ticket) (hotline.TicketChange, error)) (*hotline.Ticket, bool, error) {
	for range maxReplans {
		t, err := s.Tickets.FindTicket(ctx, id)
		if err != nil {
			return nil, false, err
		}
		change, err := plan(t)
		if err != nil || change == nil {
			return t, false, err
		}
		seen := t.Version
		updated, err := s.Tickets.UpdateTicket(ctx, id, func(cur *hotline.Ticket) (*hotline.Event, error) {
			if cur.Version != seen {
				return nil, errMoved
			}
			return change(cur)
		})
		if errors.Is(err, errMoved) {
			continue
		}
		return updated, err == nil, err
	}
	return nil, false, hotline.Errorf(hotline.ECONFLICT, "the ticket is being changed by several people at once; please reload it and try again")
}

// place puts t with the decision's unit and starts its time limits.
func (s *Service) place(t *hotline.Ticket, d Decision, now time.Time) {
	lim, cal := s.limits()
	c, _ := s.Directory.Catalogue().Find(t.ServiceCode)
	t.Status = hotline.StatusRouted
	t.UnitID, t.Tier, t.RouteReason = d.UnitID, d.Tier, d.Reason
	t.AcceptBy, t.ResolveBy = lim.Deadlines(cal, c, d.Tier, now)
	t.AcceptedAt = time.Time{}
	t.OverdueNoted = false
}

// PlaceNew routes a ticket that is not stored yet: it becomes routed to
// the unit the Router chooses, with the reason and its time limits, so that
// intake stores it once, already routed, in one atomic step with its
// creation. On error t is left unchanged.
// Errors: EUNAVAILABLE.
func (s *Service) PlaceNew(ctx context.Context, t *hotline.Ticket) error {
	now := s.now()
	d, err := s.Router.Route(ctx, t, now)
	if err != nil {
		return err
	}
	s.place(t, d, now)
	return nil
}

// RouteNew routes a new or reopened ticket: it becomes routed to the unit
// the Router chooses (or to the street's intake queue), with the reason and
// its time limits, and a ticket.routed event carrying the reason. A ticket
// in any other status is returned unchanged, so routing twice (intake's hook
// and the deadline loop racing after a crash) is harmless.
// Errors: ENOTFOUND, EUNAVAILABLE, ECONFLICT (lost too many races).
func (s *Service) RouteNew(ctx context.Context, id string) (*hotline.Ticket, error) {
	t, _, err := s.routeNew(ctx, id)
	return t, err
}

func (s *Service) routeNew(ctx context.Context, id string) (*hotline.Ticket, bool, error) {
	return s.replan(ctx, id, func(t *hotline.Ticket) (hotline.TicketChange, error) {
		if t.Status != hotline.StatusNew && t.Status != hotline.StatusReopened {
			return nil, nil
		}
		now := s.now()
		d, err := s.Router.Route(ctx, t, now)
		if err != nil {
			return nil, err
		}
		return func(t *hotline.Ticket) (*hotline.Event, error) {
			from := t.UnitID
			s.place(t, d, now)
			return &hotline.Event{Type: hotline.EventTicketRouted, At: now, Actor: ActorSystem,
				UnitID: t.UnitID, FromUnitID: from, Note: d.Reason}, nil
		}, nil
	})
}

// waiting reports whether a ticket in status st waits for a unit to accept.
func waiting(st hotline.Status) bool {
	return st == hotline.StatusNew || st == hotline.StatusRouted || st == hotline.StatusReopened
}

// passed reports whether limit is set and not after now.
func passed(limit, now time.Time) bool { return !limit.IsZero() && !limit.After(now) }

// reroute moves a ticket away from unit, which declined it (timedOut
// false) or let its accept limit pass (timedOut true): unit joins Declined
// and the ticket goes to the next nearest capable unit of the same tier
// when SameTierFirst, else to the tiers above. Moving up a tier counts as
// an escalation (ticket.escalated); staying on the tier is a ticket.routed.
// Nothing happens when the ticket has left unit meanwhile.
func (s *Service) reroute(ctx context.Context, id, unit string, timedOut bool) (*hotline.Ticket, bool, error) {
	return s.replan(ctx, id, func(t *hotline.Ticket) (hotline.TicketChange, error) {
		now := s.now()
		if t.UnitID != unit || !waiting(t.Status) || (timedOut && !passed(t.AcceptBy, now)) {
			return nil, nil
		}
		probe := *t
		if !slices.Contains(probe.Declined, unit) {
			probe.Declined = append(slices.Clone(probe.Declined), unit)
		}
		from := max(t.Tier, hotline.TierCommittee)
		if !s.SameTierFirst {
			from++
		}
		d, err := s.Router.RouteFrom(ctx, &probe, now, from)
		if err != nil {
			return nil, err
		}
		prefix := noteDeclined(unit)
		if timedOut {
			prefix = noteTimedOut(unit)
		}
		if d.Manual && d.UnitID == t.UnitID {
			// Already in the street's intake queue and nobody else can
			// take it: record that the limit passed, once, and leave it
			// to the dispatchers there (no further accept deadline).
			return func(t *hotline.Ticket) (*hotline.Event, error) {
				t.AcceptBy = time.Time{}
				if !slices.Contains(t.Declined, unit) {
					t.Declined = append(t.Declined, unit)
				}
				return &hotline.Event{Type: hotline.EventTicketOverdue, At: now, Actor: ActorSystem,
					UnitID: t.UnitID, Note: joinBilingual(prefix, d.Reason)}, nil
			}, nil
		}
		return func(t *hotline.Ticket) (*hotline.Event, error) {
			oldUnit, oldTier := t.UnitID, t.Tier
			t.Declined = probe.Declined
			s.place(t, d, now)
			typ := hotline.EventTicketRouted
			if d.Tier > oldTier {
				t.Escalations++
				typ = hotline.EventTicketEscalated
			}
			return &hotline.Event{Type: typ, At: now, Actor: ActorSystem, UnitID: t.UnitID,
				FromUnitID: oldUnit, Note: joinBilingual(prefix, d.Reason)}, nil
		}, nil
	})
}

func noteDeclined(unit string) string { return unit + " 退回 / declined by " + unit }
func noteTimedOut(unit string) string {
	return unit + " 未在时限内受理 / not accepted in time by " + unit
}

// HandleDue deals with a ticket whose deadline the queue handed out: a
// ticket still new or reopened is routed (a crash came between intake or
// reopening and routing); one whose accept limit passed is escalated as
// if its unit had declined; one whose resolve limit passed gets one
// ticket.overdue event. Each change re-checks its condition on the fresh
// ticket, so a deadline fires once however many replicas claim it; when
// nothing is due any more the ticket's deadline is put back in the queue.
// Errors: EUNAVAILABLE and others from the store (the claim then comes
// due again after its lease).
func (s *Service) HandleDue(ctx context.Context, id string) error {
	t, err := s.Tickets.FindTicket(ctx, id)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	now := s.now()
	changed := false
	switch {
	case t.Status == hotline.StatusNew || t.Status == hotline.StatusReopened:
		_, changed, err = s.routeNew(ctx, id)
	case t.Status == hotline.StatusRouted && passed(t.AcceptBy, now):
		_, changed, err = s.reroute(ctx, id, t.UnitID, true)
	case (t.Status == hotline.StatusAccepted || t.Status == hotline.StatusInProgress) && !t.OverdueNoted && passed(t.ResolveBy, now):
		changed, err = s.markOverdue(ctx, id, now)
	}
	if err != nil {
		return err
	}
	if !changed && s.Deadlines != nil {
		return s.Deadlines.Reschedule(ctx, id)
	}
	return nil
}

func (s *Service) markOverdue(ctx context.Context, id string, now time.Time) (bool, error) {
	_, err := s.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		if t.OverdueNoted || (t.Status != hotline.StatusAccepted && t.Status != hotline.StatusInProgress) || !passed(t.ResolveBy, now) {
			return nil, errStale
		}
		t.OverdueNoted = true
		return &hotline.Event{Type: hotline.EventTicketOverdue, At: now, Actor: ActorSystem, UnitID: t.UnitID,
			Note: "超过办结时限 / past the time limit to resolve (" + t.ResolveBy.In(Shanghai).Format("2006-01-02 15:04") + ")"}, nil
	})
	if errors.Is(err, errStale) {
		return false, nil
	}
	return err == nil, err
}

// ClaimBatch is how many due tickets Run claims at once.
const ClaimBatch = 100

// Run handles passed deadlines every PollInterval until ctx ends. Every
// replica runs it; the queue's claims make each deadline fire on one of
// them, and a replica that dies mid-claim leaves it to another after Lease.
func (s *Service) Run(ctx context.Context) error {
	interval, lease := s.PollInterval, s.Lease
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	if lease <= 0 {
		lease = DefaultLease
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		s.RunOnce(ctx, lease)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// RunOnce claims and handles every deadline due now, in batches, and
// returns how many it handled.
func (s *Service) RunOnce(ctx context.Context, lease time.Duration) int {
	handled := 0
	for ctx.Err() == nil {
		ids, err := s.Deadlines.ClaimDue(ctx, s.now(), lease, ClaimBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.logger().Warn("claiming due deadlines", "err", err)
			}
			return handled
		}
		for _, id := range ids {
			if err := s.HandleDue(ctx, id); err != nil && ctx.Err() == nil {
				s.logger().Warn("handling a due deadline", "ticket_id", id, "err", err)
			}
			handled++
		}
		if len(ids) < ClaimBatch {
			break
		}
	}
	return handled
}

// notFound is the one answer for a ticket that does not exist or that the
// user may not see, as in the HTTP layer, so ids cannot be probed.
func notFound() error { return hotline.Errorf(hotline.ENOTFOUND, "no such ticket") }

func clean(s string) string { return strings.TrimSpace(s) }

// joinBilingual joins two "中文 / English" texts into one, Chinese parts
// first, so the board can still split the note at its first " / ".
func joinBilingual(a, b string) string {
	azh, aen, _ := strings.Cut(a, " / ")
	bzh, ben, _ := strings.Cut(b, " / ")
	return azh + "；" + bzh + " / " + aen + "; " + ben
}
