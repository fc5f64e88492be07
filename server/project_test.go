package server_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/report"
	"github.com/caojiadu/hotline/server"
)

// fakeProjects is an in-memory projects service with just enough rules to
// show that the handlers pass every decision to it and translate its
// errors: social workers and admins change projects, other staff read
// them; each change fits one status.
type fakeProjects struct {
	mu       sync.Mutex
	projects map[string]*hotline.Project
	run      *hotline.GroupingRun
	next     int
	edit     hotline.ProposalEdit // the last Propose's
	purchase hotline.Purchase     // the last Purchase's
	expense  hotline.Expense      // the last AddExpense's
}

var _ server.Projects = (*fakeProjects)(nil)

func newFakeProjects() *fakeProjects {
	return &fakeProjects{projects: map[string]*hotline.Project{}, next: 1}
}

// add stores p with the next id and answers it.
func (f *fakeProjects) add(p *hotline.Project) *hotline.Project {
	f.mu.Lock()
	defer f.mu.Unlock()
	p.ID = fmt.Sprintf("P%d", f.next)
	f.next++
	p.Version = 1
	f.projects[p.ID] = p
	return p
}

func copyProject(p *hotline.Project) *hotline.Project {
	c := *p
	if p.Purchase != nil {
		pu := *p.Purchase
		pu.Expenses = slices.Clone(pu.Expenses)
		c.Purchase = &pu
	}
	return &c
}

func (f *fakeProjects) List(_ context.Context, u *hotline.User, flt hotline.ProjectFilter) ([]*hotline.Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*hotline.Project
	for _, p := range f.projects {
		if len(flt.Statuses) > 0 && !slices.Contains(flt.Statuses, p.Status) {
			continue
		}
		if flt.Year != 0 && p.Year != flt.Year {
			continue
		}
		out = append(out, copyProject(p))
	}
	slices.SortFunc(out, func(a, b *hotline.Project) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (f *fakeProjects) Get(_ context.Context, u *hotline.User, id string) (*hotline.Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.projects[id]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such project")
	}
	return copyProject(p), nil
}

func (f *fakeProjects) LastRun(_ context.Context, u *hotline.User) (*hotline.GroupingRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.run == nil {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "the grouping job has not run yet")
	}
	r := *f.run
	return &r, nil
}

// change applies fn to project id for a social worker or an admin, when
// the project is in one of the statuses from.
func (f *fakeProjects) change(u *hotline.User, id string, from []hotline.ProjectStatus, fn func(p *hotline.Project) error) (*hotline.Project, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Role != hotline.RoleSocialWorker && u.Role != hotline.RoleAdmin {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only social workers change projects")
	}
	p, ok := f.projects[id]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such project")
	}
	if !slices.Contains(from, p.Status) {
		return nil, hotline.Errorf(hotline.ECONFLICT, "the project is %s", p.Status)
	}
	if err := fn(p); err != nil {
		return nil, err
	}
	p.Version++
	p.UpdatedBy = u.ID
	return copyProject(p), nil
}

func (f *fakeProjects) Propose(_ context.Context, u *hotline.User, id string, e hotline.ProposalEdit) (*hotline.Project, error) {
	return f.change(u, id, []hotline.ProjectStatus{hotline.ProjectDraft, hotline.ProjectProposal}, func(p *hotline.Project) error {
		if e.Version != 0 && e.Version != p.Version {
			return hotline.Errorf(hotline.ECONFLICT, "someone changed the project meanwhile; reload it")
		}
		f.edit = e
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = *v
			}
		}
		set(&p.TitleZH, e.TitleZH)
		set(&p.TitleEN, e.TitleEN)
		set(&p.SummaryZH, e.SummaryZH)
		set(&p.Objectives, e.Objectives)
		set(&p.Population, e.Population)
		set(&p.Organization, e.Organization)
		set(&p.OrgKind, e.OrgKind)
		if e.Budget != nil {
			p.Budget = *e.Budget
		}
		if e.TargetPersonTimes != nil {
			p.TargetPersonTimes = *e.TargetPersonTimes
		}
		if p.TargetPersonTimes == 0 {
			fe := hotline.FieldErrors{}
			fe.Add("target_person_times", "a proposal needs a target")
			return fe.Err()
		}
		p.Status = hotline.ProjectProposal
		return nil
	})
}

