package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// MustCreateProject stores p and fails the test on error.
func MustCreateProject(tb testing.TB, s *redisstore.ProjectStore, p *hotline.Project) *hotline.Project {
	tb.Helper()
	if err := s.CreateProject(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p
}

func draftOf(code string, year int, tickets ...string) *hotline.Project {
	return &hotline.Project{
		Status: hotline.ProjectDraft, Year: year, ServiceCode: code,
		TitleZH: code + "项目", TitleEN: code + " project", Population: "elderly", OrgKind: "elderly_care",
		Committees: []string{"c01"}, PersonTimes: 100, CostPerPersonTime: 16.5, Budget: 1650,
		Evidence: hotline.Evidence{Tickets: len(tickets), TicketIDs: tickets,
			Months: []hotline.MonthCount{{Month: "2026-01", Count: len(tickets)}}},
	}
}

func TestProjectCreateFindAndList(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewProjectStore(b.db)
		a := MustCreateProject(t, s, draftOf("elderly_meals", 2027, "100016", "100024"))
		if a.ID != "P000001" || a.Version != 1 || a.CreatedAt.IsZero() {
			t.Fatalf("created %+v: want P000001, version 1, a creation time", a)
		}
		time.Sleep(2 * time.Millisecond) // distinct creation ms: the listing is newest first
		bp := draftOf("facilities", 2026)
		bp.Status = hotline.ProjectProposal
		MustCreateProject(t, s, bp)

		got, err := s.FindProject(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.TitleZH != a.TitleZH || len(got.Evidence.TicketIDs) != 2 || got.Budget != 1650 {
			t.Fatalf("found %+v", got)
		}
		_, err = s.FindProject(ctx, "P999999")
		AssertCode(t, err, hotline.ENOTFOUND)

		for _, sc := range []struct {
			name string
			f    hotline.ProjectFilter
			want []string
		}{
			{"all, newest first", hotline.ProjectFilter{}, []string{bp.ID, a.ID}},
			{"drafts", hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft}}, []string{a.ID}},
			{"year", hotline.ProjectFilter{Year: 2026}, []string{bp.ID}},
			{"status and year", hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft}, Year: 2026}, nil},
			{"two statuses", hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft, hotline.ProjectProposal}}, []string{bp.ID, a.ID}},
		} {
			list, err := s.FindProjects(ctx, sc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, p := range list {
				ids = append(ids, p.ID)
			}
			if fmt.Sprint(ids) != fmt.Sprint(sc.want) {
				t.Errorf("%s: got %v, want %v", sc.name, ids, sc.want)
			}
		}

		err = s.CreateProject(ctx, &hotline.Project{Status: "pending"})
		AssertCode(t, err, hotline.EINVALID)
	})
}

func TestProjectUpdateMovesIndexesAndChecksVersions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewProjectStore(b.db)
		p := MustCreateProject(t, s, draftOf("elderly_meals", 2027))
		created := p.CreatedAt

		got, err := s.UpdateProject(ctx, p.ID, func(p *hotline.Project) error {
			p.Status = hotline.ProjectProposal
			p.Year = 2028
			p.CreatedAt = time.Time{} // the store keeps it whatever change does
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 2 || got.Status != hotline.ProjectProposal || !got.CreatedAt.Equal(created) {
			t.Fatalf("updated %+v", got)
		}
		drafts, _ := s.FindProjects(ctx, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft}})
		props, _ := s.FindProjects(ctx, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectProposal}, Year: 2028})
		if len(drafts) != 0 || len(props) != 1 {
			t.Fatalf("after the update: %d drafts, %d proposals of 2028; want 0 and 1", len(drafts), len(props))
		}

		refused := errors.New("no")
		_, err = s.UpdateProject(ctx, p.ID, func(*hotline.Project) error { return refused })
		if !errors.Is(err, refused) {
			t.Fatalf("change error = %v, want it returned as is", err)
		}
		_, err = s.UpdateProject(ctx, "P404", func(*hotline.Project) error { return nil })
		AssertCode(t, err, hotline.ENOTFOUND)

		// Twenty concurrent increments: every one lands exactly once.
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.UpdateProject(ctx, p.ID, func(p *hotline.Project) error {
					p.TargetPersonTimes++
					return nil
				})
				if err != nil && hotline.ErrorCode(err) != hotline.ECONFLICT {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		final, _ := s.FindProject(ctx, p.ID)
		if int64(final.TargetPersonTimes)+2 != final.Version {
			t.Fatalf("%d increments stored at version %d: lost updates", final.TargetPersonTimes, final.Version)
		}
	})
}

