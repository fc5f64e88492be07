package dispatch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

func sameTierFirst(on bool) func(*dispatch.Config) {
	return func(c *dispatch.Config) { c.SameTierFirst = on }
}

// A new ticket is routed with its reason, its limits and a routed event.
func TestRouteNew(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		got := st.MustRouted(t, "sanitation", "c07")
		if got.Status != hotline.StatusRouted || got.UnitID != "c07" || got.Tier != hotline.TierCommittee {
			t.Fatalf("got %s at %s tier %d, want routed to c07 at tier 1", got.Status, got.UnitID, got.Tier)
		}
		// Wednesday 11:00 + 1 working day (9 h) = Thursday 11:00; + 5 = next Wednesday 11:00.
		if want := sh(2025, time.March, 13, 11, 0); !got.AcceptBy.Equal(want) {
			t.Errorf("accept by %v, want %v", got.AcceptBy.In(dispatch.Shanghai), want)
		}
		if want := sh(2025, time.March, 19, 11, 0); !got.ResolveBy.Equal(want) {
			t.Errorf("resolve by %v, want %v", got.ResolveBy.In(dispatch.Shanghai), want)
		}
		if got.RouteReason == "" {
			t.Error("no route reason")
		}
		if evs := st.Events(t, got.ID); !slices.Equal(evs, []string{hotline.EventTicketCreated, hotline.EventTicketRouted}) {
			t.Errorf("events %v", evs)
		}
		// Routing again changes nothing.
		again, err := st.Dispatch.RouteNew(context.Background(), got.ID)
		if err != nil || again.Version != got.Version {
			t.Errorf("second RouteNew: version %d → %d, err %v", got.Version, again.Version, err)
		}
	})
}

// Urgent categories get wall-clock limits in minutes and hours.
func TestRouteNew_UrgentLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		st.Clock.Set(sh(2025, time.March, 14, 16, 50)) // Friday, just before the district closes
		got := st.MustRouted(t, "building_safety", "c07")
		if want := sh(2025, time.March, 14, 17, 20); !got.AcceptBy.Equal(want) {
			t.Errorf("accept by %v, want %v (30 minutes, wall clock)", got.AcceptBy.In(dispatch.Shanghai), want)
		}
		if want := sh(2025, time.March, 14, 20, 50); !got.ResolveBy.Equal(want) {
			t.Errorf("resolve by %v, want %v (4 hours, wall clock)", got.ResolveBy.In(dispatch.Shanghai), want)
		}
	})
}

// A decline goes to the next nearest meal group first with same-tier-
// first, straight up to the street's organization without.
func TestDecline(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		ctx := context.Background()
		t.Run("same tier first", func(t *testing.T) {
			st := store.MustStreet(t, sameTierFirst(true))
			tk := st.MustRouted(t, "elderly_meals", "c05")
			if tk.UnitID != "c05-meals" {
				t.Fatalf("routed to %s, want c05-meals", tk.UnitID)
			}
			lat, long := st.Office(t, "c05")
			want, _ := nearestGroup(withoutUnit(st.Network, "c05-meals"), "elderly_meals", lat, long, dispatch.DefaultVolunteerRadius, st.Clock.Now())
			if want == "" {
				t.Fatal("the demo has no second meal group near c05")
			}
			got, err := st.Dispatch.Decline(ctx, Staff(hotline.RoleCommittee, "c05"), tk.ID, "今天人手不够")
			if err != nil {
				t.Fatal(err)
			}
			if got.UnitID != want || got.Tier != hotline.TierCommittee || got.Escalations != 0 {
				t.Errorf("got %s tier %d escalations %d, want %s at tier 1, no escalation", got.UnitID, got.Tier, got.Escalations, want)
			}
			if !slices.Equal(got.Declined, []string{"c05-meals"}) {
				t.Errorf("declined %v", got.Declined)
			}
			if evs := st.Events(t, tk.ID); !slices.Equal(evs[2:], []string{hotline.EventTicketDeclined, hotline.EventTicketRouted}) {
				t.Errorf("events %v", evs)
			}
		})
		t.Run("up a tier", func(t *testing.T) {
			st := store.MustStreet(t, sameTierFirst(false))
			tk := st.MustRouted(t, "elderly_meals", "c05")
			got, err := st.Dispatch.Decline(ctx, Staff(hotline.RoleCommittee, "c05"), tk.ID, "今天人手不够")
			if err != nil {
				t.Fatal(err)
			}
			if got.UnitID != "org-elderly" || got.Tier != hotline.TierStreet || got.Escalations != 1 {
				t.Errorf("got %s tier %d escalations %d, want org-elderly at tier 2 after 1 escalation", got.UnitID, got.Tier, got.Escalations)
			}
			if evs := st.Events(t, tk.ID); !slices.Equal(evs[2:], []string{hotline.EventTicketDeclined, hotline.EventTicketEscalated}) {
				t.Errorf("events %v", evs)
			}
		})
		t.Run("the intake queue cannot decline a ticket nobody else takes", func(t *testing.T) {
			st := store.MustStreet(t)
			st.Clock.Set(sh(2025, time.March, 12, 23, 0))
			tk := st.MustRouted(t, "home_repair", "c02")
			if tk.UnitID != "center" {
				t.Fatalf("routed to %s, want the intake queue at night", tk.UnitID)
			}
			_, err := st.Dispatch.Decline(ctx, Staff(hotline.RoleDispatcher, "center"), tk.ID, "没人")
			if hotline.ErrorCode(err) != hotline.ECONFLICT {
				t.Errorf("got %v, want conflict", err)
			}
			if n := st.Count(t, tk.ID, hotline.EventTicketDeclined); n != 0 {
				t.Errorf("a refused decline left %d events", n)
			}
		})
	})
}

