package projects_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
)

// A meals project bought from org-elderly for 2026, evaluated on 1 July:
// ten of its tickets, and tickets that are not its own around them.
func TestEvaluate(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	now := time.Date(2026, 7, 1, 0, 0, 0, 0, shanghai)
	e := MustEnv(t, now)
	ctx := context.Background()

	p := draft("elderly_meals", 10, "c01", "c02")
	p.Status = hotline.ProjectPurchased
	p.Purchase = &hotline.Purchase{Organization: "org-elderly", Budget: 10000, Start: start, End: start.AddDate(1, 0, 0),
		TargetPersonTimes: 20, Expenses: []hotline.Expense{{Amount: 1000}, {Amount: 2000}}}
	MustProject(t, e, p)

	at := start.AddDate(0, 1, 0)
	mine := func(committee string, st hotline.Status, overdue, redo bool, rating int) {
		MustTicket(t, e, &hotline.Ticket{ServiceCode: "elderly_meals", Location: hotline.Location{Committee: committee},
			UnitID: "org-elderly", Status: st, OverdueNoted: overdue, Redo: redo, Satisfaction: rating, CreatedAt: at})
		at = at.Add(24 * time.Hour)
	}
	// 8 done (one of them late, one redone), 2 still open (one late);
	// ratings 5, 5, 4, 2: a mean of 4.
	mine("c01", hotline.StatusResolved, false, false, 5)
	mine("c01", hotline.StatusClosed, false, false, 5)
	mine("c02", hotline.StatusClosed, false, true, 4)
	mine("c02", hotline.StatusResolved, false, false, 2)
	mine("c01", hotline.StatusResolved, false, false, 0)
	mine("c01", hotline.StatusResolved, false, false, 0)
	mine("c01", hotline.StatusClosed, false, false, 0)
	mine("c01", hotline.StatusResolved, true, false, 0)
	mine("c02", hotline.StatusInProgress, true, false, 0)
	mine("c02", hotline.StatusAccepted, false, false, 0)
	// Not its own: another category, another committee, another holder,
	// before the period, a merged duplicate.
	for _, tk := range []*hotline.Ticket{
		{ServiceCode: "elderly_visit", Location: hotline.Location{Committee: "c01"}, UnitID: "org-elderly", CreatedAt: at},
		{ServiceCode: "elderly_meals", Location: hotline.Location{Committee: "c03"}, UnitID: "org-elderly", CreatedAt: at},
		{ServiceCode: "elderly_meals", Location: hotline.Location{Committee: "c01"}, UnitID: "c01-meals", CreatedAt: at},
		{ServiceCode: "elderly_meals", Location: hotline.Location{Committee: "c01"}, UnitID: "org-elderly", CreatedAt: start.Add(-time.Hour)},
		{ServiceCode: "elderly_meals", Location: hotline.Location{Committee: "c01"}, UnitID: "org-elderly", CreatedAt: at, MergedInto: "100016"},
	} {
		tk.Status = hotline.StatusResolved
		MustTicket(t, e, tk)
	}

	ev, err := e.svc.Evaluate(ctx, orgStaff, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := 181.0 / 365 // January to June of a common year
	execution := 100 * (8.0 / 20) / elapsed
	quality := 100 * (0.6*4/5 + 0.4*(1-1.0/10))
	finance := 100.0            // 30% spent against 40% progress
	management := 100 * 7.0 / 9 // 7 done in time; 2 late, one done, one open
	overall := (execution + quality + finance + management) / 4
	// 181 days are one whole quarter (0.25) and some: the tranche follows
	// the quarter, which is less than the progress (0.4).
	tranche := overall / 100 * math.Min(0.4, math.Floor(elapsed*4)/4)

	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"tickets", float64(ev.Tickets), 10},
		{"person-times", float64(ev.PersonTimes), 8},
		{"progress", ev.Progress, 0.4},
		{"time elapsed", ev.TimeElapsed, elapsed},
		{"execution", ev.ExecutionScore, round1(execution)},
		{"satisfaction", ev.Satisfaction, 4},
		{"rated", float64(ev.Rated), 4},
		{"redo", float64(ev.Redo), 1},
		{"quality", ev.QualityScore, round1(quality)},
		{"spent", ev.Spent, 3000},
		{"spent share", ev.SpentShare, 0.3},
		{"finance", ev.FinanceScore, finance},
		{"on time", float64(ev.OnTime), 7},
		{"late", float64(ev.Late), 2},
		{"management", ev.ManagementScore, round1(management)},
		{"overall", ev.Overall, round1(overall)},
		{"tranche share", ev.TrancheShare, math.Round(tranche*10000) / 10000},
		{"tranche amount", ev.TrancheAmount, math.Round(tranche*10000*100) / 100},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(ev.Notes) != 10 || !strings.Contains(ev.Notes[0], "执行进度") || !strings.HasPrefix(ev.Notes[1], "Execution") ||
		!strings.Contains(ev.Notes[9], "overall/100 × min(progress 40%, whole quarters elapsed 25%)") {
		t.Errorf("notes:\n%s", strings.Join(ev.Notes, "\n"))
	}
	for _, n := range ev.Notes {
		if strings.Contains(n, "%!") {
			t.Errorf("a note is badly formatted: %s", n)
		}
	}
	// Reading the organization's tickets (its unit index) or the whole
	// street's gives the same figures.
	whole := *e.svc
	whole.Needs = struct{ hotline.NeedSource }{e.tickets}
	if ev2, err := whole.Evaluate(ctx, admin, p.ID); err != nil || mustJSON(t, ev2) != mustJSON(t, ev) {
		t.Errorf("over every ticket: %v\n%s\nover the organization's:\n%s", err, mustJSON(t, ev2), mustJSON(t, ev))
	}

	// Spending ahead of the work costs finance points: 2 per point beyond
	// progress + 10 (40% + 10% = 50%).
	for _, sc := range []struct {
		add  float64
		want float64
	}{
		{2000, 100}, // 50% spent: at the limit
		{3000, 40},  // 80%: 30 points beyond
		{3000, 0},   // 110%: over the budget, 60 points beyond
	} {
		if _, err := e.svc.AddExpense(ctx, admin, p.ID, hotline.Expense{Amount: sc.add}); err != nil {
			t.Fatal(err)
		}
		ev, err := e.svc.Evaluate(ctx, admin, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if ev.FinanceScore != sc.want {
			t.Errorf("spent %.0f%%: finance %v, want %v", 100*ev.SpentShare, ev.FinanceScore, sc.want)
		}
	}

	_, err = e.svc.Evaluate(ctx, c05Staff, p.ID)
	AssertCode(t, err, hotline.ENOTFOUND)
	_, err = e.svc.Evaluate(ctx, volunteer, p.ID)
	AssertCode(t, err, hotline.EFORBIDDEN)
	d := MustProject(t, e, draft("elderly_meals", 3, "c01"))
	_, err = e.svc.Evaluate(ctx, admin, d.ID)
	AssertCode(t, err, hotline.ECONFLICT)
}

// Before its first ticket a project scores nothing and supports no
// payment, and the notes say why.
func TestEvaluateBeforeAnyWork(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	e := MustEnv(t, start.Add(-24*time.Hour))
	p := draft("elderly_meals", 3, "c01")
	p.Status = hotline.ProjectPurchased
	p.Purchase = &hotline.Purchase{Organization: "org-elderly", Budget: 5000, Start: start, End: start.AddDate(1, 0, 0), TargetPersonTimes: 100}
	MustProject(t, e, p)
	ev, err := e.svc.Evaluate(context.Background(), social, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ev.TimeElapsed != 0 || ev.Tickets != 0 || ev.QualityScore != 0 || ev.ManagementScore != 0 || ev.FinanceScore != 100 ||
		ev.TrancheShare != 0 || ev.TrancheAmount != 0 {
		t.Fatalf("evaluation before the start: %+v", ev)
	}
	if !strings.Contains(strings.Join(ev.Notes, "\n"), "nothing to judge") {
		t.Errorf("notes do not say there is nothing to judge:\n%s", strings.Join(ev.Notes, "\n"))
	}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