// The job's drafts never overwrite what people made of them, keep their
// creation time, and an unchanged draft is not written again.
func TestSaveDraft(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewProjectStore(b.db)

		d := draftOf("elderly_meals", 2027, "100016")
		d.CreatedAt = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC) // ignored: a new draft is created now
		ok, err := s.SaveDraft(ctx, d)
		if err != nil || !ok || d.ID == "" || d.Version != 1 || d.CreatedAt.Year() == 2020 {
			t.Fatalf("new draft: ok %v err %v, %+v", ok, err, d)
		}
		created := d.CreatedAt

		same := *d
		same.GeneratedAt = time.Now() // a later run, same evidence
		ok, err = s.SaveDraft(ctx, &same)
		if err != nil || !ok {
			t.Fatalf("unchanged draft: ok %v err %v", ok, err)
		}
		if got, _ := s.FindProject(ctx, d.ID); got.Version != 1 {
			t.Fatalf("unchanged draft written again: version %d", got.Version)
		}

		grown := *d
		grown.Evidence.Tickets, grown.Evidence.TicketIDs = 2, []string{"100016", "100024"}
		grown.CreatedAt = time.Time{}
		ok, err = s.SaveDraft(ctx, &grown)
		if err != nil || !ok {
			t.Fatalf("grown draft: ok %v err %v", ok, err)
		}
		got, _ := s.FindProject(ctx, d.ID)
		if got.Version != 2 || got.Evidence.Tickets != 2 || !got.CreatedAt.Equal(created) {
			t.Fatalf("grown draft stored as %+v", got)
		}

		// A social worker makes it a proposal: the job's next draft is refused.
		if _, err := s.UpdateProject(ctx, d.ID, func(p *hotline.Project) error {
			p.Status, p.TitleZH = hotline.ProjectProposal, "社工改过的标题"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		again := grown
		again.Evidence.Tickets = 3
		ok, err = s.SaveDraft(ctx, &again)
		if err != nil || ok {
			t.Fatalf("draft over a proposal: ok %v err %v, want refused", ok, err)
		}
		got, _ = s.FindProject(ctx, d.ID)
		if got.Status != hotline.ProjectProposal || got.TitleZH != "社工改过的标题" || got.Evidence.Tickets != 2 {
			t.Fatalf("the proposal changed: %+v", got)
		}

		// A retired draft is revived.
		r := MustCreateProject(t, s, draftOf("facilities", 2027))
		if _, err := s.UpdateProject(ctx, r.ID, func(p *hotline.Project) error { p.Status = hotline.ProjectRetired; return nil }); err != nil {
			t.Fatal(err)
		}
		revived := *r
		revived.Status = hotline.ProjectRetired // the job's value does not matter: a saved draft is a draft
		ok, err = s.SaveDraft(ctx, &revived)
		got, _ = s.FindProject(ctx, r.ID)
		if err != nil || !ok || got.Status != hotline.ProjectDraft {
			t.Fatalf("revive: ok %v err %v status %s", ok, err, got.Status)
		}
		retired, _ := s.FindProjects(ctx, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectRetired}})
		if len(retired) != 0 {
			t.Fatalf("the revived draft is still listed as retired")
		}

		ghost := draftOf("facilities", 2027)
		ghost.ID = "P424242"
		if ok, err := s.SaveDraft(ctx, ghost); ok || err != nil {
			t.Fatalf("draft of an unknown id: ok %v err %v, want not written", ok, err)
		}
	})
}

// Drafts written while someone turns the same draft into a proposal: the
// script's status check decides, so the proposal always survives.
func TestSaveDraftRacesAProposal(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewProjectStore(b.db)
		for round := range 10 {
			d := MustCreateProject(t, s, draftOf("elderly_meals", 2027))
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				next := *d
				next.Evidence.Tickets = 99
				if _, err := s.SaveDraft(ctx, &next); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := s.UpdateProject(ctx, d.ID, func(p *hotline.Project) error {
					p.Status, p.Objectives = hotline.ProjectProposal, "社工的目标"
					return nil
				}); err != nil {
					t.Error(err)
				}
			}()
			wg.Wait()
			got, _ := s.FindProject(ctx, d.ID)
			if got.Status != hotline.ProjectProposal || got.Objectives != "社工的目标" {
				t.Fatalf("round %d: %+v, want the proposal kept", round, got)
			}
		}
	})
}

func TestGroupingRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewProjectStore(b.db)
		_, err := s.LastRun(ctx)
		AssertCode(t, err, hotline.ENOTFOUND)
		start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
		for i := range 105 {
			r := &hotline.GroupingRun{Started: start.Add(time.Duration(i) * 24 * time.Hour), Tickets: i, Trigger: "cron"}
			if err := s.SaveRun(ctx, r); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("G%06d", i+1); r.ID != want {
				t.Fatalf("run %d id %q, want %q", i, r.ID, want)
			}
		}
		last, err := s.LastRun(ctx)
		if err != nil || last.Tickets != 104 || last.ID != "G000105" || !last.Started.Equal(start.Add(104*24*time.Hour)) {
			t.Fatalf("last run %+v, %v", last, err)
		}
		all, err := s.Runs(ctx, 0)
		if err != nil || len(all) != 100 || all[99].Tickets != 5 {
			t.Fatalf("%d runs kept (oldest %+v), want the last 100", len(all), all[len(all)-1])
		}
	})
}
