package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/volunteers"
)

// The access matrix: every staff endpoint and the live board against every
// kind of user the street has, through the real Main (embedded store), so
// that the services' own rules are what is tested. A committee's staff
// never see another committee's tickets; a volunteer sees only their
// tasks; a user who may not see a ticket gets the same 404 as for a ticket
// that does not exist.

// accessRoles are the users of the matrix, by key, in the order requests
// are made.
var accessRoles = []string{"anon", "admin", "center", "c01d", "c01", "c02", "lead", "social", "vol"}

// accessUsers are the accounts behind the keys ("anon" has none). The
// volunteer's username is their mobile number: that is how an account
// finds its volunteer.
var accessUsers = map[string]hotline.User{
	"admin":  {Username: "admin", Role: hotline.RoleAdmin},
	"center": {Username: "center.disp", Role: hotline.RoleDispatcher, UnitID: "center"},
	"c01d":   {Username: "c01.disp", Role: hotline.RoleDispatcher, UnitID: "c01"},
	"c01":    {Username: "c01.staff", Role: hotline.RoleCommittee, UnitID: "c01"},
	"c02":    {Username: "c02.staff", Role: hotline.RoleCommittee, UnitID: "c02"},
	"lead":   {Username: "meals.lead", Role: hotline.RoleCommittee, UnitID: "c01-meals"},
	"social": {Username: "social", Role: hotline.RoleSocialWorker, UnitID: "center"},
	"vol":    {Username: "13700000001", Role: hotline.RoleVolunteer, UnitID: "c01-meals"},
}

const (
	accessPassword = "a long enough password"
	volPhone       = "+8613700000001"
	residentPhone  = "13812345678"
	residentAddr   = "长寿路 100 号 3 室"
)

// accessClient is one signed-in browser (no cookie for anon).
type accessClient struct {
	cookie, csrf string
	user         *hotline.User
}

// accessFixture is the street the matrix runs on.
type accessFixture struct {
	m       *Main
	c       *http.Client
	clients map[string]*accessClient
	// tickets by name:
	//   c01    in c01's area, held by c01
	//   c02    in c02's area, held by c02
	//   lead   in c01's area, held by c01's meals group (c01-meals)
	//   esc    in c02's area, escalated to the district (jingan-housing)
	//   queue  no location: the street's intake queue (center)
	//   vol    in c01's area, held by c01, the volunteer's accepted task
	//   c01b   like c01, for actions that need a second ticket
	tickets map[string]string
	// volunteers: "vol" is the volunteer with an account, "other" one
	// without; assignment is vol's accepted task on tickets["vol"].
	volunteers map[string]string
	assignment string
	// projects: "c01" a draft of c01's area, "c02" one of c02's.
	projects map[string]string
	signups  int // public sign-ups made so far (each a new number)
}

