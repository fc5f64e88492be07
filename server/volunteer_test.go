package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/volunteers"
)

// fakeVolunteers is an in-memory registry with just enough rules to show
// that the handlers pass every decision to it and translate its errors:
// social workers and admins review and see phones; committee staff
// assign; a volunteer user sees the tickets assigned to them.
type fakeVolunteers struct {
	mu          sync.Mutex
	vols        map[string]*hotline.Volunteer
	assignments []*hotline.Assignment
	users       map[string]string // user id → volunteer id
	imported    string            // the last CSV imported
	lastAt      time.Time         // the last Suggest's time
}

var _ server.Volunteers = (*fakeVolunteers)(nil)

func newFakeVolunteers() *fakeVolunteers {
	return &fakeVolunteers{vols: map[string]*hotline.Volunteer{}, users: map[string]string{}}
}

func reviewer(u *hotline.User) bool {
	return u.Role == hotline.RoleSocialWorker || u.Role == hotline.RoleAdmin
}

func (f *fakeVolunteers) Register(_ context.Context, form volunteers.RegistrationForm) (*hotline.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe := hotline.FieldErrors{}
	if form.Name == "" {
		fe.Add("name", "please give your name")
	}
	if len(form.Phone) != 11 {
		fe.Add("phone", "not a valid mobile number")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	for _, v := range f.vols {
		if v.Phone == "+86"+form.Phone {
			return nil, hotline.Errorf(hotline.ECONFLICT, "this phone number is already registered")
		}
	}
	v := &hotline.Volunteer{ID: fmt.Sprintf("v%d", len(f.vols)+1), Name: form.Name, Phone: "+86" + form.Phone,
		Committee: form.Committee, Skills: form.Skills, Languages: form.Languages,
		Status: hotline.VolunteerApplied, Source: "form", Version: 1}
	f.vols[v.ID] = v
	return v, nil
}

func (f *fakeVolunteers) List(_ context.Context, u *hotline.User, flt hotline.VolunteerFilter) ([]*hotline.Volunteer, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*hotline.Volunteer
	for _, v := range f.vols {
		if len(flt.Statuses) > 0 && !slices.Contains(flt.Statuses, v.Status) {
			continue
		}
		if !reviewer(u) && v.Committee != u.UnitID {
			continue
		}
		out = append(out, volunteers.View(u, v))
	}
	slices.SortFunc(out, func(a, b *hotline.Volunteer) int { return strings.Compare(a.ID, b.ID) })
	return out, len(out), nil
}

func (f *fakeVolunteers) Get(_ context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vols[id]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such volunteer")
	}
	if u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only staff can read the volunteer registry")
	}
	return volunteers.View(u, v), nil
}

func (f *fakeVolunteers) Record(ctx context.Context, u *hotline.User, id string) (*volunteers.VolunteerRecord, error) {
	v, err := f.Get(ctx, u, id)
	if err != nil {
		return nil, err
	}
	return &volunteers.VolunteerRecord{Volunteer: v, Assignments: []*hotline.Assignment{},
		ByCategory: []volunteers.HoursRow{{Key: "elderly_visit", Name: "探访", Hours: 2, Tasks: 1}}, Hours: 2, Tasks: 1}, nil
}

func (f *fakeVolunteers) review(u *hotline.User, id string, from []hotline.VolunteerStatus, change func(v *hotline.Volunteer) error) (*hotline.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !reviewer(u) {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only social workers review volunteers")
	}
	v, ok := f.vols[id]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such volunteer")
	}
	if !slices.Contains(from, v.Status) {
		return nil, hotline.Errorf(hotline.ECONFLICT, "the volunteer is %s", v.Status)
	}
	if err := change(v); err != nil {
		return nil, err
	}
	v.Version++
	c := *v
	return &c, nil
}

func (f *fakeVolunteers) Approve(_ context.Context, u *hotline.User, id, class string) (*hotline.Volunteer, error) {
	return f.review(u, id, []hotline.VolunteerStatus{hotline.VolunteerApplied}, func(v *hotline.Volunteer) error {
		if class == "" {
			fe := hotline.FieldErrors{}
			fe.Add("classification", "choose a classification")
			return fe.Err()
		}
		v.Status, v.Classification = hotline.VolunteerApproved, class
		return nil
	})
}

func (f *fakeVolunteers) Reject(_ context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error) {
	return f.review(u, id, []hotline.VolunteerStatus{hotline.VolunteerApplied}, func(v *hotline.Volunteer) error {
		v.Status, v.Notes = hotline.VolunteerRejected, reason
		return nil
	})
}

func (f *fakeVolunteers) Suspend(_ context.Context, u *hotline.User, id, reason string) (*hotline.Volunteer, error) {
	return f.review(u, id, []hotline.VolunteerStatus{hotline.VolunteerApproved, hotline.VolunteerActive}, func(v *hotline.Volunteer) error {
		v.Status, v.Notes = hotline.VolunteerSuspended, reason
		return nil
	})
}

func (f *fakeVolunteers) Activate(_ context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	return f.review(u, id, []hotline.VolunteerStatus{hotline.VolunteerApproved, hotline.VolunteerSuspended}, func(v *hotline.Volunteer) error {
		v.Status = hotline.VolunteerActive
		return nil
	})
}

func (f *fakeVolunteers) MarkLeft(_ context.Context, u *hotline.User, id string) (*hotline.Volunteer, error) {
	return f.review(u, id, []hotline.VolunteerStatus{hotline.VolunteerApproved, hotline.VolunteerActive, hotline.VolunteerSuspended}, func(v *hotline.Volunteer) error {
		v.Status = hotline.VolunteerLeft
		return nil
	})
}

