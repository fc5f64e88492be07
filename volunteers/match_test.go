package volunteers_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/volunteers"
)

// The resident stands at committee c01's office.
const homeLat, homeLong = 31.242414, 121.427615

// metresNorth is the latitude step of one metre.
const metresNorth = 1 / 111195.0

var phoneSeq = 0

// vol stores an approved volunteer metres north of the resident, with
// the legal skill, speaking Mandarin, available any time, then edit.
func vol(tb testing.TB, store *redisstore.VolunteerStore, name string, metres float64, edit func(v *hotline.Volunteer)) *hotline.Volunteer {
	tb.Helper()
	phoneSeq++
	v := &hotline.Volunteer{
		Name: name, Phone: fmt.Sprintf("+86137%08d", phoneSeq), Committee: "c01",
		Lat: homeLat + metres*metresNorth, Long: homeLong,
		Skills: []string{"legal"}, Languages: []string{"zh"}, Status: hotline.VolunteerApproved,
	}
	if edit != nil {
		edit(v)
	}
	if err := store.CreateVolunteer(context.Background(), v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func legalTicket() *hotline.Ticket {
	return &hotline.Ticket{ID: "160035", ServiceCode: "legal", Language: "zh",
		Location: hotline.Location{Lat: homeLat, Long: homeLong, Committee: "c01"}}
}

// names lists the suggested volunteers' names in order.
func names(sg []volunteers.Suggestion) []string {
	var out []string
	for _, s := range sg {
		out = append(out, s.Volunteer.Name)
	}
	return out
}

// excluded maps names to why they were passed over.
func excluded(r volunteers.MatchResult, byID map[string]string) map[string]string {
	out := map[string]string{}
	for _, e := range r.Excluded {
		out[byID[e.VolunteerID]] = e.Why
	}
	return out
}

func mustMatch(tb testing.TB, s *volunteers.Service, t *hotline.Ticket, at time.Time) (volunteers.MatchResult, map[string]string) {
	tb.Helper()
	r, err := s.MatchDetail(context.Background(), t, at, 10)
	if err != nil {
		tb.Fatal(err)
	}
	all, _, err := s.Store.FindVolunteers(context.Background(), hotline.VolunteerFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	byID := map[string]string{}
	for _, v := range all {
		byID[v.ID] = v.Name
	}
	return r, excluded(r, byID)
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestMatchSkill(t *testing.T) {
	s, store, _ := MustService(t)
	vol(t, store, "lawyerly", 100, nil)
	vol(t, store, "visitor", 50, func(v *hotline.Volunteer) { v.Skills = []string{"elderly_visit"} })
	r, _ := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"lawyerly"}) {
		t.Errorf("suggested %v, want only the one with the legal skill", got)
	}
}

func TestMatchQualificationAndExpiry(t *testing.T) {
	s, store, _ := MustService(t)
	valid := []hotline.Qualification{{Kind: "lawyer", Expires: date(2027, 6, 30)}}
	expired := []hotline.Qualification{{Kind: "lawyer", Expires: date(2026, 6, 30)}}
	vol(t, store, "qualified, no skill", 100, func(v *hotline.Volunteer) { v.Skills, v.Qualifications = nil, valid })
	vol(t, store, "expired, no skill", 120, func(v *hotline.Volunteer) { v.Skills, v.Qualifications = nil, expired })
	vol(t, store, "expired, with skill", 140, func(v *hotline.Volunteer) { v.Qualifications = expired })
	vol(t, store, "nurse, no skill", 160, func(v *hotline.Volunteer) {
		v.Skills, v.Qualifications = nil, []hotline.Qualification{{Kind: "nurse"}}
	})
	vol(t, store, "skill, no qualification", 180, nil)
	r, why := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"qualified, no skill", "skill, no qualification"}) {
		t.Errorf("suggested %v", got)
	}
	if r.Suggestions[0].Qualification != "lawyer" || !strings.Contains(r.Suggestions[0].Reason, "持有效律师资格") ||
		!strings.Contains(r.Suggestions[0].Reason, "valid lawyer qualification") {
		t.Errorf("first: %+v", r.Suggestions[0])
	}
	want := map[string]string{"expired, no skill": volunteers.ExcludedExpired, "expired, with skill": volunteers.ExcludedExpired}
	if fmt.Sprint(why) != fmt.Sprint(want) {
		t.Errorf("excluded %v, want %v", why, want)
	}
	// On the last valid day the lawyer still counts; the day after, not.
	r, _ = mustMatch(t, s, legalTicket(), date(2026, 6, 29))
	if len(r.Suggestions) != 4 {
		t.Errorf("before expiry: %v", names(r.Suggestions))
	}
	r, _ = mustMatch(t, s, legalTicket(), date(2027, 7, 1))
	if got := names(r.Suggestions); !slices.Equal(got, []string{"skill, no qualification"}) {
		t.Errorf("after both expired: %v", got)
	}
}

