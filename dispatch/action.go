package dispatch

import (
	"context"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// MaxText bounds a reason, note or resolution text, in characters.
const MaxText = 2000

// Who may do what. Every action first needs the user to see the ticket
// (hotline.User.CanSeeTicket; otherwise ENOTFOUND, the answer for an
// unknown id). Then:
//
//   - volunteers act on nothing here (EFORBIDDEN): they take tasks elsewhere;
//   - a note: anyone else who sees the ticket;
//   - accept, decline, start, resolve, cancel, reopen, merge a duplicate:
//     admins, and staff whose unit is the responsible unit or above it (a
//     committee that still sees a ticket escalated away from its area may
//     read it and add notes, not act for the district);
//   - reassign: as above, and street dispatchers (staff of the service
//     center) on any ticket they see; the new unit must be in the user's
//     subtree, anywhere in the street for street dispatchers, anywhere for
//     admins.

// canAct reports whether u may act for the unit responsible for t.
func canAct(u *hotline.User, n *hotline.Network, t *hotline.Ticket) bool {
	if u.Role == hotline.RoleAdmin {
		return true
	}
	if u.Role == hotline.RoleVolunteer || u.UnitID == "" {
		return false
	}
	if t.UnitID == "" {
		own, ok := n.Unit(u.UnitID)
		return ok && own.Tier >= hotline.TierStreet
	}
	return n.Within(t.UnitID, u.UnitID)
}

// streetDispatcher reports whether u works at the street's service center,
// the street's intake queue, which places tickets anywhere in the street.
func streetDispatcher(u *hotline.User, n *hotline.Network) bool {
	if u.Role == hotline.RoleVolunteer {
		return false
	}
	own, ok := n.Unit(u.UnitID)
	return ok && own.Kind == hotline.KindServiceCenter
}

// check is the common start of every change made by a user: visibility,
// then the right to act (need "act" or "note").
func check(u *hotline.User, n *hotline.Network, t *hotline.Ticket, act bool) error {
	if !u.CanSeeTicket(n, t) {
		return notFound()
	}
	if u.Role == hotline.RoleVolunteer {
		return hotline.Errorf(hotline.EFORBIDDEN, "volunteers cannot change tickets here; ask your group's lead")
	}
	if act && !canAct(u, n, t) {
		return hotline.Errorf(hotline.EFORBIDDEN, "only the responsible unit (%s) or the units above it may do this", t.UnitID)
	}
	return nil
}

var statusWords = map[hotline.Status]string{
	hotline.StatusNew: "new", hotline.StatusRouted: "waiting to be accepted", hotline.StatusAccepted: "accepted",
	hotline.StatusInProgress: "in progress", hotline.StatusResolved: "resolved", hotline.StatusClosed: "closed",
	hotline.StatusCancelled: "cancelled", hotline.StatusReopened: "reopened",
}

// transition checks a status change and explains a refusal.
func transition(t *hotline.Ticket, to hotline.Status, verb string) error {
	if hotline.CanTransition(t.Status, to) {
		return nil
	}
	return hotline.Errorf(hotline.ECONFLICT, "cannot %s ticket %s: it is %s", verb, t.ID, statusWords[t.Status])
}

// text validates a required free text.
func text(field, v string) (string, error) {
	v = clean(v)
	if v == "" {
		return "", fieldErr(field, "required: say in a few words")
	}
	if n := utf8.RuneCountInString(v); n > MaxText {
		return "", fieldErr(field, fmt.Sprintf("too long (%d characters); at most %d", n, MaxText))
	}
	return v, nil
}

func fieldErr(field, msg string) error {
	fe := hotline.FieldErrors{}
	fe.Add(field, msg)
	return fe.Err()
}

func unauthorized() error { return hotline.Errorf(hotline.EUNAUTHORIZED, "please sign in") }

// act applies one user's change to a ticket after the common checks.
func (s *Service) act(ctx context.Context, u *hotline.User, id string, needAct bool,
	change func(t *hotline.Ticket, n *hotline.Network, now time.Time) (*hotline.Event, error)) (*hotline.Ticket, error) {
	if u == nil {
		return nil, unauthorized()
	}
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	n := s.network()
	now := s.now()
	t, err := s.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		if err := check(u, n, t, needAct); err != nil {
			return nil, err
		}
		ev, err := change(t, n, now)
		if err != nil {
			return nil, err
		}
		ev.Actor, ev.At = u.ID, now
		if ev.UnitID == "" {
			ev.UnitID = t.UnitID
		}
		return ev, nil
	})
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	}
	return t, err
}