func (f *fakeVolunteers) UpdateProfile(_ context.Context, u *hotline.User, id string, p volunteers.Profile) (*hotline.Volunteer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !reviewer(u) {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only social workers edit volunteers")
	}
	v, ok := f.vols[id]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such volunteer")
	}
	if p.Version != 0 && p.Version != v.Version {
		return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s was changed by someone else meanwhile; reload and try again", id)
	}
	fe := hotline.FieldErrors{}
	if p.Name == "" {
		fe.Add("name", "a name is required")
	}
	if len(p.Phone) != 11 {
		fe.Add("phone", "not a valid mobile number")
	}
	if p.MaxTasks > 100 {
		fe.Add("max_tasks", "at most 100")
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	for _, o := range f.vols {
		if o.ID != id && o.Phone == "+86"+p.Phone {
			return nil, hotline.Errorf(hotline.ECONFLICT, "the phone is already registered (volunteer %s)", o.ID)
		}
	}
	v.Name, v.Phone, v.Committee, v.Address = p.Name, "+86"+p.Phone, p.Committee, p.Address
	v.Skills, v.Languages, v.Availability, v.Groups = p.Skills, p.Languages, p.Availability, p.Groups
	v.Qualifications = nil
	for _, q := range p.Qualifications {
		v.Qualifications = append(v.Qualifications, hotline.Qualification{Kind: q.Kind})
	}
	v.Classification, v.MaxTasks, v.Notes = p.Classification, p.MaxTasks, p.Notes
	v.Version++
	c := *v
	return &c, nil
}

func (f *fakeVolunteers) Import(_ context.Context, u *hotline.User, r io.Reader) (volunteers.ImportReport, error) {
	if !reviewer(u) {
		return volunteers.ImportReport{}, hotline.Errorf(hotline.EFORBIDDEN, "only social workers import")
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return volunteers.ImportReport{}, err
	}
	f.mu.Lock()
	f.imported = string(b)
	f.mu.Unlock()
	rows, _ := csv.NewReader(bytes.NewReader(b)).ReadAll()
	return volunteers.ImportReport{Rows: len(rows) - 1, Created: len(rows) - 2, RejectedRows: 1,
		Rejected: []volunteers.RowError{{Line: len(rows), Column: "phone", Reason: "not a valid mobile number"}}}, nil
}

func (f *fakeVolunteers) Export(ctx context.Context, u *hotline.User, w io.Writer, flt hotline.VolunteerFilter) error {
	if !reviewer(u) {
		return hotline.Errorf(hotline.EFORBIDDEN, "only social workers export")
	}
	list, _, _ := f.List(ctx, u, flt)
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "name", "phone", "status"})
	for _, v := range list {
		cw.Write([]string{v.ID, v.Name, v.Phone, string(v.Status)})
	}
	cw.Flush()
	return cw.Error()
}

func (f *fakeVolunteers) Match(_ context.Context, t *hotline.Ticket, at time.Time, limit int) ([]volunteers.Suggestion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAt = at
	var out []volunteers.Suggestion
	for _, v := range f.vols {
		if v.Status.Matchable() && slices.Contains(v.Skills, t.ServiceCode) {
			c := *v
			out = append(out, volunteers.Suggestion{Volunteer: &c, Distance: 420, Load: 1, Score: 0.8, Reason: "同一居委会，420 米，手头 1 件"})
		}
	}
	return out, nil
}

func (f *fakeVolunteers) Assign(_ context.Context, u *hotline.User, ticketID string, ids []string) ([]*hotline.Assignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u.Role != hotline.RoleCommittee && u.Role != hotline.RoleAdmin {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "only committee staff assign volunteers")
	}
	var out []*hotline.Assignment
	for _, id := range ids {
		v, ok := f.vols[id]
		if !ok || !v.Status.Matchable() {
			return nil, hotline.Errorf(hotline.ECONFLICT, "volunteer %s cannot take tasks", id)
		}
		a := &hotline.Assignment{ID: fmt.Sprintf("a%d", len(f.assignments)+1), TicketID: ticketID, VolunteerID: id,
			Status: hotline.AssignmentOffered, By: u.ID, Version: 1}
		f.assignments = append(f.assignments, a)
		c := *a
		out = append(out, &c)
	}
	return out, nil
}

func (f *fakeVolunteers) TicketAssignments(_ context.Context, ticketID string) ([]*hotline.Assignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*hotline.Assignment
	for _, a := range f.assignments {
		if a.TicketID == ticketID {
			c := *a
			out = append(out, &c)
		}
	}
	return out, nil
}

func (f *fakeVolunteers) SetHours(_ context.Context, u *hotline.User, id string, hours float64) (*hotline.Assignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.assignments {
		if a.ID == id {
			if a.Status != hotline.AssignmentDone {
				return nil, hotline.Errorf(hotline.ECONFLICT, "the task is not done")
			}
			a.Hours = hours
			c := *a
			return &c, nil
		}
	}
	return nil, hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
}

func (f *fakeVolunteers) Withdraw(_ context.Context, u *hotline.User, id string) (*hotline.Assignment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.assignments {
		if a.ID == id {
			if !a.Status.Open() {
				return nil, hotline.Errorf(hotline.ECONFLICT, "assignment %s is already %s", a.ID, a.Status)
			}
			a.Status = hotline.AssignmentWithdrawn
			c := *a
			return &c, nil
		}
	}
	return nil, hotline.Errorf(hotline.ENOTFOUND, "no such assignment")
}

func (f *fakeVolunteers) Hours(_ context.Context, u *hotline.User, from, to time.Time, by string) ([]volunteers.HoursRow, error) {
	if u.Role == hotline.RoleVolunteer {
		return nil, hotline.Errorf(hotline.EFORBIDDEN, "volunteers have no access to the reports")
	}
	return []volunteers.HoursRow{{Key: "v1", Name: "李明", Hours: 2, Tasks: 1}}, nil
}

func (f *fakeVolunteers) ExportHours(_ context.Context, u *hotline.User, w io.Writer, from, to time.Time) error {
	_, err := fmt.Fprintf(w, "volunteer_id,name,hours\nv1,李明,2.0\n")
	return err
}

