package hotline_test

import (
	"math"
	"testing"

	"github.com/caojiadu/hotline"
)

// A committee's point is its office when the office lies in its area (most
// do), else the middle of its area; a committee without a point inside,
// or an id that is no committee, has none.
func TestNetwork_PointInCommittee(t *testing.T) {
	square := func(long, lat float64) hotline.Polygon {
		return hotline.Polygon{{{long, lat}, {long + 1, lat}, {long + 1, lat + 1}, {long, lat + 1}, {long, lat}}}
	}
	n := &hotline.Network{
		Units: []hotline.Unit{
			{ID: "c01", Kind: hotline.KindCommittee, Lat: 31.2, Long: 121.2}, // inside its square
			{ID: "c02", Kind: hotline.KindCommittee, Lat: 31.2, Long: 121.2}, // in c01's square, not its own
			{ID: "c03", Kind: hotline.KindCommittee, Lat: 40, Long: 100},     // no area at all
		},
		Areas: []hotline.Area{{UnitID: "c01", Polygon: square(121, 31)}, {UnitID: "c02", Polygon: square(122, 31)}},
	}
	for _, tc := range []struct {
		id        string
		lat, long float64
		ok        bool
	}{
		{"c01", 31.2, 121.2, true},
		{"c02", 31.4, 122.4, true}, // the mean of the closed ring's five points
		{"c03", 0, 0, false},
		{"c99", 0, 0, false},
	} {
		lat, long, ok := n.PointInCommittee(tc.id)
		if ok != tc.ok || (ok && (math.Abs(lat-tc.lat) > 1e-9 || math.Abs(long-tc.long) > 1e-9)) {
			t.Errorf("PointInCommittee(%s) = %v, %v, %v; want %v, %v, %v", tc.id, lat, long, ok, tc.lat, tc.long, tc.ok)
		}
	}
}
