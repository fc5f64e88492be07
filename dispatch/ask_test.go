package dispatch_test

import (
	"context"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// mustFileWithPhone files a sanitation need at c07's office from a
// resident who left a number and agreed (or not) to be contacted, and
// routes it.
func (st *Street) mustFileWithPhone(tb testing.TB, consent bool) *hotline.Ticket {
	tb.Helper()
	lat, long := st.Office(tb, "c07")
	t, _, err := st.Intake.Submit(context.Background(), intake.Submission{
		Channel: hotline.ChannelWeb, ServiceCode: "sanitation", Description: "垃圾没有清运",
		Lat: &lat, Long: &long, Phone: "13800138000", Consent: consent, Actor: "resident"}, "")
	if err != nil {
		tb.Fatal(err)
	}
	routed, err := st.Dispatch.RouteNew(context.Background(), t.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return routed
}

// The responsible unit asks the resident a question; it is recorded as
// ticket.asked (the notifier texts it). Units that are not responsible,
// tickets without consent and closed tickets are refused, clearly.
func TestAsk(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.mustFileWithPhone(t, true)
		if tk.UnitID != "c07" {
			t.Fatalf("routed to %s, want c07", tk.UnitID)
		}
		c07 := Staff(hotline.RoleCommittee, "c07")
		got, err := st.Dispatch.Ask(ctx, c07, tk.ID, "请问具体是几号楼？")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != tk.Status {
			t.Errorf("asking changed the status to %s", got.Status)
		}
		if ev := st.lastEvent(t, tk.ID); ev.Type != hotline.EventTicketAsked || ev.Note != "请问具体是几号楼？" || ev.Actor != c07.ID {
			t.Errorf("last event %+v, want ticket.asked with the question by %s", ev, c07.ID)
		}

		_, err = st.Dispatch.Ask(ctx, Staff(hotline.RoleCommittee, "c01"), tk.ID, "?")
		if code := hotline.ErrorCode(err); code != hotline.ENOTFOUND {
			t.Errorf("another committee: %v, want not found", err)
		}
		if _, err := st.Dispatch.Ask(ctx, c07, tk.ID, "  "); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("empty question: %v, want invalid", err)
		}
		silent := st.mustFileWithPhone(t, false)
		_, err = st.Dispatch.Ask(ctx, c07, silent.ID, "请问在家吗？")
		if hotline.ErrorCode(err) != hotline.ECONFLICT || !strings.Contains(hotline.ErrorMessage(err), "did not agree") {
			t.Errorf("no consent: %v, want a conflict saying so", err)
		}
		if _, err := st.Dispatch.Cancel(ctx, c07, tk.ID, "居民撤回"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Dispatch.Ask(ctx, c07, tk.ID, "还需要吗？"); hotline.ErrorCode(err) != hotline.ECONFLICT {
			t.Errorf("cancelled ticket: %v, want conflict", err)
		}
	})
}

// A rating taken on a callback is recorded by the member of staff, with
// the same rules as the resident's own; staff who cannot see the ticket
// cannot rate it.
func TestRecordRating(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustResolved(t)
		if _, err := st.Dispatch.RecordRating(ctx, Staff(hotline.RoleCommittee, "c01"), tk.ID, 5, ""); hotline.ErrorCode(err) != hotline.ENOTFOUND {
			t.Errorf("another committee: %v, want not found", err)
		}
		if _, err := st.Dispatch.RecordRating(ctx, nil, tk.ID, 5, ""); hotline.ErrorCode(err) != hotline.EUNAUTHORIZED {
			t.Errorf("nobody: %v, want unauthorized", err)
		}
		center := Staff(hotline.RoleDispatcher, "center")
		got, err := st.Dispatch.RecordRating(ctx, center, tk.ID, 4, "老人说挺好")
		if err != nil {
			t.Fatal(err)
		}
		if got.Satisfaction != 4 {
			t.Errorf("satisfaction %d, want 4", got.Satisfaction)
		}
		ev := st.lastEvent(t, tk.ID)
		if ev.Type != hotline.EventTicketRated || ev.Actor != center.ID || !strings.Contains(ev.Note, "电话回访") || !strings.Contains(ev.Note, "老人说挺好") {
			t.Errorf("last event %+v, want ticket.rated by %s noting the callback and the words", ev, center.ID)
		}
		if _, err := st.Dispatch.RecordRating(ctx, center, tk.ID, 6, ""); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("score 6: %v, want invalid", err)
		}
	})
}