func withoutUnit(n *hotline.Network, id string) *hotline.Network {
	c := *n
	c.Units = slices.DeleteFunc(slices.Clone(n.Units), func(u hotline.Unit) bool { return u.ID == id })
	return &c
}

// A committee that lets the accept limit pass loses the ticket to the
// district, through the deadline loop.
func TestAcceptTimeout_Escalates(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustRouted(t, "dispute", "c03")
		if tk.UnitID != "c03" {
			t.Fatalf("routed to %s", tk.UnitID)
		}
		st.Clock.Set(tk.AcceptBy.Add(-time.Minute))
		if n := st.Dispatch.RunOnce(ctx, time.Minute); n != 0 {
			t.Fatalf("%d deadlines handled before any was due", n)
		}
		st.Clock.Set(tk.AcceptBy.Add(time.Minute))
		if n := st.Dispatch.RunOnce(ctx, time.Minute); n != 1 {
			t.Fatalf("%d deadlines handled, want 1", n)
		}
		got := st.MustTicket(t, tk.ID)
		if got.UnitID != "jingan-justice" || got.Escalations != 1 || !slices.Contains(got.Declined, "c03") {
			t.Errorf("got %s escalations %d declined %v; want jingan-justice, 1, [c03]", got.UnitID, got.Escalations, got.Declined)
		}
		if n := st.Count(t, tk.ID, hotline.EventTicketEscalated); n != 1 {
			t.Errorf("%d escalated events, want 1", n)
		}
		if !got.AcceptBy.After(st.Clock.Now()) {
			t.Errorf("the district's accept limit %v is not in the future", got.AcceptBy)
		}
	})
}

// A sanitation need no one at tier 1 accepts lands in the street's intake
// queue, which is told once and then waits for a dispatcher.
func TestAcceptTimeout_IntakeQueueIsTheEnd(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustRouted(t, "sanitation", "c07")
		st.Clock.Set(tk.AcceptBy.Add(time.Minute))
		st.Dispatch.RunOnce(ctx, time.Minute)
		got := st.MustTicket(t, tk.ID)
		if got.UnitID != "center" {
			t.Fatalf("after c07's timeout: %s, want the intake queue", got.UnitID)
		}
		st.Clock.Set(got.AcceptBy.Add(time.Minute))
		st.Dispatch.RunOnce(ctx, time.Minute)
		st.Clock.Advance(24 * time.Hour)
		st.Dispatch.RunOnce(ctx, time.Minute)
		got = st.MustTicket(t, tk.ID)
		if got.UnitID != "center" || !got.AcceptBy.IsZero() {
			t.Errorf("got %s accept by %v; want it left in the intake queue without a limit", got.UnitID, got.AcceptBy)
		}
		if n := st.Count(t, tk.ID, hotline.EventTicketOverdue); n != 1 {
			t.Errorf("%d overdue events, want 1", n)
		}
	})
}