// Accept records that the responsible unit takes the ticket on.
// Errors: EUNAUTHORIZED, ENOTFOUND, EFORBIDDEN, ECONFLICT, EUNAVAILABLE.
func (s *Service) Accept(ctx context.Context, u *hotline.User, id string) (*hotline.Ticket, error) {
	return s.act(ctx, u, id, true, func(t *hotline.Ticket, n *hotline.Network, now time.Time) (*hotline.Event, error) {
		if err := transition(t, hotline.StatusAccepted, "accept"); err != nil {
			return nil, err
		}
		t.Status, t.AcceptedAt = hotline.StatusAccepted, now
		if t.Tier == 0 {
			if unit, ok := n.Unit(t.UnitID); ok {
				t.Tier = unit.Kind.Tier()
			}
		}
		return &hotline.Event{Type: hotline.EventTicketAccepted}, nil
	})
}

// Start records that work on an accepted ticket has begun.
// Errors: as Accept.
func (s *Service) Start(ctx context.Context, u *hotline.User, id string) (*hotline.Ticket, error) {
	return s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, _ time.Time) (*hotline.Event, error) {
		if err := transition(t, hotline.StatusInProgress, "start work on"); err != nil {
			return nil, err
		}
		t.Status = hotline.StatusInProgress
		return &hotline.Event{Type: hotline.EventTicketStarted}, nil
	})
}

// Resolve records what was done; the resident is then asked how satisfied
// they are. Errors: EINVALID (no text), and as Accept.
func (s *Service) Resolve(ctx context.Context, u *hotline.User, id, what string) (*hotline.Ticket, error) {
	what, err := text("text", what)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, now time.Time) (*hotline.Event, error) {
		if err := transition(t, hotline.StatusResolved, "resolve"); err != nil {
			return nil, err
		}
		t.Status, t.ResolvedAt, t.StatusNotes = hotline.StatusResolved, now, what
		return &hotline.Event{Type: hotline.EventTicketResolved, Note: what}, nil
	})
}

// Note adds a note to the ticket's history without changing it otherwise.
// Errors: EINVALID (no text), EUNAUTHORIZED, ENOTFOUND, EFORBIDDEN
// (volunteers), EUNAVAILABLE.
func (s *Service) Note(ctx context.Context, u *hotline.User, id, note string) (*hotline.Ticket, error) {
	note, err := text("text", note)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, u, id, false, func(t *hotline.Ticket, _ *hotline.Network, _ time.Time) (*hotline.Event, error) {
		return &hotline.Event{Type: hotline.EventTicketNoted, Note: note}, nil
	})
}

// Cancel withdraws a ticket that needs no service (the resident withdrew,
// a test call). Errors: EINVALID (no reason), and as Accept.
func (s *Service) Cancel(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Ticket, error) {
	reason, err := text("reason", reason)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, now time.Time) (*hotline.Event, error) {
		if err := transition(t, hotline.StatusCancelled, "cancel"); err != nil {
			return nil, err
		}
		t.Status, t.ClosedAt, t.StatusNotes = hotline.StatusCancelled, now, reason
		return &hotline.Event{Type: hotline.EventTicketCancelled, Note: reason}, nil
	})
}

// reopenGrace is the accept limit a reopened ticket waits under until it
// is routed: routing follows at once, and if this replica dies first the
// deadline loop routes it a minute later.
const reopenGrace = time.Minute

// Reopen takes a resolved, closed or cancelled ticket back into work and
// routes it again (units that declined it are still skipped). The outcome
// timestamps are cleared, so the ticket counts as open again in the rates.
// Errors: EINVALID (no reason), and as Accept.
func (s *Service) Reopen(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Ticket, error) {
	reason, err := text("reason", reason)
	if err != nil {
		return nil, err
	}
	t, err := s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, now time.Time) (*hotline.Event, error) {
		if err := transition(t, hotline.StatusReopened, "reopen"); err != nil {
			return nil, err
		}
		t.Status, t.StatusNotes, t.MergedInto = hotline.StatusReopened, reason, ""
		t.AcceptedAt, t.ResolvedAt, t.ClosedAt = time.Time{}, time.Time{}, time.Time{}
		t.OverdueNoted = false
		t.AcceptBy, t.ResolveBy = now.Add(reopenGrace), time.Time{}
		return &hotline.Event{Type: hotline.EventTicketReopened, Note: reason}, nil
	})
	if err != nil {
		return nil, err
	}
	routed, err := s.RouteNew(ctx, id)
	if err != nil {
		// The reopening stands; the deadline loop routes it shortly.
		s.logger().Warn("routing a reopened ticket", "ticket_id", id, "err", err)
		return t, nil
	}
	return routed, nil
}

