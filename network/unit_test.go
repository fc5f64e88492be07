package network_test

import (
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// A small but complete network: the district, the service center, one
// committee with a volunteer group.
const unitsHeader = "id,kind,tier,name_zh,name_en,parent,lat,long,categories,phone,address,capacity,hours\n"

const goodUnitsCSV = unitsHeader +
	"d,district,3,静安区,Jing'an,,31.23,121.45,,,,,\n" +
	"center,service_center,2,服务中心,Centre,d,31.238,121.434,policy|other,021-00000010,长寿路252号,,mon-sun 08:00-20:00\n" +
	"c01,committee,1,叶家宅路居委会,Yejiazhai,center,31.2426,121.428,elderly_visit;dispute,,,30,mon-fri 08:30-17:00\n" +
	"c01-meals,volunteer_group,,助餐队,,c01,31.2426,121.4281,elderly_meals,,,8,\n"

func TestLoadUnits_CSV(t *testing.T) {
	units, err := network.LoadUnits(strings.NewReader(goodUnitsCSV), "csv")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(units), 4; got != want {
		t.Fatalf("got %d units, want %d", got, want)
	}
	got := units[2]
	want := hotline.Unit{ID: "c01", Kind: hotline.KindCommittee, Tier: 1, NameZH: "叶家宅路居委会", NameEN: "Yejiazhai",
		ParentID: "center", Lat: 31.2426, Long: 121.428, Categories: []string{"elderly_visit", "dispute"},
		Capacity: 30, Hours: "mon-fri 08:30-17:00"}
	if !equalUnits(got, want) {
		t.Errorf("c01:\n got  %+v\n want %+v", got, want)
	}
	if got := units[1].Categories; strings.Join(got, ",") != "policy,other" {
		t.Errorf("| separated categories: got %q", got)
	}
	if got := units[3].Tier; got != hotline.TierCommittee {
		t.Errorf("an empty tier should follow the kind: got %d", got)
	}
}

func TestLoadUnits_CSVForgivesSpreadsheetHabits(t *testing.T) {
	// A byte order mark, columns in another order and in capitals, a
	// comment, blank rows, padded cells and full-width separators are what
	// a spreadsheet or a Chinese input method produce.
	text := "\ufeffName_ZH, ID ,Kind,Parent,Lat,Long,Categories\n" +
		"# the district first\n" +
		"静安区,d,district,,31.23,121.45,\n" +
		",,,,,,\n" +
		"服务中心, center ,service_center,d,31.238,121.434, policy ； other \n" +
		"居委会,c01,committee,center,31.2426,121.428,dispute｜elderly_visit\n"
	units, err := network.LoadUnits(strings.NewReader(text), "CSV")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(units), 3; got != want {
		t.Fatalf("got %d units, want %d", got, want)
	}
	if got := units[1]; got.ID != "center" || strings.Join(got.Categories, ",") != "policy,other" {
		t.Errorf("center: got %+v", got)
	}
	if got := units[2].Categories; strings.Join(got, ",") != "dispute,elderly_visit" {
		t.Errorf("c01 categories: got %q", got)
	}
}

func TestLoadUnits_CSVRefusals(t *testing.T) {
	// Lines count from 1 at the header, as a spreadsheet or editor shows.
	for _, tc := range []struct {
		name  string
		text  string
		wants []string
	}{
		{"empty file", "", []string{"units.csv", "empty"}},
		{"header only", unitsHeader, []string{"units.csv: there are no units"}},
		{"unknown column", strings.Replace(goodUnitsCSV, "capacity", "capacty", 1), []string{"units.csv line 1", `unknown column "capacty"`}},
		{"duplicate column", strings.Replace(goodUnitsCSV, "phone", "kind", 1), []string{"units.csv line 1", `column "kind" appears twice`}},
		{"missing id column", strings.Replace(goodUnitsCSV, "id,", "ident,", 1), []string{`column "id" is missing`}},
		{"parent does not exist", goodUnitsCSV + "c02,committee,1,居委会,,c99,31.24,121.43,,,,,\n",
			[]string{`units.csv line 6: parent "c99" does not exist`}},
		{"duplicate id", goodUnitsCSV + "c01,committee,1,居委会,,center,31.24,121.43,,,,,\n",
			[]string{`units.csv line 6: id "c01" is already used by units.csv line 4`}},
		{"bad id", goodUnitsCSV + "c 02,committee,1,居委会,,center,31.24,121.43,,,,,\n", []string{"line 6", `id "c 02" may only use`}},
		{"unknown kind", goodUnitsCSV + "c02,comittee,,居委会,,center,31.24,121.43,,,,,\n", []string{"line 6", `kind "comittee" is not one of`}},
		{"tier does not match kind", goodUnitsCSV + "c02,committee,2,居委会,,center,31.24,121.43,,,,,\n",
			[]string{"line 6", "tier 2 does not match kind committee, which is tier 1"}},
		{"lat not a number", goodUnitsCSV + "c02,committee,1,居委会,,center,\"31,24\",121.43,,,,,\n", []string{"line 6", `lat "31,24" is not a number`}},
		{"lat and long swapped", goodUnitsCSV + "c02,committee,1,居委会,,center,121.43,31.24,,,,,\n", []string{"line 6", "look swapped"}},
		{"committee without a point", goodUnitsCSV + "c02,committee,1,居委会,,center,,,,,,,\n", []string{"line 6", "lat and long are missing"}},
		{"negative capacity", goodUnitsCSV + "c02,committee,1,居委会,,center,31.24,121.43,,,,-1,\n", []string{"line 6", "capacity -1"}},
		{"capacity not a number", goodUnitsCSV + "c02,committee,1,居委会,,center,31.24,121.43,,,,lots,\n", []string{"line 6", `capacity "lots" is not a whole number`}},
		{"missing name", goodUnitsCSV + "c02,committee,1,,,center,31.24,121.43,,,,,\n", []string{"line 6", "name_zh is missing"}},
		{"bad category code", goodUnitsCSV + "c02,committee,1,居委会,,center,31.24,121.43,Home Repair,,,,\n", []string{"line 6", `category "Home Repair"`}},
		{"too few cells", goodUnitsCSV + "c02,committee,1\n", []string{"line 6", "3 cells, but the header has 13 columns"}},
		{"broken quote", goodUnitsCSV + "c02,\"committee,1\n", []string{"units.csv line 6"}},
		{"volunteer group under the center", goodUnitsCSV + "v,volunteer_group,1,队,,center,31.24,121.43,,,,,\n",
			[]string{"line 6", "a volunteer group belongs to a committee"}},
		{"parent below the unit", goodUnitsCSV + "org,organization,2,机构,,c01,31.24,121.43,,,,,\n",
			[]string{"line 6", `parent "c01" is of kind committee (tier 1), below this organization (tier 2)`}},
		{"two top units", goodUnitsCSV + "d2,district,3,普陀区,,,31.24,121.43,,,,,\n", []string{"line 6", "parent is empty", "line 2 is already the top unit"}},
		{"two service centers", goodUnitsCSV + "center2,service_center,2,中心,,d,31.24,121.43,,,,,\n", []string{"line 6", "a second service_center"}},
		{"no service center", unitsHeader + "d,district,3,静安区,,,31.23,121.45,,,,,\n", []string{"no unit of kind service_center"}},
		{"a loop", goodUnitsCSV +
			"c02,committee,1,甲,,c03,31.24,121.43,,,,,\n" +
			"c03,committee,1,乙,,c02,31.24,121.43,,,,,\n", []string{"line 6", "the parent chain loops: c02 → c03 → c02"}},
		{"own parent", goodUnitsCSV + "c02,committee,1,甲,,c02,31.24,121.43,,,,,\n", []string{"line 6", `parent "c02" is the unit itself`}},
		{"several problems at once", goodUnitsCSV +
			"c02,committee,1,,,center,31.24,121.43,,,,,\n" +
			"c03,committee,1,乙,,c99,31.24,121.43,,,,,\n",
			[]string{"2 problems", "line 6: name_zh is missing", `line 7: parent "c99" does not exist`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			units, err := network.LoadUnits(strings.NewReader(tc.text), "csv")
			wantInvalid(t, err, tc.wants...)
			if units != nil {
				t.Errorf("got %d units with the error, want none", len(units))
			}
		})
	}
}

func TestLoadUnits_TooManyProblemsAreCut(t *testing.T) {
	text := goodUnitsCSV + strings.Repeat("x,committee,1,居委会,,c99,31.24,121.43,,,,,\n", 100)
	_, err := network.LoadUnits(strings.NewReader(text), "csv")
	wantInvalid(t, err, "and ", "more")
	if got := len(hotline.ErrorMessage(err)); got > 4000 {
		t.Errorf("message is %d bytes long", got)
	}
}

const goodUnitsTOML = `
[[unit]]
id = "d"
kind = "district"
name_zh = "静安区"
lat = 31.23
long = 121.45

[[unit]]
id = "center"
kind = "service_center"
tier = 2
name_zh = "服务中心"
parent = "d"
lat = 31.238
long = 121.434
categories = ["policy", "other"]

[[unit]]
id = "c01"
kind = "committee"
name_zh = "居委会"
parent = "center"
lat = 31.2426
long = 121.428
capacity = 30
hours = "mon-fri 08:30-17:00"
`

func TestLoadUnits_TOML(t *testing.T) {
	units, err := network.LoadUnits(strings.NewReader(goodUnitsTOML), "toml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(units), 3; got != want {
		t.Fatalf("got %d units, want %d", got, want)
	}
	if got := units[2]; got.Tier != hotline.TierCommittee || got.Capacity != 30 || got.ParentID != "center" {
		t.Errorf("c01: got %+v", got)
	}
}

func TestLoadUnits_TOMLRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		wants []string
	}{
		{"misspelt key", goodUnitsTOML + "catgories = [\"x\"]\n", []string{"units.toml", `unknown key "unit.catgories"`}},
		{"wrong type", strings.Replace(goodUnitsTOML, "tier = 2", `tier = "two"`, 1), []string{"units.toml", "line 12"}},
		// kind is in every table; the decoder alone would blame the last.
		{"wrong type in a repeated key", strings.Replace(goodUnitsTOML, `kind = "service_center"`, "kind = 2", 1),
			[]string{`units.toml line 11 (key "unit.kind")`, "incompatible types"}},
		{"syntax error", goodUnitsTOML + "[[unit]\n", []string{"units.toml line 29"}},
		{"parent does not exist", strings.Replace(goodUnitsTOML, `parent = "center"`, `parent = "c99"`, 1),
			[]string{`units.toml line 19 (unit "c01"): parent "c99" does not exist`}},
		{"unknown format", "", []string{`unknown units format "xlsx"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			format := "toml"
			if tc.name == "unknown format" {
				format = "xlsx"
			}
			_, err := network.LoadUnits(strings.NewReader(tc.text), format)
			wantInvalid(t, err, tc.wants...)
		})
	}
}

func FuzzLoadUnitsCSV(f *testing.F) {
	f.Add(goodUnitsCSV)
	f.Add(readFile(f, "demo/units.csv"))
	f.Add(unitsHeader + "c02,committee,1,甲,,c03,31.24,121.43,,,,,\nc03,committee,1,乙,,c02,31.24,121.43,,,,,\n")
	f.Add(unitsHeader + "\"a\"\"b,c\n")
	f.Add("\ufeff#\n,,,\n")
	f.Add(unitsHeader + "x,committee,1,n,,x,NaN,Inf,;|;,,,-0,\n")
	f.Fuzz(func(t *testing.T, text string) {
		units, err := network.LoadUnits(strings.NewReader(text), "csv")
		if err != nil {
			if code := hotline.ErrorCode(err); code != hotline.EINVALID {
				t.Fatalf("got code %q (%v), want %q", code, err, hotline.EINVALID)
			}
			return
		}
		// What loads keeps the invariants the rest of the hotline relies on.
		ids := map[string]bool{}
		for _, u := range units {
			if u.Tier != u.Kind.Tier() || u.Tier == 0 {
				t.Fatalf("%q: tier %d for kind %q", u.ID, u.Tier, u.Kind)
			}
			if u.ID == "" || ids[u.ID] {
				t.Fatalf("id %q empty or repeated", u.ID)
			}
			ids[u.ID] = true
		}
		for _, u := range units {
			if u.ParentID != "" && !ids[u.ParentID] {
				t.Fatalf("%q: parent %q does not exist", u.ID, u.ParentID)
			}
		}
	})
}
