// Command demogen writes the demo street's units, committee areas and
// gazetteer into network/demo from one geometric model, so that the three
// files agree with each other: every gazetteer range and every committee's
// office lies inside the polygon it names. The street is stylised, not
// surveyed: roads are straight lines and the committee areas are an
// irregular 5+5+4 grid of cells.
//
// Run it from the network directory with `go generate`; it overwrites
// demo/units.toml, demo/units.csv, demo/areas.geojson and demo/gazetteer.csv
// (demo/catalogue.toml is written by hand).
package main

import (
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/caojiadu/hotline"
)

// The street's bounding box, in degrees.
const (
	west, east   = 121.425, 121.445
	south, north = 31.232, 31.245
)

// Metres per degree at the street's latitude; the street is small enough for
// a flat approximation.
var (
	mPerDegLat  = 111_320.0
	mPerDegLong = 111_320.0 * math.Cos(31.2385*math.Pi/180)
)

type pt struct{ x, y float64 } // x long, y lat

// line is a row boundary: a straight line from the west edge to the east
// edge, so roads that run along it (余姚路, 长寿路) split cleanly by side.
type line struct{ yw, ye float64 }

func (l line) at(x float64) float64 { return l.yw + (l.ye-l.yw)*(x-west)/(east-west) }

var boundaries = []line{
	{south, south},
	{31.2363, 31.2368}, // 余姚路
	{31.2402, 31.2409}, // 长寿路
	{north, north},
}

// vertical is a column boundary inside a row: it leaves the row's lower
// boundary at xb, bends at its middle by kink and meets the upper one at xt.
type vertical struct{ xb, xt, kink float64 }

// rows[r] holds the column boundaries of row r, south to north; 5+5+4 cells.
var rows = [][]vertical{
	{{121.4290, 121.4296, 0.0003}, {121.4331, 121.4325, -0.0003}, {121.4372, 121.4367, 0.0002}, {121.4410, 121.4415, -0.0002}},
	{{121.4298, 121.4292, -0.0002}, {121.4337, 121.4343, 0.0003}, {121.4376, 121.4370, -0.0003}, {121.4408, 121.4413, 0.0002}},
	{{121.4306, 121.4311, 0.0002}, {121.4353, 121.4347, -0.0003}, {121.4398, 121.4404, 0.0003}},
}

// cellIDs names the committee of each cell, row by row from the south,
// west to east.
var cellIDs = [][]string{
	{"c10", "c11", "c12", "c13", "c14"},
	{"c05", "c06", "c07", "c08", "c09"},
	{"c01", "c02", "c03", "c04"},
}

// road is a straight road. House numbers start at from and grow towards to,
// two numbers (one each side) every spacing metres; odd numbers are on the
// left of that direction when oddLeft.
type road struct {
	name     string
	from, to pt
	oddLeft  bool
	spacing  float64
}

var roads = []road{
	{"宜昌路", pt{east, 31.2440}, pt{west, 31.2437}, false, 10},
	{"长寿路", pt{east, 31.2409}, pt{west, 31.2402}, false, 10},
	{"余姚路", pt{east, 31.2368}, pt{west, 31.2363}, false, 10},
	{"康定路", pt{east, 31.2342}, pt{west, 31.2338}, false, 10},
	{"叶家宅路", pt{121.4295, 31.2426}, pt{121.4258, 31.2425}, false, 10},
	{"武宁路", pt{121.4272, south}, pt{121.4276, north}, false, 10},
	{"万航渡路", pt{121.4410, 31.2320}, pt{121.4250, 31.2436}, false, 10},
	{"昌化路", pt{121.4360, south}, pt{121.4362, north}, false, 10},
	{"胶州路", pt{121.4392, south}, pt{121.4391, north}, false, 10},
	{"西康路", pt{121.4432, south}, pt{121.4433, north}, false, 10},
	// The street's east edge: only the even (west) side is Caojiadu's.
	{"江宁路", pt{east, south}, pt{east, north}, false, 10},
	{"长宁支路", pt{121.4265, 31.2326}, pt{121.4266, 31.2356}, false, 10},
}

