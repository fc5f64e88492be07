package network

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"

	"github.com/caojiadu/hotline"
)

// maxProblems caps the list in one error: past a couple of dozen the file is
// probably in the wrong format altogether and a longer list helps nobody.
const maxProblems = 25

// problems collects every mistake found, so that an administrator fixes a
// file in one pass instead of one reload per mistake.
type problems struct {
	list []string
}

func (p *problems) add(where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	p.list = append(p.list, msg)
}

func (p *problems) ok() bool { return len(p.list) == 0 }

// err returns nil or one EINVALID error listing the problems in file order.
func (p *problems) err() error {
	switch len(p.list) {
	case 0:
		return nil
	case 1:
		return &hotline.Error{Code: hotline.EINVALID, Message: p.list[0]}
	}
	shown := p.list
	more := ""
	if len(shown) > maxProblems {
		more = fmt.Sprintf("; and %d more", len(shown)-maxProblems)
		shown = shown[:maxProblems]
	}
	return &hotline.Error{
		Code:    hotline.EINVALID,
		Message: fmt.Sprintf("%d problems: %s%s", len(p.list), strings.Join(shown, "; "), more),
	}
}

// sources says where each unit, area, gazetteer entry and category came
// from ("units.csv line 7"), in the order of the network's slices, so that
// messages point into the file. A nil *sources (or a missing entry) names
// items by id instead, which is what Validate does for a network that did
// not come from files.
type sources struct {
	unitsFile, areasFile, gazetteerFile, catalogueFile string

	units, areas, gazetteer, categories []string
}

func pick(list []string, i int, fallback string) string {
	if i < len(list) && list[i] != "" {
		return list[i]
	}
	return fallback
}

func (s *sources) unit(i int, u hotline.Unit) string {
	fallback := fmt.Sprintf("unit %q", u.ID)
	if u.ID == "" {
		fallback = fmt.Sprintf("unit #%d", i+1)
	}
	if s == nil {
		return fallback
	}
	return pick(s.units, i, fallback)
}

func (s *sources) area(i int, a hotline.Area) string {
	fallback := fmt.Sprintf("area #%d (unit_id %q)", i+1, a.UnitID)
	if s == nil {
		return fallback
	}
	return pick(s.areas, i, fallback)
}

func (s *sources) entry(i int, g hotline.GazetteerEntry) string {
	fallback := fmt.Sprintf("gazetteer entry #%d (%s)", i+1, g.Road)
	if s == nil {
		return fallback
	}
	return pick(s.gazetteer, i, fallback)
}

func (s *sources) category(i int, c hotline.Category) string {
	fallback := fmt.Sprintf("category %q", c.Code)
	if c.Code == "" {
		fallback = fmt.Sprintf("category #%d", i+1)
	}
	if s == nil {
		return fallback
	}
	return pick(s.categories, i, fallback)
}

func (s *sources) file(which string) string {
	if s == nil {
		return which
	}
	var f string
	switch which {
	case "units":
		f = s.unitsFile
	case "areas":
		f = s.areasFile
	case "gazetteer":
		f = s.gazetteerFile
	case "catalogue":
		f = s.catalogueFile
	}
	if f == "" {
		return which
	}
	return f
}

// Validate checks that n and c make a network the hotline can route in:
//
//   - unit ids are unique and well formed, parents exist, the parent chain
//     has no loop, ends at exactly one top unit, and never goes down a tier;
//   - each unit's tier matches its kind; volunteer groups sit under a
//     committee; there is exactly one service center (the street intake);
//   - every committee has an area and every area belongs to a committee;
//     rings are closed with at least 4 points; points are real coordinates,
//     and tier-1 units lie within about 2 km of the committee areas;
//   - gazetteer rows name committees, have sensible ranges and none is
//     hidden behind an earlier row;
//   - category codes are unique, tiers are 1..3, and every category a unit
//     lists exists and is handled at that unit's tier.
//
// A nil c skips the checks that need the catalogue. Errors: EINVALID, whose
// message lists up to 25 problems, each naming the unit, area, entry or
// category and the field.
func Validate(n *hotline.Network, c *hotline.Catalogue) error {
	return validate(n, c, nil)
}

