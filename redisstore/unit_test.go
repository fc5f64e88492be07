package redisstore_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

// MustOpenLoads returns the units' open-ticket counts and fails the test
// on error.
func MustOpenLoads(tb testing.TB, x *redisstore.UnitIndex, ids ...string) map[string]int {
	tb.Helper()
	m, err := x.OpenLoads(context.Background(), ids)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestLoadCountersFollowTickets(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, x := redisstore.NewTicketStore(b.db), redisstore.NewUnitIndex(b.db)
		ctx := context.Background()
		check := func(step string, want map[string]int) {
			t.Helper()
			var ids []string
			for id := range want {
				ids = append(ids, id)
			}
			got := MustOpenLoads(t, x, ids...)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: loads %v, want %v", step, got, want)
			}
		}
		placed := func(unit string, st hotline.Status, key string) *hotline.Ticket {
			tk := NewTicket()
			tk.UnitID, tk.Status = unit, st
			return MustCreateTicket(t, s, tk, key)
		}

		a := placed("c01", hotline.StatusRouted, KeyInPartition(2, "a"))
		bt := placed("c01", hotline.StatusNew, KeyInPartition(7, "b"))
		MustCreateTicket(t, s, NewTicket(), "")   // unplaced: no unit to count
		placed("c02", hotline.StatusResolved, "") // not open
		check("created", map[string]int{"c01": 2, "c02": 0, "nobody": 0})

		MustUpdateTicket(t, s, a.ID, route("c02"))
		check("reassigned", map[string]int{"c01": 1, "c02": 1})
		MustUpdateTicket(t, s, a.ID, setStatus(hotline.StatusAccepted, hotline.EventTicketAccepted))
		MustUpdateTicket(t, s, a.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "u1", Note: "called the resident"}, nil
		})
		check("accepted and noted at the same unit", map[string]int{"c01": 1, "c02": 1})
		MustUpdateTicket(t, s, a.ID, setStatus(hotline.StatusResolved, hotline.EventTicketResolved))
		check("resolved", map[string]int{"c01": 1, "c02": 0})
		MustUpdateTicket(t, s, a.ID, setStatus(hotline.StatusReopened, hotline.EventTicketReopened))
		check("reopened", map[string]int{"c01": 1, "c02": 1})
		MustUpdateTicket(t, s, bt.ID, setStatus(hotline.StatusCancelled, hotline.EventTicketCancelled))
		check("cancelled", map[string]int{"c01": 0, "c02": 1})

		// Counts add up across partitions.
		for p := range redisstore.Partitions {
			placed("c03", hotline.StatusRouted, KeyInPartition(p, "c03"))
		}
		check("one per partition", map[string]int{"c03": redisstore.Partitions})
		if got := MustOpenLoads(t, x); len(got) != 0 {
			t.Errorf("loads of no units = %v", got)
		}

		// A counter that reaches zero is removed, so the hashes only hold
		// units that have work.
		for p := range redisstore.Partitions {
			k := fmt.Sprintf("%s:{p%d}:load", b.db.Prefix(), p)
			m, err := b.db.Client().HGetAll(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			for u, n := range m {
				if n == "0" || n[0] == '-' {
					t.Errorf("partition %d keeps %s = %s", p, u, n)
				}
			}
		}
	})
}

// distance is Redis's great-circle distance in metres (its Earth radius).
func distance(lat1, long1, lat2, long2 float64) float64 {
	const r = 6372797.560856
	rad := math.Pi / 180
	u := math.Sin((lat2 - lat1) * rad / 2)
	v := math.Sin((long2 - long1) * rad / 2)
	return 2 * r * math.Asin(math.Sqrt(u*u+math.Cos(lat1*rad)*math.Cos(lat2*rad)*v*v))
}