// Decline hands the ticket back with a reason: the unit joins Declined and
// the ticket goes to the next capable unit (see Service.SameTierFirst).
// It is recorded as ticket.declined, then ticket.routed or
// ticket.escalated. Errors: EINVALID (no reason), ECONFLICT (also when the
// street's intake queue declines a ticket nobody else can take: reassign
// or cancel it instead), and as Accept.
func (s *Service) Decline(ctx context.Context, u *hotline.User, id, reason string) (*hotline.Ticket, error) {
	reason, err := text("reason", reason)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, unauthorized()
	}
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	// Look where the ticket would go before recording the decline, so a
	// refusal leaves no trace.
	cur, err := s.Tickets.FindTicket(ctx, id)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	n := s.network()
	if err := check(u, n, cur, true); err != nil {
		return nil, err
	}
	if err := transition(cur, hotline.StatusRouted, "decline"); err != nil {
		return nil, err
	}
	probe := *cur
	probe.Declined = append(slices.Clone(cur.Declined), cur.UnitID)
	from := max(cur.Tier, hotline.TierCommittee)
	if !s.SameTierFirst {
		from++
	}
	d, err := s.Router.RouteFrom(ctx, &probe, s.now(), from)
	if err != nil {
		return nil, err
	}
	if d.Manual && d.UnitID == cur.UnitID {
		return nil, hotline.Errorf(hotline.ECONFLICT, "no other unit can take ticket %s now; reassign it by hand or cancel it", id)
	}

	unit := cur.UnitID
	_, err = s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, now time.Time) (*hotline.Event, error) {
		if t.UnitID != unit {
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s has moved to %s meanwhile; reload it", id, t.UnitID)
		}
		if err := transition(t, hotline.StatusRouted, "decline"); err != nil {
			return nil, err
		}
		if !slices.Contains(t.Declined, unit) {
			t.Declined = append(t.Declined, unit)
		}
		// Due at once: should this replica stop before moving the
		// ticket on, the deadline loop does it instead.
		t.Status, t.AcceptBy, t.AcceptedAt = hotline.StatusRouted, now, time.Time{}
		return &hotline.Event{Type: hotline.EventTicketDeclined, Note: reason}, nil
	})
	if err != nil {
		return nil, err
	}
	t, _, err := s.reroute(ctx, id, unit, false)
	return t, err
}

// Reassign puts the ticket with another unit by hand, with an optional
// note; it waits there to be accepted under that unit's limits.
// Errors: EINVALID (no or unknown unit, or the unit it is with already),
// and as Accept.
func (s *Service) Reassign(ctx context.Context, u *hotline.User, id, unitID, note string) (*hotline.Ticket, error) {
	unitID, note = clean(unitID), clean(note)
	if unitID == "" {
		return nil, fieldErr("unit_id", "required: the id of the unit to send the ticket to")
	}
	if utf8.RuneCountInString(note) > MaxText {
		return nil, fieldErr("note", fmt.Sprintf("too long; at most %d characters", MaxText))
	}
	n := s.network()
	target, ok := n.Unit(unitID)
	if !ok {
		return nil, fieldErr("unit_id", fmt.Sprintf("no unit %q in the network", unitID))
	}
	lim, cal := s.limits()
	if u == nil {
		return nil, unauthorized()
	}
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	now := s.now()
	t, err := s.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		street := streetDispatcher(u, n)
		if err := check(u, n, t, !street); err != nil {
			return nil, err
		}
		switch {
		case u.Role == hotline.RoleAdmin:
		case street:
			own, _ := n.Unit(u.UnitID)
			if !n.Within(unitID, own.ID) {
				return nil, hotline.Errorf(hotline.EFORBIDDEN, "street dispatchers reassign within the street; %s is outside it", unitID)
			}
		case !n.Within(unitID, u.UnitID):
			return nil, hotline.Errorf(hotline.EFORBIDDEN, "you can reassign only to your unit or the units under it; %s is not", unitID)
		}
		if t.UnitID == unitID && t.Status == hotline.StatusRouted {
			return nil, fieldErr("unit_id", "the ticket is already with "+unitID)
		}
		if err := transition(t, hotline.StatusRouted, "reassign"); err != nil {
			return nil, err
		}
		from := t.UnitID
		cat, _ := s.Directory.Catalogue().Find(t.ServiceCode)
		reason := fmt.Sprintf("由 %s 人工改派至%s / reassigned by hand by %s to %s", u.Username, target.NameZH, u.Username, target.Name("en"))
		if note != "" {
			reason = joinBilingual(reason, note+" / "+note)
		}
		t.Status, t.UnitID, t.Tier, t.RouteReason = hotline.StatusRouted, target.ID, target.Kind.Tier(), reason
		t.AcceptBy, t.ResolveBy = lim.Deadlines(cal, cat, t.Tier, now)
		t.AcceptedAt, t.OverdueNoted = time.Time{}, false
		t.Declined = slices.DeleteFunc(slices.Clone(t.Declined), func(id string) bool { return id == target.ID })
		return &hotline.Event{Type: hotline.EventTicketRouted, At: now, Actor: u.ID,
			UnitID: target.ID, FromUnitID: from, Note: reason}, nil
	})
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	}
	return t, err
}