func validate(n *hotline.Network, c *hotline.Catalogue, src *sources) error {
	var p problems
	if n == nil {
		p.add("", "there is no network")
		return p.err()
	}
	checkUnits(&p, n.Units, src)
	checkAreas(&p, n.Areas, src)
	checkGazetteer(&p, n.Gazetteer, src)
	if c != nil {
		checkCatalogue(&p, c.Categories, src)
	}
	checkCross(&p, n, c, src)
	return p.err()
}

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	codePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

var kinds = []hotline.UnitKind{hotline.KindCommittee, hotline.KindVolunteerGroup,
	hotline.KindServiceCenter, hotline.KindOrganization, hotline.KindDistrict}

func kindNames() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// checkUnits checks what can be known from the units alone.
func checkUnits(p *problems, units []hotline.Unit, src *sources) {
	// An empty list is only worth saying when nothing else is wrong: a
	// broken header also leaves no units.
	if len(units) == 0 && p.ok() {
		p.add(src.file("units"), "there are no units")
	}
	first := map[string]int{}
	for i, u := range units {
		where := src.unit(i, u)
		switch {
		case u.ID == "":
			p.add(where, "id is missing")
		case !idPattern.MatchString(u.ID):
			p.add(where, "id %q may only use letters, digits, '-', '_' and '.' (at most 64, starting with a letter or digit)", u.ID)
		default:
			if j, dup := first[u.ID]; dup {
				p.add(where, "id %q is already used by %s", u.ID, src.unit(j, units[j]))
			} else {
				first[u.ID] = i
			}
		}
		if u.Kind.Tier() == 0 {
			p.add(where, "kind %q is not one of %s", u.Kind, kindNames())
		} else if u.Tier != u.Kind.Tier() {
			p.add(where, "tier %d does not match kind %s, which is tier %d", u.Tier, u.Kind, u.Kind.Tier())
		}
		if strings.TrimSpace(u.NameZH) == "" {
			p.add(where, "name_zh is missing")
		}
		// Tier-1 units are found by distance from the resident; elsewhere
		// a unit may have no fixed place.
		checkPoint(p, where, u.Lat, u.Long, u.Kind.Tier() == hotline.TierCommittee)
		if u.Capacity < 0 {
			p.add(where, "capacity %d must be 0 (no limit) or more", u.Capacity)
		}
		seen := map[string]bool{}
		for _, code := range u.Categories {
			if !codePattern.MatchString(code) {
				p.add(where, "category %q is not a catalogue code (lower-case letters, digits, '_' and '-')", code)
			} else if seen[code] {
				p.add(where, "category %q is listed twice", code)
			}
			seen[code] = true
		}
	}

	var roots []int
	centers := 0
	for i, u := range units {
		where := src.unit(i, u)
		if u.Kind == hotline.KindServiceCenter {
			centers++
			if centers == 2 {
				p.add(where, "a second service_center; the network has one, the street's intake queue")
			}
		}
		if u.ParentID == "" {
			roots = append(roots, i)
			continue
		}
		if u.ParentID == u.ID {
			p.add(where, "parent %q is the unit itself", u.ParentID)
			continue
		}
		j, ok := first[u.ParentID]
		if !ok {
			p.add(where, "parent %q does not exist", u.ParentID)
			continue
		}
		parent := units[j]
		// Escalation walks up the parent chain, so a parent on a lower tier
		// would send a ticket back down.
		if pt := parent.Kind.Tier(); pt != 0 && u.Kind.Tier() != 0 && pt < u.Kind.Tier() {
			p.add(where, "parent %q is of kind %s (tier %d), below this %s (tier %d)", u.ParentID, parent.Kind, pt, u.Kind, u.Kind.Tier())
		}
		if u.Kind == hotline.KindVolunteerGroup && parent.Kind != hotline.KindCommittee {
			p.add(where, "parent %q is of kind %s; a volunteer group belongs to a committee", u.ParentID, parent.Kind)
		}
	}
	if len(units) > 0 && centers == 0 {
		p.add(src.file("units"), "there is no unit of kind service_center; the street's service center receives what cannot be placed automatically")
	}
	switch {
	case len(units) > 0 && len(roots) == 0:
		p.add(src.file("units"), "every unit has a parent; the top unit (usually the district) must leave parent empty")
	case len(roots) > 1:
		for _, i := range roots[1:] {
			p.add(src.unit(i, units[i]), "parent is empty, but %s is already the top unit; set parent", src.unit(roots[0], units[roots[0]]))
		}
	}
	checkLoops(p, units, first, src)
}

