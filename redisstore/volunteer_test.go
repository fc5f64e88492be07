package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// NewVolunteer returns an approved volunteer near the demo street's
// middle, with phone number n.
func NewVolunteer(n int) *hotline.Volunteer {
	return &hotline.Volunteer{
		Name: fmt.Sprintf("志愿者%d", n), Phone: fmt.Sprintf("+86138%08d", n),
		Committee: "c01", Lat: 31.2400, Long: 121.4400,
		Skills: []string{"elderly_visit"}, Languages: []string{"zh"},
		Qualifications: []hotline.Qualification{{Kind: "lawyer", Expires: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}},
		Groups:         []string{"g01"},
		Status:         hotline.VolunteerApproved, Source: "staff",
	}
}

// MustCreateVolunteer stores v and fails the test on error.
func MustCreateVolunteer(tb testing.TB, s *redisstore.VolunteerStore, v *hotline.Volunteer) *hotline.Volunteer {
	tb.Helper()
	if err := s.CreateVolunteer(context.Background(), v); err != nil {
		tb.Fatal(err)
	}
	return v
}

func nearbyIDs(tb testing.TB, s *redisstore.VolunteerStore, skill string, lat, long, radius float64) []string {
	tb.Helper()
	got, err := s.NearbyVolunteers(context.Background(), skill, lat, long, radius, 0)
	if err != nil {
		tb.Fatal(err)
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.Volunteer.ID)
	}
	return ids
}

func TestVolunteerCreateFindAndPhoneClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		ctx := context.Background()
		v := MustCreateVolunteer(t, s, NewVolunteer(1))
		if v.ID == "" || v.Version != 1 || v.CreatedAt.IsZero() {
			t.Fatalf("created %+v", v)
		}
		got, err := s.FindVolunteer(ctx, v.ID)
		if err != nil || got.Name != v.Name || got.Phone != v.Phone {
			t.Fatalf("FindVolunteer = %+v, %v", got, err)
		}
		byPhone, err := s.FindVolunteerByPhone(ctx, v.Phone)
		if err != nil || byPhone.ID != v.ID {
			t.Fatalf("FindVolunteerByPhone = %+v, %v", byPhone, err)
		}
		_, err = s.FindVolunteerByPhone(ctx, "+8613999999999")
		AssertCode(t, err, hotline.ENOTFOUND)
		_, err = s.FindVolunteer(ctx, "V1")
		AssertCode(t, err, hotline.ENOTFOUND)

		err = s.CreateVolunteer(ctx, NewVolunteer(1))
		AssertCode(t, err, hotline.ECONFLICT)
		err = s.CreateVolunteer(ctx, &hotline.Volunteer{Name: "x", Phone: "138", Status: hotline.VolunteerApplied})
		AssertCode(t, err, hotline.EINVALID)

		// A phone change frees the old number and claims the new one.
		w := MustCreateVolunteer(t, s, NewVolunteer(2))
		_, err = s.UpdateVolunteer(ctx, w.ID, func(x *hotline.Volunteer) error { x.Phone = v.Phone; return nil })
		AssertCode(t, err, hotline.ECONFLICT)
		moved, err := s.UpdateVolunteer(ctx, w.ID, func(x *hotline.Volunteer) error { x.Phone = "+8613900000002"; return nil })
		if err != nil || moved.Version != 2 {
			t.Fatalf("phone change = %+v, %v", moved, err)
		}
		if _, err := s.FindVolunteerByPhone(ctx, NewVolunteer(2).Phone); hotline.ErrorCode(err) != hotline.ENOTFOUND {
			t.Errorf("old phone still finds someone: %v", err)
		}
		MustCreateVolunteer(t, s, NewVolunteer(2)) // free again
	})
}