// MustAccessFixture starts the service and fills the street.
func MustAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	m := MustRunMain(t)
	f := &accessFixture{m: m, c: &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		clients: map[string]*accessClient{"anon": {}}, tickets: map[string]string{},
		volunteers: map[string]string{}, projects: map[string]string{}}
	ctx := context.Background()
	hash, err := bcrypt.GenerateFromPassword([]byte(accessPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for key, u := range accessUsers {
		u.Name, u.PasswordHash = u.Username, string(hash)
		if err := m.Server.Users.CreateUser(ctx, &u); err != nil {
			t.Fatal(err)
		}
		f.clients[key] = f.MustLogin(t, u.Username)
	}
	admin, social := f.clients["admin"].user, f.clients["social"].user

	f.tickets["c01"] = f.MustTicket(t, "c01", "c01")
	f.tickets["c01b"] = f.MustTicket(t, "c01", "c01")
	f.tickets["c02"] = f.MustTicket(t, "c02", "c02")
	f.tickets["lead"] = f.MustTicket(t, "c01", "c01-meals")
	f.tickets["esc"] = f.MustTicket(t, "c02", "jingan-housing")
	f.tickets["queue"] = f.MustTicket(t, "", "center")
	f.tickets["vol"] = f.MustTicket(t, "c01", "c01")

	vs := m.Server.Volunteers
	rep, err := vs.Import(ctx, social, strings.NewReader("姓名,手机,居委会,技能,语言,所属队伍,状态,分类\n"+
		"李阿姨,13700000001,c01,elderly_visit,zh,c01-meals,approved,general\n"+
		"王师傅,13700000002,c01,elderly_visit,zh,,approved,general\n"))
	if err != nil || rep.Created != 2 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	list, _, err := vs.List(ctx, admin, hotline.VolunteerFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list {
		switch v.Phone {
		case volPhone:
			f.volunteers["vol"] = v.ID
		case "+8613700000002":
			f.volunteers["other"] = v.ID
		}
	}
	as, err := vs.Assign(ctx, admin, f.tickets["vol"], []string{f.volunteers["vol"]})
	if err != nil {
		t.Fatal(err)
	}
	f.assignment = as[0].ID
	waitInbox(t, f.c, m.URL(), volPhone, f.tickets["vol"])
	postJSON(t, f.c, m.URL()+"/sim/sms", map[string]string{"from": volPhone, "body": "1"}, nil, nil)
	waitInbox(t, f.c, m.URL(), volPhone, residentPhone) // accepted: the contact came

	for _, c := range []string{"c01", "c02"} {
		p := &hotline.Project{Year: 2027, TitleZH: c + " 的需求项目", TitleEN: c + " needs project", ServiceCode: "elderly_visit",
			Population: "elderly_alone", Committees: []string{c}, PersonTimes: 10, CostPerPersonTime: 80, Budget: 800,
			Evidence: hotline.Evidence{Tickets: 1, TicketIDs: []string{f.tickets[c]}}}
		if _, err := m.Projects.Store.SaveDraft(ctx, p); err != nil {
			t.Fatal(err)
		}
		f.projects[c] = p.ID
	}
	return f
}

// MustLogin signs username in through the API.
func (f *accessFixture) MustLogin(t *testing.T, username string) *accessClient {
	t.Helper()
	var got struct {
		User      hotline.User `json:"user"`
		CSRFToken string       `json:"csrf_token"`
	}
	resp := postJSON(t, f.c, f.m.URL()+"/api/v1/login", map[string]string{"username": username, "password": accessPassword}, nil, &got)
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie && resp.StatusCode == http.StatusOK {
			return &accessClient{cookie: c.Value, csrf: got.CSRFToken, user: &got.User}
		}
	}
	t.Fatalf("login %s: status %d", username, resp.StatusCode)
	return nil
}

// MustTicket files a resident's ticket located in committee's area (none:
// no location) and, when routing put it elsewhere, has the administrator
// give it to holder.
func (f *accessFixture) MustTicket(t *testing.T, committee, holder string) string {
	t.Helper()
	ctx := context.Background()
	sub := intake.Submission{Channel: hotline.ChannelWeb, ServiceCode: "elderly_visit",
		Description: "独居老人需要有人上门看看", Phone: residentPhone, FirstName: "阿婆", LastName: "张",
		Email: "zhang.apo@example.com", Consent: true, Actor: "resident"}
	if committee != "" {
		lat, long := officeOf(t, f.m, committee)
		sub.Lat, sub.Long, sub.Address = &lat, &long, residentAddr
	}
	tk, _, err := f.m.Server.Intake.Submit(ctx, sub, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Location.Committee != committee {
		t.Fatalf("ticket in %q's area placed in %q", committee, tk.Location.Committee)
	}
	// A ticket intake could not place is routed in the background: wait
	// for that, so that it cannot undo the reassignment below.
	for deadline := time.Now().Add(10 * time.Second); tk.Status == hotline.StatusNew; {
		if time.Now().After(deadline) {
			t.Fatalf("ticket %s still new", tk.ID)
		}
		time.Sleep(20 * time.Millisecond)
		if tk, err = f.m.Server.Tickets.FindTicket(ctx, tk.ID); err != nil {
			t.Fatal(err)
		}
	}
	if tk.UnitID != holder {
		if tk, err = f.m.Dispatch.Reassign(ctx, f.clients["admin"].user, tk.ID, holder, ""); err != nil {
			t.Fatalf("give %s to %s: %v", tk.ID, holder, err)
		}
	}
	return tk.ID
}

// Do sends one request as role; body is JSON (or CSV for the import).
func (f *accessFixture) Do(t *testing.T, role, method, path, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.m.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		if strings.HasSuffix(path, "/import") {
			req.Header.Set("Content-Type", "text/csv")
		}
	}
	if c := f.clients[role]; c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: c.cookie})
		req.Header.Set(server.CSRFHeader, c.csrf)
	}
	resp, err := f.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// expect reads "anon:401 admin:200 …" and insists on every role, so that