// checkLoops reports each loop in the parent chain once.
func checkLoops(p *problems, units []hotline.Unit, index map[string]int, src *sources) {
	done := make([]bool, len(units))
	for i := range units {
		if done[i] {
			continue
		}
		// Walk up from i, remembering the path; meeting the path again
		// means a loop, meeting a finished unit means no new loop.
		onPath := map[int]int{}
		var path []int
		for j := i; ; {
			if k, ok := onPath[j]; ok {
				loop := path[k:]
				ids := make([]string, 0, len(loop)+1)
				for _, x := range loop {
					ids = append(ids, units[x].ID)
				}
				ids = append(ids, units[loop[0]].ID)
				p.add(src.unit(loop[0], units[loop[0]]), "the parent chain loops: %s", strings.Join(ids, " → "))
				break
			}
			if done[j] {
				break
			}
			onPath[j] = len(path)
			path = append(path, j)
			next, ok := index[units[j].ParentID]
			if !ok || units[j].ParentID == units[j].ID {
				break
			}
			j = next
		}
		for _, x := range path {
			done[x] = true
		}
	}
}

// checkPoint refuses coordinates that cannot be a place: not numbers, out of
// range or, the common slip, latitude and longitude swapped.
func checkPoint(p *problems, where string, lat, long float64, required bool) {
	switch {
	case math.IsNaN(lat) || math.IsInf(lat, 0) || math.IsNaN(long) || math.IsInf(long, 0):
		p.add(where, "lat/long must be numbers")
	case lat == 0 && long == 0:
		if required {
			p.add(where, "lat and long are missing")
		}
	case math.Abs(lat) > 90 && math.Abs(long) <= 90:
		p.add(where, "lat %v and long %v look swapped (in Shanghai lat is about 31, long about 121)", lat, long)
	case math.Abs(lat) > 90:
		p.add(where, "lat %v is outside -90..90", lat)
	case math.Abs(long) > 180:
		p.add(where, "long %v is outside -180..180", long)
	}
}

func checkAreas(p *problems, areas []hotline.Area, src *sources) {
	for i, a := range areas {
		where := src.area(i, a)
		if a.UnitID == "" {
			p.add(where, "unit_id is missing; it names the committee the area belongs to")
		}
		checkPolygon(p, where, a.Polygon)
	}
}

func checkPolygon(p *problems, where string, poly hotline.Polygon) {
	if len(poly) == 0 {
		p.add(where, "the polygon has no rings")
		return
	}
	for r, ring := range poly {
		name := "outer ring"
		if r > 0 {
			name = fmt.Sprintf("hole #%d", r)
		}
		if len(ring) < 4 {
			p.add(where, "%s has %d points; a ring needs at least 4 (a triangle and the first point repeated)", name, len(ring))
			continue
		}
		if ring[0] != ring[len(ring)-1] {
			p.add(where, "%s is not closed: its last point %v must repeat its first %v", name, ring[len(ring)-1], ring[0])
		}
		for k, pt := range ring {
			var q problems
			checkPoint(&q, "", pt[1], pt[0], true)
			if !q.ok() {
				p.add(where, "%s point #%d [%v, %v] (GeoJSON order: long, lat): %s", name, k+1, pt[0], pt[1], q.list[0])
				break
			}
		}
		if ringArea(ring) == 0 {
			p.add(where, "%s encloses no area", name)
		}
	}
}

