package server_test

// The fuzz targets of the HTTP API: every JSON body and query a client
// controls, from the login form to the live board's position. Whatever
// arrives, the answer is never a 5xx (the recovery middleware turns a
// panic into one, so that covers panics too) and every 4xx is the API's
// error body, a code and a message saying what to fix. An input that once
// failed stays in testdata/fuzz/<target>/ and runs with every go test.
//
// go test -run '^$' -fuzz '^FuzzProjectJSON$' -fuzztime 20s ./server/
// runs one of them; bench/fuzz runs them all (docs/RELIABILITY.md).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/volunteers"
)

// fuzzStreet is a server on a real Redis with every service a request can
// reach (dispatch, the volunteer registry and tasking, the needs
// projects), rate limits off so that every input gets to its handler, a
// few tickets in c01 and staff of each role signed in.
type fuzzStreet struct {
	*TestServer
	Admin, Social, C01, Volunteer *Session
	// TicketIDs are elderly_visit tickets in c01, routed there; the
	// first has the phone 13812345678 and agreed to SMS.
	TicketIDs []string
	// VolunteerID is an approved volunteer of c01 (phone 13800001111,
	// also the Volunteer session's username).
	VolunteerID string
	lat, long   float64
}

func mustFuzzStreet(tb testing.TB) *fuzzStreet {
	tb.Helper()
	ts := MustOpenServer(tb, withDispatch(tb), withProjects(tb), func(s *server.Server) {
		s.Limiter = nil
		// withVolunteers, with a registry that keeps its log to itself:
		// a line per fuzzed import would drown the fuzzer's own.
		client, prefix := redistest.New(tb)
		db := redisstore.NewDB(client, prefix)
		reg := &volunteers.Service{Store: redisstore.NewVolunteerStore(db), Assignments: redisstore.NewAssignmentStore(db),
			Directory: s.Directory, Logger: slog.New(slog.DiscardHandler)}
		s.Volunteers = server.NewVolunteers(reg, &volunteers.Tasker{Registry: reg, Tickets: s.Tickets,
			Outbox: redisstore.NewOutbox(db), Sessions: redisstore.NewPhoneSessions(db)})
	})
	st := &fuzzStreet{TestServer: ts}
	st.lat, st.long = ts.PointIn(tb, "c01")
	for i := range 3 {
		st.TicketIDs = append(st.TicketIDs, st.MustRoutedTicket(tb, i == 0).ID)
	}
	for _, u := range []struct {
		name string
		role hotline.Role
		unit string
		s    **Session
	}{
		{"admin", hotline.RoleAdmin, "", &st.Admin},
		{"social", hotline.RoleSocialWorker, "center", &st.Social},
		{"c01staff", hotline.RoleCommittee, "c01", &st.C01},
		{"13800001111", hotline.RoleVolunteer, "c01", &st.Volunteer},
	} {
		ts.MustCreateUser(tb, u.name, u.name+"-password", u.role, u.unit)
		*u.s = ts.MustLogin(tb, u.name, u.name+"-password")
	}
	reg := st.Serve("POST", "/api/v1/volunteers/register", "", "application/json",
		`{"name":"王芳","phone":"13800001111","committee":"c01","skills":["elderly_visit"],"languages":["zh"],"consent":true}`, nil)
	var v struct{ ID string }
	if err := json.Unmarshal(reg.Body.Bytes(), &v); reg.Code != http.StatusCreated || err != nil {
		tb.Fatalf("register: %d %s", reg.Code, reg.Body)
	}
	st.VolunteerID = v.ID
	if w := st.Serve("POST", "/api/v1/volunteers/"+v.ID+"/approve", "", "application/json",
		`{"classification":"general"}`, st.Social); w.Code != http.StatusOK {
		tb.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	return st
}

// MustRoutedTicket files an elderly_visit need in c01's area (with a
// phone that agreed to SMS when contact is set) and routes it.
func (st *fuzzStreet) MustRoutedTicket(tb testing.TB, contact bool) *hotline.Ticket {
	tb.Helper()
	sub := intake.Submission{ServiceCode: "elderly_visit", Description: "独居老人需要探访", Lat: &st.lat, Long: &st.long}
	if contact {
		sub.Phone, sub.Consent = "13812345678", true
	}
	tk := st.MustSubmit(tb, sub)
	routed, err := st.Server.Dispatch.RouteNew(context.Background(), tk.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return routed
}

// Serve sends one request straight to the server's handler, as sess (nil:
// anonymous) with its CSRF token. path and rawQuery are taken as they are,
// so that any fuzzed bytes make a request rather than a test error.
func (st *fuzzStreet) Serve(method, path, rawQuery, contentType, body string, sess *Session) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	r.URL.Path, r.URL.RawQuery = path, rawQuery
	r.RequestURI = r.URL.RequestURI()
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if sess != nil {
		r.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: sess.Cookie})
		r.Header.Set(server.CSRFHeader, sess.CSRF)
	}
	w := httptest.NewRecorder()
	st.Handler().ServeHTTP(w, r)
	return w
}