// no row of the matrix leaves a user out.
func expect(t *testing.T, spec string) map[string]int {
	t.Helper()
	want := map[string]int{}
	for _, f := range strings.Fields(spec) {
		role, code, ok := strings.Cut(f, ":")
		var n int
		if _, err := fmt.Sscan(code, &n); !ok || err != nil || !slices.Contains(accessRoles, role) {
			t.Fatalf("bad expectation %q", f)
		}
		want[role] = n
	}
	for _, r := range accessRoles {
		if _, ok := want[r]; !ok {
			t.Fatalf("expectation %q leaves out %s", spec, r)
		}
	}
	return want
}

// accessRow is one endpoint of the matrix.
type accessRow struct {
	name, method, path, body string
	// want is the status for each role ("anon:401 admin:200 …").
	want string
	// fresh, when set, makes a new target for each role (changes that can
	// happen once) and returns its id, which replaces {new} in path and
	// body.
	fresh func(t *testing.T, f *accessFixture) string
	// check looks at a 2xx answer.
	check func(t *testing.T, f *accessFixture, role, body string)
}

// expand replaces {t:name}, {p:name}, {v:name} and {a} with the fixture's ids.
func (f *accessFixture) expand(s string) string {
	for k, v := range f.tickets {
		s = strings.ReplaceAll(s, "{t:"+k+"}", v)
	}
	for k, v := range f.projects {
		s = strings.ReplaceAll(s, "{p:"+k+"}", v)
	}
	for k, v := range f.volunteers {
		s = strings.ReplaceAll(s, "{v:"+k+"}", v)
	}
	return strings.ReplaceAll(s, "{a}", f.assignment)
}

func (f *accessFixture) run(t *testing.T, rows []accessRow) {
	t.Helper()
	for _, row := range rows {
		want := expect(t, row.want)
		t.Run(row.name, func(t *testing.T) {
			for _, role := range accessRoles {
				path, body := f.expand(row.path), f.expand(row.body)
				if row.fresh != nil {
					id := row.fresh(t, f)
					path, body = strings.ReplaceAll(path, "{new}", id), strings.ReplaceAll(body, "{new}", id)
				}
				code, _, got := f.Do(t, role, row.method, path, body)
				if code != want[role] {
					t.Errorf("%s %s as %s: %d, want %d: %.300s", row.method, path, role, code, want[role], got)
					continue
				}
				if row.check != nil && code < 300 {
					row.check(t, f, role, got)
				}
			}
		})
	}
}

