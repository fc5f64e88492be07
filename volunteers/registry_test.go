package volunteers_test

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/volunteers"
)

// fakeAssignments answers OpenTasks from a map; the rest is not used here.
type fakeAssignments struct {
	hotline.AssignmentStore
	mu   sync.Mutex
	open map[string]int
}

func (f *fakeAssignments) OpenTasks(_ context.Context, ids []string) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for _, id := range ids {
		out[id] = f.open[id]
	}
	return out, nil
}

// fixedNow is a Tuesday, 10:00 in Shanghai.
var fixedNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// MustService returns a Service on a fresh prefix of the test Redis, with
// the demo street and a fake assignment store.
func MustService(tb testing.TB) (*volunteers.Service, *redisstore.VolunteerStore, *fakeAssignments) {
	tb.Helper()
	c, prefix := redistest.New(tb)
	store := redisstore.NewVolunteerStore(redisstore.NewDB(c, prefix))
	n, cat := network.Demo()
	a := &fakeAssignments{open: map[string]int{}}
	return &volunteers.Service{
		Store: store, Assignments: a,
		Directory: hotline.NewStaticDirectory(n, cat),
		Now:       func() time.Time { return fixedNow },
		Logger:    slog.New(slog.DiscardHandler),
	}, store, a
}

var (
	socialWorker = &hotline.User{ID: "u-sw", Role: hotline.RoleSocialWorker, UnitID: "center"}
	admin        = &hotline.User{ID: "u-admin", Role: hotline.RoleAdmin}
	dispatcher   = &hotline.User{ID: "u-disp", Role: hotline.RoleDispatcher, UnitID: "center"}
	groupLead    = &hotline.User{ID: "u-lead", Role: hotline.RoleCommittee, UnitID: "c05-visits"}
	otherLead    = &hotline.User{ID: "u-lead2", Role: hotline.RoleCommittee, UnitID: "c07-visits"}
)

func goodForm() volunteers.RegistrationForm {
	return volunteers.RegistrationForm{
		Name: " 王芳 ", Phone: "138 1234 5678", Committee: "c05",
		Skills:         []string{"legal", "elderly_visit", "legal"},
		Qualifications: []volunteers.QualificationInput{{Kind: "律师", Expires: "2027-06-30"}, {Kind: "nurse"}},
		Languages:      []string{"zh", "上海话"},
		Availability:   "mon-fri 18:00-21:00; sat 09:00-17:00",
		Groups:         []string{"c05-visits"},
	}
}

func TestRegister(t *testing.T) {
	s, _, _ := MustService(t)
	ctx := context.Background()
	v, err := s.Register(ctx, goodForm())
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != hotline.VolunteerApplied || v.Source != "form" || v.Name != "王芳" || v.Phone != "+8613812345678" {
		t.Errorf("registered %+v", v)
	}
	if strings.Join(v.Skills, ",") != "legal,elderly_visit" || strings.Join(v.Languages, ",") != "zh,wuu" {
		t.Errorf("skills %v languages %v", v.Skills, v.Languages)
	}
	if len(v.Qualifications) != 2 || v.Qualifications[0].Kind != "lawyer" || !v.Qualifications[1].Expires.IsZero() {
		t.Fatalf("qualifications %+v", v.Qualifications)
	}
	// Valid through the whole expiry day in Shanghai.
	last := time.Date(2027, 6, 30, 23, 59, 0, 0, time.FixedZone("CST", 8*3600))
	if !v.Qualifications[0].Valid(last) || v.Qualifications[0].Valid(last.Add(2*time.Minute)) {
		t.Errorf("lawyer expires %v", v.Qualifications[0].Expires)
	}
	if v.Lat != 31.238372 || v.Long != 121.427554 {
		t.Errorf("placed at %v,%v; want the c05 office", v.Lat, v.Long)
	}

	_, err = s.Register(ctx, goodForm())
	if hotline.ErrorCode(err) != hotline.ECONFLICT || !strings.Contains(hotline.ErrorMessage(err), "already registered") {
		t.Errorf("second registration: %v", err)
	}

	// An address on the street's roads finds the committee.
	f := goodForm()
	f.Phone, f.Committee = "13900000001", ""
	n, _ := network.Demo()
	g := n.Gazetteer[0]
	f.Address = g.Road + strconv.Itoa(max(g.From, 1)) + "号"
	if v, err := s.Register(ctx, f); err != nil || v.Committee != g.Committee {
		t.Errorf("by address: %+v, %v", v, err)
	}
}