// A ticket left "new" by a crash between intake and routing is routed by
// the deadline loop once intake's safety-net limit passes.
func TestHandleDue_RoutesALostNewTicket(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		lat, long := st.Office(t, "c07")
		tk := &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "sanitation", Description: "垃圾",
			Status: hotline.StatusNew, Location: hotline.Location{Lat: lat, Long: long, Committee: "c07"}, UnitID: "c07",
			CreatedAt: st.Clock.Now(), UpdatedAt: st.Clock.Now(), AcceptBy: st.Clock.Now().Add(time.Minute)}
		if _, err := st.Tickets.CreateTicket(ctx, tk, ""); err != nil {
			t.Fatal(err)
		}
		st.Clock.Advance(2 * time.Minute)
		if n := st.Dispatch.RunOnce(ctx, time.Minute); n != 1 {
			t.Fatalf("%d handled, want 1", n)
		}
		if got := st.MustTicket(t, tk.ID); got.Status != hotline.StatusRouted || got.UnitID != "c07" {
			t.Errorf("got %s at %s, want routed to c07", got.Status, got.UnitID)
		}
	})
}

// The resolve limit fires once, however often its claim is handled.
func TestResolveDeadline_FiresOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustRouted(t, "sanitation", "c07")
		if _, err := st.Dispatch.Accept(ctx, Staff(hotline.RoleCommittee, "c07"), tk.ID); err != nil {
			t.Fatal(err)
		}
		st.Clock.Set(tk.ResolveBy.Add(time.Second))
		for range 2 {
			if err := st.Dispatch.HandleDue(ctx, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
		st.Clock.Advance(time.Hour)
		st.Dispatch.RunOnce(ctx, time.Minute)
		if n := st.Count(t, tk.ID, hotline.EventTicketOverdue); n != 1 {
			t.Errorf("%d overdue events, want 1", n)
		}
		if got := st.MustTicket(t, tk.ID); !got.OverdueNoted || got.Status != hotline.StatusAccepted {
			t.Errorf("overdue noted %v, status %s", got.OverdueNoted, got.Status)
		}
	})
}

// Two replicas, each with its own connection, run the loop on one store:
// every deadline fires exactly once.
func TestRun_TwoReplicasFireEachDeadlineOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		const n = 30
		var accepted, waiting []string
		for i := range n {
			committee := []string{"c03", "c07", "c11"}[i%3]
			tk := st.MustRouted(t, "dispute", committee)
			if i%2 == 0 {
				if _, err := st.Dispatch.Accept(ctx, Staff(hotline.RoleCommittee, committee), tk.ID); err != nil {
					t.Fatal(err)
				}
				accepted = append(accepted, tk.ID)
			} else {
				waiting = append(waiting, tk.ID)
			}
		}
		// Past every accept and resolve limit, but not past the district's
		// fresh accept limits the escalations will set.
		st.Clock.Advance(8 * 24 * time.Hour)

		replicas := []*dispatch.Service{st.MustService(t, st.MustClient(t)), st.MustService(t, st.MustClient(t))}
		runCtx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, r := range replicas {
			r.PollInterval, r.Lease = 5*time.Millisecond, time.Minute
			wg.Add(1)
			go func() { defer wg.Done(); r.Run(runCtx) }()
		}
		deadline := time.Now().Add(10 * time.Second)
		for !allFired(t, st, accepted, waiting) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // let a double firing show, if there were one
		cancel()
		wg.Wait()

		for _, id := range accepted {
			if got := st.Count(t, id, hotline.EventTicketOverdue); got != 1 {
				t.Errorf("ticket %s: %d overdue events, want 1", id, got)
			}
		}
		for _, id := range waiting {
			if got := st.Count(t, id, hotline.EventTicketEscalated); got != 1 {
				t.Errorf("ticket %s: %d escalations, want 1", id, got)
			}
		}
	})
}

func allFired(tb testing.TB, st *Street, accepted, waiting []string) bool {
	for _, id := range accepted {
		if !st.MustTicket(tb, id).OverdueNoted {
			return false
		}
	}
	for _, id := range waiting {
		if st.MustTicket(tb, id).Escalations == 0 {
			return false
		}
	}
	return true
}

// Deadlines live in Redis: a service started afresh (a restarted
// process, a new connection) fires the ones the old one left pending.
func TestRun_DeadlinesSurviveARestart(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		tk := st.MustRouted(t, "dispute", "c11")
		st.Dispatch = nil // the first process is gone

		st.Clock.Set(tk.AcceptBy.Add(time.Minute))
		restarted := st.MustService(t, st.MustClient(t))
		runCtx, cancel := context.WithCancel(ctx)
		restarted.PollInterval = 5 * time.Millisecond
		done := make(chan struct{})
		go func() { restarted.Run(runCtx); close(done) }()
		deadline := time.Now().Add(5 * time.Second)
		for st.MustTicket(t, tk.ID).Escalations == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		<-done
		if got := st.MustTicket(t, tk.ID); got.UnitID != "jingan-justice" {
			t.Errorf("after the restart the ticket is with %s, want jingan-justice", got.UnitID)
		}
	})
}
