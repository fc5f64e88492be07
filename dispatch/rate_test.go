package dispatch_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
)

// MustResolved files a sanitation need at c07's office and has c07
// accept and resolve it.
func (st *Street) MustResolved(tb testing.TB) *hotline.Ticket {
	tb.Helper()
	ctx := context.Background()
	tk := st.MustRouted(tb, "sanitation", "c07")
	staff := Staff(hotline.RoleCommittee, "c07")
	if _, err := st.Dispatch.Accept(ctx, staff, tk.ID); err != nil {
		tb.Fatal(err)
	}
	resolved, err := st.Dispatch.Resolve(ctx, staff, tk.ID, "已清运")
	if err != nil {
		tb.Fatal(err)
	}
	return resolved
}

// lastEvent returns the ticket's latest event.
func (st *Street) lastEvent(tb testing.TB, id string) *hotline.Event {
	tb.Helper()
	evs, err := st.Tickets.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return evs[len(evs)-1]
}

// A satisfied resident's rating is recorded; the ticket stays resolved.
func TestRate_Satisfied(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		tk := st.MustResolved(t)
		got, err := st.Dispatch.Rate(context.Background(), tk.ID, 5, "  很及时，谢谢  ", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Satisfaction != 5 || got.Status != hotline.StatusResolved || got.Redo || got.Version != tk.Version+1 {
			t.Errorf("got satisfaction %d, %s, redo %v, version %d; want 5, resolved, no redo, version %d",
				got.Satisfaction, got.Status, got.Redo, got.Version, tk.Version+1)
		}
		ev := st.lastEvent(t, tk.ID)
		if ev.Type != hotline.EventTicketRated || ev.Actor != "resident" || ev.UnitID != "c07" {
			t.Errorf("last event %s by %s at %s, want ticket.rated by resident at c07", ev.Type, ev.Actor, ev.UnitID)
		}
		if !strings.Contains(ev.Note, "5") || !strings.Contains(ev.Note, "很及时，谢谢") {
			t.Errorf("note %q: want the score and the comment", ev.Note)
		}
	})
}

// A rating of 2 sends the ticket back to the unit that resolved it, as a
// redo with fresh limits, recorded after the rating.
func TestRate_LowReopensAsRedo(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustResolved(t)
		st.Clock.Advance(26 * time.Hour) // Thursday 13:00, the next working day

		got, err := st.Dispatch.Rate(ctx, tk.ID, 2, "垃圾还在", "twilio")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != hotline.StatusReopened || !got.Redo || got.UnitID != "c07" || got.Satisfaction != 2 {
			t.Fatalf("got %s at %s, redo %v, satisfaction %d; want reopened at c07 as a redo, rated 2",
				got.Status, got.UnitID, got.Redo, got.Satisfaction)
		}
		if !got.ResolvedAt.IsZero() || !got.AcceptedAt.IsZero() {
			t.Errorf("resolved at %v, accepted at %v: a redo is open again", got.ResolvedAt, got.AcceptedAt)
		}
		// The limits are those of a need routed to c07 now.
		fresh := st.MustRouted(t, "sanitation", "c07")
		if fresh.UnitID != "c07" {
			t.Fatalf("a fresh need went to %s, want c07", fresh.UnitID)
		}
		if !got.AcceptBy.Equal(fresh.AcceptBy) || !got.ResolveBy.Equal(fresh.ResolveBy) {
			t.Errorf("redo limits %v / %v, want a fresh routing's %v / %v", got.AcceptBy, got.ResolveBy, fresh.AcceptBy, fresh.ResolveBy)
		}
		if !got.AcceptBy.After(st.Clock.Now()) {
			t.Errorf("accept by %v is not after now", got.AcceptBy)
		}

		evs, err := st.Tickets.TicketEvents(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for _, e := range evs {
			types = append(types, e.Type)
		}
		if want := []string{hotline.EventTicketResolved, hotline.EventTicketRated, hotline.EventTicketReopened}; !slices.Equal(types[len(types)-3:], want) {
			t.Fatalf("events %v, want them to end with %v", types, want)
		}
		rated, reopened := evs[len(evs)-2], evs[len(evs)-1]
		if !strings.Contains(rated.Note, "2") || !strings.Contains(rated.Note, "垃圾还在") || rated.Actor != "twilio" {
			t.Errorf("rated event %+v: want the score, the comment and the actor", rated)
		}
		if reopened.Status != hotline.StatusReopened || reopened.UnitID != "c07" || reopened.Actor != "twilio" {
			t.Errorf("reopened event %+v: want status reopened at c07 by twilio", reopened)
		}

		// The redo waits on its accept limit, then c07 takes it on again.
		st.Clock.Set(got.AcceptBy.Add(-time.Minute))
		if n := st.Dispatch.RunOnce(ctx, time.Minute); n != 0 {
			t.Errorf("%d deadlines fired before the redo's accept limit", n)
		}
		again, err := st.Dispatch.Accept(ctx, Staff(hotline.RoleCommittee, "c07"), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.Status != hotline.StatusAccepted || !again.Redo {
			t.Errorf("after accepting: %s, redo %v", again.Status, again.Redo)
		}
		// One rating per ticket, also after a redo.
		_, err = st.Dispatch.Rate(ctx, tk.ID, 4, "", "")
		if hotline.ErrorCode(err) != hotline.ECONFLICT {
			t.Errorf("rating a redo: %v, want conflict", err)
		}
	})
}

