package dispatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// RedoBelow is the lowest rating that stands: a resident who rates a
// resolution below it (1 or 2 of 5) has the ticket done again.
const RedoBelow = 3

// Rate records the resident's satisfaction with a resolved (or closed)
// ticket, 1 (very dissatisfied) to 5 (very satisfied), with an optional
// comment: one ticket.rated event whose note carries both. A ticket is
// rated once; the rating stays with it for the rates (stats.go), also
// through a redo.
//
// A rating below RedoBelow sends the ticket back to the unit that resolved
// it, as a redo (Ticket.Redo): reopened there, with fresh accept and
// resolve limits, recorded as a ticket.reopened event right after the
// rating, so the board shows both. The unit accepts it as it would a
// routed ticket; if it lets the accept limit pass, the deadline loop
// routes the ticket afresh, as it does every reopened ticket.
//
// actor is who rates ("resident" when empty, or the channel, e.g.
// "twilio"): the resident is not a user, so there is no permission check;
// the caller has identified them (ticket id and phone).
//
// Errors: EINVALID (score outside 1..5, comment too long), ENOTFOUND,
// ECONFLICT (not resolved yet, cancelled, merged, already rated),
// EUNAVAILABLE. When the rating is stored but the redo cannot be, the
// error is returned and the rating stands; the same rating sent again
// (the resident or the SMS webhook retrying) then does the redo.
func (s *Service) Rate(ctx context.Context, id string, score int, comment, actor string) (*hotline.Ticket, error) {
	if score < 1 || score > 5 {
		return nil, &hotline.Error{Code: hotline.EINVALID,
			Message: fmt.Sprintf("rate the ticket from 1 (very dissatisfied) to 5 (very satisfied); %d is not one of them", score),
			Fields:  map[string]string{"score": "a whole number from 1 to 5"}}
	}
	comment = clean(comment)
	if n := utf8.RuneCountInString(comment); n > MaxText {
		return nil, fieldErr("comment", fmt.Sprintf("too long (%d characters); at most %d", n, MaxText))
	}
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	actor = cmp.Or(clean(actor), "resident")
	note := ratingNote(score, comment)
	now := s.now()
	t, err := s.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		switch {
		case t.Satisfaction == score && score < RedoBelow && !t.Redo &&
			(t.Status == hotline.StatusResolved || t.Status == hotline.StatusClosed):
			// The same low rating again, its redo never stored (Redis
			// failed between the two updates): finish the redo now.
			return nil, errRedoPending
		case t.Satisfaction != 0:
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s is already rated (%d of 5)", t.ID, t.Satisfaction)
		case t.MergedInto != "":
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s was merged into %s; rate that one", t.ID, t.MergedInto)
		case t.Status == hotline.StatusCancelled:
			return nil, hotline.Errorf(hotline.ECONFLICT, "ticket %s was cancelled; there is nothing to rate", t.ID)
		case t.Status != hotline.StatusResolved && t.Status != hotline.StatusClosed:
			return nil, hotline.Errorf(hotline.ECONFLICT, "the ticket is not resolved yet")
		}
		t.Satisfaction = score
		return &hotline.Event{Type: hotline.EventTicketRated, At: now, Actor: actor, UnitID: t.UnitID, Note: note}, nil
	})
	switch {
	case errors.Is(err, errRedoPending):
	case hotline.ErrorCode(err) == hotline.ENOTFOUND:
		return nil, notFound()
	case err != nil:
		return nil, err
	case score >= RedoBelow:
		return t, nil
	}
	redone, err := s.redo(ctx, id, score, comment, actor)
	if err != nil {
		s.logger().Warn("reopening a ticket rated low", "ticket_id", id, "err", err)
		return nil, err
	}
	return redone, nil
}

// errRedoPending aborts the rating update of a retried low rating whose
// redo is still to be done.
var errRedoPending = errors.New("dispatch: rated low, redo pending")

// ratingNote is the rated event's note: the score, then the comment in
// both halves, as Reassign writes a dispatcher's note.
func ratingNote(score int, comment string) string {
	note := fmt.Sprintf("满意度评价 %d 分（满分 5 分） / rated %d of 5", score, score)
	if comment != "" {
		note = joinBilingual(note, comment+" / "+comment)
	}
	return note
}

// redo reopens a ticket rated score at the unit that resolved it. Its
// limits are the ones routing gives a ticket placed with that unit now
// (Service.place, as the routing that follows Reopen does); the outcome
// timestamps are cleared as Reopen clears them, so the ticket counts as
// open again. A ticket changed since the rating (a dispatcher reopened it
// meanwhile) is left as it is.
func (s *Service) redo(ctx context.Context, id string, score int, comment, actor string) (*hotline.Ticket, error) {
	n := s.network()
	now := s.now()
	known := false
	t, err := s.Tickets.UpdateTicket(ctx, id, func(t *hotline.Ticket) (*hotline.Event, error) {
		if t.Satisfaction != score || !hotline.CanTransition(t.Status, hotline.StatusReopened) {
			return nil, errStale
		}
		unit, ok := n.Unit(t.UnitID)
		known = ok
		tier, zh, en := t.Tier, t.UnitID, t.UnitID
		if ok {
			tier, zh, en = unit.Kind.Tier(), unit.NameZH, unit.Name("en")
		}
		reason := fmt.Sprintf("居民评价 %d 分，退回%s重办 / rated %d of 5 by the resident: back to %s to redo", score, zh, score, en)
		if comment != "" {
			reason = joinBilingual(reason, comment+" / "+comment)
		}
		s.place(t, Decision{UnitID: t.UnitID, Tier: tier, Reason: reason}, now)
		t.Status, t.Redo, t.StatusNotes, t.MergedInto = hotline.StatusReopened, true, reason, ""
		t.ResolvedAt, t.ClosedAt = time.Time{}, time.Time{}
		return &hotline.Event{Type: hotline.EventTicketReopened, At: now, Actor: actor, UnitID: t.UnitID, Note: reason}, nil
	})
	if errors.Is(err, errStale) {
		return s.Tickets.FindTicket(ctx, id)
	} else if err != nil {
		return nil, err
	}
	if !known {
		// The unit has left the network since it resolved the ticket:
		// route it as any reopened ticket. Should that fail, the
		// deadline loop does it when the accept limit passes.
		routed, err := s.RouteNew(ctx, id)
		if err == nil {
			return routed, nil
		}
		s.logger().Warn("routing a redo whose unit left the network", "ticket_id", id, "err", err)
	}
	return t, nil
}

// RecordRating records a rating the resident gave a member of staff, e.g.
// on a callback to a resident without SMS: the same as Rate, after the
// user's right to see the ticket is checked, with the user as the actor and
// the note saying it was taken by staff.
// Errors: EUNAUTHORIZED, ENOTFOUND, EFORBIDDEN (volunteers), and as Rate.
func (s *Service) RecordRating(ctx context.Context, u *hotline.User, id string, score int, comment string) (*hotline.Ticket, error) {
	if u == nil {
		return nil, unauthorized()
	}
	if !hotline.ValidTicketID(id) {
		return nil, notFound()
	}
	t, err := s.Tickets.FindTicket(ctx, id)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, notFound()
	} else if err != nil {
		return nil, err
	}
	if err := check(u, s.network(), t, false); err != nil {
		return nil, err
	}
	comment = clean(comment)
	if comment == "" {
		comment = "电话回访 / by phone"
	} else {
		comment = "电话回访 / by phone: " + comment
	}
	return s.Rate(ctx, id, score, comment, u.ID)
}