// AssertAnswer fails when w is a server error, or a client error that is
// not the API's error body: a known code matching the status (413 is told
// as invalid) and a message.
func AssertAnswer(tb testing.TB, w *httptest.ResponseRecorder, input string) {
	tb.Helper()
	if w.Code >= 500 {
		tb.Fatalf("status %d for %s\n%s", w.Code, input, w.Body)
	}
	if w.Code < 400 {
		return
	}
	var e struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || strings.TrimSpace(e.Error) == "" {
		tb.Fatalf("status %d for %s without the API's error body: %q", w.Code, input, w.Body)
	}
	if want := hotline.HTTPStatus(e.Code); want != w.Code && !(w.Code == http.StatusRequestEntityTooLarge && e.Code == hotline.EINVALID) {
		tb.Fatalf("status %d for %s with code %q, which is %d", w.Code, input, e.Code, want)
	}
}

func FuzzLoginJSON(f *testing.F) {
	for _, s := range []string{
		`{"username":"admin","password":"admin-password"}`, `{"username":"ADMIN ","password":"admin-password"}`,
		`{"username":"admin","password":"wrong"}`, `{"username":"nobody","password":"x"}`,
		`{"username":"","password":""}`, `{"username":1,"password":true}`, `{"username":"admin"}`,
		`{"username":"` + strings.Repeat("a", 65) + `","password":"x"}`, `{"username":"admin","password":"` + strings.Repeat("p", 100) + `"}`,
		`{"username":"a\u0000b","password":"\ud800"}`, `{"username":null,"password":null}`, `[]`, `null`, ``, `{`, `{}{}`,
	} {
		f.Add(s)
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := st.Serve("POST", "/api/v1/login", "", "application/json", body, nil)
		AssertAnswer(t, w, fmt.Sprintf("login %q", body))
		if w.Code == http.StatusOK && !strings.Contains(w.Body.String(), `"csrf_token":"`) {
			t.Fatalf("login %q: 200 without a session: %s", body, w.Body)
		}
	})
}

// ticketActionNames are the actions of POST /api/v1/tickets/{id}/<action>.
var ticketActionNames = []string{"accept", "start", "decline", "reassign", "note", "resolve", "reopen", "cancel", "merge", "ask", "rating"}