func (f *fakeVolunteers) VolunteerTickets(_ context.Context, u *hotline.User) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.assignments {
		if a.VolunteerID == f.users[u.ID] {
			out = append(out, a.TicketID)
		}
	}
	return out, nil
}

func (f *fakeVolunteers) CanSeeTicketAsVolunteer(_ context.Context, u *hotline.User, ticketID string) (bool, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	see, details := false, false
	for _, a := range f.assignments {
		if a.TicketID == ticketID && a.VolunteerID == f.users[u.ID] && a.Status != hotline.AssignmentWithdrawn {
			see = true
			details = details || a.Status == hotline.AssignmentAccepted
		}
	}
	return see, details, nil
}

// setAssignment changes the status of the assignment of volunteer vid on
// ticket tid, as the volunteer's SMS reply would.
func (f *fakeVolunteers) setAssignment(tid, vid string, st hotline.AssignmentStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.assignments {
		if a.TicketID == tid && a.VolunteerID == vid {
			a.Status = st
		}
	}
}

// volunteerFixture is a street with the fake registry, a ticket in c01's
// area, and a social worker, c01's and c02's staff and a volunteer user.
type volunteerFixture struct {
	*TestServer
	Vols                        *fakeVolunteers
	Social, C01, C02, Volunteer *Session
	VolunteerUser               *hotline.User
	Ticket, Other               *hotline.Ticket
}

func mustVolunteerFixture(t *testing.T) *volunteerFixture {
	t.Helper()
	vols := newFakeVolunteers()
	ts := MustOpenServer(t, func(s *server.Server) { s.Volunteers = vols })
	f := &volunteerFixture{TestServer: ts, Vols: vols}
	lat, long := ts.PointIn(t, "c01")
	f.Ticket = ts.MustSubmit(t, intake.Submission{ServiceCode: "elderly_visit", Description: "独居老人需要探访",
		Lat: &lat, Long: &long, Phone: "13812345678", LastName: "王", Consent: true})
	f.Other = ts.MustSubmit(t, intake.Submission{ServiceCode: "elderly_visit", Description: "另一位老人",
		Lat: &lat, Long: &long, Phone: "13912345678", LastName: "赵", Consent: true})
	ts.MustCreateUser(t, "social", "social-pw-1", hotline.RoleSocialWorker, "center")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "c02staff", "c02-pw-123", hotline.RoleCommittee, "c02")
	f.VolunteerUser = ts.MustCreateUser(t, "vol", "vol-pw-1234", hotline.RoleVolunteer, "c01")
	f.Social = ts.MustLogin(t, "social", "social-pw-1")
	f.C01 = ts.MustLogin(t, "c01staff", "c01-pw-123")
	f.C02 = ts.MustLogin(t, "c02staff", "c02-pw-123")
	f.Volunteer = ts.MustLogin(t, "vol", "vol-pw-1234")
	return f
}