// A closed ticket can be rated too; a 1 reopens it as well.
func TestRate_ClosedTicket(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustResolved(t)
		if _, err := st.Tickets.UpdateTicket(ctx, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			t.Status, t.ClosedAt = hotline.StatusClosed, st.Clock.Now()
			return &hotline.Event{Type: hotline.EventTicketClosed, Actor: "system"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Dispatch.Rate(ctx, tk.ID, 1, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != hotline.StatusReopened || !got.Redo || got.UnitID != "c07" || !got.ClosedAt.IsZero() {
			t.Errorf("got %s at %s, redo %v, closed at %v; want reopened at c07 as a redo", got.Status, got.UnitID, got.Redo, got.ClosedAt)
		}
	})
}

func TestRate_InvalidScore(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		tk := st.MustResolved(t)
		for _, score := range []int{0, 6, -1, 10} {
			_, err := st.Dispatch.Rate(context.Background(), tk.ID, score, "", "")
			if hotline.ErrorCode(err) != hotline.EINVALID {
				t.Errorf("score %d: %v, want invalid", score, err)
				continue
			}
			if msg := hotline.ErrorMessage(err); !strings.Contains(msg, "1") || !strings.Contains(msg, "5") {
				t.Errorf("score %d: message %q does not say the range", score, msg)
			}
			if _, ok := hotline.ErrorFields(err)["score"]; !ok {
				t.Errorf("score %d: fields %v, want score", score, hotline.ErrorFields(err))
			}
		}
		_, err := st.Dispatch.Rate(context.Background(), tk.ID, 3, strings.Repeat("长", 2001), "")
		if _, ok := hotline.ErrorFields(err)["comment"]; !ok {
			t.Errorf("a long comment: %v, want a comment field error", err)
		}
		if n := st.Count(t, tk.ID, hotline.EventTicketRated); n != 0 {
			t.Errorf("refused ratings left %d events", n)
		}
	})
}