// FuzzTicketActionJSON sends any body to any action on a fresh ticket, as
// an administrator or as the c01 committee's staff. The ticket is first
// taken as far as the input says (routed, accepted, started or resolved),
// so that every action meets every state. "$T" in the body stands for
// another ticket of c01, so that merges find one.
func FuzzTicketActionJSON(f *testing.F) {
	for i, s := range []string{
		``, `{}`, `{"reason":"不归我们管"}`, `{"unit_id":"c02","note":"转给二居"}`, `{"text":"已联系"}`, `{"text":"已解决"}`,
		`{"reason":"居民说还没好"}`, `{"reason":"重复"}`, `{"duplicate_id":"$T"}`, `{"text":"请问是几号楼？"}`,
		`{"score":5,"comment":"很好"}`, `{"score":"5"}`, `{"score":1e99}`, `{"score":-1}`, `{"unit_id":"nowhere"}`,
		`{"unit_id":"","note":""}`, `{"duplicate_id":"0"}`, `{"text":"` + strings.Repeat("长", 5000) + `"}`, `null`, `[1]`, `{"text":`,
	} {
		f.Add(uint8(i%len(ticketActionNames)), uint8(i), i%3 == 0, s)
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, action, state uint8, asCommittee bool, body string) {
		name := ticketActionNames[int(action)%len(ticketActionNames)]
		sess := st.Admin
		if asCommittee {
			sess = st.C01
		}
		tk := st.MustRoutedTicket(t, action%2 == 0)
		for _, step := range []string{"accept", "start", "resolve"}[:state%4] {
			if w := st.Serve("POST", "/api/v1/tickets/"+tk.ID+"/"+step, "", "application/json", `{"text":"已处理"}`, st.Admin); w.Code != http.StatusOK {
				t.Fatalf("%s before %s: %d %s", step, name, w.Code, w.Body)
			}
		}
		body = strings.ReplaceAll(body, "$T", st.TicketIDs[1])
		w := st.Serve("POST", "/api/v1/tickets/"+tk.ID+"/"+name, "", "application/json", body, sess)
		AssertAnswer(t, w, fmt.Sprintf("%s %q", name, body))
	})
}

func FuzzVolunteerRegisterJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"李强","phone":"13900000001","committee":"c01","skills":["home_repair"],"languages":["zh","wuu"],"availability":"mon-fri 18:00-21:00; sat 09:00-17:00","qualifications":[{"kind":"electrician","expires":"2027-06-30"}],"consent":true}`,
		`{"name":"Anna","phone":"+86 138-0000-0002","committee":"c04","skills":"elderly_visit","consent":"true"}`,
		`{"name":"王","phone":"13800001111","committee":"c01","consent":true}`,
		`{"name":"x","phone":"1","committee":"c99","availability":"daily 25:00-26:00","consent":true}`,
		`{"name":"x","phone":"13900000002","committee":"c01","qualifications":[{"kind":"nurse","expires":"2027-02-30"}],"consent":true}`,
		`{"name":"x","phone":"13900000003","committee":"c01","qualifications":"nurse","consent":true}`,
		`{"name":"x","phone":"13900000004","committee":"c01","qualifications":[{"kind":"","expires":"0000-01-01"}],"consent":true}`,
		`{"name":"x","phone":"13900000005","committee":"c01","skills":[1,2],"languages":{},"consent":true}`,
		`{"name":"x","phone":"13900000006","committee":"c01","availability":"mon 09:00-08:00","consent":false}`,
		`{}`, `null`, `""`, ``,
	} {
		f.Add(s)
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := st.Serve("POST", "/api/v1/volunteers/register", "", "application/json", body, nil)
		AssertAnswer(t, w, fmt.Sprintf("register %q", body))
	})
}

// FuzzVolunteerProfileJSON replaces the profile of one volunteer with any
// body, as a social worker.
func FuzzVolunteerProfileJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"王芳","phone":"13800001111","committee":"c01","address":"长寿路178号","skills":["elderly_visit","legal"],"languages":["zh"],"availability":"daily 09:00-12:00","groups":["c01-visits"],"classification":"professional","max_tasks":3,"notes":"退休法官"}`,
		`{"name":"王芳","phone":"13800001111","committee":"c01","max_tasks":"2","version":"1"}`,
		`{"name":"王芳","phone":"13800001111","committee":"c01","max_tasks":-1,"version":-1}`,
		`{"name":"王芳","phone":"13800001111","committee":"c01","max_tasks":1e3,"version":99999999999999999999}`,
		`{"name":"王芳","phone":"13800001111","committee":"c01","groups":["nowhere"],"classification":"astronaut"}`,
		`{"name":"王芳","phone":"13800001111","committee":"c01","qualifications":[{"kind":"lawyer","expires":"9999-12-31"}]}`,
		`{"name":"","phone":"","committee":""}`, `{"max_tasks":9223372036854775807}`, `{"version":null,"notes":null}`, `{}`, `[]`,
	} {
		f.Add(s)
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, body string) {
		w := st.Serve("PUT", "/api/v1/volunteers/"+st.VolunteerID, "", "application/json", body, st.Social)
		AssertAnswer(t, w, fmt.Sprintf("profile %q", body))
	})
}

