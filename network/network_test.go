package network_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// The street's bounding box, as the demo generator draws it.
const (
	west, east   = 121.425, 121.445
	south, north = 31.232, 31.245
)

// wantInvalid fails unless err is an EINVALID *hotline.Error whose message
// holds every one of wants.
func wantInvalid(tb testing.TB, err error, wants ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want EINVALID mentioning %q", wants)
	}
	if got := hotline.ErrorCode(err); got != hotline.EINVALID {
		tb.Fatalf("got code %q (%v), want %q", got, err, hotline.EINVALID)
	}
	for _, want := range wants {
		if !strings.Contains(hotline.ErrorMessage(err), want) {
			tb.Errorf("message %q\ndoes not mention %q", hotline.ErrorMessage(err), want)
		}
	}
}

func TestDemo_Validates(t *testing.T) {
	n, c := network.Demo()
	if err := network.Validate(n, c); err != nil {
		t.Fatal(err)
	}
}

func TestDemo_IsAFreshCopyEachCall(t *testing.T) {
	a, _ := network.Demo()
	a.Units[0].NameZH = "changed"
	b, _ := network.Demo()
	if b.Units[0].NameZH == "changed" {
		t.Fatal("a change to one demo network shows in the next")
	}
}

func TestDemo_Shape(t *testing.T) {
	n, c := network.Demo()
	count := map[hotline.UnitKind]int{}
	for _, u := range n.Units {
		count[u.Kind]++
	}
	for kind, want := range map[hotline.UnitKind]int{
		hotline.KindCommittee:     14,
		hotline.KindServiceCenter: 1,
		hotline.KindOrganization:  6,
		hotline.KindDistrict:      5,
	} {
		if got := count[kind]; got != want {
			t.Errorf("%s: got %d units, want %d", kind, got, want)
		}
	}
	if count[hotline.KindVolunteerGroup] == 0 {
		t.Error("no volunteer groups")
	}
	for i := 1; i <= 14; i++ {
		id := "c" + string(rune('0'+i/10)) + string(rune('0'+i%10))
		u, ok := n.Unit(id)
		if !ok || u.Kind != hotline.KindCommittee || u.ParentID != "center" {
			t.Errorf("committee %s: got %+v, want a committee under the service center", id, u)
		}
	}
	if root, _ := n.Root(); root.ID != "jingan" {
		t.Errorf("root: got %q, want jingan", root.ID)
	}
	if sc, _ := n.ServiceCenter(); sc.ID != "center" || sc.ParentID != "jingan" {
		t.Errorf("service center: got %+v", sc)
	}

	// Routing up the tiers needs categories that stop at each tier.
	for code, want := range map[string][]hotline.Tier{
		"elderly_meals":   {1, 2},
		"elderly_visit":   {1, 2},
		"home_repair":     {1, 2},
		"dispute":         {1, 3},
		"sanitation":      {1},
		"facilities":      {1, 3},
		"policy":          {1, 2, 3},
		"legal":           {2},
		"counselling":     {2},
		"disability":      {2},
		"youth":           {2},
		"building_safety": {3},
		"other":           {1, 2},
		"callback":        {2},
	} {
		cat, ok := c.Find(code)
		if !ok {
			t.Errorf("category %s is missing", code)
			continue
		}
		if got := cat.Tiers; !equalTiers(got, want) {
			t.Errorf("%s tiers: got %v, want %v", code, got, want)
		}
	}
	for _, code := range []string{"counselling", "disability", "dispute"} {
		if cat, _ := c.Find(code); !cat.Sensitive {
			t.Errorf("%s should be sensitive", code)
		}
	}
}

func equalTiers(a, b []hotline.Tier) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Every category has a unit that handles it, or dispatch has nowhere to
// send it but the intake queue.
func TestDemo_EveryCategoryHasAUnit(t *testing.T) {
	n, c := network.Demo()
	for _, cat := range c.Categories {
		found := false
		for _, u := range n.Units {
			found = found || u.Handles(cat.Code)
		}
		if !found {
			t.Errorf("no unit handles %s", cat.Code)
		}
	}
}