func TestRegisterRefusesFieldByField(t *testing.T) {
	s, _, _ := MustService(t)
	f := volunteers.RegistrationForm{
		Name: "", Phone: "12", Committee: "c05-visits",
		Skills:         []string{"flying"},
		Qualifications: []volunteers.QualificationInput{{Kind: "astronaut"}},
		Languages:      nil,
		Availability:   "weekends",
		Groups:         []string{"c05"},
	}
	_, err := s.Register(context.Background(), f)
	var he *hotline.Error
	if !asError(err, &he) || he.Code != hotline.EINVALID {
		t.Fatalf("err = %v", err)
	}
	for _, field := range []string{"name", "phone", "committee", "skills", "qualifications", "languages", "availability", "groups"} {
		if he.Fields[field] == "" {
			t.Errorf("no message for %s (fields: %v)", field, he.Fields)
		}
	}
	f = goodForm()
	f.Qualifications = []volunteers.QualificationInput{{Kind: "lawyer", Expires: "30/06/2027"}}
	_, err = s.Register(context.Background(), f)
	if !asError(err, &he) || !strings.Contains(he.Fields["qualifications"], "2027-06-30") {
		t.Errorf("bad expiry: %v", err)
	}
}

func asError(err error, target **hotline.Error) bool {
	e, ok := err.(*hotline.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestWorkflowTransitionsAndPermissions(t *testing.T) {
	s, _, _ := MustService(t)
	ctx := context.Background()
	v, err := s.Register(ctx, goodForm())
	if err != nil {
		t.Fatal(err)
	}
	// Only social workers and admins decide.
	for _, u := range []*hotline.User{nil, dispatcher, groupLead} {
		if _, err := s.Approve(ctx, u, v.ID, "professional"); hotline.ErrorCode(err) != hotline.EFORBIDDEN {
			t.Errorf("approve by %v: %v", u, err)
		}
		if _, err := s.Suspend(ctx, u, v.ID, "x"); hotline.ErrorCode(err) != hotline.EFORBIDDEN {
			t.Errorf("suspend by %v: %v", u, err)
		}
		if _, err := s.UpdateProfile(ctx, u, v.ID, volunteers.Profile{RegistrationForm: goodForm()}); hotline.ErrorCode(err) != hotline.EFORBIDDEN {
			t.Errorf("edit by %v: %v", u, err)
		}
	}
	if _, err := s.Activate(ctx, socialWorker, v.ID); hotline.ErrorCode(err) != hotline.ECONFLICT ||
		!strings.Contains(hotline.ErrorMessage(err), "first approved or rejected") {
		t.Errorf("activate an application: %v", err)
	}
	if _, err := s.Approve(ctx, socialWorker, v.ID, "astronaut"); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("approve with an unknown class: %v", err)
	}
	steps := []struct {
		name string
		do   func() (*hotline.Volunteer, error)
		want hotline.VolunteerStatus
	}{
		{"approve", func() (*hotline.Volunteer, error) { return s.Approve(ctx, socialWorker, v.ID, "专业志愿者") }, hotline.VolunteerApproved},
		{"activate", func() (*hotline.Volunteer, error) { return s.Activate(ctx, admin, v.ID) }, hotline.VolunteerActive},
		{"suspend", func() (*hotline.Volunteer, error) {
			return s.Suspend(ctx, socialWorker, v.ID, "complaint under review")
		}, hotline.VolunteerSuspended},
		{"reactivate", func() (*hotline.Volunteer, error) { return s.Activate(ctx, socialWorker, v.ID) }, hotline.VolunteerActive},
		{"leave", func() (*hotline.Volunteer, error) { return s.MarkLeft(ctx, socialWorker, v.ID) }, hotline.VolunteerLeft},
	}
	for _, st := range steps {
		got, err := st.do()
		if err != nil || got.Status != st.want {
			t.Fatalf("%s: %+v, %v", st.name, got, err)
		}
		if st.name == "approve" && got.Classification != "professional" {
			t.Errorf("classified %q", got.Classification)
		}
		if st.name == "suspend" && !strings.Contains(got.Notes, "complaint under review") {
			t.Errorf("notes %q", got.Notes)
		}
	}
	if _, err := s.Activate(ctx, socialWorker, v.ID); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("activate someone who left: %v", err)
	}

	w, _ := s.Register(ctx, volunteers.RegistrationForm{Name: "李", Phone: "13900000009", Committee: "c01", Languages: []string{"zh"}})
	if _, err := s.Reject(ctx, socialWorker, w.ID, ""); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("reject without a reason: %v", err)
	}
	r, err := s.Reject(ctx, socialWorker, w.ID, "未满 18 岁")
	if err != nil || r.Status != hotline.VolunteerRejected || !strings.Contains(r.Notes, "未满 18 岁") {
		t.Fatalf("reject: %+v, %v", r, err)
	}
	if _, err := s.Approve(ctx, socialWorker, w.ID, "general"); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("approve a rejected one: %v", err)
	}
	if _, err := s.Approve(ctx, socialWorker, "V404", "general"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Errorf("approve nobody: %v", err)
	}

	p := volunteers.Profile{RegistrationForm: goodForm(), Classification: "skilled", MaxTasks: 3, Notes: "retired judge"}
	p.Phone = "13900000010"
	got, err := s.UpdateProfile(ctx, socialWorker, w.ID, p)
	if err != nil || got.Phone != "+8613900000010" || got.MaxTasks != 3 || got.Classification != "skilled" {
		t.Errorf("edit: %+v, %v", got, err)
	}
	p.Phone = goodForm().Phone
	if _, err := s.UpdateProfile(ctx, socialWorker, w.ID, p); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("edit to a phone someone holds: %v", err)
	}
}