func TestMatchAvailability(t *testing.T) {
	s, store, _ := MustService(t)
	vol(t, store, "evenings", 100, func(v *hotline.Volunteer) { v.Availability = "mon-fri 18:00-21:00" })
	vol(t, store, "always", 200, nil)
	r, why := mustMatch(t, s, legalTicket(), fixedNow) // Tuesday 10:00
	if got := names(r.Suggestions); !slices.Equal(got, []string{"always"}) || why["evenings"] != volunteers.ExcludedUnavailable {
		t.Errorf("at 10:00: %v, excluded %v", got, why)
	}
	evening := fixedNow.Add(9 * time.Hour) // 19:00 the resident asked for
	r, _ = mustMatch(t, s, legalTicket(), evening)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"evenings", "always"}) {
		t.Errorf("at 19:00: %v", got)
	}
}

func TestMatchDistance(t *testing.T) {
	s, store, _ := MustService(t)
	vol(t, store, "500 m", 500, nil)
	vol(t, store, "120 m", 120, nil)
	vol(t, store, "2 km", 2000, nil)
	vol(t, store, "5 km", 5000, nil)
	r, _ := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"120 m", "500 m", "2 km"}) {
		t.Errorf("suggested %v, want nearest first and none beyond 3 km", got)
	}
	if d := r.Suggestions[0].Distance; d < 115 || d > 125 {
		t.Errorf("distance %v", d)
	}
	if !strings.HasPrefix(r.Suggestions[0].Reason, "距居民 120 米，空闲，擅长「法律咨询」") ||
		!strings.Contains(r.Suggestions[0].Reason, " / 120 m away, free, skilled in Legal advice") {
		t.Errorf("reason %q", r.Suggestions[0].Reason)
	}
	if r.Suggestions[2].Reason[:len("距居民 2.0 公里")] != "距居民 2.0 公里" {
		t.Errorf("reason %q", r.Suggestions[2].Reason)
	}
	// A smaller radius, and a ticket with only a committee: measured from
	// its office.
	s.Radius = 1000
	tk := legalTicket()
	tk.Location = hotline.Location{Committee: "c01"}
	got, err := s.Match(context.Background(), tk, fixedNow, 10)
	if err != nil || !slices.Equal(names(got), []string{"120 m", "500 m"}) {
		t.Errorf("within 1 km of the committee: %v, %v", names(got), err)
	}
	tk.Location = hotline.Location{}
	if _, err := s.Match(context.Background(), tk, fixedNow, 10); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("no location: %v", err)
	}
}

func TestMatchWidensPastFilteredNeighbours(t *testing.T) {
	s, store, _ := MustService(t)
	for i := range 60 {
		vol(t, store, fmt.Sprint("busy evening ", i), 10+float64(i), func(v *hotline.Volunteer) { v.Availability = "sun 20:00-21:00" })
	}
	vol(t, store, "far but free", 1500, nil)
	r, _ := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"far but free"}) {
		t.Errorf("suggested %v", got)
	}
	if r.Radius < 1500 {
		t.Errorf("searched %v m", r.Radius)
	}
}

