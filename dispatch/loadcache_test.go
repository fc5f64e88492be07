package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/network"
)

// countingIndex answers from the demo's units at fixed distances and counts
// how often routing asks for loads.
type countingIndex struct {
	near      []hotline.UnitDistance
	loadCalls int
}

func (x *countingIndex) IndexUnits(context.Context, *hotline.Network) error { return nil }

func (x *countingIndex) NearbyUnits(_ context.Context, _ string, _ hotline.Tier, _, _, _ float64, _ int) ([]hotline.UnitDistance, error) {
	return x.near, nil
}

func (x *countingIndex) OpenLoads(_ context.Context, ids []string) (map[string]int, error) {
	x.loadCalls++
	out := map[string]int{}
	for _, id := range ids {
		out[id] = 1
	}
	return out, nil
}

func TestRouterReusesLoadsWithinLoadTTL(t *testing.T) {
	n, c := network.Demo()
	c01, _ := n.Unit("c01")
	ticket := &hotline.Ticket{ServiceCode: "elderly_meals",
		Location: hotline.Location{Lat: c01.Lat, Long: c01.Long, Committee: "c01"}}
	now := wednesday11

	for _, tc := range []struct {
		name      string
		ttl       time.Duration
		step      time.Duration
		wantCalls int
	}{
		{"no cache: every routing reads", 0, 0, 3},
		{"within the TTL: one read", time.Second, 100 * time.Millisecond, 1},
		{"past the TTL: read again", time.Second, 2 * time.Second, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := &countingIndex{near: []hotline.UnitDistance{{UnitID: "c01-meals", Distance: 40}}}
			r := &dispatch.Router{Units: x, Directory: hotline.NewStaticDirectory(n, c),
				VolunteerRadius: dispatch.DefaultVolunteerRadius, WideRadius: dispatch.DefaultWideRadius, LoadTTL: tc.ttl}
			at := now
			for range 3 {
				d, err := r.Route(context.Background(), ticket, at)
				if err != nil {
					t.Fatal(err)
				}
				if d.UnitID != "c01-meals" {
					t.Fatalf("routed to %q, want c01-meals", d.UnitID)
				}
				at = at.Add(tc.step)
			}
			if x.loadCalls != tc.wantCalls {
				t.Errorf("OpenLoads called %d times, want %d", x.loadCalls, tc.wantCalls)
			}
		})
	}
}