func TestVolunteerGeoIndexFollowsStatusSkillsAndPoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		ctx := context.Background()
		near := MustCreateVolunteer(t, s, NewVolunteer(1))
		farV := NewVolunteer(2)
		farV.Lat = 31.2500 // about 1.1 km north
		far := MustCreateVolunteer(t, s, farV)
		applied := NewVolunteer(3)
		applied.Status = hotline.VolunteerApplied
		MustCreateVolunteer(t, s, applied)
		nowhere := NewVolunteer(4)
		nowhere.Lat, nowhere.Long = 0, 0
		MustCreateVolunteer(t, s, nowhere)

		if got, want := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 3000), []string{near.ID, far.ID}; !slices.Equal(got, want) {
			t.Errorf("nearby = %v, want %v (nearest first; applied and pointless ones left out)", got, want)
		}
		if got := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 500); !slices.Equal(got, []string{near.ID}) {
			t.Errorf("within 500 m = %v, want only %s", got, near.ID)
		}
		if got := nearbyIDs(t, s, hotline.QualificationSkill("lawyer"), 31.24, 121.44, 3000); len(got) != 2 {
			t.Errorf("lawyers nearby = %v, want both matchable ones", got)
		}
		res, err := s.NearbyVolunteers(ctx, "elderly_visit", 31.24, 121.44, 3000, 1)
		if err != nil || len(res) != 1 || res[0].Volunteer.Name != near.Name || res[0].Distance > 1 {
			t.Fatalf("nearby count 1 = %+v, %v", res, err)
		}

		// Suspension takes them out; a new skill puts them in that set only.
		MustUpdateVolunteer(t, s, near.ID, func(v *hotline.Volunteer) error { v.Status = hotline.VolunteerSuspended; return nil })
		if got := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 3000); !slices.Equal(got, []string{far.ID}) {
			t.Errorf("after suspension = %v", got)
		}
		if got := nearbyIDs(t, s, hotline.QualificationSkill("lawyer"), 31.24, 121.44, 3000); !slices.Equal(got, []string{far.ID}) {
			t.Errorf("lawyers after suspension = %v", got)
		}
		MustUpdateVolunteer(t, s, far.ID, func(v *hotline.Volunteer) error {
			v.Skills = []string{"legal"}
			v.Lat = 31.2400
			return nil
		})
		if got := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 3000); len(got) != 0 {
			t.Errorf("old skill still indexed: %v", got)
		}
		if got, err := s.NearbyVolunteers(ctx, "legal", 31.24, 121.44, 100, 0); err != nil || len(got) != 1 || got[0].Volunteer.ID != far.ID {
			t.Errorf("moved volunteer with new skill = %+v, %v", got, err)
		}
		MustUpdateVolunteer(t, s, near.ID, func(v *hotline.Volunteer) error { v.Status = hotline.VolunteerActive; return nil })
		if got := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 3000); !slices.Equal(got, []string{near.ID}) {
			t.Errorf("after reactivation = %v", got)
		}
		_, err = s.NearbyVolunteers(ctx, "legal", 31.24, 121.44, -1, 0)
		AssertCode(t, err, hotline.EINVALID)
	})
}

// MustUpdateVolunteer applies change and fails the test on error.
func MustUpdateVolunteer(tb testing.TB, s *redisstore.VolunteerStore, id string, change hotline.VolunteerChange) *hotline.Volunteer {
	tb.Helper()
	v, err := s.UpdateVolunteer(context.Background(), id, change)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestVolunteerUpdatesAreNotLost(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		v := MustCreateVolunteer(t, s, NewVolunteer(1))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.UpdateVolunteer(context.Background(), v.ID, func(x *hotline.Volunteer) error {
					x.Languages = append(x.Languages, fmt.Sprint("l", i))
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, _ := s.FindVolunteer(context.Background(), v.ID)
		if len(got.Languages) != 9 || got.Version != 9 {
			t.Errorf("after 8 concurrent updates: languages %v, version %d", got.Languages, got.Version)
		}
		_, err := s.UpdateVolunteer(context.Background(), "V404", func(*hotline.Volunteer) error { return nil })
		AssertCode(t, err, hotline.ENOTFOUND)
		_, err = s.UpdateVolunteer(context.Background(), v.ID, func(*hotline.Volunteer) error {
			return hotline.Errorf(hotline.ECONFLICT, "refused")
		})
		AssertCode(t, err, hotline.ECONFLICT)
	})
}

func TestFindVolunteersFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		ctx := context.Background()
		var all []*hotline.Volunteer
		for i := range 6 {
			v := NewVolunteer(i)
			v.CreatedAt = time.Date(2026, 1, 1+i, 0, 0, 0, 0, time.UTC)
			if i%2 == 1 {
				v.Status, v.Committee, v.Groups, v.Skills = hotline.VolunteerApplied, "c02", nil, []string{"legal"}
			}
			all = append(all, MustCreateVolunteer(t, s, v))
		}
		ids := func(vs []*hotline.Volunteer) []string {
			var out []string
			for _, v := range vs {
				out = append(out, v.ID)
			}
			return out
		}
		for _, tc := range []struct {
			name      string
			f         hotline.VolunteerFilter
			want      []int
			wantTotal int
		}{
			{"all newest first", hotline.VolunteerFilter{}, []int{5, 4, 3, 2, 1, 0}, 6},
			{"paged", hotline.VolunteerFilter{Offset: 1, Limit: 2}, []int{4, 3}, 6},
			{"status", hotline.VolunteerFilter{Statuses: []hotline.VolunteerStatus{hotline.VolunteerApplied}}, []int{5, 3, 1}, 3},
			{"two statuses", hotline.VolunteerFilter{Statuses: []hotline.VolunteerStatus{hotline.VolunteerApplied, hotline.VolunteerApproved}}, []int{5, 4, 3, 2, 1, 0}, 6},
			{"committee and skill", hotline.VolunteerFilter{Committee: "c01", Skill: "elderly_visit"}, []int{4, 2, 0}, 3},
			{"group", hotline.VolunteerFilter{Group: "g01", Limit: 1}, []int{4}, 3},
			{"nothing", hotline.VolunteerFilter{Committee: "c02", Skill: "elderly_visit"}, nil, 0},
			{"name", hotline.VolunteerFilter{Query: "志愿者3"}, []int{3}, 1},
			{"phone digits", hotline.VolunteerFilter{Query: "0004", Statuses: []hotline.VolunteerStatus{hotline.VolunteerApproved}}, []int{4}, 1},
		} {
			got, total, err := s.FindVolunteers(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, all[i].ID)
			}
			if !slices.Equal(ids(got), want) || total != tc.wantTotal {
				t.Errorf("%s: got %v (total %d), want %v (total %d)", tc.name, ids(got), total, want, tc.wantTotal)
			}
		}
		// Leaving a committee leaves its index.
		MustUpdateVolunteer(t, s, all[0].ID, func(v *hotline.Volunteer) error { v.Committee = "c03"; return nil })
		if _, total, _ := s.FindVolunteers(ctx, hotline.VolunteerFilter{Committee: "c01"}); total != 2 {
			t.Errorf("c01 after a move holds %d, want 2", total)
		}
	})
}

func TestPutVolunteersBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		ctx := context.Background()
		old := MustCreateVolunteer(t, s, NewVolunteer(1))
		stale := MustCreateVolunteer(t, s, NewVolunteer(2))
		MustUpdateVolunteer(t, s, stale.ID, func(v *hotline.Volunteer) error { v.Notes = "moved on"; return nil })

		changed := *old
		changed.Notes = "imported"
		taken := NewVolunteer(2) // a new row with a stored phone
		fresh := NewVolunteer(3)
		batch := []*hotline.Volunteer{fresh, &changed, stale, taken, {Name: "", Phone: "+8613800000009", Status: hotline.VolunteerApplied}}
		errs, err := s.PutVolunteers(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		codes := make([]string, len(errs))
		for i, e := range errs {
			codes[i] = hotline.ErrorCode(e)
		}
		if want := []string{"", "", hotline.ECONFLICT, hotline.ECONFLICT, hotline.EINVALID}; !slices.Equal(codes, want) {
			t.Fatalf("codes %v, want %v (%v)", codes, want, errs)
		}
		if fresh.ID == "" || fresh.Version != 1 || changed.Version != 2 {
			t.Errorf("stored: fresh %s v%d, changed v%d", fresh.ID, fresh.Version, changed.Version)
		}
		got, err := s.VolunteersByPhone(ctx, []string{fresh.Phone, old.Phone, "+8613000000000"})
		if err != nil || len(got) != 2 || got[old.Phone].Notes != "imported" || got[fresh.Phone].ID != fresh.ID {
			t.Errorf("VolunteersByPhone = %v, %v", got, err)
		}
		if ids := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 100); len(ids) != 3 {
			t.Errorf("indexed after batch: %v", ids)
		}
	})
}

func TestNearbyVolunteersAny(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		both := MustCreateVolunteer(t, s, NewVolunteer(1)) // elderly_visit and a lawyer
		lawyer := NewVolunteer(2)
		lawyer.Skills, lawyer.Lat = []string{"legal"}, 31.2410
		lawyer = MustCreateVolunteer(t, s, lawyer)
		got, err := s.NearbyVolunteersAny(context.Background(),
			[]string{"elderly_visit", hotline.QualificationSkill("lawyer"), "nobody"}, 31.24, 121.44, 3000, 10)
		if err != nil {
			t.Fatal(err)
		}
		ids := func(l []hotline.VolunteerDistance) (out []string) {
			for _, d := range l {
				out = append(out, d.Volunteer.ID+":"+d.Volunteer.Skills[0])
			}
			return out
		}
		if len(got) != 3 || !slices.Equal(ids(got[0]), []string{both.ID + ":elderly_visit"}) ||
			!slices.Equal(ids(got[1]), []string{both.ID + ":elderly_visit", lawyer.ID + ":legal"}) || len(got[2]) != 0 {
			t.Errorf("got %v / %v / %v", ids(got[0]), ids(got[1]), ids(got[2]))
		}
		if got[0][0].Volunteer != got[1][0].Volunteer {
			t.Error("a volunteer in two sets was decoded twice")
		}
		if d := got[1][1].Distance; d < 100 || d > 120 {
			t.Errorf("distance %v", d)
		}
		// The match record carries what matching reads, and only that.
		m := got[0][0].Volunteer
		if m.Status != both.Status || !slices.Equal(m.Languages, both.Languages) || len(m.Qualifications) != 1 ||
			!m.Qualifications[0].Expires.Equal(both.Qualifications[0].Expires) || m.Availability != both.Availability ||
			m.Name != "" || m.Phone != "" {
			t.Errorf("match record %+v", m)
		}
		full, err := s.VolunteersByID(context.Background(), []string{lawyer.ID, "V404", both.ID})
		if err != nil || len(full) != 2 || full[0].Name != lawyer.Name || full[1].Phone != both.Phone {
			t.Errorf("VolunteersByID = %v, %v", full, err)
		}
	})
}

