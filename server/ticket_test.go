package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/server"
)

// ticketFixture is a street with staff and two residents' tickets: one in
// committee c01's area with a phone, one in c02's.
type ticketFixture struct {
	*TestServer
	Admin, C01, C02, Center, Volunteer *Session
	InC01, InC02                       *hotline.Ticket
	C01Lat, C01Long                    float64
}

func mustTicketFixture(t *testing.T) *ticketFixture {
	t.Helper()
	ts := MustOpenServer(t)
	f := &ticketFixture{TestServer: ts}
	f.C01Lat, f.C01Long = ts.PointIn(t, "c01")
	c02Lat, c02Long := ts.PointIn(t, "c02")
	f.InC01 = ts.MustSubmit(t, intake.Submission{ServiceCode: "sanitation", Description: "楼道垃圾没人清",
		Lat: &f.C01Lat, Long: &f.C01Long, Phone: "13812345678", LastName: "王", Consent: true})
	f.InC02 = ts.MustSubmit(t, intake.Submission{ServiceCode: "sanitation", Description: "路灯坏了",
		Lat: &c02Lat, Long: &c02Long, Phone: "13987654321"})

	ts.MustCreateUser(t, "admin", "admin-pw-1", hotline.RoleAdmin, "")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "c02staff", "c02-pw-123", hotline.RoleCommittee, "c02")
	ts.MustCreateUser(t, "center", "center-pw-1", hotline.RoleDispatcher, "center")
	ts.MustCreateUser(t, "vol", "vol-pw-1234", hotline.RoleVolunteer, "c02-repairs")
	f.Admin = ts.MustLogin(t, "admin", "admin-pw-1")
	f.C01 = ts.MustLogin(t, "c01staff", "c01-pw-123")
	f.C02 = ts.MustLogin(t, "c02staff", "c02-pw-123")
	f.Center = ts.MustLogin(t, "center", "center-pw-1")
	f.Volunteer = ts.MustLogin(t, "vol", "vol-pw-1234")
	return f
}