func TestVolunteerAPI(t *testing.T) {
	f := mustVolunteerFixture(t)
	register := `{"name":"李明","phone":"13800001111","committee":"c01","skills":["elderly_visit"],` +
		`"languages":["zh","wuu"],"qualifications":[{"kind":"nurse"}],"consent":true}`
	tk := "/api/v1/tickets/" + f.Ticket.ID

	Run(t, f.TestServer, []Scenario{
		// The public registration.
		{Name: "register: valid", Method: "POST", URL: "/api/v1/volunteers/register", Body: register, ExpectedStatus: 201,
			ExpectedContent: []string{`"id":"v1"`, `"status":"applied"`}, NotExpectedContent: []string{"13800001111"}},
		{Name: "register: the same phone again", Method: "POST", URL: "/api/v1/volunteers/register", Body: register,
			ExpectedStatus: 409, ExpectedContent: []string{`"code":"conflict"`}},
		{Name: "register: invalid fields", Method: "POST", URL: "/api/v1/volunteers/register", Body: `{"name":"","phone":"12","consent":true}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"name":`, `"phone":`}},
		{Name: "register: without consent", Method: "POST", URL: "/api/v1/volunteers/register",
			Body: `{"name":"李明","phone":"13800009999"}`, ExpectedStatus: 400, ExpectedContent: []string{`"consent":`}},
		{Name: "register: the terms for the form", URL: "/api/v1/volunteers/terms", ExpectedStatus: 200,
			ExpectedContent: []string{`"classifications":[{"code":"professional"`, `"name_zh":"上海话"`, `"code":"nurse"`}},
		{Name: "register: wrong types", Method: "POST", URL: "/api/v1/volunteers/register",
			Body: `{"name":"x","skills":3,"qualifications":"nurse","consent":"yes"}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"skills":"must be a list of strings"`, `"qualifications":`, `"consent":"must be true or false"`}},
		{Name: "register: malformed", Method: "POST", URL: "/api/v1/volunteers/register", Body: `{"name":`, ExpectedStatus: 400},

		// The review, for social workers.
		{Name: "list: anonymous", URL: "/api/v1/volunteers", ExpectedStatus: 401},
		{Name: "list: a volunteer", URL: "/api/v1/volunteers", Session: f.Volunteer, ExpectedStatus: 403},
		{Name: "list: social worker sees the phone", URL: "/api/v1/volunteers?status=applied", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":1`, `"name":"李明"`, `"phone":"+8613800001111"`}},
		{Name: "list: committee staff see it masked", URL: "/api/v1/volunteers", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":1`, `"name":"李明"`, `****`}, NotExpectedContent: []string{"13800001111"}},
		{Name: "list: another committee sees none", URL: "/api/v1/volunteers", Session: f.C02, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteers":[]`, `"total":0`}},
		{Name: "list: bad status", URL: "/api/v1/volunteers?status=asleep", Session: f.Social, ExpectedStatus: 400,
			ExpectedContent: []string{`"status":`}},
		{Name: "list: bad limit", URL: "/api/v1/volunteers?limit=0", Session: f.Social, ExpectedStatus: 400},
		{Name: "approve: without CSRF token", Method: "POST", URL: "/api/v1/volunteers/v1/approve", Body: `{"classification":"general"}`,
			Session: f.Social, ExpectedStatus: 403, ExpectedContent: []string{"CSRF"}},
		{Name: "approve: committee staff may not", Method: "POST", URL: "/api/v1/volunteers/v1/approve", Body: `{"classification":"general"}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "approve: without a classification", Method: "POST", URL: "/api/v1/volunteers/v1/approve", Body: `{}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"classification":`}},
		{Name: "approve: wrong type", Method: "POST", URL: "/api/v1/volunteers/v1/approve", Body: `{"classification":3}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"classification":"must be a string"`}},
		{Name: "approve: unknown volunteer", Method: "POST", URL: "/api/v1/volunteers/v9/approve", Body: `{"classification":"general"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 404},
		{Name: "approve: valid", Method: "POST", URL: "/api/v1/volunteers/v1/approve", Body: `{"classification":" general "}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer":{"id":"v1"`, `"status":"approved"`, `"classification":"general"`}},
		{Name: "reject: not applied any more", Method: "POST", URL: "/api/v1/volunteers/v1/reject", Body: `{"reason":"x"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409},
		{Name: "record", URL: "/api/v1/volunteers/v1", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer":{`, `"by_category":[{"key":"elderly_visit"`}},
		{Name: "record: another volunteer's is refused (the registry says)", URL: "/api/v1/volunteers/v1", Session: f.Volunteer, ExpectedStatus: 403},

		// Matching and assigning, from the ticket.
		{Name: "suggestions", URL: tk + "/volunteers/suggestions?at=2026-12-01T02:00:00Z", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent:    []string{`"ticket_id":"` + f.Ticket.ID + `"`, `"volunteer":{"id":"v1"`, `"distance":420`, `"load":1`, `"reason":"同一居委会`},
			NotExpectedContent: []string{"13800001111"}},
		{Name: "suggestions: bad time", URL: tk + "/volunteers/suggestions?at=soon", Session: f.C01, ExpectedStatus: 400,
			ExpectedContent: []string{`"at":`}},
		{Name: "suggestions: a ticket the user may not see", URL: tk + "/volunteers/suggestions", Session: f.C02, ExpectedStatus: 404},
		{Name: "suggestions: unknown ticket", URL: "/api/v1/tickets/" + mistype(f.Ticket.ID) + "/volunteers/suggestions", Session: f.C01, ExpectedStatus: 404},
		{Name: "assign: nobody chosen", Method: "POST", URL: tk + "/volunteers", Body: `{"volunteer_ids":[]}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"volunteer_ids":`}},
		{Name: "assign: a ticket the user may not see", Method: "POST", URL: tk + "/volunteers", Body: `{"volunteer_ids":["v1"]}`,
			Session: f.C02, WithCSRF: true, ExpectedStatus: 404},
		{Name: "assign: a social worker may not (the registry says)", Method: "POST", URL: tk + "/volunteers", Body: `{"volunteer_ids":["v1"]}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 403},
		{Name: "assign: valid", Method: "POST", URL: tk + "/volunteers", Body: `{"volunteer_ids":["v1"]}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 201,
			ExpectedContent:    []string{`"assignments":[{"id":"a1"`, `"status":"offered"`, `"volunteer":{"id":"v1"`, `"name":"李明"`},
			NotExpectedContent: []string{"13800001111"}},
		{Name: "assignments", URL: tk + "/volunteers", Session: f.C01, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer_id":"v1"`, `"status":"offered"`, `"name":"李明"`}},
		{Name: "hours: not done yet", Method: "POST", URL: "/api/v1/assignments/a1/hours", Body: `{"hours":2}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 409},
		{Name: "hours: out of range", Method: "POST", URL: "/api/v1/assignments/a1/hours", Body: `{"hours":30}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"hours":`}},
		{Name: "hours: missing", Method: "POST", URL: "/api/v1/assignments/a1/hours", Body: `{}`,
			Session: f.C01, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"hours":`}},
		{Name: "withdraw: without the CSRF token", Method: "POST", URL: "/api/v1/assignments/a1/withdraw",
			Session: f.C01, ExpectedStatus: 403},
		{Name: "withdraw", Method: "POST", URL: "/api/v1/assignments/a1/withdraw",
			Session: f.C01, WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"status":"withdrawn"`}},
		{Name: "withdraw: no longer open", Method: "POST", URL: "/api/v1/assignments/a1/withdraw",
			Session: f.C01, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"already withdrawn"}},

		// Reports.
		{Name: "hours report: the current year by default", URL: "/api/v1/volunteers/hours", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"by":"volunteer"`, fmt.Sprintf(`"from":"%d-12-31T16:00:00Z"`, time.Now().In(time.FixedZone("CST", 8*3600)).Year()-1), `"rows":[{"key":"v1"`}}, // the street's year
		{Name: "hours report: by category in March", URL: "/api/v1/volunteers/hours?from=2026-03-01&to=2026-03-31&by=category",
			Session: f.Social, ExpectedStatus: 200, ExpectedContent: []string{`"by":"category"`, `"to":"2026-03-31T16:00:00Z"`}},
		{Name: "hours report: bad by", URL: "/api/v1/volunteers/hours?by=colour", Session: f.Social, ExpectedStatus: 400,
			ExpectedContent: []string{`"by":`}},
		{Name: "hours report: to before from", URL: "/api/v1/volunteers/hours?from=2026-03-01&to=2026-01-01", Session: f.Social,
			ExpectedStatus: 400, ExpectedContent: []string{`"to":`}},
		{Name: "hours csv", URL: "/api/v1/volunteers/hours.csv?from=2026-01-01&to=2026-12-31&by=committee", Session: f.Social,
			ExpectedStatus: 200, ExpectedContent: []string{"volunteer_id,name,hours"},
			ExpectedHeaders: map[string]string{"Content-Type": "text/csv; charset=utf-8",
				"Content-Disposition": `attachment; filename="volunteer-hours-20260101-20270101.csv"`}},
		{Name: "export", URL: "/api/v1/volunteers/export.csv", Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{"\ufeffid,name,phone,status", "v1,李明,+8613800001111,approved"},
			ExpectedHeaders: map[string]string{"Content-Type": "text/csv; charset=utf-8"}},
		{Name: "export: refused in the error shape", URL: "/api/v1/volunteers/export.csv", Session: f.C01, ExpectedStatus: 403,
			ExpectedContent: []string{`"code":"forbidden"`}},

		// The pages.
		{Name: "page: registration", URL: "/volunteer", ExpectedStatus: 200, ExpectedContent: []string{`src="/volunteer.js"`}},
		{Name: "page: review", URL: "/volunteers", ExpectedStatus: 200, ExpectedContent: []string{`src="/volunteers.js"`}},
		{Name: "page: record", URL: "/volunteers/v1", ExpectedStatus: 200, ExpectedContent: []string{`src="/volunteer-record.js"`}},
	})
	if got := f.Vols.lastAt; !got.Equal(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("suggestions asked for %v, want the at of the query", got)
	}
}

