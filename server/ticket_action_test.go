package server_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
)

// withDispatch gives the server a dispatch service on its ticket store.
// The option runs before the test server exposes its Redis prefix, so the
// unit index lives under a prefix of its own: routing finds the demo
// units there and sees every load as 0, which these tests do not depend on.
func withDispatch(tb testing.TB) func(*server.Server) {
	return func(s *server.Server) {
		client, prefix := redistest.New(tb)
		db := redisstore.NewDB(client, prefix)
		units := redisstore.NewUnitIndex(db)
		if err := units.IndexUnits(context.Background(), s.Directory.Network()); err != nil {
			tb.Fatal(err)
		}
		c, err := dispatch.DefaultConfig().Compile(s.Directory.Catalogue())
		if err != nil {
			tb.Fatal(err)
		}
		s.Dispatch = dispatch.New(c, s.Tickets, units, redisstore.NewDeadlineQueue(db), s.Directory, nil)
		// Wednesday late morning: committees are on duty.
		wednesday := time.Date(2025, 3, 12, 11, 0, 0, 0, time.FixedZone("CST", 8*3600))
		s.Dispatch.Now = func() time.Time { return wednesday }
	}
}

// dispatchFixture is the ticket fixture with dispatch wired in and a few
// more tickets routed to c01.
type dispatchFixture struct {
	*ticketFixture
	Dispatcher *Session // a c01 dispatcher
}

func mustDispatchFixture(t *testing.T) *dispatchFixture {
	t.Helper()
	ts := MustOpenServer(t, withDispatch(t))
	f := &dispatchFixture{ticketFixture: &ticketFixture{TestServer: ts}}
	f.C01Lat, f.C01Long = ts.PointIn(t, "c01")
	c02Lat, c02Long := ts.PointIn(t, "c02")
	f.InC02 = ts.MustSubmit(t, intake.Submission{ServiceCode: "sanitation", Description: "路灯坏了", Lat: &c02Lat, Long: &c02Long})
	for _, u := range []struct {
		name string
		role hotline.Role
		unit string
		s    **Session
	}{
		{"admin", hotline.RoleAdmin, "", &f.Admin},
		{"c01staff", hotline.RoleCommittee, "c01", &f.C01},
		{"c02staff", hotline.RoleCommittee, "c02", &f.C02},
		{"center", hotline.RoleDispatcher, "center", &f.Center},
		{"vol", hotline.RoleVolunteer, "c02-repairs", &f.Volunteer},
		{"c01disp", hotline.RoleDispatcher, "c01", &f.Dispatcher},
	} {
		ts.MustCreateUser(t, u.name, u.name+"-password", u.role, u.unit)
		*u.s = ts.MustLogin(t, u.name, u.name+"-password")
	}
	return f
}