// ringArea is the shoelace sum; zero means every point is on one line.
func ringArea(ring []hotline.Point) float64 {
	s := 0.0
	for i := 0; i+1 < len(ring); i++ {
		s += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return math.Abs(s / 2)
}

var parities = map[string]bool{"": true, "odd": true, "even": true}

func checkGazetteer(p *problems, entries []hotline.GazetteerEntry, src *sources) {
	for i, g := range entries {
		where := src.entry(i, g)
		switch {
		case g.Road == "":
			p.add(where, "road is missing")
		case strings.ContainsAny(g.Road, " \t\u3000"):
			// CommitteeForAddress drops spaces from the address first.
			p.add(where, "road %q contains a space and would never match; write it without spaces", g.Road)
		}
		if g.Committee == "" {
			p.add(where, "committee is missing")
		}
		if !parities[g.Parity] {
			p.add(where, "parity %q must be empty, odd or even", g.Parity)
		}
		switch {
		case g.From < 0 || g.To < 0:
			p.add(where, "house numbers %d-%d cannot be negative", g.From, g.To)
		case g.From > g.To:
			p.add(where, "from %d is greater than to %d", g.From, g.To)
		case g.From == 0 && g.To == 0 && g.Parity != "":
			p.add(where, "from and to are empty (the whole road), so parity %q would be ignored; give a range such as 1-9999", g.Parity)
		}
	}
	// CommitteeForAddress takes the first row that fits, so a row that
	// overlaps an earlier one is silently half dead.
	for j, b := range entries {
		for i, a := range entries[:j] {
			if a.Road == "" || b.Road == "" {
				continue
			}
			whole := a.From == 0 && a.To == 0
			if whole && strings.Contains(b.Road, a.Road) {
				p.add(src.entry(j, b), "never used: %s already gives the whole of %s to %s", src.entry(i, a), a.Road, a.Committee)
				break
			}
			if a.Road != b.Road || whole || (b.From == 0 && b.To == 0) {
				continue
			}
			if a.Parity != "" && b.Parity != "" && a.Parity != b.Parity {
				continue
			}
			if a.From <= b.To && b.From <= a.To {
				p.add(src.entry(j, b), "%s %d-%d overlaps %s (%d-%d); the first row wins", b.Road, b.From, b.To, src.entry(i, a), a.From, a.To)
				break
			}
		}
	}
}

func checkCatalogue(p *problems, cats []hotline.Category, src *sources) {
	if len(cats) == 0 && p.ok() {
		p.add(src.file("catalogue"), "there are no categories")
	}
	first := map[string]int{}
	for i, c := range cats {
		where := src.category(i, c)
		switch {
		case c.Code == "":
			p.add(where, "code is missing")
		case !codePattern.MatchString(c.Code):
			p.add(where, "code %q may only use lower-case letters, digits, '_' and '-' (at most 64)", c.Code)
		default:
			if j, dup := first[c.Code]; dup {
				p.add(where, "code %q is already used by %s", c.Code, src.category(j, cats[j]))
			} else {
				first[c.Code] = i
			}
		}
		if strings.TrimSpace(c.NameZH) == "" {
			p.add(where, "name_zh is missing")
		}
		if len(c.Tiers) == 0 {
			p.add(where, "tiers is empty; list the tiers that handle it, e.g. [1, 2]")
		}
		seen := map[hotline.Tier]bool{}
		for _, t := range c.Tiers {
			if t < hotline.TierCommittee || t > hotline.TierDistrict {
				p.add(where, "tier %d must be 1 (committee), 2 (street) or 3 (district)", t)
			} else if seen[t] {
				p.add(where, "tier %d is listed twice", t)
			}
			seen[t] = true
		}
		for _, k := range c.Keywords {
			if strings.TrimSpace(k) == "" {
				p.add(where, "keywords has an empty entry")
				break
			}
		}
	}
}

// nearMargin is how far (in degrees, about 2 km) a tier-1 unit may lie
// outside the box around the committee areas: offices sometimes sit across
// the boundary road, but a point further away is a typo.
const nearMargin = 0.02

// checkCross checks what needs more than one file.
func checkCross(p *problems, n *hotline.Network, c *hotline.Catalogue, src *sources) {
	byID := map[string]hotline.Unit{}
	for _, u := range n.Units {
		if _, dup := byID[u.ID]; !dup {
			byID[u.ID] = u
		}
	}
	hasArea := map[string]bool{}
	for i, a := range n.Areas {
		if a.UnitID == "" {
			continue
		}
		u, ok := byID[a.UnitID]
		switch {
		case !ok:
			p.add(src.area(i, a), "unit_id %q is not a unit in %s", a.UnitID, src.file("units"))
		case u.Kind != hotline.KindCommittee:
			p.add(src.area(i, a), "unit_id %q is of kind %s; areas belong to committees", a.UnitID, u.Kind)
		}
		hasArea[a.UnitID] = true
	}
	for i, u := range n.Units {
		if u.Kind == hotline.KindCommittee && !hasArea[u.ID] {
			p.add(src.unit(i, u), "committee has no area in %s", src.file("areas"))
		}
	}
	for i, g := range n.Gazetteer {
		if g.Committee == "" {
			continue
		}
		if u, ok := byID[g.Committee]; !ok {
			p.add(src.entry(i, g), "committee %q is not a unit in %s", g.Committee, src.file("units"))
		} else if u.Kind != hotline.KindCommittee {
			p.add(src.entry(i, g), "%q is of kind %s, not a committee", g.Committee, u.Kind)
		}
	}
	if minLat, minLong, maxLat, maxLong, ok := bounds(n.Areas); ok {
		for i, u := range n.Units {
			if u.Kind.Tier() != hotline.TierCommittee || (u.Lat == 0 && u.Long == 0) {
				continue
			}
			if u.Lat < minLat-nearMargin || u.Lat > maxLat+nearMargin || u.Long < minLong-nearMargin || u.Long > maxLong+nearMargin {
				p.add(src.unit(i, u), "point (lat %v, long %v) is more than 2 km outside the committee areas; check for a typo", u.Lat, u.Long)
			}
		}
	}
	if c == nil {
		return
	}
	cats := map[string]hotline.Category{}
	for _, x := range c.Categories {
		cats[x.Code] = x
	}
	for i, u := range n.Units {
		for _, code := range u.Categories {
			x, ok := cats[code]
			switch {
			case !codePattern.MatchString(code):
				// already reported by checkUnits
			case !ok:
				p.add(src.unit(i, u), "category %q is not in %s", code, src.file("catalogue"))
			case u.Kind.Tier() != 0 && !x.HandledAt(u.Kind.Tier()):
				// The catalogue's tiers are what dispatch walks up; a unit
				// outside them contradicts the catalogue, and one of the two
				// is a mistake.
				p.add(src.unit(i, u), "category %q is handled at tiers %s, not at this unit's tier %d; add %d to its tiers or remove it here",
					code, tierList(x.Tiers), u.Kind.Tier(), u.Kind.Tier())
			}
		}
	}
}

func tierList(ts []hotline.Tier) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = fmt.Sprint(int(t))
	}
	sort.Strings(s)
	return "[" + strings.Join(s, ", ") + "]"
}

func bounds(areas []hotline.Area) (minLat, minLong, maxLat, maxLong float64, ok bool) {
	minLat, minLong = math.Inf(1), math.Inf(1)
	maxLat, maxLong = math.Inf(-1), math.Inf(-1)
	for _, a := range areas {
		for _, ring := range a.Polygon {
			for _, pt := range ring {
				minLong, maxLong = math.Min(minLong, pt[0]), math.Max(maxLong, pt[0])
				minLat, maxLat = math.Min(minLat, pt[1]), math.Max(maxLat, pt[1])
				ok = true
			}
		}
	}
	return minLat, minLong, maxLat, maxLong, ok
}
