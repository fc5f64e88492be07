package dispatch_test

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
)

// nearestGroup is the oracle for tier 1, worked out from the network
// alone: the nearest volunteer group handling code within radius of the
// point that is on duty at now, and its distance.
func nearestGroup(n *hotline.Network, code string, lat, long, radius float64, now time.Time) (string, float64) {
	best, bestD := "", math.Inf(1)
	for _, u := range n.Units {
		if u.Kind != hotline.KindVolunteerGroup || !u.Handles(code) {
			continue
		}
		if on, _ := dispatch.OnDuty(u, now); !on {
			continue
		}
		if d := dispatch.Haversine(lat, long, u.Lat, u.Long); d <= radius && d < bestD {
			best, bestD = u.ID, d
		}
	}
	return best, bestD
}

// A resident at any committee's office asking for a home visit (handled
// by every committee) gets their own committee: nobody is nearer than 0 m.
// Asking for meals (handled by no committee) gets the nearest meal group
// on duty within 1 km, or the street's elderly-care organization.
func TestRoute_EveryCommitteeArea(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		r := st.Dispatch.Router
		committees := 0
		for _, u := range st.Network.Units {
			if u.Kind != hotline.KindCommittee {
				continue
			}
			committees++
			t.Run(u.ID, func(t *testing.T) {
				if home, ok := st.Network.CommitteeAt(u.Lat, u.Long); !ok || home.ID != u.ID {
					t.Fatalf("the office of %s is not inside its own area", u.ID)
				}
				visit := st.MustFile(t, "elderly_visit", u.Lat, u.Long)
				d, err := r.Route(ctx, visit, st.Clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				if d.UnitID != u.ID || d.Tier != hotline.TierCommittee || d.Manual {
					t.Errorf("elderly_visit: got %+v, want committee %s at tier 1", d, u.ID)
				}
				if !strings.Contains(d.Reason, u.NameZH+"辖区") || !strings.Contains(d.Reason, "in the area of "+u.NameEN) {
					t.Errorf("reason does not name the home committee in both languages: %s", d.Reason)
				}

				meals := st.MustFile(t, "elderly_meals", u.Lat, u.Long)
				d, err = r.Route(ctx, meals, st.Clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				want, dist := nearestGroup(st.Network, "elderly_meals", u.Lat, u.Long, dispatch.DefaultVolunteerRadius, st.Clock.Now())
				if want == "" {
					want = "org-elderly"
				}
				if d.UnitID != want {
					t.Errorf("elderly_meals: got %s (%s), want %s (%.0f m)", d.UnitID, d.Reason, want, dist)
				}
				if want != "org-elderly" && !strings.Contains(d.Reason, "volunteer group") {
					t.Errorf("reason does not say a volunteer group was chosen: %s", d.Reason)
				}
			})
		}
		if committees != 14 {
			t.Fatalf("demo street has %d committees, want 14", committees)
		}
	})
}

// The reason carries the distance and the load, as the board shows them.
func TestRoute_ReasonShowsDistanceAndLoad(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		lat, long := st.Office(t, "c05")
		lat += 0.0015 // about 170 m north of the office, still in c05's area
		if home, ok := st.Network.CommitteeAt(lat, long); !ok || home.ID != "c05" {
			t.Fatal("the shifted point left c05's area; the demo changed")
		}
		st.MustRouted(t, "elderly_meals", "c05") // one open ticket already with c05-meals
		tk := st.MustFile(t, "elderly_meals", lat, long)
		d, err := st.Dispatch.Router.Route(context.Background(), tk, st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d.UnitID != "c05-meals" {
			t.Fatalf("got %s, want c05-meals: %s", d.UnitID, d.Reason)
		}
		t.Log(d.Reason)
		for _, want := range []string{"距居民 167 米", "167 m away", "负载 1/10", "load 1/10"} {
			if !strings.Contains(d.Reason, want) {
				t.Errorf("reason lacks %q: %s", want, d.Reason)
			}
		}
	})
}

// Counselling is handled only at tier 2, by one organization; building
// safety only at tier 3, by the district's housing administration.
func TestRoute_UpperTierOnlyCategories(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		lat, long := st.Office(t, "c07")
		for _, tc := range []struct {
			code string
			unit string
			tier hotline.Tier
		}{
			{"counselling", "org-counsel", hotline.TierStreet},
			{"legal", "org-legal", hotline.TierStreet},
			{"building_safety", "jingan-housing", hotline.TierDistrict},
		} {
			t.Run(tc.code, func(t *testing.T) {
				tk := st.MustFile(t, tc.code, lat, long)
				d, err := st.Dispatch.Router.Route(context.Background(), tk, st.Clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				if d.UnitID != tc.unit || d.Tier != tc.tier || d.Manual {
					t.Errorf("got %+v, want %s at tier %d", d, tc.unit, tc.tier)
				}
			})
		}
	})
}