// MustRouted files a need in c01's area and routes it.
func (f *dispatchFixture) MustRouted(t *testing.T, code string) *hotline.Ticket {
	t.Helper()
	tk := f.MustSubmit(t, intake.Submission{ServiceCode: code, Description: "需要帮助", Lat: &f.C01Lat, Long: &f.C01Long})
	routed, err := f.Server.Dispatch.RouteNew(context.Background(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	return routed
}

func TestTicketActions(t *testing.T) {
	f := mustDispatchFixture(t)
	a := f.MustRouted(t, "sanitation")    // accepted, started, noted, resolved, reopened below
	b := f.MustRouted(t, "elderly_visit") // declined, then reassigned
	c := f.MustRouted(t, "sanitation")    // cancelled
	dup := f.MustRouted(t, "sanitation")  // merged into a
	v := f.MustRouted(t, "sanitation")    // handed to a volunteer group, whose volunteer may not act
	if a.UnitID != "c01" || b.UnitID != "c01" {
		t.Fatalf("fixture tickets routed to %s and %s, want c01", a.UnitID, b.UnitID)
	}
	inC02 := f.InC02.ID
	url := func(tk *hotline.Ticket, action string) string { return "/api/v1/tickets/" + tk.ID + "/" + action }

	Run(t, f.TestServer, []Scenario{
		// The common refusals, shown on accept.
		{Name: "accept: unauthenticated", Method: "POST", URL: url(a, "accept"), ExpectedStatus: 401},
		{Name: "accept: without CSRF token", Method: "POST", URL: url(a, "accept"), Session: f.C01, ExpectedStatus: 403,
			ExpectedContent: []string{"CSRF"}},
		{Name: "accept: another committee's ticket", Method: "POST", URL: url(a, "accept"), Session: f.C02, WithCSRF: true,
			ExpectedStatus: 404, ExpectedContent: []string{`"code":"not_found"`}},
		{Name: "accept: volunteer", Method: "POST", URL: "/api/v1/tickets/" + inC02 + "/accept", Session: f.Volunteer, WithCSRF: true,
			ExpectedStatus: 404},
		{Name: "accept: unknown id", Method: "POST", URL: "/api/v1/tickets/" + mistype(a.ID) + "/accept", Session: f.Admin, WithCSRF: true,
			ExpectedStatus: 404},
		{Name: "accept: malformed body", Method: "POST", URL: url(a, "accept"), Body: `{"reason":`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400},
		{Name: "accept: valid", Method: "POST", URL: url(a, "accept"), Session: f.C01, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"ticket":{"id":"` + a.ID + `"`, `"status":"accepted"`, `"unit_name_zh":"`}},
		{Name: "accept: twice", Method: "POST", URL: url(a, "accept"), Session: f.C01, WithCSRF: true, ExpectedStatus: 409,
			ExpectedContent: []string{"cannot accept", "it is accepted"}},

		{Name: "start: valid", Method: "POST", URL: url(a, "start"), Session: f.Dispatcher, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"status":"in_progress"`}},
		{Name: "start: wrong state", Method: "POST", URL: url(b, "start"), Session: f.C01, WithCSRF: true, ExpectedStatus: 409},
		{Name: "reassign: admin to a volunteer group", Method: "POST", URL: url(v, "reassign"), Body: `{"unit_id":"c02-repairs"}`,
			Session: f.Admin, WithCSRF: true, ExpectedStatus: 200},
		// A volunteer sees only their tasks (GET answers 404 for the
		// group's other tickets), so an action on one is not found either,
		// rather than a 403 that would tell the ticket exists.
		{Name: "accept: a ticket of the volunteer's group, not their task", Method: "POST", URL: url(v, "accept"),
			Session: f.Volunteer, WithCSRF: true, ExpectedStatus: 404, ExpectedContent: []string{`"code":"not_found"`}},
		{Name: "note: volunteer", Method: "POST", URL: url(v, "note"), Body: `{"text":"x"}`,
			Session: f.Volunteer, WithCSRF: true, ExpectedStatus: 404},

		{Name: "note: valid", Method: "POST", URL: url(a, "note"), Body: `{"text":"已电话联系居民"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200},
		{Name: "note: empty", Method: "POST", URL: url(a, "note"), Body: `{"text":"  "}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"text":"required`}},
		{Name: "note: wrong type", Method: "POST", URL: url(a, "note"), Body: `{"text":5}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"text":"must be a string"`}},
		{Name: "note: another committee", Method: "POST", URL: url(a, "note"), Body: `{"text":"x"}`, Session: f.C02, WithCSRF: true,
			ExpectedStatus: 404},

		{Name: "resolve: no text", Method: "POST", URL: url(a, "resolve"), Session: f.C01, WithCSRF: true, ExpectedStatus: 400},
		{Name: "resolve: valid", Method: "POST", URL: url(a, "resolve"), Body: `{"text":"已清运"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200, ExpectedContent: []string{`"status":"resolved"`, `"status_notes":"已清运"`}},
		{Name: "resolve: wrong state", Method: "POST", URL: url(b, "resolve"), Body: `{"text":"x"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 409},

		{Name: "reopen: no reason", Method: "POST", URL: url(a, "reopen"), Body: `{}`, Session: f.C01, WithCSRF: true, ExpectedStatus: 400},
		{Name: "reopen: valid, routed again", Method: "POST", URL: url(a, "reopen"), Body: `{"reason":"居民说还没清"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200, ExpectedContent: []string{`"status":"routed"`, `"unit_id":"c01"`}},
		{Name: "reopen: wrong state", Method: "POST", URL: url(a, "reopen"), Body: `{"reason":"x"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 409},

		{Name: "decline: no reason", Method: "POST", URL: url(b, "decline"), Body: `{"reason":""}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"reason":"required`}},
		{Name: "decline: another committee", Method: "POST", URL: url(b, "decline"), Body: `{"reason":"x"}`, Session: f.C02, WithCSRF: true,
			ExpectedStatus: 404},
		{Name: "decline: valid, goes on", Method: "POST", URL: url(b, "decline"), Body: `{"reason":"本周人手不足"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200, ExpectedContent: []string{`"declined":["c01"]`, `"status":"routed"`},
			NotExpectedContent: []string{`"unit_id":"c01"`}},
		{Name: "decline: no longer theirs, still visible by area", Method: "POST", URL: url(b, "decline"), Body: `{"reason":"x"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 403},

		{Name: "reassign: no unit", Method: "POST", URL: url(b, "reassign"), Body: `{"note":"x"}`, Session: f.Center, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"unit_id":"required`}},
		{Name: "reassign: unknown unit", Method: "POST", URL: url(b, "reassign"), Body: `{"unit_id":"c99"}`, Session: f.Center, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`no unit \"c99\"`}},
		{Name: "reassign: committee outside its subtree", Method: "POST", URL: url(c, "reassign"), Body: `{"unit_id":"c02"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "reassign: street dispatcher anywhere in the street", Method: "POST", URL: url(b, "reassign"),
			Body: `{"unit_id":"c14-visits","note":"该队熟悉老人"}`, Session: f.Center, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"unit_id":"c14-visits"`, "人工改派", "该队熟悉老人"}},
		{Name: "reassign: street dispatcher not to the district", Method: "POST", URL: url(b, "reassign"),
			Body: `{"unit_id":"jingan-civil"}`, Session: f.Center, WithCSRF: true, ExpectedStatus: 403},
		{Name: "reassign: admin anywhere", Method: "POST", URL: url(b, "reassign"), Body: `{"unit_id":"jingan-civil"}`,
			Session: f.Admin, WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"tier":3`}},

		{Name: "cancel: no reason", Method: "POST", URL: url(c, "cancel"), Session: f.C01, WithCSRF: true, ExpectedStatus: 400},
		{Name: "cancel: valid", Method: "POST", URL: url(c, "cancel"), Body: `{"reason":"居民撤回"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200, ExpectedContent: []string{`"status":"cancelled"`}},
		{Name: "cancel: twice", Method: "POST", URL: url(c, "cancel"), Body: `{"reason":"x"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 409},

		{Name: "merge: no duplicate", Method: "POST", URL: url(a, "merge"), Body: `{}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"duplicate_id":"required`}},
		{Name: "merge: into itself", Method: "POST", URL: url(a, "merge"), Body: `{"duplicate_id":"` + a.ID + `"}`, Session: f.C01,
			WithCSRF: true, ExpectedStatus: 400},
		{Name: "merge: a duplicate another committee holds", Method: "POST", URL: url(a, "merge"), Body: `{"duplicate_id":"` + inC02 + `"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"duplicate_id":"no such ticket"`}},
		{Name: "merge: into another committee's ticket", Method: "POST", URL: "/api/v1/tickets/" + inC02 + "/merge",
			Body: `{"duplicate_id":"` + dup.ID + `"}`, Session: f.C01, WithCSRF: true, ExpectedStatus: 404},
		{Name: "merge: valid", Method: "POST", URL: url(a, "merge"), Body: `{"duplicate_id":"` + dup.ID + `"}`, Session: f.C01,
			WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"ticket":{"id":"` + a.ID + `"`}},
		{Name: "merge: the duplicate is closed now", Method: "POST", URL: url(a, "merge"), Body: `{"duplicate_id":"` + dup.ID + `"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"already merged"}},
		{Name: "merge: a cancelled duplicate", Method: "POST", URL: url(a, "merge"), Body: `{"duplicate_id":"` + c.ID + `"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 409},
	})

	// Every action is in the tickets' history.
	ctx := context.Background()
	for id, want := range map[string][]string{
		a.ID: {hotline.EventTicketAccepted, hotline.EventTicketStarted, hotline.EventTicketNoted, hotline.EventTicketResolved,
			hotline.EventTicketReopened, hotline.EventTicketRouted, hotline.EventTicketNoted},
		b.ID:   {hotline.EventTicketDeclined, hotline.EventTicketRouted, hotline.EventTicketRouted, hotline.EventTicketRouted},
		dup.ID: {hotline.EventTicketMerged},
	} {
		evs, err := f.Tickets.TicketEvents(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs[2:] { // after created and routed
			got = append(got, e.Type)
		}
		if !equal(got, want) {
			t.Errorf("ticket %s: events %v, want %v", id, got, want)
		}
	}
	if got := mustGet(t, f.Tickets, dup.ID); got.MergedInto != a.ID || got.Status != hotline.StatusClosed {
		t.Errorf("duplicate: merged into %q, status %s", got.MergedInto, got.Status)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func mustGet(tb testing.TB, s hotline.TicketStore, id string) *hotline.Ticket {
	tb.Helper()
	t, err := s.FindTicket(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// Without a dispatch service the routes answer an internal error rather
// than pretend.
func TestTicketActions_NoDispatch(t *testing.T) {
	f := mustTicketFixture(t)
	resp := f.Do(t, "POST", "/api/v1/tickets/"+f.InC01.ID+"/accept", "", f.C01, map[string]string{server.CSRFHeader: f.C01.CSRF})
	if resp.StatusCode != 500 {
		t.Errorf("status %d: %s", resp.StatusCode, resp.Body)
	}
	var body struct{ Code string }
	json.Unmarshal([]byte(resp.Body), &body)
	if body.Code != hotline.EINTERNAL {
		t.Errorf("code %q", body.Code)
	}
}

// A unit asks the resident a question by SMS, and records the rating the
// resident gave on a callback.
func TestTicketActions_AskAndRating(t *testing.T) {
	f := mustDispatchFixture(t)
	tk := f.MustSubmit(t, intake.Submission{ServiceCode: "sanitation", Description: "垃圾没人清", Lat: &f.C01Lat, Long: &f.C01Long,
		Phone: "13800138000", Consent: true})
	if _, err := f.Server.Dispatch.RouteNew(context.Background(), tk.ID); err != nil {
		t.Fatal(err)
	}
	url := func(action string) string { return "/api/v1/tickets/" + tk.ID + "/" + action }
	Run(t, f.TestServer, []Scenario{
		{Name: "ask: valid", Method: "POST", URL: url("ask"), Body: `{"text":"请问是几号楼？"}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 200},
		{Name: "ask: no question", Method: "POST", URL: url("ask"), Body: `{}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"text":"required`}},
		{Name: "ask: another committee", Method: "POST", URL: url("ask"), Body: `{"text":"?"}`, Session: f.C02, WithCSRF: true,
			ExpectedStatus: 404},
		{Name: "rating: not resolved yet", Method: "POST", URL: url("rating"), Body: `{"score":5}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 409, ExpectedContent: []string{"not resolved"}},
		{Name: "accept", Method: "POST", URL: url("accept"), Session: f.C01, WithCSRF: true, ExpectedStatus: 200},
		{Name: "resolve", Method: "POST", URL: url("resolve"), Body: `{"text":"已清运"}`, Session: f.C01, WithCSRF: true, ExpectedStatus: 200},
		{Name: "rating: no score", Method: "POST", URL: url("rating"), Body: `{}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 400, ExpectedContent: []string{`"score"`}},
		{Name: "rating: unauthenticated", Method: "POST", URL: url("rating"), Body: `{"score":5}`, ExpectedStatus: 401},
		{Name: "rating: valid", Method: "POST", URL: url("rating"), Body: `{"score":4,"comment":"老人说挺好"}`, Session: f.Center,
			WithCSRF: true, ExpectedStatus: 200},
		{Name: "rating: twice", Method: "POST", URL: url("rating"), Body: `{"score":5}`, Session: f.C01, WithCSRF: true,
			ExpectedStatus: 409, ExpectedContent: []string{"already rated"}},
	})
	if got := mustGet(t, f.Tickets, tk.ID); got.Satisfaction != 4 {
		t.Errorf("satisfaction %d, want 4", got.Satisfaction)
	}
	evs, err := f.Tickets.TicketEvents(context.Background(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	want := []string{hotline.EventTicketCreated, hotline.EventTicketRouted, hotline.EventTicketAsked, hotline.EventTicketAccepted,
		hotline.EventTicketResolved, hotline.EventTicketRated}
	if !equal(types, want) {
		t.Errorf("events %v, want %v", types, want)
	}
}
