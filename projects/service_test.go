package projects_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
)

// Who sees which projects: the street's planners all of them, committee
// staff those covering their committee (and street-wide ones), an
// organization's staff the project it won, volunteers none.
func TestWhoSeesWhichProjects(t *testing.T) {
	e := MustEnv(t, time.Now())
	ctx := context.Background()
	west := MustProject(t, e, draft("elderly_meals", 6, "c01"))
	east := MustProject(t, e, draft("facilities", 6, "c05", "c06"))
	street := MustProject(t, e, draft("policy", 3))
	bought := draft("elderly_visit", 4, "c02")
	bought.Status = hotline.ProjectPurchased
	bought.Purchase = &hotline.Purchase{Organization: "org-elderly", Budget: 1000, TargetPersonTimes: 10,
		Start: time.Now().AddDate(0, -1, 0), End: time.Now().AddDate(1, 0, 0)}
	MustProject(t, e, bought)

	for _, sc := range []struct {
		user *hotline.User
		want []string
	}{
		{admin, []string{west.ID, east.ID, street.ID, bought.ID}},
		{social, []string{west.ID, east.ID, street.ID, bought.ID}},
		{centerDesk, []string{west.ID, east.ID, street.ID, bought.ID}},
		{c01Staff, []string{west.ID, street.ID}},
		{c05Staff, []string{east.ID, street.ID}},
		{orgStaff, []string{bought.ID}},
	} {
		list, err := e.svc.List(ctx, sc.user, hotline.ProjectFilter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range list {
			got = append(got, p.ID)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(sc.want))
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s of %s sees %v, want %v", sc.user.Role, sc.user.UnitID, got, want)
		}
		for _, id := range []string{west.ID, east.ID, street.ID, bought.ID} {
			_, err := e.svc.Get(ctx, sc.user, id)
			if slices.Contains(want, id) && err != nil {
				t.Errorf("%s gets %s: %v", sc.user.ID, id, err)
			} else if !slices.Contains(want, id) && hotline.ErrorCode(err) != hotline.ENOTFOUND {
				t.Errorf("%s gets %s: %v, want not found", sc.user.ID, id, err)
			}
		}
	}

	_, err := e.svc.List(ctx, volunteer, hotline.ProjectFilter{})
	AssertCode(t, err, hotline.EFORBIDDEN)
	_, err = e.svc.Get(ctx, volunteer, west.ID)
	AssertCode(t, err, hotline.EFORBIDDEN)
	_, err = e.svc.LastRun(ctx, volunteer)
	AssertCode(t, err, hotline.EFORBIDDEN)
	_, err = e.svc.List(ctx, nil, hotline.ProjectFilter{})
	AssertCode(t, err, hotline.EUNAUTHORIZED)
	_, err = e.svc.LastRun(ctx, c01Staff)
	AssertCode(t, err, hotline.ENOTFOUND) // never ran
	_, err = e.svc.List(ctx, admin, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{"pending"}})
	AssertCode(t, err, hotline.EINVALID)

	// Seeing is not deciding.
	for _, u := range []*hotline.User{centerDesk, c01Staff, orgStaff, volunteer} {
		_, err := e.svc.Propose(ctx, u, west.ID, hotline.ProposalEdit{})
		AssertCode(t, err, hotline.EFORBIDDEN)
		_, err = e.svc.Reject(ctx, u, west.ID, "no")
		AssertCode(t, err, hotline.EFORBIDDEN)
		_, err = e.svc.Merge(ctx, u, west.ID, []string{east.ID})
		AssertCode(t, err, hotline.EFORBIDDEN)
		_, _, err = e.svc.Split(ctx, u, west.ID, west.Evidence.TicketIDs[:1])
		AssertCode(t, err, hotline.EFORBIDDEN)
		_, err = e.svc.Purchase(ctx, u, west.ID, hotline.Purchase{})
		AssertCode(t, err, hotline.EFORBIDDEN)
		_, err = e.svc.AddExpense(ctx, u, bought.ID, hotline.Expense{Amount: 1})
		AssertCode(t, err, hotline.EFORBIDDEN)
	}
}