func TestDemo_CommitteePointsLieInTheirOwnArea(t *testing.T) {
	n, _ := network.Demo()
	for _, u := range n.Units {
		if u.Kind != hotline.KindCommittee {
			continue
		}
		got, ok := n.CommitteeAt(u.Lat, u.Long)
		if !ok || got.ID != u.ID {
			t.Errorf("CommitteeAt(%s's point %v, %v): got %q, want %q", u.ID, u.Lat, u.Long, got.ID, u.ID)
		}
	}
}

// The areas tile the street: every point of the bounding box is in exactly
// one committee. The grid is offset from round numbers so that no sample
// falls exactly on a shared edge, where ray casting may go either way.
func TestDemo_AreasTileTheStreet(t *testing.T) {
	n, _ := network.Demo()
	const step = 0.0002 // about 20 m
	samples := 0
	for lat := south + step/3; lat < north; lat += step {
		for long := west + step/3; long < east; long += step {
			samples++
			var in []string
			for _, a := range n.Areas {
				if a.Polygon.Contains(lat, long) {
					in = append(in, a.UnitID)
				}
			}
			if len(in) != 1 {
				t.Fatalf("(%v, %v) is in %d areas %v, want exactly 1", lat, long, len(in), in)
			}
			if got, _ := n.CommitteeAt(lat, long); got.ID != in[0] {
				t.Fatalf("CommitteeAt(%v, %v): got %q, want %q", lat, long, got.ID, in[0])
			}
		}
	}
	if samples < 5000 {
		t.Fatalf("only %d samples", samples)
	}
	if _, ok := n.CommitteeAt(south-0.001, west); ok {
		t.Error("a point outside the street found a committee")
	}
}

func TestDemo_Gazetteer(t *testing.T) {
	n, _ := network.Demo()
	for _, tc := range []struct {
		address string
		want    string // "" for no committee
	}{
		{"长寿路123号", "c03"},          // odd side, north of 长寿路
		{"长寿路124号", "c08"},          // even side, south
		{"静安区长寿路 178 号 3 楼", "c07"}, // spaces and surrounding text
		{"余姚路201号", "c07"},
		{"余姚路200号", "c12"},
		{"西康路１０５号", "c14"},   // full-width digits
		{"叶家宅路5弄12号", "c01"}, // a lane wholly in one committee
		{"长宁支路", "c10"},
		{"江宁路150号", "c09"},
		{"江宁路151号", ""}, // the odd side belongs to the next street
		{"长寿路999号", ""},
		{"南京西路1号", ""},
	} {
		got, ok := n.CommitteeForAddress(tc.address)
		if got.ID != tc.want || ok != (tc.want != "") {
			t.Errorf("CommitteeForAddress(%q): got %q, %v; want %q", tc.address, got.ID, ok, tc.want)
		}
	}
}

// A committee's office and its volunteer groups' meeting place are on its
// own patch, so the gazetteer and the areas agree about them.
func TestDemo_GazetteerAgreesWithAreas(t *testing.T) {
	n, _ := network.Demo()
	for _, u := range n.Units {
		want := u.ID
		switch u.Kind {
		case hotline.KindCommittee:
		case hotline.KindVolunteerGroup:
			want = u.ParentID
		default:
			continue
		}
		if got, _ := n.CommitteeForAddress(u.Address); got.ID != want {
			t.Errorf("%s at %s: gazetteer gives %q, want %q", u.ID, u.Address, got.ID, want)
		}
		if got, _ := n.CommitteeAt(u.Lat, u.Long); got.ID != want {
			t.Errorf("%s at (%v, %v): areas give %q, want %q", u.ID, u.Lat, u.Long, got.ID, want)
		}
	}
}