func TestTicketAPI(t *testing.T) {
	f := mustTicketFixture(t)
	valid := fmt.Sprintf(`{"service_code":"sanitation","description":"楼下垃圾堆了三天","lat":%v,"long":%v,`+
		`"phone":"138 1111 2222","last_name":"李","consent":true,"language":"zh"}`, f.C01Lat, f.C01Long)
	stringCoords := fmt.Sprintf(`{"service_code":"sanitation","description":"x","lat":"%v","long":"%v"}`, f.C01Lat, f.C01Long)
	c01, c02 := f.InC01.ID, f.InC02.ID

	Run(t, f.TestServer, []Scenario{
		// Public submission.
		{Name: "create: valid", Method: "POST", URL: "/api/v1/tickets", Body: valid, ExpectedStatus: 201,
			ExpectedContent: []string{`"status":"new"`, `"committee":"c01"`, `"unit_id":"c01"`, `"phone_masked":"138****2222"`,
				`"service_name_en":"`, `"history":[{"type":"ticket.created"`},
			NotExpectedContent: []string{"13811112222", "李"}},
		{Name: "create: coordinates as strings", Method: "POST", URL: "/api/v1/tickets", Body: stringCoords, ExpectedStatus: 201,
			ExpectedContent: []string{`"committee":"c01"`}},
		{Name: "create: invalid fields", Method: "POST", URL: "/api/v1/tickets",
			Body: `{"service_code":"no_such","description":"","phone":"12"}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"code":"invalid"`, `"fields":{`, `"service_code":`, `"description":`, `"phone":`}},
		{Name: "create: wrong types name their fields", Method: "POST", URL: "/api/v1/tickets",
			Body: `{"service_code":1,"description":"x","lat":true,"long":"east","consent":"yes"}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"service_code":"must be a string"`, `"lat":"must be a number`, `"long":"must be a number`, `"consent":"must be true or false"`}},
		{Name: "create: malformed JSON", Method: "POST", URL: "/api/v1/tickets", Body: `{"service_code":`, ExpectedStatus: 400,
			ExpectedContent: []string{`"code":"invalid"`, "request body is not valid JSON: "}},
		{Name: "create: not an object", Method: "POST", URL: "/api/v1/tickets", Body: `[1,2]`, ExpectedStatus: 400,
			ExpectedContent: []string{"request body is not valid JSON: "}},
		{Name: "create: body too large", Method: "POST", URL: "/api/v1/tickets",
			Body: `{"description":"` + strings.Repeat("长", server.DefaultMaxBodyBytes/2) + `"}`, ExpectedStatus: 413,
			ExpectedContent: []string{`"code":"invalid"`, "larger than 65536 bytes"}},
		{Name: "create: idempotency key too long", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Headers: map[string]string{"Idempotency-Key": strings.Repeat("k", 129)}, ExpectedStatus: 400,
			ExpectedContent: []string{"Idempotency-Key"}},
		{Name: "create: cross-origin browser", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Headers: map[string]string{"Origin": "https://evil.example"}, ExpectedStatus: 403,
			ExpectedContent: []string{`"code":"forbidden"`, "cross-origin"}},
		{Name: "create: cross-site fetch metadata", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, ExpectedStatus: 403},
		{Name: "create: same-origin browser", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Headers: map[string]string{"Origin": f.URL(), "Sec-Fetch-Site": "same-origin"}, ExpectedStatus: 201},
		{Name: "create: staff without CSRF token", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Session: f.C01, ExpectedStatus: 403, ExpectedContent: []string{"missing or wrong CSRF token"}},
		{Name: "create: staff with a wrong CSRF token", Method: "POST", URL: "/api/v1/tickets", Body: valid,
			Session: f.C01, Headers: map[string]string{server.CSRFHeader: "guess"}, ExpectedStatus: 403},
		{Name: "create: staff walk-in", Method: "POST", URL: "/api/v1/tickets",
			Body:    `{"service_code":"sanitation","description":"来访","channel":"walk-in"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 201},
		{Name: "create: staff may not claim open311", Method: "POST", URL: "/api/v1/tickets",
			Body:    `{"service_code":"sanitation","description":"x","channel":"open311"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"channel":`}},

		// Public status lookup.
		{Name: "status: right last4", URL: "/api/v1/tickets/" + c01 + "/status?phone_last4=5678", ExpectedStatus: 200,
			ExpectedContent:    []string{`"id":"` + c01 + `"`, `"phone_masked":"138****5678"`, "楼道垃圾没人清", `"committee_name_zh":"`},
			NotExpectedContent: []string{"13812345678", `"contact"`}},
		{Name: "status: wrong last4", URL: "/api/v1/tickets/" + c01 + "/status?phone_last4=0000", ExpectedStatus: 404,
			ExpectedContent: []string{`"code":"not_found"`}, NotExpectedContent: []string{"楼道"}},
		{Name: "status: no last4", URL: "/api/v1/tickets/" + c01 + "/status", ExpectedStatus: 404},
		{Name: "status: mistyped id", URL: "/api/v1/tickets/" + mistype(c01) + "/status?phone_last4=5678", ExpectedStatus: 404},
		{Name: "status: unknown id", URL: "/api/v1/tickets/" + hotline.TicketIDWithCheck("99999") + "/status?phone_last4=5678", ExpectedStatus: 404},

		// Staff reading.
		{Name: "list: unauthenticated", URL: "/api/v1/tickets", ExpectedStatus: 401, ExpectedContent: []string{`"code":"unauthorized"`}},
		{Name: "view: unauthenticated", URL: "/api/v1/tickets/" + c01, ExpectedStatus: 401},
		{Name: "me: unauthenticated", URL: "/api/v1/me", ExpectedStatus: 401},
		{Name: "view: own committee", URL: "/api/v1/tickets/" + c01, Session: f.C01, ExpectedStatus: 200,
			ExpectedContent:    []string{`"ticket":{"id":"` + c01 + `"`, `"phone":"138****5678"`, `"events":[{`, `"unit_name_zh":"`, `"service_name_zh":"`},
			NotExpectedContent: []string{"13812345678"}},
		{Name: "view: another committee's ticket", URL: "/api/v1/tickets/" + c01, Session: f.C02, ExpectedStatus: 404,
			NotExpectedContent: []string{"楼道"}},
		{Name: "view: volunteer group below c02 cannot see c02's own ticket", URL: "/api/v1/tickets/" + c02, Session: f.Volunteer, ExpectedStatus: 404},
		{Name: "view: service center sees committees below it", URL: "/api/v1/tickets/" + c01, Session: f.Center, ExpectedStatus: 200},
		{Name: "view: admin", URL: "/api/v1/tickets/" + c02, Session: f.Admin, ExpectedStatus: 200},
		{Name: "view: mistyped id", URL: "/api/v1/tickets/" + mistype(c01), Session: f.Admin, ExpectedStatus: 404},
		{Name: "list: c02 never sees c01's ticket", URL: "/api/v1/tickets", Session: f.C02, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + c02 + `"`}, NotExpectedContent: []string{`"id":"` + c01 + `"`, "13987654321"}},
		{Name: "list: c01 sees its own", URL: "/api/v1/tickets?status=new,routed&service_code=sanitation", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + c01 + `"`, `"phone":"138****5678"`}, NotExpectedContent: []string{`"id":"` + c02 + `"`}},
		{Name: "list: filter by committee", URL: "/api/v1/tickets?committee=c02&from=2000-01-01&to=2999-12-31", Session: f.Admin, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + c02 + `"`, `"total":1`}, NotExpectedContent: []string{`"id":"` + c01 + `"`}},
		{Name: "list: invalid query", URL: "/api/v1/tickets?status=done&limit=0&from=yesterday", Session: f.Admin, ExpectedStatus: 400,
			ExpectedContent: []string{`"status":`, `"limit":`, `"from":`}},

		// Catalogue and network.
		{Name: "services", URL: "/api/v1/services", ExpectedStatus: 200,
			ExpectedContent: []string{`{"services":[{"code":"`, `"sanitation"`}},
		{Name: "units", URL: "/api/v1/units", ExpectedStatus: 200,
			ExpectedContent: []string{`"units":[{"id":"`, `"areas":{"type":"FeatureCollection"`, `"unit_id":"c01"`}},
		{Name: "unknown API path", URL: "/api/v1/nothing", ExpectedStatus: 404, ExpectedContent: []string{`"code":"not_found"`}},
	})
}