// importUploads are the ways a CSV may come to POST /api/v1/volunteers/import.
var importUploads = []string{"text/csv", "multipart", "multipart-other-field", "", "application/json", "multipart-raw"}

// FuzzVolunteerImportHTTP uploads any bytes in each of the ways a page or
// a script may: a broken upload is a 4xx, a CSV a report whose figures add
// up and whose every rejected row says why.
func FuzzVolunteerImportHTTP(f *testing.F) {
	for i, s := range []string{
		"name,phone,committee\n赵六,13900000011,c02\n",
		"姓名,手机,居委会,技能,资质,语言,服务时间,状态\n孙七,13900000012,c03,home_repair,electrician:2027-01-01,zh,daily 08:00-10:00,在岗\n",
		"name,phone,committee,max_tasks,status\nx,1,c01,many,retired\n",
		"name,phone\nx,13900000013\n", "nosuch\n", "", "\xef\xbb\xbf", "name,phone,committee\n\"unterminated,13900000014,c01\n",
		"\x80\x81\xfe\xff",
	} {
		f.Add(uint8(i%len(importUploads)), []byte(s))
		f.Add(uint8(0), []byte(s))
		f.Add(uint8(1), []byte(s))
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, how uint8, csv []byte) {
		kind := importUploads[int(how)%len(importUploads)]
		contentType, body := kind, string(csv)
		switch kind {
		case "multipart", "multipart-other-field":
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			field := "file"
			if kind == "multipart-other-field" {
				field = "upload"
			}
			fw, err := mw.CreateFormFile(field, "volunteers.csv")
			if err != nil {
				t.Fatal(err)
			}
			fw.Write(csv)
			mw.Close()
			contentType, body = mw.FormDataContentType(), buf.String()
		case "multipart-raw":
			contentType = "multipart/form-data; boundary=xyz"
		}
		w := st.Serve("POST", "/api/v1/volunteers/import", "", contentType, body, st.Social)
		input := fmt.Sprintf("import as %s of %q", kind, csv)
		AssertAnswer(t, w, input)
		if w.Code != http.StatusOK {
			return
		}
		var rep struct {
			Rows, Created, Updated, Unchanged int
			RejectedRows                      int `json:"rejected_rows"`
			Rejected                          []struct {
				Line   int
				Reason string
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatalf("%s: report %s: %v", input, w.Body, err)
		}
		if rep.Created+rep.Updated+rep.Unchanged+rep.RejectedRows != rep.Rows {
			t.Fatalf("%s: figures do not add up: %s", input, w.Body)
		}
		for _, r := range rep.Rejected {
			if r.Line < 1 || strings.TrimSpace(r.Reason) == "" {
				t.Fatalf("%s: a rejected row without its line or reason: %s", input, w.Body)
			}
		}
	})
}

// projectActions are the changes of POST /api/v1/projects/{id}/<action>.
var projectActions = []string{"propose", "reject", "merge", "split", "purchase", "expenses"}