func TestMatchLoad(t *testing.T) {
	s, store, a := MustService(t)
	full := vol(t, store, "two tasks", 100, nil)
	roomy := vol(t, store, "two tasks of three", 110, func(v *hotline.Volunteer) { v.MaxTasks = 3 })
	one := vol(t, store, "one task", 120, nil)
	vol(t, store, "free", 150, nil)
	a.open = map[string]int{full.ID: 2, roomy.ID: 2, one.ID: 1}
	r, why := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"free", "one task", "two tasks of three"}) {
		t.Errorf("suggested %v (same 100 m step: least loaded first)", got)
	}
	if why["two tasks"] != volunteers.ExcludedBusy {
		t.Errorf("excluded %v", why)
	}
	if r.Suggestions[1].Load != 1 || !strings.Contains(r.Suggestions[1].Reason, "已有 1 项任务") || !strings.Contains(r.Suggestions[1].Reason, "1 open task") {
		t.Errorf("%+v", r.Suggestions[1])
	}
	s.MaxTasks = 3
	if got, _ := s.Match(context.Background(), legalTicket(), fixedNow, 10); len(got) != 4 {
		t.Errorf("with a default of 3 tasks: %v", names(got))
	}
	s.Assignments = nil
	if got, _ := s.Match(context.Background(), legalTicket(), fixedNow, 2); !slices.Equal(names(got), []string{"two tasks", "two tasks of three"}) {
		t.Errorf("without an assignment store everyone is free: %v", names(got))
	}
}

func TestMatchLanguage(t *testing.T) {
	s, store, _ := MustService(t)
	vol(t, store, "Mandarin", 100, nil)
	vol(t, store, "Shanghainese only", 110, func(v *hotline.Volunteer) { v.Languages = []string{"wuu"} })
	vol(t, store, "bilingual", 120, func(v *hotline.Volunteer) { v.Languages = []string{"zh", "en"} })
	r, why := mustMatch(t, s, legalTicket(), fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"Mandarin", "bilingual"}) || why["Shanghainese only"] != volunteers.ExcludedLanguage {
		t.Errorf("zh: %v, excluded %v", got, why)
	}
	tk := legalTicket()
	tk.Language = "en"
	r, _ = mustMatch(t, s, tk, fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"bilingual"}) || !strings.Contains(r.Suggestions[0].Reason, "speaks English") {
		t.Errorf("en: %v %v", got, r.Suggestions)
	}
	tk.Language = ""
	if got, _ := s.Match(context.Background(), tk, fixedNow, 10); len(got) != 2 {
		t.Errorf("no language given means Mandarin: %v", names(got))
	}
}

// An English ticket finds the English speakers however many Mandarin
// speakers live nearer, lawyers without the skill among them.
func TestMatchLanguageAmongMany(t *testing.T) {
	s, store, _ := MustService(t)
	for i := range 300 {
		vol(t, store, fmt.Sprint("Mandarin ", i), float64(i), nil)
	}
	vol(t, store, "English lawyer", 900, func(v *hotline.Volunteer) {
		v.Skills, v.Languages = []string{"elderly_visit"}, []string{"zh", "en"}
		v.Qualifications = []hotline.Qualification{{Kind: "lawyer"}}
	})
	vol(t, store, "English", 1200, func(v *hotline.Volunteer) { v.Languages = []string{"en"} })
	tk := legalTicket()
	tk.Language = "en"
	r, _ := mustMatch(t, s, tk, fixedNow)
	if got := names(r.Suggestions); !slices.Equal(got, []string{"English lawyer", "English"}) {
		t.Errorf("en among 300 Mandarin speakers: %v (excluded %d)", got, len(r.Excluded))
	}
}

func TestMatchRanksQualificationAfterLoad(t *testing.T) {
	s, store, _ := MustService(t)
	vol(t, store, "skill", 100, nil)
	vol(t, store, "lawyer", 150, func(v *hotline.Volunteer) { v.Qualifications = []hotline.Qualification{{Kind: "lawyer"}} })
	vol(t, store, "lawyer further", 250, func(v *hotline.Volunteer) { v.Qualifications = []hotline.Qualification{{Kind: "lawyer"}} })
	vol(t, store, "suspended", 10, func(v *hotline.Volunteer) { v.Status = hotline.VolunteerSuspended })
	got, err := s.Match(context.Background(), legalTicket(), fixedNow, 2)
	if err != nil || !slices.Equal(names(got), []string{"lawyer", "skill"}) {
		t.Errorf("suggested %v, %v (in the same step the qualified first; limit 2)", names(got), err)
	}
	if got[0].Score <= got[1].Score {
		t.Errorf("scores %v, %v", got[0].Score, got[1].Score)
	}
}