// A social worker edits a draft into a proposal, the street buys it from
// an organization and records what it spends; a draft nobody wants is
// rejected with a reason.
func TestProposePurchaseAndSpend(t *testing.T) {
	e := MustEnv(t, time.Date(2026, 12, 1, 10, 0, 0, 0, shanghai))
	ctx := context.Background()
	d := MustProject(t, e, draft("elderly_meals", 12, "c01"))

	for _, sc := range []struct {
		name  string
		edit  hotline.ProposalEdit
		field string
	}{
		{"empty Chinese title", hotline.ProposalEdit{TitleZH: ptr("  ")}, "title_zh"},
		{"empty English title", hotline.ProposalEdit{TitleEN: ptr("")}, "title_en"},
		{"negative target", hotline.ProposalEdit{TargetPersonTimes: ptr(-1)}, "target_person_times"},
		{"negative budget", hotline.ProposalEdit{Budget: ptr(-0.5)}, "budget"},
		{"unknown population", hotline.ProposalEdit{Population: ptr("aliens")}, "population"},
		{"unknown organization kind", hotline.ProposalEdit{OrgKind: ptr("bank")}, "org_kind"},
	} {
		_, err := e.svc.Propose(ctx, social, d.ID, sc.edit)
		AssertCode(t, err, hotline.EINVALID)
		if _, ok := hotline.ErrorFields(err)[sc.field]; !ok {
			t.Errorf("%s: fields %v, want %s named", sc.name, hotline.ErrorFields(err), sc.field)
		}
	}
	_, err := e.svc.Propose(ctx, social, d.ID, hotline.ProposalEdit{Version: d.Version + 1})
	AssertCode(t, err, hotline.ECONFLICT)

	p, err := e.svc.Propose(ctx, social, d.ID, hotline.ProposalEdit{
		TitleZH: ptr(" 叶家宅路独居老人助餐项目 "), Objectives: ptr("每天中午为 30 位独居老人送餐"),
		Population: ptr("elderly_alone"), TargetPersonTimes: ptr(7000), Budget: ptr(115500.0),
		Organization: ptr("乐龄为老服务社"), Version: d.Version,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != hotline.ProjectProposal || p.TitleZH != "叶家宅路独居老人助餐项目" || p.TitleEN != d.TitleEN ||
		p.Population != "elderly_alone" || p.TargetPersonTimes != 7000 || p.Budget != 115500 || p.UpdatedBy != social.ID {
		t.Fatalf("proposal %+v", p)
	}
	// A proposal is edited again the same way.
	if p, err = e.svc.Propose(ctx, admin, d.ID, hotline.ProposalEdit{SummaryEN: ptr("Lunch delivered daily")}); err != nil || p.SummaryEN != "Lunch delivered daily" {
		t.Fatalf("second edit: %v %+v", err, p)
	}

	_, err = e.svc.AddExpense(ctx, social, d.ID, hotline.Expense{Amount: 10})
	AssertCode(t, err, hotline.ECONFLICT) // not bought yet

	start := time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)
	good := hotline.Purchase{Organization: "org-elderly", Budget: 110000, Start: start, End: start.AddDate(1, 0, 0), TargetPersonTimes: 7000}
	for _, sc := range []struct {
		name  string
		edit  func(p *hotline.Purchase)
		field string
	}{
		{"a committee is no organization", func(p *hotline.Purchase) { p.Organization = "c01" }, "organization"},
		{"a name is no unit", func(p *hotline.Purchase) { p.Organization = "乐龄为老服务社" }, "organization"},
		{"no budget", func(p *hotline.Purchase) { p.Budget = 0 }, "budget"},
		{"ends before it starts", func(p *hotline.Purchase) { p.End = p.Start.Add(-time.Hour) }, "end"},
		{"no start", func(p *hotline.Purchase) { p.Start = time.Time{} }, "start"},
		{"no target", func(p *hotline.Purchase) { p.TargetPersonTimes = 0 }, "target_person_times"},
	} {
		pur := good
		sc.edit(&pur)
		_, err := e.svc.Purchase(ctx, social, d.ID, pur)
		AssertCode(t, err, hotline.EINVALID)
		if _, ok := hotline.ErrorFields(err)[sc.field]; !ok {
			t.Errorf("%s: fields %v, want %s named", sc.name, hotline.ErrorFields(err), sc.field)
		}
	}
	other := MustProject(t, e, draft("facilities", 5, "c05"))
	_, err = e.svc.Purchase(ctx, admin, other.ID, good)
	AssertCode(t, err, hotline.ECONFLICT) // a draft is proposed before it is bought

	good.Expenses = []hotline.Expense{{Amount: 1e6}} // ignored
	p, err = e.svc.Purchase(ctx, admin, d.ID, good)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != hotline.ProjectPurchased || p.Purchase == nil || p.Purchase.Organization != "org-elderly" ||
		len(p.Purchase.Expenses) != 0 || p.Organization != "org-elderly" {
		t.Fatalf("purchased %+v (%+v)", p, p.Purchase)
	}
	_, err = e.svc.Propose(ctx, social, d.ID, hotline.ProposalEdit{TitleZH: ptr("改名")})
	AssertCode(t, err, hotline.ECONFLICT)

	_, err = e.svc.AddExpense(ctx, social, d.ID, hotline.Expense{Amount: 0})
	AssertCode(t, err, hotline.EINVALID)
	p, err = e.svc.AddExpense(ctx, social, d.ID, hotline.Expense{Amount: 2500.5, Note: " 一季度餐费 "})
	if err != nil {
		t.Fatal(err)
	}
	if x := p.Purchase.Expenses; len(x) != 1 || x[0].Amount != 2500.5 || x[0].By != social.ID || x[0].Note != "一季度餐费" || !x[0].At.Equal(e.now) {
		t.Fatalf("expenses %+v", x)
	}

	_, err = e.svc.Reject(ctx, social, other.ID, " ")
	AssertCode(t, err, hotline.EINVALID)
	r, err := e.svc.Reject(ctx, social, other.ID, "物业维修范围，不属购买服务")
	if err != nil || r.Status != hotline.ProjectRejected || r.RejectReason != "物业维修范围，不属购买服务" {
		t.Fatalf("reject: %v %+v", err, r)
	}
	_, err = e.svc.Reject(ctx, social, other.ID, "again")
	AssertCode(t, err, hotline.ECONFLICT)
	_, err = e.svc.Reject(ctx, social, "P404", "no such")
	AssertCode(t, err, hotline.ENOTFOUND)
}

// Two drafts that are one need become one proposal; a retry after a merge
// cut short adds nothing twice.
func TestMerge(t *testing.T) {
	e := MustEnv(t, time.Now())
	ctx := context.Background()
	a := draft("elderly_meals", 6, "c01")
	a.Evidence.Residents, a.Evidence.Rated, a.Evidence.Satisfaction, a.Evidence.EscalatedShare = 5, 2, 4, 0.5
	a.Evidence.Months = []hotline.MonthCount{{Month: "2026-01", Count: 4}, {Month: "2026-02", Count: 2}}
	a.Evidence.Examples = []string{"老人独居需要送餐"}
	MustProject(t, e, a)
	b := draft("elderly_meals", 4, "c05")
	for i := range b.Evidence.TicketIDs {
		b.Evidence.TicketIDs[i] = fmt.Sprintf("b-%02d", i)
	}
	b.Evidence.TicketIDs[0] = a.Evidence.TicketIDs[0] // one ticket in both
	b.Evidence.Residents, b.Evidence.Rated, b.Evidence.Satisfaction = 4, 2, 2
	b.Evidence.Months = []hotline.MonthCount{{Month: "2026-02", Count: 1}, {Month: "2026-03", Count: 3}}
	b.Evidence.Examples = []string{"希望上门送饭"}
	b.Status = hotline.ProjectProposal
	MustProject(t, e, b)
	rejected := MustProject(t, e, draft("elderly_meals", 3, "c02"))
	if _, err := e.svc.Reject(ctx, social, rejected.ID, "重复"); err != nil {
		t.Fatal(err)
	}

	_, err := e.svc.Merge(ctx, social, a.ID, []string{b.ID, rejected.ID})
	AssertCode(t, err, hotline.ECONFLICT)
	if got, _ := e.projects.FindProject(ctx, b.ID); got.Status != hotline.ProjectProposal {
		t.Fatalf("a refused merge changed %s: %s", b.ID, got.Status)
	}
	_, err = e.svc.Merge(ctx, social, a.ID, []string{a.ID})
	AssertCode(t, err, hotline.EINVALID)
	_, err = e.svc.Merge(ctx, social, a.ID, nil)
	AssertCode(t, err, hotline.EINVALID)
	_, err = e.svc.Merge(ctx, social, a.ID, []string{"P404"})
	AssertCode(t, err, hotline.ENOTFOUND)

	m, err := e.svc.Merge(ctx, social, a.ID, []string{b.ID})
	if err != nil {
		t.Fatal(err)
	}
	check := func(m *hotline.Project) {
		t.Helper()
		ev := m.Evidence
		if m.Status != hotline.ProjectProposal || fmt.Sprint(m.MergedFrom) != fmt.Sprint([]string{b.ID}) {
			t.Fatalf("merged project %s, merged from %v", m.Status, m.MergedFrom)
		}
		if ev.Tickets != 9 || len(ev.TicketIDs) != 9 || ev.Residents != 9 || ev.Rated != 4 || ev.Satisfaction != 3 || ev.EscalatedShare != 0.3 {
			t.Errorf("evidence: %d tickets (%d ids), %d residents, %d rated at %.2f, escalated %.2f; want 9, 9, 9, 4 at 3, 0.3",
				ev.Tickets, len(ev.TicketIDs), ev.Residents, ev.Rated, ev.Satisfaction, ev.EscalatedShare)
		}
		if got := fmt.Sprint(ev.Months); got != "[{2026-01 4} {2026-02 3} {2026-03 3}]" {
			t.Errorf("months %s", got)
		}
		if got := fmt.Sprint(m.Committees); got != "[c01 c05]" {
			t.Errorf("committees %s", got)
		}
		if m.PersonTimes != 100 || m.Budget != 1650 || len(ev.Examples) != 2 {
			t.Errorf("person-times %d, budget %.1f, examples %v", m.PersonTimes, m.Budget, ev.Examples)
		}
	}
	check(m)
	got, _ := e.projects.FindProject(ctx, b.ID)
	if got.Status != hotline.ProjectMerged || got.MergedInto != a.ID {
		t.Fatalf("merged source %s into %q", got.Status, got.MergedInto)
	}
	m, err = e.svc.Merge(ctx, social, a.ID, []string{b.ID})
	if err != nil {
		t.Fatalf("retried merge: %v", err)
	}
	check(m)
}

// A draft's tickets turn out to be two needs: some move to a new draft,
// and both evidences are counted again from the tickets.
func TestSplit(t *testing.T) {
	end := time.Date(2026, 7, 1, 0, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	ctx := context.Background()
	var ids []string
	for i := range 6 {
		committee, phone := "c01", fmt.Sprintf("+8613800000%03d", i%3) // three residents
		if i >= 4 {
			committee = "c02"
		}
		tk := MustTicket(t, e, &hotline.Ticket{ServiceCode: "elderly_meals",
			Description: fmt.Sprintf("王阿姨独居需要送餐，电话13912345678，长寿路%d号", 100+i),
			Location:    hotline.Location{Committee: committee}, Contact: hotline.Contact{Phone: phone},
			Status: hotline.StatusResolved, Satisfaction: 5 - i%2, Escalations: i % 2,
			CreatedAt: end.AddDate(0, -6+i, 3)})
		ids = append(ids, tk.ID)
	}
	d := draft("elderly_meals", 6, "c01", "c02")
	d.Evidence.TicketIDs = slices.Sorted(slices.Values(ids))
	d.Evidence.Keywords = []string{"送餐", "理发"}
	d.Evidence.Examples = []string{"a", "b"}
	for m := range 6 {
		d.Evidence.Months = append(d.Evidence.Months, hotline.MonthCount{Month: end.AddDate(0, -6+m, 0).Format("2006-01"), Count: 1})
	}
	d.PersonTimes, d.Budget = 60, 990
	MustProject(t, e, d)

	move := ids[4:] // the two of c02
	_, _, err := e.svc.Split(ctx, social, d.ID, nil)
	AssertCode(t, err, hotline.EINVALID)
	_, _, err = e.svc.Split(ctx, social, d.ID, ids)
	AssertCode(t, err, hotline.EINVALID)
	_, _, err = e.svc.Split(ctx, social, d.ID, []string{ids[0], "999999"})
	AssertCode(t, err, hotline.EINVALID)

	for _, name := range []string{"by id", "by scanning the window"} {
		t.Run(name, func(t *testing.T) {
			svc := *e.svc
			if name != "by id" {
				svc.Records = nil
			}
			p := MustProject(t, e, func() *hotline.Project { c := *d; c.ID = ""; return &c }())
			kept, split, err := svc.Split(ctx, social, p.ID, move)
			if err != nil {
				t.Fatal(err)
			}
			if kept.Evidence.Tickets != 4 || split.Evidence.Tickets != 2 || split.SplitFrom != p.ID || split.Status != hotline.ProjectDraft {
				t.Fatalf("kept %d tickets, split %d (from %q, %s)", kept.Evidence.Tickets, split.Evidence.Tickets, split.SplitFrom, split.Status)
			}
			if fmt.Sprint(split.Evidence.TicketIDs) != fmt.Sprint(slices.Sorted(slices.Values(move))) {
				t.Errorf("split tickets %v, want %v", split.Evidence.TicketIDs, move)
			}
			if kept.Evidence.Residents != 3 || split.Evidence.Residents != 2 {
				t.Errorf("residents %d and %d, want 3 and 2", kept.Evidence.Residents, split.Evidence.Residents)
			}
			if fmt.Sprint(kept.Committees) != "[c01]" || fmt.Sprint(split.Committees) != "[c02]" {
				t.Errorf("committees %v and %v", kept.Committees, split.Committees)
			}
			if got := fmt.Sprint(split.Evidence.Months); got != "[{2026-01 0} {2026-02 0} {2026-03 0} {2026-04 0} {2026-05 1} {2026-06 1}]" {
				t.Errorf("split months %s", got)
			}
			if kept.PersonTimes+split.PersonTimes != 60 || split.PersonTimes != 20 || kept.Budget+split.Budget != 990 {
				t.Errorf("person-times %d + %d, budget %.2f + %.2f", kept.PersonTimes, split.PersonTimes, kept.Budget, split.Budget)
			}
			if split.Evidence.Satisfaction != 4.5 || split.Evidence.Rated != 2 || split.Evidence.EscalatedShare != 0.5 {
				t.Errorf("split ratings %.2f of %d, escalated %.2f", split.Evidence.Satisfaction, split.Evidence.Rated, split.Evidence.EscalatedShare)
			}
			if fmt.Sprint(split.Evidence.Keywords) != "[送餐]" {
				t.Errorf("keywords %v", split.Evidence.Keywords)
			}
			// The two descriptions differ only in what anonymising takes
			// out: they make one example.
			if len(split.Evidence.Examples) != 1 {
				t.Fatalf("examples %v, want one", split.Evidence.Examples)
			}
			for _, x := range split.Evidence.Examples {
				if strings.Contains(x, "13912345678") || strings.Contains(x, "王阿姨") || strings.Contains(x, "104号") {
					t.Errorf("an example gives a resident away: %q", x)
				}
			}
			stored, _ := e.projects.FindProject(ctx, p.ID)
			if stored.Evidence.Tickets != 4 {
				t.Errorf("stored kept project has %d tickets", stored.Evidence.Tickets)
			}
		})
	}
}