// importRequest posts body to the import endpoint with contentType.
func (f *volunteerFixture) importRequest(t *testing.T, sess *Session, contentType string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+"/api/v1/volunteers/import", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(server.CSRFHeader, sess.CSRF)
	req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: sess.Cookie})
	resp, err := f.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

func TestVolunteerImport(t *testing.T) {
	f := mustVolunteerFixture(t)
	const file = "name,phone,committee\n王芳,13800002222,c01\n赵强,12,c02\n"

	t.Run("multipart upload", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "volunteers.csv")
		io.WriteString(fw, file)
		mw.Close()
		resp := f.importRequest(t, f.Social, mw.FormDataContentType(), buf.Bytes())
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"created":1`) ||
			!strings.Contains(resp.Body, `"rejected":[{"line":3,"column":"phone"`) {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
		if f.Vols.imported != file {
			t.Errorf("the registry got %q, want the file", f.Vols.imported)
		}
	})
	t.Run("text/csv body", func(t *testing.T) {
		resp := f.importRequest(t, f.Social, "text/csv; charset=utf-8", []byte(file))
		if resp.StatusCode != http.StatusOK || f.Vols.imported != file {
			t.Fatalf("import: %d %s (got %q)", resp.StatusCode, resp.Body, f.Vols.imported)
		}
	})
	t.Run("multipart without the file field", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("other", "x")
		mw.Close()
		resp := f.importRequest(t, f.Social, mw.FormDataContentType(), buf.Bytes())
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.Body, `"file":`) {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("empty", func(t *testing.T) {
		resp := f.importRequest(t, f.Social, "text/csv", []byte("\n"))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("JSON is not a CSV", func(t *testing.T) {
		resp := f.importRequest(t, f.Social, "application/json", []byte(`{}`))
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("a list far larger than any other request is taken", func(t *testing.T) {
		rows := []byte(file + strings.Repeat("某某,13800003333,c01\n", server.DefaultMaxBodyBytes/10))
		if resp := f.importRequest(t, f.Social, "text/csv", rows); resp.StatusCode != http.StatusOK {
			t.Fatalf("import of %d bytes: %d %s", len(rows), resp.StatusCode, resp.Body)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := []byte(file + strings.Repeat("某某,13800003333,c01\n", (volunteers.MaxImportBytes+64<<10)/20+1))
		resp := f.importRequest(t, f.Social, "text/csv", big)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
	})
	t.Run("committee staff may not (the registry says)", func(t *testing.T) {
		resp := f.importRequest(t, f.C01, "text/csv", []byte(file))
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("import: %d %s", resp.StatusCode, resp.Body)
		}
	})
}

// A volunteer sees in the ticket API only the tickets assigned to them,
// and the resident's contact details only while their task is accepted.
func TestVolunteerTicketPrivacy(t *testing.T) {
	f := mustVolunteerFixture(t)
	ctx := context.Background()
	v, err := f.Vols.Register(ctx, volunteers.RegistrationForm{Name: "李明", Phone: "13800001111", Committee: "c01", Skills: []string{"elderly_visit"}})
	if err != nil {
		t.Fatal(err)
	}
	admin := &hotline.User{ID: "admin", Role: hotline.RoleAdmin}
	if _, err := f.Vols.Approve(ctx, admin, v.ID, "general"); err != nil {
		t.Fatal(err)
	}
	f.Vols.users[f.VolunteerUser.ID] = v.ID
	mine, other := "/api/v1/tickets/"+f.Ticket.ID, "/api/v1/tickets/"+f.Other.ID

	Run(t, f.TestServer, []Scenario{
		{Name: "nothing assigned: empty list", URL: "/api/v1/tickets", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"tickets":[]`, `"total":0`}},
		{Name: "nothing assigned: a ticket of their committee is hidden", URL: mine, Session: f.Volunteer, ExpectedStatus: 404},
		{Name: "staff unchanged", URL: "/api/v1/tickets", Session: f.C01, ExpectedStatus: 200, ExpectedContent: []string{`"total":2`}},
	})

	if _, err := f.Vols.Assign(ctx, &hotline.User{ID: "c01staff", Role: hotline.RoleCommittee}, f.Ticket.ID, []string{v.ID}); err != nil {
		t.Fatal(err)
	}
	Run(t, f.TestServer, []Scenario{
		{Name: "offered: listed without contact", URL: "/api/v1/tickets", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent:    []string{`"total":1`, `"id":"` + f.Ticket.ID + `"`, "独居老人需要探访"},
			NotExpectedContent: []string{f.Other.ID, "王", "5678"}},
		{Name: "offered: filtered out by status", URL: "/api/v1/tickets?status=closed", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":0`}},
		{Name: "offered: detail without contact", URL: mine, Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"id":"` + f.Ticket.ID + `"`}, NotExpectedContent: []string{"王", "5678"}},
		{Name: "offered: another ticket still hidden", URL: other, Session: f.Volunteer, ExpectedStatus: 404},
	})

	f.Vols.setAssignment(f.Ticket.ID, v.ID, hotline.AssignmentAccepted)
	Run(t, f.TestServer, []Scenario{
		{Name: "accepted: contact shown, masked", URL: mine, Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"last_name":"王"`, `"phone":"138****5678"`}},
		{Name: "accepted: listed with contact", URL: "/api/v1/tickets", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"last_name":"王"`}},
	})

	f.Vols.setAssignment(f.Ticket.ID, v.ID, hotline.AssignmentWithdrawn)
	Run(t, f.TestServer, []Scenario{
		{Name: "withdrawn: hidden again", URL: mine, Session: f.Volunteer, ExpectedStatus: 404},
		{Name: "withdrawn: not listed", URL: "/api/v1/tickets", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":0`}},
	})
}