func TestDemo_FilesAreTheExamples(t *testing.T) {
	// The embedded demo is what an administrator copies from demo/; the
	// CSV form of the units must say the same as the TOML one.
	fromTOML, err := network.LoadUnits(open(t, "demo/units.toml"), "toml")
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := network.LoadUnits(open(t, "demo/units.csv"), "csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(fromCSV) != len(fromTOML) {
		t.Fatalf("units.csv has %d units, units.toml %d", len(fromCSV), len(fromTOML))
	}
	for i := range fromTOML {
		if got, want := fromCSV[i], fromTOML[i]; !equalUnits(got, want) {
			t.Errorf("unit %d:\n csv  %+v\n toml %+v", i, got, want)
		}
	}
	n, _ := network.Demo()
	if !equalUnitLists(n.Units, fromTOML) {
		t.Error("Demo() does not return demo/units.toml")
	}
}

func open(tb testing.TB, path string) *os.File {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// equalUnits treats no categories and an empty list alike: TOML and CSV
// spell "none" differently.
func equalUnits(a, b hotline.Unit) bool {
	if len(a.Categories) == 0 && len(b.Categories) == 0 {
		a.Categories, b.Categories = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func equalUnitLists(a, b []hotline.Unit) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !equalUnits(a[i], b[i]) {
			return false
		}
	}
	return true
}

func TestLoad_FilesOnDisk(t *testing.T) {
	dir := t.TempDir()
	units := write(t, dir, "units.csv", readFile(t, "demo/units.csv"))
	n, c, err := network.Load(network.Files{Units: units})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(n.Units), 37; got != want {
		t.Errorf("units: got %d, want %d", got, want)
	}
	if len(n.Areas) != 14 || len(c.Categories) == 0 || len(n.Gazetteer) == 0 {
		t.Errorf("the demo's other parts are missing: %d areas, %d categories, %d gazetteer rows",
			len(n.Areas), len(c.Categories), len(n.Gazetteer))
	}
}

func TestLoad_Refusals(t *testing.T) {
	dir := t.TempDir()
	unitsCSV := readFile(t, "demo/units.csv")
	areas := readFile(t, "demo/areas.geojson")
	for _, tc := range []struct {
		name  string
		files network.Files
		wants []string
	}{
		{"missing file", network.Files{Units: filepath.Join(dir, "nope.toml")}, []string{"cannot open", "nope.toml"}},
		{"unknown units extension", network.Files{Units: write(t, dir, "units.xlsx", "")}, []string{"units.xlsx", ".toml or .csv"}},
		{"unknown areas extension", network.Files{Areas: write(t, dir, "areas.kml", "")}, []string{"areas.kml"}},
		{"gazetteer not csv", network.Files{Gazetteer: write(t, dir, "gaz.toml", "")}, []string{"gaz.toml", ".csv"}},
		{
			// A committee taking a tier-2 category contradicts the catalogue;
			// the message points at the row in the administrator's file.
			"category at the wrong tier",
			network.Files{Units: write(t, dir, "wrongtier.csv",
				unitsCSV+"c05-talk,volunteer_group,1,心理志愿队,,c05,31.2385,121.427,counselling,,,,\n")},
			[]string{"wrongtier.csv line 40", `category "counselling" is handled at tiers [2]`},
		},
		{
			"committee without an area",
			network.Files{Areas: write(t, dir, "areas13.geojson", dropFeature(t, areas, "c05"))},
			[]string{"units.toml line", `(unit "c05")`, "committee has no area in areas13.geojson"},
		},
		{
			"category missing from the catalogue",
			network.Files{Catalogue: write(t, dir, "cat.toml", "[[category]]\ncode = \"other\"\nname_zh = \"其他\"\ntiers = [1, 2]\n")},
			[]string{`category "policy" is not in cat.toml`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := network.Load(tc.files)
			wantInvalid(t, err, tc.wants...)
		})
	}
}

func write(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// dropFeature removes the line holding unit id's feature from the demo
// areas file, which has one feature per line.
func dropFeature(tb testing.TB, geojson, id string) string {
	tb.Helper()
	lines := strings.Split(geojson, "\n")
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `"unit_id":"`+id+`"`) {
			continue
		}
		out = append(out, l)
	}
	s := strings.Join(out, "\n")
	// The last feature has no trailing comma; keep the JSON valid either way.
	s = strings.Replace(s, "},\n]}", "}\n]}", 1)
	if len(out) == len(lines) {
		tb.Fatalf("no feature for %s", id)
	}
	return s
}