// MustNearby runs NearbyUnits and fails the test on error.
func MustNearby(tb testing.TB, x *redisstore.UnitIndex, cat string, tier hotline.Tier, lat, long, radius float64, count int) []hotline.UnitDistance {
	tb.Helper()
	got, err := x.NearbyUnits(context.Background(), cat, tier, lat, long, radius, count)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

func TestUnitIndexFindsNearbyUnitsOfTheDemo(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		x := redisstore.NewUnitIndex(b.db)
		n, _ := network.Demo()
		if err := x.IndexUnits(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		c01, _ := n.Unit("c01")
		lat, long := c01.Lat+0.0004, c01.Long+0.0003 // a doorway near the committee

		first := func(cat string, tier hotline.Tier) string {
			t.Helper()
			got := MustNearby(t, x, cat, tier, lat, long, 3000, 1)
			if len(got) != 1 {
				t.Fatalf("%s tier %d: got %v, want one unit", cat, tier, got)
			}
			return got[0].UnitID
		}
		if got, want := first("elderly_visit", hotline.TierCommittee), "c01"; got != want {
			t.Errorf("nearest committee for a visit: %s, want %s", got, want)
		}
		if got, want := first("elderly_meals", hotline.TierCommittee), "c01-meals"; got != want {
			t.Errorf("nearest meal volunteers: %s, want %s", got, want)
		}
		if got, want := first("building_safety", hotline.TierDistrict), "jingan-housing"; got != want {
			t.Errorf("building safety at the district: %s, want %s", got, want)
		}
		if got := MustNearby(t, x, "building_safety", hotline.TierCommittee, lat, long, 5000, 0); len(got) != 0 {
			t.Errorf("no committee handles building safety, found %v", got)
		}

		// Every category and tier, several radii: exactly the units of that
		// tier handling the category within the radius, nearest first.
		cats := map[string]bool{}
		for _, u := range n.Units {
			for _, c := range u.Categories {
				cats[c] = true
			}
		}
		for cat := range cats {
			for _, tier := range []hotline.Tier{hotline.TierCommittee, hotline.TierStreet, hotline.TierDistrict} {
				for _, radius := range []float64{300, 1000, 5000} {
					got := MustNearby(t, x, cat, tier, lat, long, radius, 0)
					var want []string
					for _, u := range n.Units {
						d := distance(lat, long, u.Lat, u.Long)
						if u.Tier == tier && u.Handles(cat) && d <= radius {
							want = append(want, u.ID)
						}
						if math.Abs(d-radius) < 1 {
							t.Fatalf("unit %s lies on the %v m circle; move the test point", u.ID, radius)
						}
					}
					var ids []string
					for i, g := range got {
						ids = append(ids, g.UnitID)
						u, _ := n.Unit(g.UnitID)
						if d := distance(lat, long, u.Lat, u.Long); math.Abs(d-g.Distance) > 1 {
							t.Errorf("%s: distance %v m, want %v", g.UnitID, g.Distance, d)
						}
						if i > 0 && g.Distance < got[i-1].Distance {
							t.Errorf("%s tier %d: %v not nearest first", cat, tier, got)
						}
					}
					slices.Sort(want)
					slices.Sort(ids)
					if !slices.Equal(ids, want) {
						t.Errorf("%s tier %d within %v m: got %v, want %v", cat, tier, radius, ids, want)
					}
				}
			}
		}
		if got := MustNearby(t, x, "elderly_visit", hotline.TierCommittee, lat, long, 5000, 3); len(got) != 3 {
			t.Errorf("count 3: got %d units", len(got))
		}
		_, err := x.NearbyUnits(context.Background(), "elderly_visit", hotline.TierCommittee, lat, long, -1, 3)
		AssertCode(t, err, hotline.EINVALID)
	})
}

func TestIndexUnitsReplacesTheIndex(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		x := redisstore.NewUnitIndex(b.db)
		ctx := context.Background()
		n, _ := network.Demo()
		if err := x.IndexUnits(ctx, n); err != nil {
			t.Fatal(err)
		}
		c01, _ := n.Unit("c01")
		if got := MustNearby(t, x, "sanitation", hotline.TierCommittee, c01.Lat, c01.Long, 10000, 0); len(got) == 0 {
			t.Fatal("no unit handles sanitation in the demo")
		}

		// Nobody does sanitation any more, and c01 moved about 1.1 km north.
		for i := range n.Units {
			u := &n.Units[i]
			u.Categories = slices.DeleteFunc(u.Categories, func(c string) bool { return c == "sanitation" })
			if u.ID == "c01" {
				u.Lat += 0.01
			}
		}
		if err := x.IndexUnits(ctx, n); err != nil {
			t.Fatal(err)
		}
		if got := MustNearby(t, x, "sanitation", hotline.TierCommittee, c01.Lat, c01.Long, 10000, 0); len(got) != 0 {
			t.Errorf("sanitation still finds %v", got)
		}
		got := MustNearby(t, x, "elderly_visit", hotline.TierCommittee, c01.Lat+0.01, c01.Long, 50, 0)
		if len(got) != 1 || got[0].UnitID != "c01" {
			t.Errorf("at c01's new place: %v, want c01", got)
		}

		keys := func(pattern string) []string {
			t.Helper()
			return MustKeys(t, b.db.Client(), b.db.Prefix()+pattern)
		}
		live, err := b.db.Client().SMembers(ctx, b.db.Prefix()+":{units}:geokeys").Result()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(live)
		if g, w := keys(":{units}:geo:*"), live; !slices.Equal(g, w) {
			t.Errorf("GEO sets %v, but geokeys lists %v", g, w)
		}
		for _, k := range live {
			if k == b.db.Prefix()+":{units}:geo:sanitation:t1" {
				t.Errorf("the sanitation set is still live")
			}
		}
		if tmp := keys(":{units}:geotmp:*"); len(tmp) != 0 {
			t.Errorf("temporary sets left behind: %v", tmp)
		}

		if err := x.IndexUnits(ctx, &hotline.Network{}); err != nil {
			t.Fatal(err)
		}
		if left := keys(":{units}:*"); len(left) != 0 {
			t.Errorf("an empty network leaves %v", left)
		}
	})
}

