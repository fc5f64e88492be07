package network_test

import (
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// unitIndex returns the index of unit id in n, failing the test if absent.
func unitIndex(tb testing.TB, n *hotline.Network, id string) int {
	tb.Helper()
	for i, u := range n.Units {
		if u.ID == id {
			return i
		}
	}
	tb.Fatalf("no unit %q", id)
	return -1
}

// Each scenario breaks the demo in one way an administrator might, and
// expects Validate to name the culprit without any file positions.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, n *hotline.Network, c *hotline.Catalogue)
		wants  []string
	}{
		{"duplicate id", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "c02")].ID = "c01"
		}, []string{`unit "c01": id "c01" is already used by unit "c01"`}},
		{"parent does not exist", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "c07")].ParentID = "c99"
		}, []string{`unit "c07": parent "c99" does not exist`}},
		{"a loop", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "c01")].ParentID = "c02"
			n.Units[unitIndex(t, n, "c02")].ParentID = "c01"
		}, []string{"the parent chain loops: c01 → c02 → c01"}},
		{"tier does not match kind", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "org-legal")].Tier = hotline.TierDistrict
		}, []string{`unit "org-legal": tier 3 does not match kind organization, which is tier 2`}},
		{"committee without an area", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Areas = n.Areas[1:]
		}, []string{`unit "c01": committee has no area`}},
		{"area of an unknown unit", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Areas[3].UnitID = "c99"
		}, []string{`area #4 (unit_id "c99"): unit_id "c99" is not a unit`, `unit "c04": committee has no area`}},
		{"area of an organization", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Areas = append(n.Areas, hotline.Area{UnitID: "org-legal", Polygon: n.Areas[0].Polygon})
		}, []string{`area #15 (unit_id "org-legal"): unit_id "org-legal" is of kind organization; areas belong to committees`}},
		{"open ring", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			ring := n.Areas[0].Polygon[0]
			n.Areas[0].Polygon[0] = ring[:len(ring)-1]
		}, []string{`area #1 (unit_id "c01"): outer ring is not closed`}},
		{"category not in the catalogue", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			u := &n.Units[unitIndex(t, n, "c03")]
			u.Categories = append(u.Categories, "karaoke")
		}, []string{`unit "c03": category "karaoke" is not in catalogue`}},
		{"category at the wrong tier", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			u := &n.Units[unitIndex(t, n, "c03")]
			u.Categories = append(u.Categories, "legal")
		}, []string{`unit "c03": category "legal" is handled at tiers [2], not at this unit's tier 1`}},
		{"catalogue tier out of range", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			c.Categories[0].Tiers = []hotline.Tier{0, 1}
		}, []string{`category "elderly_meals": tier 0 must be 1`}},
		{"committee far from the street", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "c05")].Lat = 31.32 // 31.232 mistyped
		}, []string{`unit "c05": point (lat 31.32, long`, "more than 2 km outside"}},
		{"lat and long swapped", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			u := &n.Units[unitIndex(t, n, "c05")]
			u.Lat, u.Long = u.Long, u.Lat
		}, []string{`unit "c05": lat 121.`, "look swapped"}},
		{"gazetteer names a volunteer group", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Gazetteer[0].Committee = "c05-meals"
		}, []string{`gazetteer entry #1 (宜昌路): "c05-meals" is of kind volunteer_group, not a committee`}},
		{"gazetteer names nobody", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Gazetteer[0].Committee = "c99"
		}, []string{`gazetteer entry #1 (宜昌路): committee "c99" is not a unit`}},
		{"two service centers", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "org-youth")].Kind = hotline.KindServiceCenter
		}, []string{`unit "org-youth": a second service_center`}},
		{"no top unit", func(t *testing.T, n *hotline.Network, c *hotline.Catalogue) {
			n.Units[unitIndex(t, n, "jingan")].ParentID = "jingan-civil"
		}, []string{"every unit has a parent", "loops: jingan → jingan-civil → jingan"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, c := network.Demo()
			tc.change(t, n, c)
			wantInvalid(t, network.Validate(n, c), tc.wants...)
		})
	}
}

func TestValidate_Nil(t *testing.T) {
	wantInvalid(t, network.Validate(nil, nil), "there is no network")
	wantInvalid(t, network.Validate(&hotline.Network{}, nil), "there are no units")
	n, _ := network.Demo()
	if err := network.Validate(n, nil); err != nil {
		t.Errorf("without a catalogue: got %v, want the catalogue checks skipped", err)
	}
}