func (f *fakeProjects) Reject(_ context.Context, u *hotline.User, id, reason string) (*hotline.Project, error) {
	return f.change(u, id, []hotline.ProjectStatus{hotline.ProjectDraft}, func(p *hotline.Project) error {
		p.Status, p.RejectReason = hotline.ProjectRejected, reason
		return nil
	})
}

func (f *fakeProjects) Merge(ctx context.Context, u *hotline.User, into string, ids []string) (*hotline.Project, error) {
	return f.change(u, into, []hotline.ProjectStatus{hotline.ProjectDraft, hotline.ProjectProposal}, func(p *hotline.Project) error {
		for _, id := range ids {
			o, ok := f.projects[id]
			if !ok {
				return hotline.Errorf(hotline.ENOTFOUND, "no project %s", id)
			}
			if o.Status != hotline.ProjectDraft {
				return hotline.Errorf(hotline.ECONFLICT, "%s is %s, not a draft", id, o.Status)
			}
		}
		for _, id := range ids {
			o := f.projects[id]
			o.Status, o.MergedInto = hotline.ProjectMerged, into
			p.Evidence.Tickets += o.Evidence.Tickets
			p.Evidence.TicketIDs = append(p.Evidence.TicketIDs, o.Evidence.TicketIDs...)
			p.MergedFrom = append(p.MergedFrom, id)
		}
		return nil
	})
}