// profileBody is a whole profile for PUT /api/v1/volunteers/{id}, with
// the phone and the version given.
func profileBody(phone, version string) string {
	return `{"name":"李明","phone":"` + phone + `","committee":"c01","address":"长寿路178号",` +
		`"skills":["elderly_visit"],"languages":["zh","en"],"availability":"sat 09:00-12:00",` +
		`"qualifications":[{"kind":"nurse","expires":"2027-06-30"}],"classification":"skilled",` +
		`"max_tasks":3,"notes":"会开车","version":` + version + `}`
}

// A social worker edits a volunteer's profile; the handler reads the
// fields (the registration form's and the social worker's own) and leaves
// every decision to the registry.
func TestVolunteerProfileEdit(t *testing.T) {
	f := mustVolunteerFixture(t)
	ctx := context.Background()
	for _, phone := range []string{"13800001111", "13800002222"} {
		if _, err := f.Vols.Register(ctx, volunteers.RegistrationForm{Name: "某", Phone: phone, Committee: "c01"}); err != nil {
			t.Fatal(err)
		}
	}
	const v1 = "/api/v1/volunteers/v1"

	Run(t, f.TestServer, []Scenario{
		{Name: "anonymous", Method: "PUT", URL: v1, Body: profileBody("13800003333", "1"), ExpectedStatus: 401},
		{Name: "without the CSRF token", Method: "PUT", URL: v1, Body: profileBody("13800003333", "1"),
			Session: f.Social, ExpectedStatus: 403, ExpectedContent: []string{"CSRF"}},
		{Name: "a volunteer may not", Method: "PUT", URL: v1, Body: profileBody("13800003333", "1"),
			Session: f.Volunteer, WithCSRF: true, ExpectedStatus: 403},
		{Name: "committee staff may not (the registry says)", Method: "PUT", URL: v1, Body: profileBody("13800003333", "1"),
			Session: f.C01, WithCSRF: true, ExpectedStatus: 403, ExpectedContent: []string{`"code":"forbidden"`}},
		{Name: "unknown volunteer", Method: "PUT", URL: "/api/v1/volunteers/v9", Body: profileBody("13800003333", "1"),
			Session: f.Social, WithCSRF: true, ExpectedStatus: 404},
		{Name: "wrong types, every field named", Method: "PUT", URL: v1,
			Body:    `{"name":3,"skills":3,"qualifications":"nurse","max_tasks":1.5,"notes":[],"version":"three"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400,
			ExpectedContent: []string{`"name":"must be a string"`, `"skills":"must be a list of strings"`, `"qualifications":`,
				`"max_tasks":"must be a whole number"`, `"notes":"must be a string"`, `"version":"must be a whole number"`}},
		{Name: "negative max_tasks", Method: "PUT", URL: v1, Body: `{"name":"李明","phone":"13800003333","max_tasks":-1}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"max_tasks":`}},
		{Name: "bad fields (the registry's checks)", Method: "PUT", URL: v1, Body: `{"name":"","phone":"12"}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 400, ExpectedContent: []string{`"name":`, `"phone":`}},
		{Name: "another volunteer's phone", Method: "PUT", URL: v1, Body: profileBody("13800002222", "1"),
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{`"code":"conflict"`, "already registered"}},
		{Name: "social worker", Method: "PUT", URL: v1, Body: profileBody("13800003333", "1"),
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer":{"id":"v1"`, `"phone":"+8613800003333"`, `"availability":"sat 09:00-12:00"`,
				`"languages":["zh","en"]`, `"classification":"skilled"`, `"max_tasks":3`, `"notes":"会开车"`, `"version":2`}},
		{Name: "a second editor's stale version", Method: "PUT", URL: v1, Body: profileBody("13800004444", "1"),
			Session: f.Social, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"changed by someone else meanwhile"}},
		{Name: "without a version, and max_tasks as a form's string", Method: "PUT", URL: v1,
			Body:    `{"name":"李明","phone":"13800003333","languages":["zh"],"max_tasks":"2","version":null}`,
			Session: f.Social, WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"max_tasks":2`, `"version":3`}},
		{Name: "the record shows the edit", URL: v1, Session: f.Social, ExpectedStatus: 200,
			ExpectedContent: []string{`"phone":"+8613800003333"`, `"version":3`}},
	})
}

// Without a registry the routes answer 503, and volunteers see no tickets.
func TestVolunteerAPI_NoRegistry(t *testing.T) {
	f := mustTicketFixture(t)
	Run(t, f.TestServer, []Scenario{
		{Name: "register", Method: "POST", URL: "/api/v1/volunteers/register", Body: `{"name":"x"}`, ExpectedStatus: 503},
		{Name: "list", URL: "/api/v1/volunteers", Session: f.Admin, ExpectedStatus: 503},
		{Name: "volunteer sees no tickets", URL: "/api/v1/tickets", Session: f.Volunteer, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":0`}},
	})
}