// UpdateProfile replaces the whole profile, checked field by field as the
// form is, with the social worker's own fields, and leaves the status be.
func TestUpdateProfile(t *testing.T) {
	s, _, _ := MustService(t)
	ctx := context.Background()
	v, err := s.Register(ctx, goodForm())
	if err != nil {
		t.Fatal(err)
	}
	if v, err = s.Approve(ctx, socialWorker, v.ID, "general"); err != nil {
		t.Fatal(err)
	}

	p := volunteers.Profile{RegistrationForm: goodForm(), Classification: "技能志愿者", MaxTasks: 4, Notes: " 会开车 "}
	p.Availability = "sat 09:00-12:00"
	p.Qualifications = []volunteers.QualificationInput{{Kind: "lawyer", Expires: "2028-12-31"}}
	p.Languages = []string{"zh", "English"}
	p.Groups = nil
	got, err := s.UpdateProfile(ctx, admin, v.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	if got.Availability != "sat 09:00-12:00" || got.Classification != "skilled" || got.MaxTasks != 4 || got.Notes != "会开车" ||
		strings.Join(got.Languages, ",") != "zh,en" || len(got.Groups) != 0 {
		t.Errorf("edited %+v", got)
	}
	if len(got.Qualifications) != 1 || got.Qualifications[0].Kind != "lawyer" ||
		!got.Qualifications[0].Expires.Equal(time.Date(2029, 1, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))) {
		t.Errorf("qualifications %+v: want lawyer through 2028-12-31 in Shanghai", got.Qualifications)
	}
	if got.Status != hotline.VolunteerApproved || got.Version != v.Version+1 || got.Source != "form" {
		t.Errorf("status %s, version %d (was %d), source %q: the edit must change only the profile", got.Status, got.Version, v.Version, got.Source)
	}
	if stored, err := s.Get(ctx, socialWorker, v.ID); err != nil || stored.Availability != got.Availability || stored.Version != got.Version {
		t.Errorf("stored %+v, %v", stored, err)
	}

	bad := volunteers.Profile{RegistrationForm: goodForm(), Classification: "astronaut", MaxTasks: 101,
		Notes: strings.Repeat("字", volunteers.MaxNotes+1)}
	bad.Name, bad.Availability = "", "weekends"
	_, err = s.UpdateProfile(ctx, socialWorker, v.ID, bad)
	var he *hotline.Error
	if !asError(err, &he) || he.Code != hotline.EINVALID {
		t.Fatalf("bad profile: %v", err)
	}
	for _, field := range []string{"name", "availability", "classification", "max_tasks", "notes"} {
		if he.Fields[field] == "" {
			t.Errorf("no message for %s (fields: %v)", field, he.Fields)
		}
	}
	if after, _ := s.Get(ctx, socialWorker, v.ID); after.Version != got.Version {
		t.Errorf("a refused edit stored version %d", after.Version)
	}
	if _, err := s.UpdateProfile(ctx, socialWorker, "V404", p); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Errorf("edit nobody: %v", err)
	}
}

func TestPhoneVisibility(t *testing.T) {
	v := &hotline.Volunteer{ID: "V1", Phone: "+8613812345678", Groups: []string{"c05-visits"}, Notes: "n"}
	for _, tc := range []struct {
		u     *hotline.User
		phone string
		notes string
	}{
		{socialWorker, "+8613812345678", "n"},
		{admin, "+8613812345678", "n"},
		{groupLead, "+8613812345678", ""},
		{otherLead, "138****5678", ""},
		{dispatcher, "138****5678", ""},
		{&hotline.User{Role: hotline.RoleVolunteer, UnitID: "c05-visits"}, "138****5678", ""},
		{nil, "138****5678", ""},
	} {
		got := volunteers.View(tc.u, v)
		if got.Phone != tc.phone || got.Notes != tc.notes {
			t.Errorf("View for %+v: phone %q notes %q, want %q %q", tc.u, got.Phone, got.Notes, tc.phone, tc.notes)
		}
	}
	if v.Phone != "+8613812345678" {
		t.Error("View changed the volunteer")
	}
}
