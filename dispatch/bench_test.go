package dispatch_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
)

// BenchmarkRoute times one routing decision against real Redis on the demo
// street grown to 10,000 units: volunteer groups scattered over the
// street's 1.5 km², each handling one or two tier-1 categories, a quarter
// of them with opening hours and all with a capacity. Every decision is a
// fresh resident at a random point with a random tier-1 category, so the
// GEO search walks a set of about 3,000 groups within 1 km. p50 and p99
// come from the duration of each decision.
//
//	go test -run '^$' -bench BenchmarkRoute -benchtime 5000x ./dispatch/
func BenchmarkRoute(b *testing.B) {
	const units = 10_000
	n, c := network.Demo()
	rng := rand.New(rand.NewPCG(1, 2))
	var committees []hotline.Unit
	for _, u := range n.Units {
		if u.Kind == hotline.KindCommittee {
			committees = append(committees, u)
		}
	}
	tier1 := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute"}
	hours := []string{"", "", "", "mon-fri 08:30-17:00", "daily 07:00-19:00", "sat,sun 09:00-12:00"}
	for i := len(n.Units); i < units; i++ {
		cats := []string{tier1[rng.IntN(len(tier1))]}
		if rng.IntN(2) == 0 {
			if extra := tier1[rng.IntN(len(tier1))]; extra != cats[0] {
				cats = append(cats, extra)
			}
		}
		n.Units = append(n.Units, hotline.Unit{
			ID: fmt.Sprintf("vg%05d", i), Kind: hotline.KindVolunteerGroup, Tier: hotline.TierCommittee,
			NameZH: fmt.Sprintf("志愿队 %d", i), NameEN: fmt.Sprintf("Volunteer group %d", i),
			ParentID: committees[rng.IntN(len(committees))].ID,
			Lat:      31.232 + rng.Float64()*0.013, Long: 121.425 + rng.Float64()*0.020,
			Categories: cats, Capacity: 5 + rng.IntN(10), Hours: hours[rng.IntN(len(hours))],
		})
	}

	client, prefix := redistest.New(b)
	db := redisstore.NewDB(client, prefix)
	index := redisstore.NewUnitIndex(db)
	ctx := context.Background()
	if err := index.IndexUnits(ctx, n); err != nil {
		b.Fatal(err)
	}
	// fresh-loads reads every candidate's open-ticket count with the search
	// (one round trip); load-cache-1s is the default configuration
	// ([dispatch] load_cache = "1s"), where counts read within the last
	// second are reused and the search runs alone.
	for _, bc := range []struct {
		name string
		ttl  time.Duration
	}{{"fresh-loads", 0}, {"load-cache-1s", time.Second}} {
		b.Run(bc.name, func(b *testing.B) {
			router := &dispatch.Router{Units: index, Directory: hotline.NewStaticDirectory(n, c),
				VolunteerRadius: dispatch.DefaultVolunteerRadius, WideRadius: dispatch.DefaultWideRadius,
				LoadTTL: bc.ttl}
			benchmarkRoute(b, router, n, rng)
		})
	}
}

func benchmarkRoute(b *testing.B, router *dispatch.Router, n *hotline.Network, rng *rand.Rand) {
	ctx := context.Background()
	tier1 := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute"}

	// Residents at random points inside the committees' areas.
	tickets := make([]*hotline.Ticket, 1024)
	for i := range tickets {
		for {
			lat, long := 31.232+rng.Float64()*0.013, 121.425+rng.Float64()*0.020
			if home, ok := n.CommitteeAt(lat, long); ok {
				tickets[i] = &hotline.Ticket{ServiceCode: tier1[rng.IntN(len(tier1))],
					Location: hotline.Location{Lat: lat, Long: long, Committee: home.ID}}
				break
			}
		}
	}
	now := wednesday11
	if _, err := router.Route(ctx, tickets[0], now); err != nil { // warm the connection and the caches
		b.Fatal(err)
	}

	durations := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := router.Route(ctx, tickets[i%len(tickets)], now); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(durations)
	pct := func(p float64) float64 {
		return float64(durations[int(p*float64(len(durations)-1))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}