// Merge closes duplicateID as a duplicate of targetID: the duplicate gets
// MergedInto and is closed (ticket.merged), the target gets a note naming
// it (ticket.noted). The user must be able to act on the duplicate and see
// the target. A merge closes an open ticket without resolving it, which
// the status table has no edge for; it is the one way to do so.
// Errors: EINVALID (no or same id), ECONFLICT (duplicate not open or
// already merged, target merged or cancelled), and as Accept.
func (s *Service) Merge(ctx context.Context, u *hotline.User, targetID, duplicateID string) (*hotline.Ticket, error) {
	duplicateID = clean(duplicateID)
	switch {
	case duplicateID == "":
		return nil, fieldErr("duplicate_id", "required: the id of the duplicate ticket")
	case duplicateID == targetID:
		return nil, fieldErr("duplicate_id", "a ticket cannot be merged into itself")
	}
	if u == nil {
		return nil, unauthorized()
	}
	if !hotline.ValidTicketID(targetID) {
		return nil, notFound()
	}
	n := s.network()
	target, err := s.Tickets.FindTicket(ctx, targetID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	if err := check(u, n, target, false); err != nil {
		return nil, err
	}
	if target.MergedInto != "" {
		return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s was itself merged into %s; merge into that one", targetID, target.MergedInto)
	}
	if target.Status == hotline.StatusCancelled {
		return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s is cancelled; merge into an open ticket", targetID)
	}
	if !hotline.ValidTicketID(duplicateID) {
		return nil, fieldErr("duplicate_id", "no such ticket")
	}
	_, err = s.act(ctx, u, duplicateID, true, func(t *hotline.Ticket, _ *hotline.Network, now time.Time) (*hotline.Event, error) {
		if t.MergedInto != "" {
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s is already merged into %s", t.ID, t.MergedInto)
		}
		if !t.Status.Open() {
			return nil, hotline.Errorf(hotline.ECONFLICT, "cannot merge ticket %s: it is %s", t.ID, statusWords[t.Status])
		}
		t.MergedInto, t.Status, t.ClosedAt = targetID, hotline.StatusClosed, now
		return &hotline.Event{Type: hotline.EventTicketMerged,
			Note: "已并入工单 " + targetID + " / merged into ticket " + targetID}, nil
	})
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, fieldErr("duplicate_id", "no such ticket")
	} else if err != nil {
		return nil, err
	}
	return s.act(ctx, u, targetID, false, func(t *hotline.Ticket, _ *hotline.Network, _ time.Time) (*hotline.Event, error) {
		return &hotline.Event{Type: hotline.EventTicketNoted,
			Note: "重复工单 " + duplicateID + " 已并入 / duplicate ticket " + duplicateID + " merged into this one"}, nil
	})
}

// Ask sends the resident a question about their ticket by SMS (the
// notifier texts it; the resident's reply comes back as a note). Only the
// responsible unit or one above it asks, on an open ticket whose resident
// left a number and agreed to be contacted.
// Errors: EINVALID (no question), ECONFLICT (closed ticket, no number or
// no consent), and as Accept.
func (s *Service) Ask(ctx context.Context, u *hotline.User, id, question string) (*hotline.Ticket, error) {
	question, err := text("text", question)
	if err != nil {
		return nil, err
	}
	return s.act(ctx, u, id, true, func(t *hotline.Ticket, _ *hotline.Network, _ time.Time) (*hotline.Event, error) {
		switch {
		case !t.Status.Open():
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s is %s: reopen it before asking the resident", t.ID, statusWords[t.Status])
		case t.Contact.Phone == "":
			return nil, hotline.Errorf(hotline.ECONFLICT, "the resident of ticket %s left no phone number; call them or add a note", t.ID)
		case !t.Contact.Consent:
			return nil, hotline.Errorf(hotline.ECONFLICT, "the resident of ticket %s did not agree to be contacted by SMS", t.ID)
		}
		return &hotline.Event{Type: hotline.EventTicketAsked, Note: question}, nil
	})
}