// withVolunteers gives the server the real registry and tasking
// (server.NewVolunteers) on a key space of their own, reading the
// server's tickets, as cmd/hotline wires them.
func withVolunteers(tb testing.TB) func(*server.Server) {
	return func(s *server.Server) {
		client, prefix := redistest.New(tb)
		db := redisstore.NewDB(client, prefix)
		reg := &volunteers.Service{Store: redisstore.NewVolunteerStore(db), Assignments: redisstore.NewAssignmentStore(db), Directory: s.Directory}
		tk := &volunteers.Tasker{Registry: reg, Tickets: s.Tickets, Outbox: redisstore.NewOutbox(db), Sessions: redisstore.NewPhoneSessions(db)}
		s.Volunteers = server.NewVolunteers(reg, tk)
	}
}

// The whole way through on the real registry: a resident registers, a
// social worker approves, a dispatcher assigns the volunteer from the
// suggestions, and the volunteer (signed in by their mobile number) sees
// that ticket alone, without the resident's contact while it is offered.
func TestVolunteerAPI_Registry(t *testing.T) {
	ts := MustOpenServer(t, withVolunteers(t))
	lat, long := ts.PointIn(t, "c01")
	tk := ts.MustSubmit(t, intake.Submission{ServiceCode: "elderly_visit", Description: "独居老人需要探访",
		Lat: &lat, Long: &long, Phone: "13812345678", LastName: "王", Consent: true})
	other := ts.MustSubmit(t, intake.Submission{ServiceCode: "elderly_visit", Description: "另一位老人", Lat: &lat, Long: &long})
	ts.MustCreateUser(t, "social", "social-pw-1", hotline.RoleSocialWorker, "center")
	ts.MustCreateUser(t, "center", "center-pw-1", hotline.RoleDispatcher, "center")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "13800001111", "vol-pw-1234", hotline.RoleVolunteer, "c01")
	social, center := ts.MustLogin(t, "social", "social-pw-1"), ts.MustLogin(t, "center", "center-pw-1")
	c01, vol := ts.MustLogin(t, "c01staff", "c01-pw-123"), ts.MustLogin(t, "13800001111", "vol-pw-1234")

	register := `{"name":"李明","phone":"138 0000 1111","committee":"c01","skills":["elderly_visit"],"languages":["zh"],` +
		`"availability":"mon-fri 09:00-17:00; sat,sun 09:00-17:00","qualifications":[{"kind":"nurse"}],"consent":true}`
	Run(t, ts, []Scenario{
		{Name: "register", Method: "POST", URL: "/api/v1/volunteers/register", Body: register, ExpectedStatus: 201,
			ExpectedContent: []string{`"status":"applied"`}},
		{Name: "register: again", Method: "POST", URL: "/api/v1/volunteers/register", Body: register, ExpectedStatus: 409},
		{Name: "register: the registry's checks", Method: "POST", URL: "/api/v1/volunteers/register",
			Body: `{"name":"赵","phone":"13800002222","committee":"c99","skills":["no_such"],"languages":[],"consent":true}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"committee":`, `"skills":`, `"languages":`}},
		{Name: "social worker sees the application", URL: "/api/v1/volunteers?status=applied", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":1`, `"phone":"+8613800001111"`}},
		{Name: "committee staff see it masked", URL: "/api/v1/volunteers?status=applied", Session: c01, ExpectedStatus: 200,
			ExpectedContent: []string{`"name":"李明"`, `"phone":"138****1111"`}},
	})
	id := mustFirstVolunteer(t, ts, social)
	Run(t, ts, []Scenario{
		{Name: "committee staff may not approve", Method: "POST", URL: "/api/v1/volunteers/" + id + "/approve",
			Body: `{"classification":"general"}`, Session: c01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "approve", Method: "POST", URL: "/api/v1/volunteers/" + id + "/approve", Body: `{"classification":"skilled"}`,
			Session: social, WithCSRF: true, ExpectedStatus: 200, ExpectedContent: []string{`"status":"approved"`, `"classification":"skilled"`}},
		{Name: "suggestions", URL: "/api/v1/tickets/" + tk.ID + "/volunteers/suggestions?at=2026-03-04T02:00:00Z", Session: center,
			ExpectedStatus: 200, ExpectedContent: []string{`"volunteer":{"id":"` + id + `"`, `"reason":"`, `"distance":`},
			NotExpectedContent: []string{"13800001111"}},
		{Name: "assign", Method: "POST", URL: "/api/v1/tickets/" + tk.ID + "/volunteers", Body: `{"volunteer_ids":["` + id + `"]}`,
			Session: center, WithCSRF: true, ExpectedStatus: 201, ExpectedContent: []string{`"status":"offered"`, `"name":"李明"`}},
		{Name: "assign again", Method: "POST", URL: "/api/v1/tickets/" + tk.ID + "/volunteers", Body: `{"volunteer_ids":["` + id + `"]}`,
			Session: center, WithCSRF: true, ExpectedStatus: 409},
		{Name: "assignments", URL: "/api/v1/tickets/" + tk.ID + "/volunteers", Session: center, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer_id":"` + id + `"`, `"status":"offered"`}},
		{Name: "volunteer: only the assigned ticket", URL: "/api/v1/tickets", Session: vol, ExpectedStatus: 200,
			ExpectedContent: []string{`"total":1`, `"id":"` + tk.ID + `"`}, NotExpectedContent: []string{other.ID, "王", "5678"}},
		{Name: "volunteer: the offered ticket without contact", URL: "/api/v1/tickets/" + tk.ID, Session: vol, ExpectedStatus: 200,
			NotExpectedContent: []string{"王", "5678"}},
		{Name: "volunteer: another ticket", URL: "/api/v1/tickets/" + other.ID, Session: vol, ExpectedStatus: 404},
		{Name: "volunteer: their own record", URL: "/api/v1/volunteers/" + id, Session: vol, ExpectedStatus: 200,
			ExpectedContent: []string{`"assignments":[{`, `"ticket_id":"` + tk.ID + `"`}},
		{Name: "record for the social worker", URL: "/api/v1/volunteers/" + id, Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"volunteer":{"id":"` + id + `"`, `"by_category":`}},
		{Name: "hours", URL: "/api/v1/volunteers/hours?by=category", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"rows":[]`}},
		{Name: "hours csv", URL: "/api/v1/volunteers/hours.csv", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{"volunteer_id"}},
		{Name: "export", URL: "/api/v1/volunteers/export.csv", Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{"13800001111"}},
	})
}