// A volunteer who speaks a language other than Mandarin is also indexed
// under it, per skill and qualification, and leaves it with the language.
func TestVolunteerLanguageIndex(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		MustCreateVolunteer(t, s, NewVolunteer(1)) // Mandarin only
		en := NewVolunteer(2)
		en.Languages = []string{"zh", "en"}
		english := MustCreateVolunteer(t, s, en)
		enOnly := NewVolunteer(3)
		enOnly.Languages = []string{"en"}
		enOnly.Lat = 31.2410
		englishOnly := MustCreateVolunteer(t, s, enOnly)

		if got := nearbyIDs(t, s, "elderly_visit", 31.24, 121.44, 3000); len(got) != 3 {
			t.Errorf("the skill's set holds everyone: %v", got)
		}
		want := []string{english.ID, englishOnly.ID}
		if got := nearbyIDs(t, s, hotline.LanguageSkill("elderly_visit", "en"), 31.24, 121.44, 3000); !slices.Equal(got, want) {
			t.Errorf("English speakers with the skill = %v, want %v", got, want)
		}
		if got := nearbyIDs(t, s, hotline.LanguageSkill(hotline.QualificationSkill("lawyer"), "en"), 31.24, 121.44, 3000); !slices.Equal(got, want) {
			t.Errorf("English-speaking lawyers = %v, want %v", got, want)
		}
		if got := nearbyIDs(t, s, hotline.LanguageSkill("elderly_visit", hotline.CommonLanguage), 31.24, 121.44, 3000); len(got) != 0 {
			t.Errorf("Mandarin is not indexed apart: %v", got)
		}
		MustUpdateVolunteer(t, s, english.ID, func(v *hotline.Volunteer) error { v.Languages = []string{"zh"}; return nil })
		if got := nearbyIDs(t, s, hotline.LanguageSkill("elderly_visit", "en"), 31.24, 121.44, 3000); !slices.Equal(got, []string{englishOnly.ID}) {
			t.Errorf("after dropping English = %v", got)
		}
	})
}

// A registry stored before the language sets existed gets them from
// EnsureIndexes, once, for the matchable volunteers only.
func TestVolunteerEnsureIndexesBackfills(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewVolunteerStore(b.db)
		ctx := context.Background()
		var speakers []string
		for i := range 2500 { // more than one page of the backfill
			v := NewVolunteer(i)
			if i%100 == 0 {
				v.Languages = []string{"zh", "en"}
				speakers = append(speakers, MustCreateVolunteer(t, s, v).ID)
				continue
			}
			MustCreateVolunteer(t, s, v)
		}
		left := NewVolunteer(9999)
		left.Languages = []string{"en"}
		left = MustCreateVolunteer(t, s, left)
		MustUpdateVolunteer(t, s, left.ID, func(v *hotline.Volunteer) error { v.Status = hotline.VolunteerLeft; return nil })
		// As an earlier version left them: no language sets, no mark.
		c, set := b.db.Client(), b.db.Prefix()+":{vol}:geo:"+hotline.LanguageSkill("elderly_visit", "en")
		if err := c.Del(ctx, set, b.db.Prefix()+":{vol}:geo:"+hotline.LanguageSkill(hotline.QualificationSkill("lawyer"), "en")).Err(); err != nil {
			t.Fatal(err)
		}
		if got := nearbyIDs(t, s, hotline.LanguageSkill("elderly_visit", "en"), 31.24, 121.44, 3000); len(got) != 0 {
			t.Fatalf("sets not dropped: %d", len(got))
		}
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		got := nearbyIDs(t, s, hotline.LanguageSkill("elderly_visit", "en"), 31.24, 121.44, 3000)
		slices.Sort(got)
		slices.Sort(speakers)
		if !slices.Equal(got, speakers) {
			t.Errorf("backfilled %d English speakers, want the %d matchable ones", len(got), len(speakers))
		}
		// Done once: a second call finds the mark and writes nothing.
		if err := c.Del(ctx, set).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureIndexes(ctx); err != nil {
			t.Fatal(err)
		}
		if n := c.Exists(ctx, set).Val(); n != 0 {
			t.Errorf("second EnsureIndexes wrote again")
		}
	})
}