// ticketIDs reads the ids of a ticket list.
func ticketIDs(t *testing.T, body string) []string {
	t.Helper()
	var got struct {
		Tickets []struct {
			ID string `json:"id"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode list: %v: %.200s", err, body)
	}
	ids := []string{}
	for _, tk := range got.Tickets {
		ids = append(ids, tk.ID)
	}
	return ids
}

// sees checks a ticket list: of the fixture's tickets it holds exactly
// those named for the role.
func sees(want map[string][]string) func(t *testing.T, f *accessFixture, role, body string) {
	return func(t *testing.T, f *accessFixture, role, body string) {
		t.Helper()
		got := ticketIDs(t, body)
		var gotNames, wantNames []string
		for name, id := range f.tickets {
			if slices.Contains(got, id) {
				gotNames = append(gotNames, name)
			}
		}
		wantNames = append(wantNames, want[role]...)
		sort.Strings(gotNames)
		sort.Strings(wantNames)
		if !slices.Equal(gotNames, wantNames) {
			t.Errorf("%s sees %v, want %v", role, gotNames, wantNames)
		}
	}
}

// masked checks that a ticket answer shows no personal detail in full.
func masked(t *testing.T, _ *accessFixture, role, body string) {
	t.Helper()
	for _, full := range []string{residentPhone, "100 号", "zhang.apo@", "media_url"} {
		if strings.Contains(body, full) {
			t.Errorf("%s got %q in full: %.300s", role, full, body)
		}
	}
}

// Every staff endpoint, as every user.
func TestAccessMatrix(t *testing.T) {
	f := MustAccessFixture(t)
	all := []string{"c01", "c01b", "c02", "lead", "esc", "queue", "vol"}
	c01Area := []string{"c01", "c01b", "lead", "vol"}
	lists := map[string][]string{
		"anon": nil, "admin": all, "center": all, "social": all,
		"c01d": c01Area, "c01": c01Area, "c02": {"c02", "esc"}, "lead": {"lead"}, "vol": {"vol"},
	}

	// Reads change nothing: each role asks the same.
	reads := []accessRow{
		{name: "me", method: "GET", path: "/api/v1/me",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200"},
		{name: "ticket list", method: "GET", path: "/api/v1/tickets?limit=1000",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200",
			check: func(t *testing.T, f *accessFixture, role, body string) {
				sees(lists)(t, f, role, body)
				masked(t, f, role, body)
			}},
		{name: "ticket list filtered to c01's area", method: "GET", path: "/api/v1/tickets?committee=c01&limit=1000",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200",
			check: sees(map[string][]string{"admin": c01Area, "center": c01Area, "social": c01Area, "c01d": c01Area,
				"c01": c01Area, "lead": {"lead"}, "vol": {"vol"}})},
		{name: "ticket list filtered to c01's unit", method: "GET", path: "/api/v1/tickets?unit=c01&limit=1000",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200",
			check: sees(map[string][]string{"admin": {"c01", "c01b", "vol"}, "center": {"c01", "c01b", "vol"},
				"social": {"c01", "c01b", "vol"}, "c01d": {"c01", "c01b", "vol"}, "c01": {"c01", "c01b", "vol"}, "vol": {"vol"}})},
		{name: "ticket list filtered to the district", method: "GET", path: "/api/v1/tickets?unit=jingan-housing&limit=1000",
			want:  "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200",
			check: sees(map[string][]string{"admin": {"esc"}, "center": {"esc"}, "social": {"esc"}, "c02": {"esc"}})},
		{name: "ticket list of the intake queue", method: "GET", path: "/api/v1/tickets?unit=center&limit=1000",
			want:  "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200",
			check: sees(map[string][]string{"admin": {"queue"}, "center": {"queue"}, "social": {"queue"}})},
		{name: "c01's ticket", method: "GET", path: "/api/v1/tickets/{t:c01}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404", check: masked},
		{name: "c02's ticket", method: "GET", path: "/api/v1/tickets/{t:c02}",
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:200 lead:404 social:200 vol:404", check: masked},
		{name: "the meals group's ticket", method: "GET", path: "/api/v1/tickets/{t:lead}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:200 social:200 vol:404", check: masked},
		{name: "c02's ticket escalated to the district", method: "GET", path: "/api/v1/tickets/{t:esc}",
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:200 lead:404 social:200 vol:404", check: masked},
		{name: "the intake queue's ticket", method: "GET", path: "/api/v1/tickets/{t:queue}",
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:404 lead:404 social:200 vol:404", check: masked},
		{name: "the volunteer's task", method: "GET", path: "/api/v1/tickets/{t:vol}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:200", check: masked},
		{name: "a ticket that does not exist", method: "GET", path: "/api/v1/tickets/" + hotline.TicketIDWithCheck("99999999"),
			want: "anon:401 admin:404 center:404 c01d:404 c01:404 c02:404 lead:404 social:404 vol:404"},
		{name: "c01's ticket in full", method: "GET", path: "/api/v1/tickets/{t:c01}/contact",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404"},
		{name: "c02's ticket in full", method: "GET", path: "/api/v1/tickets/{t:esc}/contact",
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:200 lead:404 social:200 vol:404"},
		{name: "the volunteer's task in full", method: "GET", path: "/api/v1/tickets/{t:vol}/contact",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:200",
			check: func(t *testing.T, _ *accessFixture, role, body string) {
				if !strings.Contains(body, "+86"+residentPhone) || !strings.Contains(body, residentAddr) {
					t.Errorf("%s: the details in full lack the phone or the address: %s", role, body)
				}
			}},
		{name: "the status page without the phone's digits", method: "GET", path: "/api/v1/tickets/{t:c01}/status",
			want: "anon:404 admin:404 center:404 c01d:404 c01:404 c02:404 lead:404 social:404 vol:404"},
		{name: "services", method: "GET", path: "/api/v1/services",
			want: "anon:200 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200"},
		{name: "units", method: "GET", path: "/api/v1/units",
			want: "anon:200 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200"},
		{name: "the three rates", method: "GET", path: "/api/v1/stats",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},
		{name: "the three rates of c02", method: "GET", path: "/api/v1/stats?unit=c02",
			want: "anon:401 admin:200 center:200 c01d:403 c01:403 c02:200 lead:403 social:200 vol:403"},
		{name: "the three rates of c01", method: "GET", path: "/api/v1/stats?unit=c01",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:403 lead:403 social:200 vol:403"},
		{name: "the three rates of the street", method: "GET", path: "/api/v1/stats?unit=center",
			want: "anon:401 admin:200 center:200 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},

		{name: "volunteer registry", method: "GET", path: "/api/v1/volunteers",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403",
			check: func(t *testing.T, _ *accessFixture, role, body string) {
				full := strings.Contains(body, volPhone)
				if wantFull := role == "admin" || role == "social" || role == "lead"; full != wantFull {
					t.Errorf("%s sees the volunteer's phone in full: %v, want %v", role, full, wantFull)
				}
			}},
		{name: "volunteer terms", method: "GET", path: "/api/v1/volunteers/terms",
			want: "anon:200 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200"},
		{name: "volunteer export", method: "GET", path: "/api/v1/volunteers/export.csv",
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "volunteer hours", method: "GET", path: "/api/v1/volunteers/hours",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},
		{name: "volunteer hours CSV", method: "GET", path: "/api/v1/volunteers/hours.csv",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},
		{name: "the volunteer's record", method: "GET", path: "/api/v1/volunteers/{v:vol}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:200 social:200 vol:200"},
		{name: "another volunteer's record", method: "GET", path: "/api/v1/volunteers/{v:other}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404"},
		{name: "suggestions for c01's ticket", method: "GET", path: "/api/v1/tickets/{t:c01}/volunteers/suggestions",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},
		{name: "assignments of the volunteer's task", method: "GET", path: "/api/v1/tickets/{t:vol}/volunteers",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},

		{name: "projects", method: "GET", path: "/api/v1/projects",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403",
			check: func(t *testing.T, f *accessFixture, role, body string) {
				for c, id := range f.projects {
					got := strings.Contains(body, `"id":"`+id+`"`)
					want := role == "admin" || role == "center" || role == "social" || role == c || role == c+"d"
					if got != want {
						t.Errorf("%s sees %s's project: %v, want %v", role, c, got, want)
					}
				}
			}},
		{name: "c01's project", method: "GET", path: "/api/v1/projects/{p:c01}",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},
		{name: "c01's project's evaluation (a draft: none yet)", method: "GET", path: "/api/v1/projects/{p:c01}/evaluation",
			want: "anon:401 admin:409 center:409 c01d:409 c01:409 c02:404 lead:404 social:409 vol:403"},
		{name: "c01's project as a workbook", method: "GET", path: "/api/v1/projects/{p:c01}/export.xlsx",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},
		{name: "c02's project as Markdown", method: "GET", path: "/api/v1/projects/{p:c02}/export.md",
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:200 lead:404 social:200 vol:403"},
		{name: "the year's projects as Markdown", method: "GET", path: "/api/v1/projects/export.md?year=2027",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403",
			check: func(t *testing.T, _ *accessFixture, role, body string) {
				for _, c := range []string{"c01", "c02"} {
					got := strings.Contains(body, c+" 的需求项目")
					want := role == "admin" || role == "center" || role == "social" || role == c || role == c+"d"
					if got != want {
						t.Errorf("%s's year export holds %s's project: %v, want %v", role, c, got, want)
					}
				}
			}},
		{name: "the year's projects as a workbook", method: "GET", path: "/api/v1/projects/export.xlsx?year=2027",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},
		{name: "the grouping's last run", method: "GET", path: "/api/v1/projects/run",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},
		{name: "project terms", method: "GET", path: "/api/v1/projects/terms",
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:403"},

		{name: "the audit log", method: "GET", path: "/api/v1/audit",
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:403 vol:403"},
		{name: "an unknown API path", method: "GET", path: "/api/v1/nothing",
			want: "anon:404 admin:404 center:404 c01d:404 c01:404 c02:404 lead:404 social:404 vol:404"},
	}
	for _, p := range []string{"/staff", "/board", "/volunteers", "/projects", "/audit", "/login"} {
		// Pages hold no data: each asks the API, which decides.
		reads = append(reads, accessRow{name: "page " + p, method: "GET", path: p,
			want: "anon:200 admin:200 center:200 c01d:200 c01:200 c02:200 lead:200 social:200 vol:200"})
	}
	f.run(t, reads)

	// Changes: each role acts on a target of its own, made fresh, so the
	// answer is the rule's and not the state an earlier role left.
	c01Ticket := func(t *testing.T, f *accessFixture) string { return f.MustTicket(t, "c01", "c01") }
	accepted := func(t *testing.T, f *accessFixture) string {
		id := c01Ticket(t, f)
		if _, err := f.m.Dispatch.Accept(context.Background(), f.clients["admin"].user, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	resolved := func(t *testing.T, f *accessFixture) string {
		id := accepted(t, f)
		if _, err := f.m.Dispatch.Resolve(context.Background(), f.clients["admin"].user, id, "已上门"); err != nil {
			t.Fatal(err)
		}
		return id
	}
	escalated := func(t *testing.T, f *accessFixture) string { return f.MustTicket(t, "c01", "jingan-housing") }
	offered := func(t *testing.T, f *accessFixture) string {
		as, err := f.m.Server.Volunteers.Assign(context.Background(), f.clients["admin"].user, c01Ticket(t, f), []string{f.volunteers["other"]})
		if err != nil {
			t.Fatal(err)
		}
		return as[0].ID
	}
	applied := func(t *testing.T, f *accessFixture) string {
		f.signups++
		v, err := f.m.Server.Volunteers.Register(context.Background(), volunteers.RegistrationForm{Name: "新志愿者",
			Phone: fmt.Sprintf("1370001%04d", f.signups), Committee: "c01", Skills: []string{"elderly_visit"}, Languages: []string{"zh"}})
		if err != nil {
			t.Fatal(err)
		}
		return v.ID
	}
	act := "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404"
	changes := []accessRow{
		{name: "accept", method: "POST", path: "/api/v1/tickets/{new}/accept", fresh: c01Ticket, want: act, check: masked},
		{name: "decline", method: "POST", path: "/api/v1/tickets/{new}/decline", body: `{"reason":"人手不够"}`, fresh: c01Ticket, want: act},
		{name: "start", method: "POST", path: "/api/v1/tickets/{new}/start", fresh: accepted, want: act},
		{name: "note", method: "POST", path: "/api/v1/tickets/{new}/note", body: `{"text":"已电话联系"}`, fresh: c01Ticket, want: act},
		{name: "resolve", method: "POST", path: "/api/v1/tickets/{new}/resolve", body: `{"text":"已上门"}`, fresh: accepted, want: act},
		{name: "reopen", method: "POST", path: "/api/v1/tickets/{new}/reopen", body: `{"reason":"居民说还没好"}`, fresh: resolved, want: act},
		{name: "cancel", method: "POST", path: "/api/v1/tickets/{new}/cancel", body: `{"reason":"重复"}`, fresh: c01Ticket, want: act},
		{name: "reassign to the meals group", method: "POST", path: "/api/v1/tickets/{new}/reassign", body: `{"unit_id":"c01-meals"}`, fresh: c01Ticket, want: act},
		{name: "reassign to c02", method: "POST", path: "/api/v1/tickets/{new}/reassign", body: `{"unit_id":"c02"}`, fresh: c01Ticket,
			want: "anon:401 admin:200 center:200 c01d:403 c01:403 c02:404 lead:404 social:200 vol:404"},
		{name: "merge c01's duplicate into c01's ticket", method: "POST", path: "/api/v1/tickets/{t:c01b}/merge", body: `{"duplicate_id":"{new}"}`, fresh: c01Ticket,
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404"},
		{name: "merge c01's duplicate into c02's ticket", method: "POST", path: "/api/v1/tickets/{t:c02}/merge", body: `{"duplicate_id":"{new}"}`, fresh: c01Ticket,
			want: "anon:401 admin:200 center:200 c01d:404 c01:404 c02:400 lead:404 social:200 vol:404"},
		{name: "ask the resident", method: "POST", path: "/api/v1/tickets/{new}/ask", body: `{"text":"请问几点方便上门？"}`, fresh: c01Ticket, want: act},
		{name: "record a rating", method: "POST", path: "/api/v1/tickets/{new}/rating", body: `{"score":5}`, fresh: resolved, want: act},
		{name: "note on a ticket escalated away from c01", method: "POST", path: "/api/v1/tickets/{new}/note", body: `{"text":"居委会跟进"}`, fresh: escalated,
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:404"},
		{name: "accept a ticket escalated away from c01", method: "POST", path: "/api/v1/tickets/{new}/accept", fresh: escalated,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:404 lead:404 social:403 vol:404"},
		{name: "act on the volunteer's own task", method: "POST", path: "/api/v1/tickets/{t:vol}/note", body: `{"text":"志愿者想改时间"}`,
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},
		// The volunteer belongs to the meals group; a ticket the group
		// holds is still not theirs, and answers as if it did not exist.
		{name: "act on the volunteer's group's ticket", method: "POST", path: "/api/v1/tickets/{t:lead}/note", body: `{"text":"看看"}`,
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:200 social:200 vol:404"},
		{name: "rate the volunteer's group's ticket", method: "POST", path: "/api/v1/tickets/{t:lead}/rating", body: `{"score":1}`,
			want: "anon:401 admin:409 center:409 c01d:409 c01:409 c02:404 lead:409 social:409 vol:404"},
		{name: "assign a volunteer", method: "POST", path: "/api/v1/tickets/{new}/volunteers", body: `{"volunteer_ids":["{v:other}"]}`, fresh: c01Ticket,
			want: "anon:401 admin:201 center:201 c01d:201 c01:201 c02:404 lead:404 social:201 vol:403"},
		{name: "withdraw a task", method: "POST", path: "/api/v1/assignments/{new}/withdraw", fresh: offered,
			want: "anon:401 admin:200 center:200 c01d:200 c01:200 c02:404 lead:404 social:200 vol:403"},
		{name: "hours of an open task", method: "POST", path: "/api/v1/assignments/{new}/hours", body: `{"hours":2}`, fresh: offered,
			want: "anon:401 admin:409 center:409 c01d:409 c01:409 c02:404 lead:404 social:409 vol:403"},
		{name: "approve a sign-up", method: "POST", path: "/api/v1/volunteers/{new}/approve", body: `{"classification":"general"}`, fresh: applied,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "reject a sign-up", method: "POST", path: "/api/v1/volunteers/{new}/reject", body: `{"reason":"联系不上"}`, fresh: applied,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "edit a profile", method: "PUT", path: "/api/v1/volunteers/{v:other}",
			body: `{"name":"王师傅","phone":"13700000002","committee":"c01","skills":["elderly_visit"],"languages":["zh"],"classification":"general"}`,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "import volunteers", method: "POST", path: "/api/v1/volunteers/import",
			body: "姓名,手机,居委会,技能,语言,状态,分类\n赵阿姨,13700000009,c02,elderly_visit,zh,approved,general\n",
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "propose c01's draft", method: "POST", path: "/api/v1/projects/{p:c01}/propose",
			body: `{"title_zh":"独居老人上门探访","title_en":"Home visits","summary_zh":"每周探访","summary_en":"Weekly visits"}`,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:200 vol:403"},
		{name: "reject c02's draft", method: "POST", path: "/api/v1/projects/{p:c02}/reject", body: `{"reason":"并入区级项目"}`,
			want: "anon:401 admin:200 center:403 c01d:403 c01:403 c02:403 lead:403 social:409 vol:403"},
	}
	f.run(t, changes)
}

// accessBoardMessage is what the matrix reads of GET /ws: ticket changes and
// the hello that ends a replay.
type accessBoardMessage struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	Event    struct {
		Version int64 `json:"version"`
	} `json:"event"`
	Position string `json:"position"`
	Code     string `json:"code"`
}

func (m accessBoardMessage) key() string { return fmt.Sprintf("%s@%d", m.TicketID, m.Event.Version) }

// DialBoard opens /ws as role (since: resume from there); it answers the
// connection, or the refusal's status.
func (f *accessFixture) DialBoard(t *testing.T, role, since string) (*websocket.Conn, int) {
	t.Helper()
	u := "ws" + strings.TrimPrefix(f.m.URL(), "http") + "/ws"
	if since != "" {
		u += "?since=" + since
	}
	h := http.Header{}
	if c := f.clients[role]; c.cookie != "" {
		h.Set("Cookie", server.SessionCookie+"="+c.cookie)
	}
	conn, resp, err := (&websocket.Dialer{HandshakeTimeout: 20 * time.Second}).Dial(u, h)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial /ws as %s: %v", role, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { conn.Close() })
	return conn, http.StatusSwitchingProtocols
}

// readAccessBoard reads one message; a board that says nothing for long has
// lost what it was waiting for (generous: the race detector is slow).
func readAccessBoard(t *testing.T, role string, conn *websocket.Conn) accessBoardMessage {
	t.Helper()
	var m accessBoardMessage
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := conn.ReadJSON(&m); err != nil {
		t.Fatalf("%s's board: %v", role, err)
	}
	return m
}

// The live board, as every user: a board gets the changes of exactly the
// tickets its user may see, live and when it resumes from a position;
// volunteers and anonymous callers are refused before the upgrade.
func TestAccessLiveBoard(t *testing.T) {
	f := MustAccessFixture(t)
	ctx := context.Background()
	admin := f.clients["admin"].user
	staff := []string{"admin", "center", "c01d", "c01", "c02", "lead", "social"}
	want := map[string]string{
		"anon": "anon:401", "vol": "vol:403",
	}
	boards := map[string]*websocket.Conn{}
	var start string
	for _, role := range accessRoles {
		conn, code := f.DialBoard(t, role, "")
		if w, refused := want[role]; refused {
			if got := fmt.Sprintf("%s:%d", role, code); got != w {
				t.Errorf("dial /ws: got %s, want %s", got, w)
			}
			continue
		}
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("dial /ws as %s: %d", role, code)
		}
		hello := readAccessBoard(t, role, conn)
		if hello.Type != "hello" {
			t.Fatalf("%s's first message: %+v", role, hello)
		}
		if role == "admin" {
			start = hello.Position
		}
		boards[role] = conn
	}

	// One change to every ticket of the street.
	scenario := map[string]string{} // change key → fixture ticket name
	for name, id := range f.tickets {
		tk, err := f.m.Dispatch.Note(ctx, admin, id, "核对 "+name)
		if err != nil {
			t.Fatal(err)
		}
		scenario[fmt.Sprintf("%s@%d", id, tk.Version)] = name
	}
	var adminGot []string
	for seen := map[string]bool{}; len(seen) < len(scenario); {
		if m := readAccessBoard(t, "admin", boards["admin"]); scenario[m.key()] != "" {
			seen[m.key()] = true
			adminGot = append(adminGot, scenario[m.key()])
		}
	}
	// The admin's board has all of them, so the hub has handed every one
	// to every board it was for. A sentinel each board sees, changed only
	// now, comes after them on every board: what a board got before it is
	// all it will ever get of the scenario.
	sentinel := map[string]string{"admin": "queue", "center": "queue", "social": "queue",
		"c01d": "c01", "c01": "c01", "c02": "c02", "lead": "lead"}
	sentinels := map[string]string{} // fixture name → change key
	for _, name := range []string{"queue", "c01", "c02", "lead"} {
		tk, err := f.m.Dispatch.Note(ctx, admin, f.tickets[name], "哨兵")
		if err != nil {
			t.Fatal(err)
		}
		sentinels[name] = fmt.Sprintf("%s@%d", f.tickets[name], tk.Version)
	}

	all := []string{"c01", "c01b", "c02", "lead", "esc", "queue", "vol"}
	c01Area := []string{"c01", "c01b", "lead", "vol"}
	visible := map[string][]string{"admin": all, "center": all, "social": all,
		"c01d": c01Area, "c01": c01Area, "c02": {"c02", "esc"}, "lead": {"lead"}}
	got := func(role string, conn *websocket.Conn, until string) []string {
		var names []string
		for {
			m := readAccessBoard(t, role, conn)
			if m.Type == "error" {
				t.Fatalf("%s's board: %+v", role, m)
			}
			if name := scenario[m.key()]; name != "" {
				names = append(names, name)
			}
			if m.key() == until || (until == "hello" && m.Type == "hello") {
				sort.Strings(names)
				return names
			}
		}
	}
	for _, role := range staff {
		wantNames := slices.Clone(visible[role])
		sort.Strings(wantNames)
		g := got(role, boards[role], sentinels[sentinel[role]])
		if role == "admin" {
			g = append(g, adminGot...) // read while waiting for the hub
			sort.Strings(g)
		}
		if !slices.Equal(g, wantNames) {
			t.Errorf("%s's live board got the changes of %v, want %v", role, g, wantNames)
		}
		// A board that resumes from before the changes gets the same
		// again, from the feed's history.
		conn, code := f.DialBoard(t, role, start)
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("resume /ws as %s: %d", role, code)
		}
		if g := got(role, conn, "hello"); !slices.Equal(g, wantNames) {
			t.Errorf("%s's resumed board got the changes of %v, want %v", role, g, wantNames)
		}
	}
}