// FuzzProjectJSON sends any body to any change of a fresh draft, as a
// social worker. Purchases go to a draft made a proposal first, expenses
// to one purchased. In the body "$D" is the draft itself, "$E" another
// draft and "$T" one of the draft's tickets.
func FuzzProjectJSON(f *testing.F) {
	for _, s := range []struct {
		action uint8
		body   string
	}{
		{0, `{"title_zh":"独居老人每周探访","title_en":"Weekly visits","summary_zh":"每周一次","objectives":"覆盖30户","population":"elderly_alone","organization":"org-elderly","org_kind":"elderly_care","target_person_times":"30","budget":"2400","version":1}`},
		{0, `{"title_zh":" ","budget":-1,"target_person_times":1.5,"population":"martians","org_kind":"x"}`},
		{0, `{"budget":"1e400","target_person_times":"9223372036854775807.0","version":"9223372036854775808"}`},
		{0, `{"budget":99.999,"target_person_times":480.0,"version":null,"title_en":null}`},
		{1, `{"reason":"与去年项目重复"}`}, {1, `{"reason":""}`}, {1, `{"reason":["x"]}`},
		{2, `{"ids":["$E"]}`}, {2, `{"ids":["$D"]}`}, {2, `{"ids":[]}`}, {2, `{"ids":"$E"}`}, {2, `{"ids":["P999999","$E","$E"]}`},
		{3, `{"ticket_ids":["$T"]}`}, {3, `{"ticket_ids":["160035"]}`}, {3, `{"ticket_ids":[""]}`},
		{4, `{"organization":"org-elderly","budget":2400,"start":"2027-01-01","end":"2027-12-31","target_person_times":30}`},
		{4, `{"organization":"c01","budget":0,"start":"2027-12-31","end":"2027-01-01","target_person_times":0}`},
		{4, `{"organization":"org-elderly","budget":2400,"start":"0000-01-01","end":"9999-12-31","target_person_times":30}`},
		{4, `{"organization":"org-elderly","budget":2400,"start":"2027-01-01T00:00:00+23:59","end":"2027-02-30","target_person_times":"30"}`},
		{5, `{"amount":300,"note":"交通","at":"2027-02-01"}`}, {5, `{"amount":"0.001","note":" "}`},
		{5, `{"amount":100000001,"note":"x","at":"0000-01-01"}`}, {5, `{"amount":1,"note":"x","at":"9999-12-31T23:59:59-23:59"}`},
		{0, `null`}, {2, ``}, {5, `{`},
	} {
		f.Add(s.action, s.body)
	}
	st := mustFuzzStreet(f)
	store := st.Server.Projects.(*projects.Service).Store
	draft := func(t *testing.T) *hotline.Project {
		p := &hotline.Project{Year: 2027, TitleZH: "独居老人上门探访", TitleEN: "Home visits", ServiceCode: "elderly_visit",
			Population: "elderly_alone", Committees: []string{"c01"}, PersonTimes: 36, CostPerPersonTime: 80, Budget: 2880,
			Evidence: hotline.Evidence{Tickets: 3, Residents: 3, TicketIDs: st.TicketIDs,
				Months:     []hotline.MonthCount{{Month: "2026-03", Count: 3}},
				Committees: []hotline.CommitteeCount{{Committee: "c01", Count: 3}}}}
		if _, err := store.SaveDraft(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	f.Fuzz(func(t *testing.T, action uint8, body string) {
		name := projectActions[int(action)%len(projectActions)]
		d, e := draft(t), draft(t)
		path := "/api/v1/projects/" + d.ID + "/"
		steps := map[string][]string{
			"purchase": {"propose"},
			"expenses": {"propose", "purchase"},
		}[name]
		for _, step := range steps {
			ok := map[string]string{
				"propose":  `{"title_zh":"独居老人每周探访","target_person_times":30,"budget":2400,"org_kind":"elderly_care"}`,
				"purchase": `{"organization":"org-elderly","budget":2400,"start":"2027-01-01","end":"2027-12-31","target_person_times":30}`,
			}[step]
			if w := st.Serve("POST", path+step, "", "application/json", ok, st.Social); w.Code != http.StatusOK {
				t.Fatalf("%s before %s: %d %s", step, name, w.Code, w.Body)
			}
		}
		body = strings.NewReplacer("$D", d.ID, "$E", e.ID, "$T", st.TicketIDs[0]).Replace(body)
		w := st.Serve("POST", path+name, "", "application/json", body, st.Social)
		AssertAnswer(t, w, fmt.Sprintf("%s %q", name, body))
	})
}

// listQueries are the endpoints whose query a client writes, with who asks.
// "$T" in a path is a ticket of c01.
var listQueries = []struct {
	path string
	who  func(*fuzzStreet) *Session
}{
	{"/api/v1/tickets", func(st *fuzzStreet) *Session { return st.Admin }},
	{"/api/v1/tickets", func(st *fuzzStreet) *Session { return st.C01 }},
	{"/api/v1/tickets", func(st *fuzzStreet) *Session { return st.Volunteer }},
	{"/api/v1/tickets/$T/status", func(*fuzzStreet) *Session { return nil }},
	{"/api/v1/stats", func(st *fuzzStreet) *Session { return st.Admin }},
	{"/api/v1/stats", func(st *fuzzStreet) *Session { return st.C01 }},
	{"/api/v1/volunteers", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/volunteers/export.csv", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/volunteers/hours", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/volunteers/hours.csv", func(st *fuzzStreet) *Session { return st.C01 }},
	{"/api/v1/tickets/$T/volunteers/suggestions", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/projects", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/projects/export.md", func(st *fuzzStreet) *Session { return st.Social }},
	{"/api/v1/projects/export.xlsx", func(st *fuzzStreet) *Session { return st.C01 }},
}

// FuzzListQuery sends any query to the endpoints that read one: dates,
// limits and offsets, statuses, units, years.
func FuzzListQuery(f *testing.F) {
	for i, q := range []string{
		"", "status=new,routed&from=2025-03-01&to=2025-03-31&limit=10&offset=0&unit=c01&committee=c01&service_code=elderly_visit",
		"from=2025-03-01T08:00:00Z&to=2025-03-01T08:00:00%2B08:00", "from=0000-01-01&to=0000-01-02", "to=0000-01-01T00:00:00Z",
		"from=9999-12-31&to=9999-12-31", "limit=0", "limit=1001", "limit=-1&offset=-1", "offset=9223372036854775807&limit=1000",
		"status=open", "status=,", "status=applied,active", "status=draft,proposal", "year=2027", "year=1e3", "year=99999999999999999999",
		"by=category", "by=group&from=2027-01-01&to=2026-01-01", "at=2025-03-12T11:00:00%2B08:00&limit=50", "at=x&limit=51",
		"phone_last4=5678", "phone_last4=%00%00%00%00", "q=王&skill=elderly_visit&group=c01-visits", "unit=nowhere", "%zz=1&&&=;",
	} {
		// Each query on one route (the fuzzer crosses them): every seed
		// runs before fuzzing starts, and 26 queries on 14 routes would
		// take the whole of a short budget.
		f.Add(uint8(i), q)
	}
	for i := range listQueries {
		f.Add(uint8(i), "")
	}
	st := mustFuzzStreet(f)
	f.Fuzz(func(t *testing.T, route uint8, query string) {
		lq := listQueries[int(route)%len(listQueries)]
		path := strings.ReplaceAll(lq.path, "$T", st.TicketIDs[0])
		w := st.Serve("GET", path, query, "", "", lq.who(st))
		AssertAnswer(t, w, fmt.Sprintf("GET %s?%s", path, query))
		if w.Code == http.StatusOK && strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("GET %s?%s: not JSON: %s", path, query, w.Body)
		}
	})
}

// FuzzBoardSince opens the live board with any since and sends it any
// message. A since that is not a position is told on the socket (an error
// message, then close 4400); any other is answered with the replay, hello
// or reload. What the board sends is dropped: a message within the read
// limit leaves the board open (it still answers a ping), a larger one
// closes it with 1009. Nothing a board does makes the server fail.
func FuzzBoardSince(f *testing.F) {
	client, prefix := redistest.New(f)
	ts, _ := MustOpenFeedServer(f, client, prefix)
	ts.MustCreateUser(f, "admin", "admin-pw-1", hotline.RoleAdmin, "")
	admin := ts.MustLogin(f, "admin", "admin-pw-1")
	lat, long := ts.PointIn(f, "c01")
	ts.MustSubmit(f, intake.Submission{ServiceCode: "sanitation", Description: "楼道灯坏了", Lat: &lat, Long: &long})
	head, err := ts.Server.Feed.Head(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	zero := hotline.NewFeedPosition(len(head)).String()
	for _, since := range []string{"", head.String(), zero, strings.Replace(zero, "0-0", "18446744073709551615-18446744073709551615", 1),
		strings.Replace(zero, "0-0", "99999999999999-0", 3), strings.TrimSuffix(zero, ".0-0"), zero + ".0-0",
		strings.Replace(zero, "0-0", "-1-0", 1), strings.Replace(zero, "0-0", "1-", 1), "x"} {
		f.Add(since, []byte(`{"type":"subscribe","position":"`+since+`"}`), false)
	}
	f.Add("", bytes.Repeat([]byte("x"), 5000), true)
	f.Fuzz(func(t *testing.T, since string, msg []byte, binary bool) {
		// One bound for the whole exchange, below the fuzzer's own 10 s
		// per input (past which it takes the worker for hung): it only
		// ends a wait for a server that never answers.
		deadline := time.Now().Add(5 * time.Second)
		board, resp, err := ts.DialBoard(admin, since, nil, &websocket.Dialer{HandshakeTimeout: 5 * time.Second})
		if err != nil {
			if resp != nil && resp.StatusCode < 500 {
				return // refused before the upgrade, in the API's error shape
			}
			t.Fatalf("since %q: dial: %v (%v)", since, err, resp)
		}
		defer board.Close()
		board.SetReadDeadline(deadline)
		board.SetWriteDeadline(deadline)
		read := func() (BoardMessage, error) {
			var m BoardMessage
			return m, board.ReadJSON(&m)
		}
		first, err := read()
		if _, bad := hotline.ParseFeedPosition(since, len(head)); since != "" && bad != nil {
			if err != nil || first.Type != "error" || first.Code != hotline.EINVALID || first.Error == "" {
				t.Fatalf("since %q: got %+v (%v), want an error message", since, first, err)
			}
			if _, err = read(); !websocket.IsCloseError(err, 4400) {
				t.Fatalf("since %q: after the error got %v, want close 4400", since, err)
			}
			return
		}
		if err != nil || first.Type != "hello" && first.Type != "reload" && first.TicketID == "" {
			t.Fatalf("since %q: first message %+v (%v), want a replayed change, hello or reload", since, first, err)
		}
		kind := websocket.TextMessage
		if binary {
			kind = websocket.BinaryMessage
		}
		if err := board.WriteMessage(kind, msg); err != nil {
			t.Fatalf("since %q: write: %v", since, err)
		}
		// The server answers a ping once it has read what came before;
		// the pong ends the reads below at once.
		ponged := false
		board.SetPongHandler(func(string) error {
			ponged = true
			return board.SetReadDeadline(time.Now())
		})
		// A board closed for a message too big may be gone before the ping.
		err = board.WriteControl(websocket.PingMessage, nil, deadline)
		for err == nil {
			_, err = read()
		}
		// The close frame (1009) is sent before the server drops the
		// connection, but the drop may overtake it: unread frames turn the
		// server's close into a reset. What tells is whether it ponged.
		if big := len(msg) > 4<<10; big == ponged {
			t.Fatalf("since %q: after a message of %d bytes: ponged %v (%v); want the board open up to 4 KiB, closed above",
				since, len(msg), ponged, err)
		}
	})
}
