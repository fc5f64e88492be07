package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// One week on three committees: c07 accepts in an hour, resolves and is
// rated 5; c03 accepts a ticket a day late and declines another, which
// the district has not yet had time to accept.
func TestStats(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		d := st.Dispatch
		c07, c03 := Staff(hotline.RoleCommittee, "c07"), Staff(hotline.RoleCommittee, "c03")
		must := func(_ *hotline.Ticket, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}

		a := st.MustRouted(t, "sanitation", "c07")
		st.Clock.Advance(time.Hour)
		must(d.Accept(ctx, c07, a.ID))
		st.Clock.Set(sh(2025, 3, 14, 11, 0))
		must(d.Resolve(ctx, c07, a.ID, "已清运"))
		must(st.Tickets.UpdateTicket(ctx, a.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			t.Satisfaction = 5
			return &hotline.Event{Type: hotline.EventTicketRated, Actor: "resident"}, nil
		}))

		st.Clock.Set(wednesday11)
		b := st.MustRouted(t, "sanitation", "c03")
		st.Clock.Set(sh(2025, 3, 14, 12, 0)) // the limit was Thursday 11:00
		must(d.Accept(ctx, c03, b.ID))
		st.Clock.Advance(time.Hour)
		must(d.Resolve(ctx, c03, b.ID, "已处理"))

		st.Clock.Set(wednesday11)
		c := st.MustRouted(t, "dispute", "c03")
		st.Clock.Advance(30 * time.Minute)
		must(d.Decline(ctx, c03, c.ID, "属于司法所"))

		st.Clock.Set(sh(2025, 3, 12, 15, 0))
		from, to := sh(2025, 3, 10, 0, 0), sh(2025, 3, 17, 0, 0)
		got, err := d.Stats(ctx, from, to, "")
		if err != nil {
			t.Fatal(err)
		}
		units := map[string]dispatch.UnitRates{}
		for _, u := range got.Units {
			units[u.UnitID] = u
		}

		u07 := units["c07"]
		checkRate(t, "c07 response", u07.ResponseRate, 1)
		checkRate(t, "c07 resolution", u07.ResolutionRate, 1)
		checkRate(t, "c07 satisfaction", u07.SatisfactionRate, 1)
		checkRate(t, "c07 median accept (s)", u07.MedianAcceptSeconds, 3600)
		checkRate(t, "c07 median resolve (s)", u07.MedianResolveSeconds, 48*3600)

		u03 := units["c03"]
		if u03.Offers != 2 || u03.Accepted != 1 || u03.AcceptedInTime != 0 {
			t.Errorf("c03: %+v", u03.Rates)
		}
		checkRate(t, "c03 response", u03.ResponseRate, 0)
		checkRate(t, "c03 resolution", u03.ResolutionRate, 0.5)
		if u03.SatisfactionRate != nil {
			t.Errorf("c03 has a satisfaction rate without ratings: %v", *u03.SatisfactionRate)
		}

		jj := units["jingan-justice"]
		if jj.Offers != 1 || jj.ResponseBase != 0 || jj.ResponseRate != nil {
			t.Errorf("the district's offer is still within its limit and must not count yet: %+v", jj.Rates)
		}

		if len(got.Tiers) != 2 || got.Tiers[0].Tier != hotline.TierCommittee || got.Tiers[0].Offers != 3 {
			t.Errorf("tiers: %+v", got.Tiers)
		}
		if got.All.Offers != 4 {
			t.Errorf("all: %d offers, want 4", got.All.Offers)
		}

		only, err := d.Stats(ctx, from, to, "c07")
		if err != nil {
			t.Fatal(err)
		}
		if len(only.Units) != 1 || only.Units[0].UnitID != "c07" {
			t.Errorf("scoped to c07: %+v", only.Units)
		}
		if _, err := d.Stats(ctx, to, from, ""); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("reversed period: %v", err)
		}
	})
}

func checkRate(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil || *got != want {
		g := "nil"
		if got != nil {
			g = formatFloat(*got)
		}
		t.Errorf("%s = %s, want %v", name, g, want)
	}
}

func formatFloat(f float64) string { return time.Duration(f * float64(time.Second)).String() }