func TestRate_NotResolved(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		routed := st.MustRouted(t, "sanitation", "c07")
		_, err := st.Dispatch.Rate(ctx, routed.ID, 4, "", "")
		if hotline.ErrorCode(err) != hotline.ECONFLICT || hotline.ErrorMessage(err) != "the ticket is not resolved yet" {
			t.Errorf("rating a routed ticket: %v, want conflict: the ticket is not resolved yet", err)
		}
		if _, err := st.Dispatch.Cancel(ctx, Staff(hotline.RoleCommittee, "c07"), routed.ID, "居民撤回"); err != nil {
			t.Fatal(err)
		}
		_, err = st.Dispatch.Rate(ctx, routed.ID, 4, "", "")
		if hotline.ErrorCode(err) != hotline.ECONFLICT {
			t.Errorf("rating a cancelled ticket: %v, want conflict", err)
		}
		if n := st.Count(t, routed.ID, hotline.EventTicketRated); n != 0 {
			t.Errorf("refused ratings left %d events", n)
		}
		_, err = st.Dispatch.Rate(ctx, hotline.TicketIDWithCheck("99999"), 4, "", "")
		if hotline.ErrorCode(err) != hotline.ENOTFOUND {
			t.Errorf("rating an unknown ticket: %v, want not found", err)
		}
	})
}

// A ticket is rated once, also when two ratings race.
func TestRate_Twice(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustResolved(t)
		if _, err := st.Dispatch.Rate(ctx, tk.ID, 4, "", ""); err != nil {
			t.Fatal(err)
		}
		_, err := st.Dispatch.Rate(ctx, tk.ID, 1, "", "")
		if hotline.ErrorCode(err) != hotline.ECONFLICT || !strings.Contains(hotline.ErrorMessage(err), "already rated") {
			t.Errorf("second rating: %v, want conflict: already rated", err)
		}
		if got := st.MustTicket(t, tk.ID); got.Satisfaction != 4 || got.Status != hotline.StatusResolved {
			t.Errorf("after the refused rating: %d, %s; want the first rating, resolved", got.Satisfaction, got.Status)
		}

		racing := st.MustResolved(t)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, score := range []int{5, 1} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = st.Dispatch.Rate(ctx, racing.ID, score, "", "")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if hotline.ErrorCode(err) != hotline.ECONFLICT {
				t.Errorf("racing rating: %v", err)
			}
		}
		if n := st.Count(t, racing.ID, hotline.EventTicketRated); ok != 1 || n != 1 {
			t.Errorf("two racing ratings: %d succeeded, %d rated events; want 1 and 1", ok, n)
		}
	})
}

// A low rating whose redo was never stored (Redis failed between the two
// updates) is finished when the same rating comes again; any other
// rating of it is still refused.
func TestRate_RetryFinishesAPendingRedo(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustResolved(t)
		// The state a failed redo leaves: rated 2, still resolved.
		if _, err := st.Tickets.UpdateTicket(ctx, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			t.Satisfaction = 2
			return &hotline.Event{Type: hotline.EventTicketRated, Actor: "resident", Note: "满意度评价 2 分"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Dispatch.Rate(ctx, tk.ID, 4, "", ""); hotline.ErrorCode(err) != hotline.ECONFLICT {
			t.Errorf("another score: %v, want already rated", err)
		}
		got, err := st.Dispatch.Rate(ctx, tk.ID, 2, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != hotline.StatusReopened || !got.Redo || got.UnitID != "c07" {
			t.Errorf("after the retry: %s, redo %v, at %s; want reopened as a redo at c07", got.Status, got.Redo, got.UnitID)
		}
		if rated := events(t, st, tk.ID, hotline.EventTicketRated); len(rated) != 1 {
			t.Errorf("%d rated events, want the one", len(rated))
		}
		if _, err := st.Dispatch.Rate(ctx, tk.ID, 2, "", ""); hotline.ErrorCode(err) != hotline.ECONFLICT {
			t.Errorf("after the redo, the same rating again: %v, want already rated", err)
		}
	})
}

// events returns the ticket's events of type typ.
func events(tb testing.TB, st *Street, id, typ string) []*hotline.Event {
	tb.Helper()
	evs, err := st.Tickets.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*hotline.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