// mistype changes the first digit, which the check digit always catches.
func mistype(id string) string {
	d := (id[0]-'0'+1)%10 + '0'
	return string(d) + id[1:]
}

// A ticket escalated away from its committee stays visible to that
// committee (CanSeeTicket's area rule) and appears in its list.
func TestTicketList_AreaVisibilityAfterEscalation(t *testing.T) {
	f := mustTicketFixture(t)
	ctx := context.Background()
	if _, err := f.Tickets.UpdateTicket(ctx, f.InC01.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
		from := t.UnitID
		t.UnitID, t.Status = "jingan-housing", hotline.StatusRouted
		return &hotline.Event{Type: hotline.EventTicketEscalated, Actor: "system", Status: t.Status,
			UnitID: t.UnitID, FromUnitID: from}, nil
	}); err != nil {
		t.Fatal(err)
	}
	Run(t, f.TestServer, []Scenario{
		{Name: "committee still lists it", URL: "/api/v1/tickets", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + f.InC01.ID + `"`, `"total":1`}},
		{Name: "committee still reads it", URL: "/api/v1/tickets/" + f.InC01.ID, Session: f.C01, ExpectedStatus: 200},
		{Name: "the other committee does not", URL: "/api/v1/tickets", Session: f.C02, ExpectedStatus: 200,
			NotExpectedContent: []string{`"id":"` + f.InC01.ID + `"`}},
		{Name: "center lists both", URL: "/api/v1/tickets?limit=1&offset=1", Session: f.Center, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":2`, `"id":"` + f.InC01.ID + `"`}},
	})
}

func TestTicketCreate_IdempotentRetry(t *testing.T) {
	ts := MustOpenServer(t)
	body := `{"service_code":"sanitation","description":"电梯坏了","address_string":"宜昌路 3 号","phone":"13800001111"}`
	key := map[string]string{"Idempotency-Key": "3f1c0e9a-retry"}
	first := ts.Do(t, "POST", "/api/v1/tickets", body, nil, key)
	second := ts.Do(t, "POST", "/api/v1/tickets", body, nil, key)
	if first.StatusCode != 201 || second.StatusCode != 200 {
		t.Fatalf("statuses %d, %d; want 201, 200: %s / %s", first.StatusCode, second.StatusCode, first.Body, second.Body)
	}
	var a, b struct{ ID string }
	json.Unmarshal([]byte(first.Body), &a)
	json.Unmarshal([]byte(second.Body), &b)
	if a.ID == "" || a.ID != b.ID {
		t.Fatalf("ids %q and %q; want the same", a.ID, b.ID)
	}
	_, total, err := ts.Tickets.FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 {
		t.Fatalf("store holds %d tickets; want 1", total)
	}
	metrics := ts.Do(t, "GET", "/metrics", "", nil, nil).Body
	if !strings.Contains(metrics, `hotline_tickets_created_total{channel="web"} 1`) {
		t.Errorf("retry counted twice or not at all:\n%s", grep(metrics, "hotline_tickets_created_total"))
	}
}