func (f *fakeProjects) Split(_ context.Context, u *hotline.User, id string, ticketIDs []string) (*hotline.Project, *hotline.Project, error) {
	var split *hotline.Project
	kept, err := f.change(u, id, []hotline.ProjectStatus{hotline.ProjectDraft}, func(p *hotline.Project) error {
		var keep []string
		for _, t := range p.Evidence.TicketIDs {
			if !slices.Contains(ticketIDs, t) {
				keep = append(keep, t)
			}
		}
		if len(p.Evidence.TicketIDs)-len(keep) != len(ticketIDs) {
			fe := hotline.FieldErrors{}
			fe.Add("ticket_ids", "choose tickets of this draft")
			return fe.Err()
		}
		if len(keep) == 0 {
			return hotline.Errorf(hotline.ECONFLICT, "leave at least one ticket in the draft")
		}
		p.Evidence.TicketIDs, p.Evidence.Tickets = keep, len(keep)
		split = &hotline.Project{ID: fmt.Sprintf("P%d", f.next), Status: hotline.ProjectDraft, Year: p.Year,
			TitleZH: p.TitleZH + "（拆分）", SplitFrom: p.ID, Version: 1,
			Evidence: hotline.Evidence{Tickets: len(ticketIDs), TicketIDs: ticketIDs}}
		f.next++
		f.projects[split.ID] = split
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return kept, copyProject(split), nil
}

func (f *fakeProjects) Purchase(_ context.Context, u *hotline.User, id string, pu hotline.Purchase) (*hotline.Project, error) {
	return f.change(u, id, []hotline.ProjectStatus{hotline.ProjectProposal}, func(p *hotline.Project) error {
		f.purchase = pu
		c := pu
		p.Status, p.Purchase = hotline.ProjectPurchased, &c
		return nil
	})
}

func (f *fakeProjects) AddExpense(_ context.Context, u *hotline.User, id string, e hotline.Expense) (*hotline.Project, error) {
	return f.change(u, id, []hotline.ProjectStatus{hotline.ProjectPurchased}, func(p *hotline.Project) error {
		f.expense = e
		p.Purchase.Expenses = append(p.Purchase.Expenses, e)
		return nil
	})
}

func (f *fakeProjects) Evaluate(ctx context.Context, u *hotline.User, id string) (*hotline.Evaluation, error) {
	p, err := f.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	if p.Status != hotline.ProjectPurchased {
		return nil, hotline.Errorf(hotline.ECONFLICT, "only a purchased project is evaluated")
	}
	return &hotline.Evaluation{ProjectID: id, PersonTimes: 120, TargetPersonTimes: p.Purchase.TargetPersonTimes,
		ExecutionScore: 80, QualityScore: 90, FinanceScore: 70, ManagementScore: 100, Overall: 85,
		TrancheShare: 0.3, TrancheAmount: p.Purchase.Budget * 0.3, Notes: []string{"进度正常 On schedule"}}, nil
}

// projectFixture is a street with the fake projects service holding two
// drafts for 2027 and a rejected one, and a social worker, committee
// staff and a volunteer signed in.
type projectFixture struct {
	*TestServer
	Projects               *fakeProjects
	Lights, Visits, Old    *hotline.Project
	Social, C01, Volunteer *Session
}

func mustProjectFixture(t *testing.T) *projectFixture {
	t.Helper()
	ps := newFakeProjects()
	ts := MustOpenServer(t, func(s *server.Server) { s.Projects = ps })
	f := &projectFixture{TestServer: ts, Projects: ps}
	f.Lights = ps.add(&hotline.Project{Status: hotline.ProjectDraft, Year: 2027, TitleZH: "楼道照明", TitleEN: "Stairwell lights",
		ServiceCode: "facilities", Committees: []string{"c07"}, Trend: hotline.TrendNew, PersonTimes: 40, CostPerPersonTime: 50, Budget: 2000,
		Evidence: hotline.Evidence{Tickets: 3, Residents: 3, TicketIDs: []string{"160001", "160002", "160003"},
			Months: []hotline.MonthCount{{Month: "2026-03", Count: 3}}}})
	f.Visits = ps.add(&hotline.Project{Status: hotline.ProjectDraft, Year: 2027, TitleZH: "独居老人上门探访", TitleEN: "Home visits",
		ServiceCode: "elderly_visit", Committees: []string{"c01"}, Trend: hotline.TrendGrowing, PersonTimes: 500, Budget: 40000,
		Evidence: hotline.Evidence{Tickets: 2, Residents: 2, TicketIDs: []string{"160010", "160011"},
			Months: []hotline.MonthCount{{Month: "2026-02", Count: 1}, {Month: "2026-03", Count: 1}}}})
	f.Old = ps.add(&hotline.Project{Status: hotline.ProjectRejected, Year: 2026, TitleZH: "旧草案", RejectReason: "重复"})
	ts.MustCreateUser(t, "social", "social-pw-1", hotline.RoleSocialWorker, "center")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "vol", "vol-pw-1234", hotline.RoleVolunteer, "c01")
	f.Social = ts.MustLogin(t, "social", "social-pw-1")
	f.C01 = ts.MustLogin(t, "c01staff", "c01-pw-123")
	f.Volunteer = ts.MustLogin(t, "vol", "vol-pw-1234")
	return f
}

func TestProjectAPI(t *testing.T) {
	f := mustProjectFixture(t)
	lights, visits := "/api/v1/projects/"+f.Lights.ID, "/api/v1/projects/"+f.Visits.ID
	f.Projects.run = &hotline.GroupingRun{ID: "R9", Tickets: 812, Groups: 40, Recurring: 2, New: 1, Continued: 1, Trigger: "cron",
		Started: time.Date(2026, 4, 1, 18, 0, 0, 0, time.UTC)}

	Run(t, f.TestServer, []Scenario{
		// Who may read.
		{Name: "list: anonymous", URL: "/api/v1/projects", ExpectedStatus: 401},
		{Name: "list: a volunteer", URL: "/api/v1/projects", Session: f.Volunteer, ExpectedStatus: 403,
			ExpectedContent: []string{`"code":"forbidden"`}},
		{Name: "page: the list", URL: "/projects", ExpectedStatus: 200, ExpectedContent: []string{`src="/projects.js"`}},
		{Name: "page: one project", URL: "/projects/P1", ExpectedStatus: 200, ExpectedContent: []string{`src="/project.js"`}},

		// Reading.
		{Name: "list: all", URL: "/api/v1/projects", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"projects":[{"id":"P1"`, `"title_zh":"独居老人上门探访"`, `"title_zh":"旧草案"`}},
		{Name: "list: drafts of 2027", URL: "/api/v1/projects?status=draft&year=2027", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"P1"`, `"id":"P2"`}, NotExpectedContent: []string{`"id":"P3"`}},
		{Name: "list: none", URL: "/api/v1/projects?status=purchased", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`{"projects":[]}`}},
		{Name: "list: bad status and year", URL: "/api/v1/projects?status=draft,asleep&year=27", Session: f.Social, ExpectedStatus: 400,
			ExpectedContent: []string{`"status":"unknown status`, `"year":"use a year like 2027"`}},
		{Name: "last run", URL: "/api/v1/projects/run", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"run":{"id":"R9"`, `"tickets":812`, `"recurring":2`}},
		{Name: "terms", URL: "/api/v1/projects/terms", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"populations":[{"code":"elderly_alone"`, `"org_kinds":[{"code":"elderly_care"`, `"statuses":["draft","proposal"`}},
		{Name: "terms: a volunteer", URL: "/api/v1/projects/terms", Session: f.Volunteer, ExpectedStatus: 403},
		{Name: "one", URL: lights, Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"project":{"id":"P1"`, `"ticket_ids":["160001","160002","160003"]`}},
		{Name: "one: unknown", URL: "/api/v1/projects/P99", Session: f.Social, ExpectedStatus: 404},
		{Name: "evaluation: a draft is not evaluated (the service says)", URL: lights + "/evaluation", Session: f.Social,
			ExpectedStatus: 409},

		// Editing a draft into a proposal.
		{Name: "propose: without the CSRF token", Method: "POST", URL: lights + "/propose", Body: `{"title_zh":"x"}`,
			Session: f.Social, ExpectedStatus: 403, ExpectedContent: []string{"CSRF"}},
		{Name: "propose: committee staff may not (the service says)", Method: "POST", URL: lights + "/propose",
			Body: `{"target_person_times":10}`, Session: f.C01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "propose: a volunteer", Method: "POST", URL: lights + "/propose", Body: `{}`, Session: f.Volunteer,
			WithCSRF: true, ExpectedStatus: 403},
		{Name: "propose: fields a person can act on", Method: "POST", URL: lights + "/propose",
			Body:    `{"title_zh":"  ","budget":"lots","target_person_times":1.5,"population":"cats","org_kind":"bank","title_en":3}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400,
			ExpectedContent: []string{`"title_zh":"give the project a Chinese title"`, `"budget":"must be an amount of yuan`,
				`"target_person_times":"must be a whole number from 0 to 10000000"`, `"population":"choose one of elderly_alone`,
				`"org_kind":"choose one of elderly_care`, `"title_en":"must be a string"`}},
		{Name: "propose: a negative budget", Method: "POST", URL: lights + "/propose", Body: `{"budget":-5}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"budget":"must not be negative"`}},
		{Name: "propose: too long a title", Method: "POST", URL: lights + "/propose", Body: `{"title_zh":"` + strings.Repeat("灯", 201) + `"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"title_zh":"must be at most 200 characters"`}},
		{Name: "propose: the service's own check", Method: "POST", URL: lights + "/propose", Body: `{"title_zh":"楼道照明"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"target_person_times":"a proposal needs a target"`}},
		{Name: "propose: a stale version", Method: "POST", URL: lights + "/propose", Body: `{"target_person_times":30,"version":7}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"reload"}},
		{Name: "propose: valid, numbers as a form sends them", Method: "POST", URL: lights + "/propose",
			Body: `{"title_zh":" 楼道照明改造 ","title_en":"Stairwell lighting","budget":"1800.005","target_person_times":"36",` +
				`"population":"residents","org_kind":"repair","organization":"org-repair","version":1}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"status":"proposal"`, `"title_zh":"楼道照明改造"`, `"budget":1800.01`, `"target_person_times":36`, `"version":2`}},
		{Name: "propose: unknown", Method: "POST", URL: "/api/v1/projects/P99/propose", Body: `{}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 404},
		{Name: "propose: not JSON", Method: "POST", URL: lights + "/propose", Body: `{"title_zh":`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400},

		// Setting aside, merging, splitting.
		{Name: "reject: without a reason", Method: "POST", URL: visits + "/reject", Body: `{"reason":" "}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"reason":"say why`}},
		{Name: "reject: a proposal (the service says)", Method: "POST", URL: lights + "/reject", Body: `{"reason":"重复"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "merge: nothing chosen", Method: "POST", URL: lights + "/merge", Body: `{"ids":[]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"ids":"choose the drafts`}},
		{Name: "merge: into itself", Method: "POST", URL: lights + "/merge", Body: `{"ids":["P2","P1"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"ids":"a project cannot be merged into itself`}},
		{Name: "merge: not a list", Method: "POST", URL: lights + "/merge", Body: `{"ids":7}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"ids":"must be a list of strings"`}},
		{Name: "merge: a rejected draft (the service says)", Method: "POST", URL: lights + "/merge", Body: `{"ids":["P3"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "split: nothing chosen", Method: "POST", URL: visits + "/split", Body: `{}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"ticket_ids":"choose the tickets`}},
		{Name: "split: a ticket of another draft (the service says)", Method: "POST", URL: visits + "/split", Body: `{"ticket_ids":["160001"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"ticket_ids":"choose tickets of this draft"`}},
		{Name: "split: valid", Method: "POST", URL: visits + "/split", Body: `{"ticket_ids":["160011","160011"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 201,
			ExpectedContent: []string{`"project":{"id":"P2"`, `"split":{"id":"P4"`, `"ticket_ids":["160011"]`, `"split_from":"P2"`},
			ExpectedHeaders: map[string]string{"Location": "/api/v1/projects/P4"}},
		{Name: "merge: valid", Method: "POST", URL: lights + "/merge", Body: `{"ids":["P4"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"P1"`, `"merged_from":["P4"]`, `"ticket_ids":["160001","160002","160003","160011"]`}},

		// Buying and spending.
		{Name: "purchase: every field wrong or missing", Method: "POST", URL: lights + "/purchase",
			Body:    `{"budget":0,"start":"next week","end":"2027-13-01","target_person_times":0}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400,
			ExpectedContent: []string{`"organization":"choose the organization`, `"budget":"must be more than 0 yuan"`,
				`"start":"use a date like 2027-01-01"`, `"end":"use a date like 2027-01-01"`, `"target_person_times":"must be a whole number from 1`}},
		{Name: "purchase: end before start", Method: "POST", URL: lights + "/purchase",
			Body:    `{"organization":"org-repair","budget":1800,"start":"2027-06-01","end":"2027-01-01","target_person_times":36}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"end":"must be after the start"`}},
		{Name: "purchase: a draft (the service says)", Method: "POST", URL: visits + "/purchase",
			Body:    `{"organization":"org-elderly","budget":1800,"start":"2027-01-01","end":"2027-12-31","target_person_times":36}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "expense: before the purchase (the service says)", Method: "POST", URL: lights + "/expenses",
			Body: `{"amount":100,"note":"灯泡"}`, Session: f.Social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "purchase: valid", Method: "POST", URL: lights + "/purchase",
			Body:    `{"organization":"org-repair","budget":"1800","start":"2027-01-01","end":"2027-12-31","target_person_times":"36"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"status":"purchased"`, `"purchase":{"organization":"org-repair","budget":1800,"start":"2027-01-01T00:00:00+08:00"`}},
		{Name: "expense: fields", Method: "POST", URL: lights + "/expenses", Body: `{"amount":"-3","at":"yesterday"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400,
			ExpectedContent: []string{`"amount":"must be more than 0 yuan"`, `"note":"say what`, `"at":"use a date`}},
		{Name: "expense: valid", Method: "POST", URL: lights + "/expenses", Body: `{"amount":"320.5","note":" 灯泡和线材 ","at":"2027-02-03"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 201,
			ExpectedContent: []string{`"expenses":[{"at":"2027-02-03T00:00:00+08:00","amount":320.5,"note":"灯泡和线材"`}},
		{Name: "evaluation", URL: lights + "/evaluation", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"evaluation":{"project_id":"P1"`, `"overall":85`, `"tranche_amount":540`}},
		{Name: "evaluation: a volunteer", URL: lights + "/evaluation", Session: f.Volunteer, ExpectedStatus: 403},

		// Exports.
		{Name: "export: one project as Markdown", URL: lights + "/export.md", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent:    []string{"# 楼道照明改造\n", "| 状态 Status | 已购买 / Purchased |", "| 2027-02-03 | 320.50 | 灯泡和线材 |"},
			NotExpectedContent: []string{"160001"},
			ExpectedHeaders: map[string]string{"Content-Type": "text/markdown; charset=utf-8", "Cache-Control": "no-store",
				"Content-Disposition": `attachment; filename="project-P1.md"; filename*=UTF-8''P1-%E6%A5%BC%E9%81%93%E7%85%A7%E6%98%8E%E6%94%B9%E9%80%A0.md`}},
		{Name: "export: unknown project", URL: "/api/v1/projects/P99/export.xlsx", Session: f.Social, ExpectedStatus: 404,
			ExpectedContent: []string{`"code":"not_found"`}},
		{Name: "export: a volunteer", URL: lights + "/export.xlsx", Session: f.Volunteer, ExpectedStatus: 403},
		{Name: "export: the year without a year", URL: "/api/v1/projects/export.md", Session: f.Social, ExpectedStatus: 400,
			ExpectedContent: []string{`"year":"choose the year`}},
		{Name: "export: the year as Markdown, without what was set aside", URL: "/api/v1/projects/export.md?year=2027", Session: f.C01,
			ExpectedStatus: 200, ExpectedContent: []string{"# 2027 年度社区服务项目", "| P1 |", "| P2 |"},
			NotExpectedContent: []string{"| P4 |", "旧草案"},
			ExpectedHeaders:    map[string]string{"Content-Disposition": `attachment; filename="projects-2027.md"; filename*=UTF-8''2027%E5%B9%B4%E5%BA%A6%E7%A4%BE%E5%8C%BA%E6%9C%8D%E5%8A%A1%E9%A1%B9%E7%9B%AE.md`}},
		{Name: "export: the year, merged drafts asked for", URL: "/api/v1/projects/export.md?year=2027&status=merged", Session: f.Social,
			ExpectedStatus: 200, ExpectedContent: []string{"| P4 |"}, NotExpectedContent: []string{"| P1 |"}},
	})

	if got := f.Projects.purchase.Start; !got.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))) {
		t.Errorf("purchase start = %v, want the first of January in Shanghai", got)
	}
	if got := f.Projects.purchase.End; !got.Equal(time.Date(2027, 12, 30, 16, 0, 0, 0, time.UTC)) {
		t.Errorf("purchase end = %v, want the start of its last day in Shanghai", got)
	}
	if got := f.Projects.expense.By; got != f.Social.User.ID {
		t.Errorf("expense by %q, want the social worker", got)
	}
	e := f.Projects.edit
	if e.SummaryZH != nil || e.Objectives != nil || e.TitleZH == nil || *e.TitleZH != "楼道照明改造" || e.Version != 1 {
		t.Errorf("the service got the edit %+v, want only what was sent, trimmed", e)
	}
}

// The workbooks open in a spreadsheet: read back with excelize.
func TestProjectAPI_XLSX(t *testing.T) {
	f := mustProjectFixture(t)
	for _, tc := range []struct {
		name, url, filename, sheet, cell, want string
	}{
		{"one project", "/api/v1/projects/" + f.Visits.ID + "/export.xlsx", `attachment; filename="project-P2.xlsx"`,
			report.SheetProject, "A1", "独居老人上门探访"},
		{"the year", "/api/v1/projects/export.xlsx?year=2027", `attachment; filename="projects-2027.xlsx"`,
			report.SheetProjects, "A1", "2027 年度社区服务项目 Community service projects for 2027"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.Do(t, "GET", tc.url, "", f.Social, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			if got := resp.Header.Get("Content-Type"); got != "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" {
				t.Errorf("content type %q", got)
			}
			if got := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(got, tc.filename) {
				t.Errorf("content disposition %q, want it to start %q", got, tc.filename)
			}
			x, err := excelize.OpenReader(strings.NewReader(resp.Body))
			if err != nil {
				t.Fatalf("open the workbook: %v", err)
			}
			defer x.Close()
			if got, _ := x.GetCellValue(tc.sheet, tc.cell); got != tc.want {
				t.Errorf("%s!%s = %q, want %q", tc.sheet, tc.cell, got, tc.want)
			}
		})
	}
}

// Without a service the routes answer 503, after sign-in and the role.
func TestProjectAPI_NoService(t *testing.T) {
	f := mustTicketFixture(t)
	Run(t, f.TestServer, []Scenario{
		{Name: "list: anonymous", URL: "/api/v1/projects", ExpectedStatus: 401},
		{Name: "list: a volunteer", URL: "/api/v1/projects", Session: f.Volunteer, ExpectedStatus: 403},
		{Name: "list", URL: "/api/v1/projects", Session: f.Admin, ExpectedStatus: 503},
		{Name: "run", URL: "/api/v1/projects/run", Session: f.Admin, ExpectedStatus: 503},
		{Name: "export", URL: "/api/v1/projects/export.xlsx?year=2027", Session: f.Admin, ExpectedStatus: 503},
		{Name: "terms need no service", URL: "/api/v1/projects/terms", Session: f.Admin, ExpectedStatus: 200},
	})
}

// Before the job first ran, the last run is null, not an error.
func TestProjectAPI_NoRunYet(t *testing.T) {
	f := mustProjectFixture(t)
	Run(t, f.TestServer, []Scenario{
		{Name: "last run", URL: "/api/v1/projects/run", Session: f.Social, ExpectedStatus: 200, ExpectedContent: []string{`{"run":null}`}},
	})
}

// withProjects gives the server the real projects service, its projects
// on a key space of their own, reading the server's tickets, as
// cmd/hotline wires it.
func withProjects(tb testing.TB) func(*server.Server) {
	return func(s *server.Server) {
		client, prefix := redistest.New(tb)
		tickets := s.Tickets.(*redisstore.TicketStore)
		s.Projects = &projects.Service{Store: redisstore.NewProjectStore(redisstore.NewDB(client, prefix)),
			Needs: tickets, Records: tickets, Directory: s.Directory}
	}
}

// The whole way through on the real service: a draft of three tickets in
// c01, which c02's staff do not see; a social worker edits it into a
// proposal, splits a ticket off, buys it from an organization, records
// spending and reads its evaluation and exports.
func TestProjectAPI_Service(t *testing.T) {
	ts := MustOpenServer(t, withProjects(t))
	lat, long := ts.PointIn(t, "c01")
	var ids []string
	for _, d := range []string{"独居老人需要探访", "老人一个人住，希望有人看看", "独居老人腿脚不便"} {
		tk := ts.MustSubmit(t, intake.Submission{ServiceCode: "elderly_visit", Description: d, Lat: &lat, Long: &long})
		ids = append(ids, tk.ID)
	}
	month := time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01")
	draft := &hotline.Project{Year: 2027, TitleZH: "独居老人上门探访", TitleEN: "Home visits", ServiceCode: "elderly_visit",
		Population: "elderly_alone", Committees: []string{"c01"}, PersonTimes: 36, CostPerPersonTime: 80, Budget: 2880,
		Evidence: hotline.Evidence{Tickets: 3, Residents: 3, TicketIDs: ids, Months: []hotline.MonthCount{{Month: month, Count: 3}},
			Committees: []hotline.CommitteeCount{{Committee: "c01", Count: 3}}}}
	store := ts.Server.Projects.(*projects.Service).Store
	if _, err := store.SaveDraft(context.Background(), draft); err != nil {
		t.Fatal(err)
	}
	ts.MustCreateUser(t, "social", "social-pw-1", hotline.RoleSocialWorker, "center")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "c02staff", "c02-pw-123", hotline.RoleCommittee, "c02")
	social, c01, c02 := ts.MustLogin(t, "social", "social-pw-1"), ts.MustLogin(t, "c01staff", "c01-pw-123"), ts.MustLogin(t, "c02staff", "c02-pw-123")
	p := "/api/v1/projects/" + draft.ID

	Run(t, ts, []Scenario{
		{Name: "no run yet", URL: "/api/v1/projects/run", Session: social, ExpectedStatus: 200, ExpectedContent: []string{`{"run":null}`}},
		{Name: "the social worker sees the draft", URL: "/api/v1/projects?status=draft", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + draft.ID + `"`, `"status":"draft"`}},
		{Name: "c01's staff see it", URL: p, Session: c01, ExpectedStatus: 200},
		{Name: "c02's staff do not", URL: "/api/v1/projects", Session: c02, ExpectedStatus: 200, ExpectedContent: []string{`{"projects":[]}`}},
		{Name: "c02's staff: not found", URL: p + "/export.md", Session: c02, ExpectedStatus: 404},
		{Name: "committee staff may not propose", Method: "POST", URL: p + "/propose", Body: `{"target_person_times":30}`,
			Session: c01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "a proposal needs an English title", Method: "POST", URL: p + "/propose", Body: `{"title_en":" "}`,
			Session: social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"title_en":`}},
		{Name: "propose", Method: "POST", URL: p + "/propose",
			Body:    `{"title_zh":"独居老人每周探访","target_person_times":"30","budget":"2400","org_kind":"elderly_care","version":1}`,
			Session: social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"status":"proposal"`, `"title_zh":"独居老人每周探访"`, `"target_person_times":30`, `"budget":2400`}},
		{Name: "propose: the version shown is stale now", Method: "POST", URL: p + "/propose", Body: `{"budget":1,"version":1}`,
			Session: social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "split a ticket off", Method: "POST", URL: p + "/split", Body: `{"ticket_ids":["` + ids[2] + `"]}`,
			Session: social, WithCSRF: true, ExpectedStatus: 201,
			ExpectedContent: []string{`"project":{"id":"` + draft.ID + `"`, `"split_from":"` + draft.ID + `"`, `"ticket_ids":["` + ids[2] + `"]`}},
		{Name: "purchase from a committee is refused (the service says)", Method: "POST", URL: p + "/purchase",
			Body:    `{"organization":"c01","budget":2400,"start":"2027-01-01","end":"2027-12-31","target_person_times":30}`,
			Session: social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"organization":`}},
		{Name: "purchase", Method: "POST", URL: p + "/purchase",
			Body:    `{"organization":"org-elderly","budget":2400,"start":"2027-01-01","end":"2027-12-31","target_person_times":30}`,
			Session: social, WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"status":"purchased"`, `"organization":"org-elderly"`}},
		{Name: "expense", Method: "POST", URL: p + "/expenses", Body: `{"amount":300,"note":"交通","at":"2027-02-01"}`,
			Session: social, WithCSRF: true, ExpectedStatus: 201, ExpectedContent: []string{`"amount":300`, `"note":"交通"`}},
		{Name: "evaluation", URL: p + "/evaluation", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"project_id":"` + draft.ID + `"`, `"execution_score":`, `"quality_score":`, `"finance_score":`,
				`"management_score":`, `"tranche_amount":`}},
		{Name: "export", URL: p + "/export.md", Session: social, ExpectedStatus: 200,
			ExpectedContent:    []string{"# 独居老人每周探访\n", "已购买 / Purchased", "乐龄为老服务社"},
			NotExpectedContent: []string{ids[0]}},
		{Name: "the year's export", URL: "/api/v1/projects/export.md?year=2027", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{"| " + draft.ID + " | 已购买 / Purchased |", "草案 / Draft"}},
	})
}