type house struct {
	road   string
	number int
	at     pt
}

// houses returns every house number of r that lies inside the street.
func (r road) houses(areas map[string]hotline.Polygon) []house {
	dx := (r.to.x - r.from.x) * mPerDegLong
	dy := (r.to.y - r.from.y) * mPerDegLat
	length := math.Hypot(dx, dy)
	ux, uy := dx/length, dy/length
	var out []house
	for n := 1; ; n++ {
		along := float64((n+1)/2) * r.spacing
		if along > length {
			break
		}
		side := 1.0 // left of the direction of travel
		if (n%2 == 1) != r.oddLeft {
			side = -1
		}
		const setback = 15 // metres from the road's centre line
		mx := ux*along - uy*side*setback
		my := uy*along + ux*side*setback
		p := pt{r.from.x + mx/mPerDegLong, r.from.y + my/mPerDegLat}
		if committeeAt(areas, p) != "" {
			out = append(out, house{r.name, n, p})
		}
	}
	return out
}

func committeeAt(areas map[string]hotline.Polygon, p pt) string {
	ids := make([]string, 0, len(areas))
	for id := range areas {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if areas[id].Contains(p.y, p.x) {
			return id
		}
	}
	return ""
}

func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func vertex(x, y float64) hotline.Point { return hotline.Point{round(x), round(y)} }

// edge returns the vertices of column boundary v of a row between lower and
// upper, south to north.
func edge(v vertical, lower, upper line) []hotline.Point {
	b := vertex(v.xb, lower.at(v.xb))
	t := vertex(v.xt, upper.at(v.xt))
	m := vertex((v.xb+v.xt)/2+v.kink, (b[1]+t[1])/2)
	return []hotline.Point{b, m, t}
}

