package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// asgNow is the clock the assignment scenarios run at.
var asgNow = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

// MustAssign stores an offer of ticket to volunteer, answer due in an hour.
func MustAssign(tb testing.TB, s *redisstore.AssignmentStore, ticket, volunteer string) *hotline.Assignment {
	tb.Helper()
	a := &hotline.Assignment{TicketID: ticket, VolunteerID: volunteer, Status: hotline.AssignmentOffered,
		By: "u1", OfferedAt: asgNow, RespondBy: asgNow.Add(time.Hour), Category: "elderly_meals", Committee: "c01"}
	if err := s.CreateAssignment(context.Background(), a); err != nil {
		tb.Fatalf("assign %s to %s: %v", ticket, volunteer, err)
	}
	return a
}

// MustSetStatus changes an assignment's status (and DoneAt/Hours for done).
func MustSetStatus(tb testing.TB, s *redisstore.AssignmentStore, id string, st hotline.AssignmentStatus, doneAt time.Time, hours float64) *hotline.Assignment {
	tb.Helper()
	a, err := s.UpdateAssignment(context.Background(), id, func(a *hotline.Assignment) error {
		a.Status = st
		if st == hotline.AssignmentDone {
			a.DoneAt, a.Hours = doneAt, hours
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("set %s %s: %v", id, st, err)
	}
	return a
}

func MustOpen(tb testing.TB, s *redisstore.AssignmentStore, ids ...string) map[string]int {
	tb.Helper()
	m, err := s.OpenTasks(context.Background(), ids)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func asgIDs(as []*hotline.Assignment) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func TestAssignmentLifecycleKeepsIndexesInStep(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewAssignmentStore(b.db)
		a := MustAssign(t, s, "160035", "v1")
		if a.ID == "" || a.Version != 1 || !a.OfferedAt.Equal(asgNow) {
			t.Fatalf("created %+v", a)
		}
		got, err := s.FindAssignment(ctx, a.ID)
		if err != nil || got.TicketID != "160035" || got.Status != hotline.AssignmentOffered {
			t.Fatalf("find: %+v, %v", got, err)
		}
		// One open assignment per (ticket, volunteer).
		dup := &hotline.Assignment{TicketID: "160035", VolunteerID: "v1", Status: hotline.AssignmentOffered}
		AssertCode(t, s.CreateAssignment(ctx, dup), hotline.ECONFLICT)
		b2 := MustAssign(t, s, "160035", "v2")
		MustAssign(t, s, "160041", "v1")
		if m := MustOpen(t, s, "v1", "v2", "v3"); m["v1"] != 2 || m["v2"] != 1 || m["v3"] != 0 {
			t.Fatalf("open tasks %v", m)
		}
		ts, err := s.TicketAssignments(ctx, "160035")
		if err != nil || len(ts) != 2 {
			t.Fatalf("ticket assignments %v, %v", asgIDs(ts), err)
		}
		vs, err := s.VolunteerAssignments(ctx, "v1")
		if err != nil || len(vs) != 2 {
			t.Fatalf("volunteer assignments %v, %v", asgIDs(vs), err)
		}

		// Declined: no longer open, and the pair is free again.
		MustSetStatus(t, s, a.ID, hotline.AssignmentDeclined, time.Time{}, 0)
		if m := MustOpen(t, s, "v1"); m["v1"] != 1 {
			t.Fatalf("after decline open %v", m)
		}
		again := MustAssign(t, s, "160035", "v1")
		if m := MustOpen(t, s, "v1"); m["v1"] != 2 {
			t.Fatalf("after re-offer open %v", m)
		}
		// A closed assignment is not reopened.
		_, err = s.UpdateAssignment(ctx, a.ID, func(a *hotline.Assignment) error { a.Status = hotline.AssignmentAccepted; return nil })
		AssertCode(t, err, hotline.ECONFLICT)

		// Accepted stays open; done counts in the hours range.
		MustSetStatus(t, s, again.ID, hotline.AssignmentAccepted, time.Time{}, 0)
		MustSetStatus(t, s, again.ID, hotline.AssignmentDone, asgNow.Add(3*time.Hour), 2.5)
		MustSetStatus(t, s, b2.ID, hotline.AssignmentAccepted, time.Time{}, 0)
		MustSetStatus(t, s, b2.ID, hotline.AssignmentDone, asgNow.Add(48*time.Hour), 1)
		if m := MustOpen(t, s, "v1", "v2"); m["v1"] != 1 || m["v2"] != 0 {
			t.Fatalf("after done open %v", m)
		}
		done, err := s.Done(ctx, asgNow, asgNow.Add(24*time.Hour))
		if err != nil || len(done) != 1 || done[0].ID != again.ID || done[0].Hours != 2.5 {
			t.Fatalf("done today %v, %v", asgIDs(done), err)
		}
		done, err = s.Done(ctx, time.Time{}, time.Time{})
		if err != nil || len(done) != 2 {
			t.Fatalf("done ever %v, %v", asgIDs(done), err)
		}
		// Hours corrected on a done assignment stay in the report.
		MustSetStatus(t, s, again.ID, hotline.AssignmentDone, asgNow.Add(3*time.Hour), 4)
		done, _ = s.Done(ctx, asgNow, asgNow.Add(24*time.Hour))
		if len(done) != 1 || done[0].Hours != 4 {
			t.Fatalf("corrected %+v", done)
		}
		// A change that changes nothing writes no version.
		same, err := s.UpdateAssignment(ctx, again.ID, func(*hotline.Assignment) error { return nil })
		if err != nil || same.Version != MustSetStatus(t, s, again.ID, hotline.AssignmentDone, asgNow.Add(3*time.Hour), 4).Version {
			t.Fatalf("no-op update: %+v, %v", same, err)
		}
		_, err = s.FindAssignment(ctx, "a999")
		AssertCode(t, err, hotline.ENOTFOUND)
		_, err = s.UpdateAssignment(ctx, again.ID, func(a *hotline.Assignment) error { a.VolunteerID = "v9"; return nil })
		AssertCode(t, err, hotline.EINVALID)
	})
}

func TestClaimExpiredHandsEachOfferOutOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewAssignmentStore(b.db)
		var want []string
		for i, v := range []string{"v1", "v2", "v3", "v4", "v5"} {
			want = append(want, MustAssign(t, s, "16003"+string(rune('5'+i%3)), v).ID)
		}
		answered := MustAssign(t, s, "160099", "v6")
		MustSetStatus(t, s, answered.ID, hotline.AssignmentAccepted, time.Time{}, 0)

		if got, err := s.ClaimExpired(ctx, asgNow.Add(59*time.Minute), time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("claimed before RespondBy: %v, %v", asgIDs(got), err)
		}
		at := asgNow.Add(time.Hour)
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				got, err := s.ClaimExpired(ctx, at, time.Minute, 2)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				for _, a := range got {
					seen[a.ID]++
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		got, err := s.ClaimExpired(ctx, at, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got {
			seen[a.ID]++
		}
		if len(seen) != len(want) {
			t.Fatalf("claimed %v, want each of %v", seen, want)
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("%s claimed %d times", id, n)
			}
		}
		// Within the lease nobody gets them; after it, the unhandled come back.
		MustSetStatus(t, s, want[0], hotline.AssignmentExpired, time.Time{}, 0)
		if got, _ := s.ClaimExpired(ctx, at.Add(30*time.Second), time.Minute, 10); len(got) != 0 {
			t.Fatalf("claimed within the lease: %v", asgIDs(got))
		}
		got, _ = s.ClaimExpired(ctx, at.Add(2*time.Minute), time.Minute, 10)
		if len(got) != len(want)-1 {
			t.Fatalf("after the lease: %v, want all but %s", asgIDs(got), want[0])
		}
		_, err = s.ClaimExpired(ctx, at, 0, 1)
		AssertCode(t, err, hotline.EINVALID)
	})
}