// Anonymous callers are the web form whatever they claim; staff may say
// walk-in. Both are counted under their channel.
func TestTicketCreate_Channel(t *testing.T) {
	f := mustTicketFixture(t)
	body := func(ch string) string {
		return `{"service_code":"sanitation","description":"来访登记","channel":"` + ch + `"}`
	}
	anon := f.Do(t, "POST", "/api/v1/tickets", body("walk-in"), nil, nil)
	staff := f.Do(t, "POST", "/api/v1/tickets", body("walk-in"), f.Center, map[string]string{server.CSRFHeader: f.Center.CSRF})
	for _, c := range []struct {
		resp *Response
		want hotline.Channel
	}{{anon, hotline.ChannelWeb}, {staff, hotline.ChannelWalkIn}} {
		if c.resp.StatusCode != 201 {
			t.Fatalf("status %d: %s", c.resp.StatusCode, c.resp.Body)
		}
		var v struct{ ID string }
		json.Unmarshal([]byte(c.resp.Body), &v)
		got, err := f.Tickets.FindTicket(context.Background(), v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Channel != c.want {
			t.Errorf("ticket %s: channel %q, want %q", v.ID, got.Channel, c.want)
		}
	}
	metrics := f.Do(t, "GET", "/metrics", "", nil, nil).Body
	// The fixture's two tickets came through intake too: they count.
	for _, want := range []string{`hotline_tickets_created_total{channel="web"} 3`, `hotline_tickets_created_total{channel="walk-in"} 1`,
		`hotline_http_request_duration_seconds_count{code="201",method="POST",route="/api/v1/tickets"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s:\n%s", want, grep(metrics, "hotline_"))
		}
	}
}

// A ticket without a phone is open to anyone with its id, so the status
// page then shows only what Open311 would: nothing of a sensitive kind.
func TestTicketStatus_WithoutPhoneShowsPublicView(t *testing.T) {
	ts := MustOpenServer(t)
	tk := ts.MustSubmit(t, intake.Submission{ServiceCode: "counselling", Description: "家里有人情绪很差", Address: "宜昌路 3 号"})
	Run(t, ts, []Scenario{
		{Name: "sensitive, no phone", URL: "/api/v1/tickets/" + tk.ID + "/status", ExpectedStatus: 200,
			ExpectedContent:    []string{`"id":"` + tk.ID + `"`, `"description":""`, `"address":""`},
			NotExpectedContent: []string{"情绪", "宜昌路"}},
	})
}

func TestTicketStatus_RateLimited(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) { s.Config.PublicRatePerMinute = 2 })
	path := "/api/v1/tickets/" + hotline.TicketIDWithCheck("12345") + "/status?phone_last4=1234"
	for i := 0; i < 2; i++ {
		if got := ts.Do(t, "GET", path, "", nil, nil).StatusCode; got != 404 {
			t.Fatalf("lookup %d: %d, want 404", i, got)
		}
	}
	resp := ts.Do(t, "GET", path, "", nil, nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third lookup: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !strings.Contains(resp.Body, `"code":"too_many"`) {
		t.Errorf("body %s", resp.Body)
	}
}

// FuzzCreateTicketJSON: whatever the body, the answer is never a 5xx and
// the handler never panics (a panic would come back as a 500); a 4xx is
// the API's error body (AssertAnswer, fuzz_test.go).
func FuzzCreateTicketJSON(f *testing.F) {
	for _, seed := range []string{
		`{"service_code":"sanitation","description":"楼道灯坏了","lat":31.24,"long":121.43,"phone":"13812345678"}`,
		`{"service_code":"sanitation","description":"x","lat":"31.24","long":"121.43"}`,
		`{"lat":"NaN","long":"Inf"}`, `{"lat":1e999}`, `{"consent":"true"}`, `{"channel":"voice"}`,
		`{"description":"\u202e\u0000"}`, `null`, `[]`, `"x"`, `{`, ``, `{"a":1} {"b":2}`,
		`{"service_code":{"nested":[1,2,{"deep":null}]}}`, `{"phone":"+8613812345678","email":"a@b"}`,
	} {
		f.Add(seed, "")
	}
	f.Add(`{"service_code":"sanitation","description":"x"}`, "key-1")
	ts := MustOpenServer(f, func(s *server.Server) { s.Limiter = nil })
	h := ts.Handler()
	f.Fuzz(func(t *testing.T, body, key string) {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/tickets", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		AssertAnswer(t, rec, fmt.Sprintf("body %q key %q", body, key))
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON: %s", rec.Body)
		}
	})
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