// A unit at capacity is passed over, and the reason says so.
func TestRoute_FullUnitIsSkipped(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		meals, _ := st.Network.Unit("c05-meals")
		for range meals.Capacity {
			if got := st.MustRouted(t, "elderly_meals", "c05"); got.UnitID != "c05-meals" {
				t.Fatalf("while filling c05-meals a ticket went to %s: %s", got.UnitID, got.RouteReason)
			}
		}
		next := st.MustRouted(t, "elderly_meals", "c05")
		if next.UnitID == "c05-meals" {
			t.Fatalf("c05-meals took a ticket beyond its capacity %d", meals.Capacity)
		}
		if !strings.Contains(next.RouteReason, "c05-meals full 10/10") || !strings.Contains(next.RouteReason, "c05-meals 已满 10/10") {
			t.Errorf("reason does not say c05-meals was full: %s", next.RouteReason)
		}
		// Resolving one frees a place.
		acting := Staff(hotline.RoleCommittee, "c05")
		ts, _, err := st.Tickets.FindTickets(context.Background(), hotline.TicketFilter{Units: []string{"c05-meals"}, Limit: 1})
		if err != nil || len(ts) == 0 {
			t.Fatal(err, len(ts))
		}
		ctx := context.Background()
		if _, err := st.Dispatch.Accept(ctx, acting, ts[0].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Dispatch.Resolve(ctx, acting, ts[0].ID, "送餐上门"); err != nil {
			t.Fatal(err)
		}
		if again := st.MustRouted(t, "elderly_meals", "c05"); again.UnitID != "c05-meals" {
			t.Errorf("after one was resolved the ticket went to %s, want c05-meals: %s", again.UnitID, again.RouteReason)
		}
	})
}

// The weekend repair team of c02 is passed over on a Wednesday and
// chosen on a Saturday morning.
func TestRoute_OffDutyUnitIsSkipped(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		lat, long := st.Office(t, "c02")
		tk := st.MustFile(t, "home_repair", lat, long)
		ctx := context.Background()

		d, err := st.Dispatch.Router.Route(ctx, tk, wednesday11)
		if err != nil {
			t.Fatal(err)
		}
		if d.UnitID == "c02-repairs" {
			t.Fatalf("on Wednesday the weekend team got it: %s", d.Reason)
		}
		if !strings.Contains(d.Reason, "c02-repairs off duty") {
			t.Errorf("reason does not say c02-repairs is off duty: %s", d.Reason)
		}

		d, err = st.Dispatch.Router.Route(ctx, tk, sh(2025, time.March, 15, 10, 0))
		if err != nil {
			t.Fatal(err)
		}
		if d.UnitID != "c02-repairs" {
			t.Errorf("on Saturday got %s, want c02-repairs: %s", d.UnitID, d.Reason)
		}

		// At night nothing of tier 1 or 2 is on duty for repairs: the
		// street's intake queue keeps it for the morning.
		d, err = st.Dispatch.Router.Route(ctx, tk, sh(2025, time.March, 12, 23, 0))
		if err != nil {
			t.Fatal(err)
		}
		if !d.Manual || d.UnitID != "center" {
			t.Errorf("at 23:00 got %+v, want the street intake queue", d)
		}
	})
}

// Without a point or an address that the gazetteer knows, a need waits
// for a dispatcher; with only an address it is routed from the committee
// the address belongs to.
func TestRoute_Location(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		nowhere := &hotline.Ticket{ServiceCode: "sanitation", Location: hotline.Location{Address: "不知道"}}
		d, err := st.Dispatch.Router.Route(ctx, nowhere, st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if !d.Manual || d.UnitID != "center" || !strings.Contains(d.Reason, "no usable location") {
			t.Errorf("no location: got %+v, want the intake queue with that reason", d)
		}

		g := st.Network.Gazetteer[0]
		addr := g.Road
		if g.From > 0 {
			addr += itoa(g.From) + "号"
		}
		byAddress := &hotline.Ticket{ServiceCode: "sanitation", Location: hotline.Location{Address: addr}}
		d, err = st.Dispatch.Router.Route(ctx, byAddress, st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d.UnitID != g.Committee {
			t.Errorf("address %q: got %+v, want %s", addr, d, g.Committee)
		}
	})
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

// Units that declined are not offered the ticket again; a category whose
// only tier-1 units all declined goes up to the district.
func TestRoute_DeclinedUnitsAreSkipped(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		tk := st.MustFile(t, "dispute", 0, 0)
		lat, long := st.Office(t, "c03")
		tk.Location = hotline.Location{Lat: lat, Long: long, Committee: "c03"}
		tk.Declined = []string{"c03"}
		d, err := st.Dispatch.Router.Route(context.Background(), tk, st.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d.UnitID != "jingan-justice" || d.Tier != hotline.TierDistrict {
			t.Errorf("got %+v, want jingan-justice at tier 3", d)
		}
		if !strings.Contains(d.Reason, "c03 declined") {
			t.Errorf("reason does not mention the decline: %s", d.Reason)
		}
	})
}