// BenchmarkNearbyUnits searches 10,000 synthetic units spread over the
// demo street (about 1.9 × 1.4 km), each of a random tier handling two of
// the demo's 13 categories: about 500 units per GEO set, up to about 150
// of them inside the 500 m radius, the 10 nearest returned.
func BenchmarkNearbyUnits(b *testing.B) {
	n, cat := network.Demo()
	minLat, maxLat, minLong, maxLong := 90.0, -90.0, 180.0, -180.0
	for _, a := range n.Areas {
		for _, p := range a.Polygon[0] {
			minLong, maxLong = min(minLong, p[0]), max(maxLong, p[0])
			minLat, maxLat = min(minLat, p[1]), max(maxLat, p[1])
		}
	}
	var codes []string
	for _, c := range cat.Categories {
		codes = append(codes, c.Code)
	}
	r := rand.New(rand.NewPCG(1, 2))
	point := func() (float64, float64) {
		return minLat + r.Float64()*(maxLat-minLat), minLong + r.Float64()*(maxLong-minLong)
	}
	synthetic := &hotline.Network{}
	for i := range 10000 {
		lat, long := point()
		synthetic.Units = append(synthetic.Units, hotline.Unit{
			ID: fmt.Sprintf("u%05d", i), Kind: hotline.KindVolunteerGroup,
			Tier: hotline.Tier(1 + r.IntN(3)), Lat: lat, Long: long,
			Categories: []string{codes[r.IntN(len(codes))], codes[r.IntN(len(codes))]},
		})
	}
	run := func(b *testing.B, c redis.UniversalClient, prefix string) {
		x := redisstore.NewUnitIndex(redisstore.NewDB(c, prefix))
		ctx := context.Background()
		if err := x.IndexUnits(ctx, synthetic); err != nil {
			b.Fatal(err)
		}
		found := 0
		for b.Loop() {
			lat, long := point()
			got, err := x.NearbyUnits(ctx, codes[r.IntN(len(codes))], hotline.Tier(1+r.IntN(3)), lat, long, 500, 10)
			if err != nil {
				b.Fatal(err)
			}
			found += len(got)
		}
		b.ReportMetric(float64(found)/float64(b.N), "units/op")
	}
	b.Run("redis", func(b *testing.B) {
		c, prefix := redistest.New(b)
		run(b, c, prefix)
	})
	b.Run("miniredis", func(b *testing.B) {
		m := miniredis.RunT(b)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		b.Cleanup(func() { c.Close() })
		run(b, c, "")
	})
}

// The one-round-trip search answers exactly what NearbyUnits and OpenLoads
// answer apart, including the loads of the extra ids asked for.
func TestNearbyUnitsLoadsAgreesWithTheTwoCalls(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s, x := redisstore.NewTicketStore(b.db), redisstore.NewUnitIndex(b.db)
		ctx := context.Background()
		n, _ := network.Demo()
		if err := x.IndexUnits(ctx, n); err != nil {
			t.Fatal(err)
		}
		for i, unit := range []string{"c01-meals", "c01-meals", "c05-meals", "c01"} {
			tk := NewTicket()
			tk.UnitID, tk.Status = unit, hotline.StatusRouted
			MustCreateTicket(t, s, tk, KeyInPartition(i*5%16, fmt.Sprint("load", i)))
		}
		c01, _ := n.Unit("c01")
		for _, tc := range []struct {
			radius float64
			count  int
		}{{3000, 0}, {3000, 2}, {100, 5}, {1, 5}} {
			near, loads, err := x.NearbyUnitsLoads(ctx, "elderly_meals", hotline.TierCommittee, c01.Lat, c01.Long, tc.radius, tc.count, []string{"c01"})
			if err != nil {
				t.Fatal(err)
			}
			want := MustNearby(t, x, "elderly_meals", hotline.TierCommittee, c01.Lat, c01.Long, tc.radius, tc.count)
			if fmt.Sprint(near) != fmt.Sprint(want) {
				t.Errorf("radius %v count %d: near %v, want %v", tc.radius, tc.count, near, want)
			}
			ids := []string{"c01"}
			for _, u := range want {
				ids = append(ids, u.UnitID)
			}
			if wantLoads := MustOpenLoads(t, x, ids...); fmt.Sprint(loads) != fmt.Sprint(wantLoads) {
				t.Errorf("radius %v count %d: loads %v, want %v", tc.radius, tc.count, loads, wantLoads)
			}
		}
	})
}