// along returns the vertices of boundary l strictly between x1 and x2 (in
// the order from x1 to x2) at every place a column boundary of the row
// below or above meets it, so that neighbouring cells share vertices.
func along(l line, xs []float64, x1, x2 float64) []hotline.Point {
	var out []hotline.Point
	for _, x := range xs {
		if (x > x1 && x < x2) || (x < x1 && x > x2) {
			out = append(out, vertex(x, l.at(x)))
		}
	}
	if x1 > x2 {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out
}

// cells builds the committee areas, each ring counter-clockwise as RFC 7946
// asks for outer rings.
func cells() map[string]hotline.Polygon {
	// meets[b] lists the x of every column boundary meeting boundary b.
	meets := make([][]float64, len(boundaries))
	for r, vs := range rows {
		for _, v := range vs {
			meets[r] = append(meets[r], v.xb)
			meets[r+1] = append(meets[r+1], v.xt)
		}
	}
	for _, m := range meets {
		sort.Float64s(m)
	}
	out := map[string]hotline.Polygon{}
	for r, vs := range rows {
		lower, upper := boundaries[r], boundaries[r+1]
		for c := 0; c <= len(vs); c++ {
			var left, right []hotline.Point
			if c == 0 {
				left = []hotline.Point{vertex(west, lower.at(west)), vertex(west, upper.at(west))}
			} else {
				left = edge(vs[c-1], lower, upper)
			}
			if c == len(vs) {
				right = []hotline.Point{vertex(east, lower.at(east)), vertex(east, upper.at(east))}
			} else {
				right = edge(vs[c], lower, upper)
			}
			bl, br := left[0], right[0]
			tl, tr := left[len(left)-1], right[len(right)-1]
			var ring []hotline.Point
			ring = append(ring, bl)
			ring = append(ring, along(lower, meets[r], bl[0], br[0])...)
			ring = append(ring, right...)
			ring = append(ring, along(upper, meets[r+1], tr[0], tl[0])...)
			for i := len(left) - 1; i >= 0; i-- {
				ring = append(ring, left[i])
			}
			out[cellIDs[r][c]] = hotline.Polygon{ring}
		}
	}
	return out
}

type gazRow struct {
	road      string
	from, to  int
	parity    string
	committee string
}

// gazetteer turns the houses of every road into runs of the same committee
// per side. A lane wholly inside one committee becomes one whole-road row.
func gazetteer(areas map[string]hotline.Polygon) []gazRow {
	var out []gazRow
	for _, r := range roads {
		hs := r.houses(areas)
		whole := len(hs) > 0
		for _, h := range hs {
			whole = whole && committeeAt(areas, h.at) == committeeAt(areas, hs[0].at)
		}
		if whole {
			out = append(out, gazRow{r.name, 0, 0, "", committeeAt(areas, hs[0].at)})
			continue
		}
		for _, parity := range []string{"odd", "even"} {
			var run *gazRow
			for _, h := range hs {
				if (h.number%2 == 1) != (parity == "odd") {
					continue
				}
				id := committeeAt(areas, h.at)
				if run != nil && run.committee == id && h.number == run.to+2 {
					run.to = h.number
					continue
				}
				out = append(out, gazRow{r.name, h.number, h.number, parity, id})
				run = &out[len(out)-1]
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].road != out[j].road {
			return roadIndex(out[i].road) < roadIndex(out[j].road)
		}
		return out[i].from < out[j].from
	})
	return out
}

func roadIndex(name string) int {
	for i, r := range roads {
		if r.name == name {
			return i
		}
	}
	return -1
}

// officeOn returns a house on roadName inside committee id, the middle one of
// those on the wanted side ("odd", "even" or "" for either).
func officeOn(areas map[string]hotline.Polygon, id, roadName, parity string) house {
	for _, r := range roads {
		if r.name != roadName {
			continue
		}
		var in []house
		for _, h := range r.houses(areas) {
			if committeeAt(areas, h.at) == id && (parity == "" || (h.number%2 == 1) == (parity == "odd")) {
				in = append(in, h)
			}
		}
		if len(in) > 0 {
			return in[len(in)/2]
		}
	}
	log.Fatalf("no house on %s in %s", roadName, id)
	return house{}
}

func main() {
	dir := flag.String("dir", "demo", "directory to write the demo files to")
	flag.Parse()
	areas := cells()
	units := demoUnits(areas)
	check(writeAreas(filepath.Join(*dir, "areas.geojson"), areas, units))
	check(writeGazetteer(filepath.Join(*dir, "gazetteer.csv"), gazetteer(areas)))
	check(writeUnitsTOML(filepath.Join(*dir, "units.toml"), units))
	check(writeUnitsCSV(filepath.Join(*dir, "units.csv"), units))
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func writeAreas(path string, areas map[string]hotline.Polygon, units []hotline.Unit) error {
	type props struct {
		UnitID string `json:"unit_id"`
		NameZH string `json:"name_zh"`
		NameEN string `json:"name_en"`
	}
	type geometry struct {
		Type        string          `json:"type"`
		Coordinates hotline.Polygon `json:"coordinates"`
	}
	type feature struct {
		Type       string   `json:"type"`
		Properties props    `json:"properties"`
		Geometry   geometry `json:"geometry"`
	}
	var b strings.Builder
	b.WriteString("{\"type\": \"FeatureCollection\", \"features\": [\n")
	first := true
	for _, u := range units {
		p, ok := areas[u.ID]
		if !ok {
			continue
		}
		f, err := json.Marshal(feature{"Feature", props{u.ID, u.NameZH, u.NameEN}, geometry{"Polygon", p}})
		if err != nil {
			return err
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		b.Write(f)
	}
	b.WriteString("\n]}\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func writeGazetteer(path string, rows []gazRow) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, "# Road and house-number ranges of the demo street. Generated by internal/demogen; see README.md.")
	w := csv.NewWriter(f)
	w.Write([]string{"road", "from", "to", "parity", "committee"})
	for _, r := range rows {
		w.Write([]string{r.road, strconv.Itoa(r.from), strconv.Itoa(r.to), r.parity, r.committee})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