// searchCounter is a unit index that counts the GEO searches asked of it.
type searchCounter struct {
	hotline.UnitIndex
	searches int
}

func (c *searchCounter) NearbyUnits(ctx context.Context, category string, tier hotline.Tier, lat, long, radius float64, count int) ([]hotline.UnitDistance, error) {
	c.searches++
	return c.UnitIndex.NearbyUnits(ctx, category, tier, lat, long, radius, count)
}

// The router asks the GEO index only where distance can change the
// answer: not for a resident placed at their committee's office (the home
// committee is 0 m away and wins ties), nor among the street's and the
// district's few units, which it weighs itself. Everyone else is searched.
func TestRoute_SearchesOnlyWhereDistanceDecides(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		st := store.MustStreet(t)
		ctx := context.Background()
		idx := &searchCounter{UnitIndex: redisstore.NewUnitIndex(st.DB)}
		r := &dispatch.Router{Units: idx, Directory: st.Dir,
			VolunteerRadius: dispatch.DefaultVolunteerRadius, WideRadius: dispatch.DefaultWideRadius}
		lat, long := st.Office(t, "c03")
		for _, tc := range []struct {
			name, code string
			lat, long  float64
			unit       string
			searches   int
		}{
			{"home visit at the office", "elderly_visit", lat, long, "c03", 0},
			{"counselling (street tier only)", "counselling", lat, long, "org-counsel", 0},
			{"building safety (district only)", "building_safety", lat, long, "jingan-housing", 0},
			{"meals (volunteer groups)", "elderly_meals", lat, long, "", 1},
			{"home visit 200 m from the office", "elderly_visit", lat + 0.0018, long, "", 1},
		} {
			t.Run(tc.name, func(t *testing.T) {
				idx.searches = 0
				d, err := r.Route(ctx, st.MustFile(t, tc.code, tc.lat, tc.long), st.Clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				if tc.unit != "" && d.UnitID != tc.unit {
					t.Errorf("went to %s (%s), want %s", d.UnitID, d.Reason, tc.unit)
				}
				if tc.searches == 0 && idx.searches != 0 {
					t.Errorf("%d GEO searches, want none", idx.searches)
				}
				if tc.searches > 0 && idx.searches == 0 {
					t.Errorf("no GEO search: a nearer volunteer group could have been missed")
				}
			})
		}
	})
}

// A street organization without a point on the map still serves when the
// ones with a point are full, before the district is asked.
func TestRoute_StreetUnitWithoutPointServes(t *testing.T) {
	eachStore(t, func(t *testing.T, store Store) {
		n, c := network.Demo()
		var orgs []string
		for i, u := range n.Units {
			if u.Kind == hotline.KindOrganization && u.Handles("counselling") {
				orgs = append(orgs, u.ID)
				n.Units[i].Capacity = 1
			}
		}
		if len(orgs) != 1 {
			t.Fatalf("demo: %d counselling organizations, want 1", len(orgs))
		}
		far := hotline.Unit{ID: "org-counsel-2", Kind: hotline.KindOrganization, NameZH: "心理服务站", NameEN: "Counselling point",
			Tier: hotline.TierStreet, Categories: []string{"counselling"}}
		n.Units = append(n.Units, far)
		st := store.MustStreet(t)
		st.Network, st.Catalog = n, c
		st.Dir = hotline.NewStaticDirectory(n, c)
		st.Dispatch = st.MustService(t, st.Client)
		first := st.MustRouted(t, "counselling", "c07")
		if first.UnitID != orgs[0] {
			t.Fatalf("first went to %s (%s), want %s", first.UnitID, first.RouteReason, orgs[0])
		}
		second := st.MustRouted(t, "counselling", "c07")
		if second.UnitID != far.ID || second.Tier != hotline.TierStreet {
			t.Errorf("with %s full the ticket went to %s at tier %d (%s), want %s at tier 2",
				orgs[0], second.UnitID, second.Tier, second.RouteReason, far.ID)
		}
	})
}