// The profile edit on the real registry: the version is checked inside
// the store's change, so of several editors who read the same version
// exactly one saves.
func TestVolunteerProfileEdit_Registry(t *testing.T) {
	ts := MustOpenServer(t, withVolunteers(t))
	ts.MustCreateUser(t, "social", "social-pw-1", hotline.RoleSocialWorker, "center")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	social, c01 := ts.MustLogin(t, "social", "social-pw-1"), ts.MustLogin(t, "c01staff", "c01-pw-123")
	for _, phone := range []string{"13800001111", "13800002222"} {
		body := `{"name":"某","phone":"` + phone + `","committee":"c01","languages":["zh"],"consent":true}`
		if resp := ts.Do(t, http.MethodPost, "/api/v1/volunteers/register", body, nil, nil); resp.StatusCode != http.StatusCreated {
			t.Fatalf("register %s: %d %s", phone, resp.StatusCode, resp.Body)
		}
	}
	var list struct {
		Volunteers []hotline.Volunteer `json:"volunteers"`
	}
	resp := ts.Do(t, http.MethodGet, "/api/v1/volunteers?q=1111", "", social, nil)
	if err := json.Unmarshal([]byte(resp.Body), &list); err != nil || len(list.Volunteers) != 1 {
		t.Fatalf("find the volunteer: %d %s", resp.StatusCode, resp.Body)
	}
	id, version := list.Volunteers[0].ID, fmt.Sprint(list.Volunteers[0].Version)
	path := "/api/v1/volunteers/" + id

	Run(t, ts, []Scenario{
		{Name: "committee staff may not", Method: "PUT", URL: path, Body: profileBody("13800003333", version),
			Session: c01, WithCSRF: true, ExpectedStatus: 403},
		{Name: "the registry's field checks", Method: "PUT", URL: path,
			Body:    `{"name":"李明","phone":"13800003333","committee":"c99","languages":[],"availability":"weekends","classification":"astronaut","max_tasks":101}`,
			Session: social, WithCSRF: true, ExpectedStatus: 400,
			ExpectedContent: []string{`"committee":`, `"languages":`, `"availability":`, `"classification":`, `"max_tasks":`}},
		{Name: "another volunteer's phone", Method: "PUT", URL: path, Body: profileBody("13800002222", version),
			Session: social, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"already registered"}},
		{Name: "unknown volunteer", Method: "PUT", URL: "/api/v1/volunteers/V404", Body: profileBody("13800003333", "1"),
			Session: social, WithCSRF: true, ExpectedStatus: 404},
		{Name: "a version that is not the stored one", Method: "PUT", URL: path, Body: profileBody("13800003333", version+"0"),
			Session: social, WithCSRF: true, ExpectedStatus: 409, ExpectedContent: []string{"changed by someone else meanwhile"}},
	})

	// Four editors who all read the same version save at once.
	codes := make(chan int, 4)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodPut, ts.URL()+path, strings.NewReader(profileBody(fmt.Sprintf("1380000444%d", i), version)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(server.CSRFHeader, social.CSRF)
			req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: social.Cookie})
			resp, err := ts.Client.Do(req)
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	saved, refused := 0, 0
	for c := range codes {
		switch c {
		case http.StatusOK:
			saved++
		case http.StatusConflict:
			refused++
		default:
			t.Errorf("concurrent edit answered %d", c)
		}
	}
	if saved != 1 || refused != 3 {
		t.Errorf("of four editors of one version, %d saved and %d were refused; want 1 and 3", saved, refused)
	}

	Run(t, ts, []Scenario{
		{Name: "the record shows the one edit saved", URL: path, Session: social, ExpectedStatus: 200,
			ExpectedContent: []string{`"phone":"+86138000044`, `"availability":"sat 09:00-12:00"`, `"max_tasks":3`,
				`"qualifications":[{"kind":"nurse","expires":"2027-06-30T16:00:00Z"}]`, `"version":` + fmt.Sprint(list.Volunteers[0].Version+1)}},
		{Name: "without a version the edit is taken", Method: "PUT", URL: path,
			Body:    `{"name":"李明","phone":"13800003333","committee":"c01","languages":["zh"]}`,
			Session: social, WithCSRF: true, ExpectedStatus: 200,
			ExpectedContent: []string{`"phone":"+8613800003333"`}, NotExpectedContent: []string{"availability", "qualifications", "notes"}},
	})
}

func mustFirstVolunteer(t *testing.T, ts *TestServer, sess *Session) string {
	t.Helper()
	resp := ts.Do(t, http.MethodGet, "/api/v1/volunteers", "", sess, nil)
	var got struct {
		Volunteers []hotline.Volunteer `json:"volunteers"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil || len(got.Volunteers) == 0 {
		t.Fatalf("volunteers: %d %s", resp.StatusCode, resp.Body)
	}
	return got.Volunteers[0].ID
}
