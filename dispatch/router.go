package dispatch

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caojiadu/hotline"
)

// Decision is where routing sends a ticket and why.
type Decision struct {
	UnitID string
	Tier   hotline.Tier
	// Reason is shown on the board, Chinese then English, e.g.
	// "长寿路居委会辖区；长寿路助老志愿队距居民 320 米，负载 3/10 / in the
	// area of Changshou Road Neighbourhood Committee; Changshou Road elderly
	// volunteers 320 m away, load 3/10".
	Reason string
	// Manual means no unit could be chosen: the ticket waits in the
	// street's intake queue (UnitID is the service center) for a
	// dispatcher to place by hand.
	Manual bool
}

// Router chooses the unit for a ticket: the nearest unit that handles its
// category, is on duty and has room, trying the committee tier first, then
// the street's organizations, then the district.
type Router struct {
	Units     hotline.UnitIndex
	Directory hotline.Directory
	// VolunteerRadius is how far from the resident (metres) volunteer
	// groups are looked for; WideRadius is the search radius for street and
	// district units, large enough to take in all of them.
	VolunteerRadius float64
	WideRadius      float64
	// Candidates is how many units NearbyUnits returns per tier (default
	// 16): enough to get past the full and off-duty ones.
	Candidates int
	Logger     *slog.Logger

	// units indexes the network in force by unit id: Network.Unit scans
	// the list, which at 10,000 units costs more than the Redis round
	// trips. Rebuilt when the directory hands out another network.
	units atomic.Pointer[unitIndex]

	// LoadTTL is how long a unit's open-ticket count, read from Redis, is
	// reused before it is read again (0: read on every routing). Capacity
	// is a preference, not a contract: a count a second old lets a burst
	// put a few tickets past it, and spares every routing a round trip
	// that otherwise costs more than the routing itself.
	LoadTTL time.Duration
	loadsMu sync.Mutex
	loads   map[string]cachedLoad
}

type cachedLoad struct {
	n  int
	at time.Time
}

// openLoads returns the open-ticket counts of ids, from the cache where
// fresh (see LoadTTL).
func (r *Router) openLoads(ctx context.Context, ids []string, now time.Time) (map[string]int, error) {
	if r.LoadTTL <= 0 {
		return r.Units.OpenLoads(ctx, ids)
	}
	out := make(map[string]int, len(ids))
	var missing []string
	r.loadsMu.Lock()
	for _, id := range ids {
		if c, ok := r.loads[id]; ok && now.Sub(c.at) < r.LoadTTL && !now.Before(c.at) {
			out[id] = c.n
		} else {
			missing = append(missing, id)
		}
	}
	r.loadsMu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	fresh, err := r.Units.OpenLoads(ctx, missing)
	if err != nil {
		return nil, err
	}
	r.loadsMu.Lock()
	if r.loads == nil || len(r.loads) > 100_000 {
		r.loads = map[string]cachedLoad{}
	}
	for _, id := range missing {
		out[id] = fresh[id]
		r.loads[id] = cachedLoad{n: fresh[id], at: now}
	}
	r.loadsMu.Unlock()
	return out, nil
}

type unitIndex struct {
	n    *hotline.Network
	byID map[string]hotline.Unit
	// sets counts the units of each GEO set (category, tier): how many
	// members a search of that set can at most walk.
	sets map[setKey]int
	// members lists the units of each (category, tier) by the network's
	// own rule (Handles, Kind.Tier), points or not: the street's and the
	// district's few units are weighed from here, without a search.
	members map[setKey][]string
	// area is the street's area in m² (the bounding box of its units), to
	// tell how many units a circle of a given radius holds on average.
	area float64
}

type setKey struct {
	category string
	tier     hotline.Tier
}

// index returns the index of n, building it when n is new.
func (r *Router) index(n *hotline.Network) *unitIndex {
	x := r.units.Load()
	if x == nil || x.n != n {
		x = &unitIndex{n: n, byID: make(map[string]hotline.Unit, len(n.Units)), sets: map[setKey]int{}, members: map[setKey][]string{}}
		for _, u := range n.Units {
			if _, dup := x.byID[u.ID]; !dup {
				x.byID[u.ID] = u // the first wins, as in Network.Unit
				for i, c := range u.Categories {
					x.sets[setKey{c, u.Tier}]++
					if k := (setKey{c, u.Kind.Tier()}); u.Handles(c) && !slices.Contains(u.Categories[:i], c) {
						x.members[k] = append(x.members[k], u.ID)
					}
				}
			}
		}
		x.area = boxArea(n.Units)
		r.units.Store(x)
	}
	return x
}

// unit returns the unit with id in n.
func (r *Router) unit(n *hotline.Network, id string) (hotline.Unit, bool) {
	u, ok := r.index(n).byID[id]
	return u, ok
}

// candidate is a unit under consideration.
type candidate struct {
	unit     hotline.Unit
	distance float64 // metres; NaN when unknown
	// home marks the committee whose area holds the resident; it wins
	// ties (see Route).
	home bool
	load int
	// loadKnown is set when the search brought the load along.
	loadKnown bool
	why       string // why it was skipped, "" when eligible
}

// nearbyWithLoads is a unit index that answers a search and the loads of
// the units found (and of extra ids) in one round trip (redisstore's, on a
// single server).
type nearbyWithLoads interface {
	NearbyUnitsLoads(ctx context.Context, category string, tier hotline.Tier, lat, long, radius float64, count int, extra []string) ([]hotline.UnitDistance, map[string]int, error)
}

// Route decides where t should go now. It reads t but does not change it.
//
// The rule, tier by tier, lowest first, over the tiers the category's
// Tiers allow:
//
//   - Tier 1: the committee whose area holds the resident (if it handles
//     the category) and the volunteer groups that handle it within
//     VolunteerRadius of the resident. Other committees are not offered
//     the ticket: a committee serves its own area.
//   - Tier 2: the service center and its organizations that handle it.
//   - Tier 3: the district departments that handle it.
//
// A candidate is skipped when it is in t.Declined, off duty now (its
// Hours), or full (open tickets ≥ Capacity; 0 is no limit). Among the
// rest the nearest to the resident wins: a volunteer group by its own
// point, the home committee by its office. On a tie (to the metre) the
// home committee wins, because it knows the resident; then the lower unit
// id, so the rule is deterministic.
//
// Without a point the resident's committee (found by address) stands in
// for them: distances are measured from its office. A ticket with neither
// a point nor a committee goes to the street's intake queue (Manual), as
// does one that no tier can take now.
func (r *Router) Route(ctx context.Context, t *hotline.Ticket, now time.Time) (Decision, error) {
	return r.route(ctx, t, now, hotline.TierCommittee)
}

// RouteFrom is Route restricted to tiers at or above from: escalation
// passes the tier above the one that let the ticket down.
func (r *Router) RouteFrom(ctx context.Context, t *hotline.Ticket, now time.Time, from hotline.Tier) (Decision, error) {
	return r.route(ctx, t, now, from)
}

func (r *Router) route(ctx context.Context, t *hotline.Ticket, now time.Time, from hotline.Tier) (Decision, error) {
	n, cat := r.Directory.Network(), r.Directory.Catalogue()
	category, ok := cat.Find(t.ServiceCode)
	if !ok {
		return r.manual(n, fmt.Sprintf("未知服务类别 %q / unknown category %q", t.ServiceCode, t.ServiceCode)), nil
	}

	home, hasHome := r.homeCommittee(n, t)
	lat, long := t.Location.Lat, t.Location.Long
	hasPoint := t.Location.HasPoint()
	if !hasPoint && hasHome && (home.Lat != 0 || home.Long != 0) {
		lat, long, hasPoint = home.Lat, home.Long, true
	}
	if !hasPoint {
		return r.manual(n, "无可用位置：街道受理队列，由调度员人工分派 / no usable location: street intake queue for a dispatcher to place by hand"), nil
	}

	var skipped []string
	for tier := max(from, hotline.TierCommittee); tier <= hotline.TierDistrict; tier++ {
		if !category.HandledAt(tier) {
			continue
		}
		best, why, err := r.best(ctx, n, t, now, category, tier, lat, long, home, hasHome)
		if err != nil {
			return Decision{}, err
		}
		skipped = append(skipped, why...)
		if best != nil {
			return Decision{UnitID: best.unit.ID, Tier: tier,
				Reason: reason(n, category, tier, *best, home, hasHome, skipped)}, nil
		}
	}
	zh, en := "暂无可受理单位", "no unit can take it now"
	if len(skipped) > 0 {
		zh += "（" + skippedZH(skipped) + "）"
		en += " (" + skippedEN(skipped) + ")"
	}
	return r.manual(n, zh+"：街道受理队列，由调度员人工分派 / "+en+": street intake queue for a dispatcher to place by hand"), nil
}

// better reports whether a should win over b (see Route for the rule).
func better(a, b candidate) bool {
	da, db := math.Round(a.distance), math.Round(b.distance)
	switch {
	case math.IsNaN(db) && !math.IsNaN(da):
		return true
	case math.IsNaN(da) && !math.IsNaN(db):
		return false
	case da != db && !math.IsNaN(da):
		return da < db
	case a.home != b.home:
		return a.home
	}
	return a.unit.ID < b.unit.ID
}

func (r *Router) homeCommittee(n *hotline.Network, t *hotline.Ticket) (hotline.Unit, bool) {
	if id := t.Location.Committee; id != "" {
		if u, ok := r.unit(n, id); ok && u.Kind == hotline.KindCommittee {
			return u, true
		}
	}
	if t.Location.HasPoint() {
		if u, ok := n.CommitteeAt(t.Location.Lat, t.Location.Long); ok {
			return u, true
		}
	}
	if t.Location.Address != "" {
		return n.CommitteeForAddress(t.Location.Address)
	}
	return hotline.Unit{}, false
}

func (r *Router) manual(n *hotline.Network, why string) Decision {
	d := Decision{Manual: true, Reason: why, Tier: hotline.TierStreet}
	if sc, ok := n.ServiceCenter(); ok {
		d.UnitID, d.Tier = sc.ID, sc.Kind.Tier()
	}
	return d
}

func (r *Router) count() int {
	if r.Candidates > 0 {
		return r.Candidates
	}
	return 16
}

// maxCandidates bounds how far a search widens past full and off-duty
// units before giving up on a tier.
const maxCandidates = 256

// best returns the winning candidate of tier (nil when none can take t)
// and why the others were skipped.
//
// The search starts within a quarter of the radius: GEOSEARCH walks every
// member inside the radius before sorting, so on a dense street a small
// first circle is several times cheaper, and the answer is the same: any
// unit inside it is nearer than every unit outside. Only when nothing in
// it can take the ticket does the search widen, first in count (when the
// circle held more units than were returned), then to the full radius.
func (r *Router) best(ctx context.Context, n *hotline.Network, t *hotline.Ticket, now time.Time, category hotline.Category,
	tier hotline.Tier, lat, long float64, home hotline.Unit, hasHome bool) (*candidate, []string, error) {
	full := r.WideRadius
	if tier == hotline.TierCommittee {
		full = r.VolunteerRadius
	}
	if full <= 0 {
		full = DefaultWideRadius
	}
	radius, count := full, r.count()
	if tier == hotline.TierCommittee {
		radius = firstRadius(r.index(n), setKey{category.Code, tier}, count, full)
		// A resident placed by address stands at their committee's
		// office: the home committee is 0 m away and wins every tie, so
		// no unit a search could find would beat it.
		if hasHome && home.Handles(category.Code) {
			if d := distanceTo(home, lat, long); math.Round(d) == 0 {
				c := []candidate{{unit: home, home: true, distance: d}}
				if err := r.check(ctx, c, t, now); err != nil {
					return nil, nil, err
				}
				if c[0].why == "" {
					return &c[0], nil, nil
				}
			}
		}
	} else if ids := r.index(n).members[setKey{category.Code, tier}]; len(ids) <= count {
		// The street's organizations and the district's departments are
		// few: weigh them all here rather than ask the GEO index for what
		// one page of it would return anyway. Units without a point come
		// last (their distance is unknown) but still serve.
		cands := make([]candidate, 0, len(ids))
		for _, id := range ids {
			u := r.index(n).byID[id]
			cands = append(cands, candidate{unit: u, distance: distanceTo(u, lat, long)})
		}
		return r.pick(ctx, cands, t, now)
	}
	for {
		cands, saturated, err := r.candidates(ctx, n, category, tier, lat, long, radius, count, home, hasHome)
		if err != nil {
			return nil, nil, err
		}
		if err := r.check(ctx, cands, t, now); err != nil {
			return nil, nil, err
		}
		var skipped []string
		best := -1
		for i := range cands {
			c := cands[i]
			if c.why != "" {
				skipped = append(skipped, c.why)
				continue
			}
			// The home committee is always a candidate; beyond the
			// circle it may only win once the circle is the full one.
			if c.home && radius < full && !(c.distance <= radius) {
				continue
			}
			if best < 0 || better(c, cands[best]) {
				best = i
			}
		}
		switch {
		case best >= 0:
			return &cands[best], skipped, nil
		case saturated && count < maxCandidates:
			count *= 4
		case radius < full:
			radius = min(full, radius*4)
		default:
			return nil, skipped, nil
		}
	}
}

// pick returns the best of cands that can take t now (nil when none) and
// why the others were skipped.
func (r *Router) pick(ctx context.Context, cands []candidate, t *hotline.Ticket, now time.Time) (*candidate, []string, error) {
	if err := r.check(ctx, cands, t, now); err != nil {
		return nil, nil, err
	}
	var skipped []string
	best := -1
	for i := range cands {
		if cands[i].why != "" {
			skipped = append(skipped, cands[i].why)
			continue
		}
		if best < 0 || better(cands[i], cands[best]) {
			best = i
		}
	}
	if best < 0 {
		return nil, skipped, nil
	}
	return &cands[best], skipped, nil
}

// candidates lists the units of tier that handle category within radius
// of the point (up to count from the index), and whether the index had
// count of them, so there may be more.
func (r *Router) candidates(ctx context.Context, n *hotline.Network, category hotline.Category, tier hotline.Tier,
	lat, long, radius float64, count int, home hotline.Unit, hasHome bool) ([]candidate, bool, error) {
	var out []candidate
	if tier == hotline.TierCommittee && hasHome && home.Handles(category.Code) {
		out = append(out, candidate{unit: home, home: true, distance: distanceTo(home, lat, long)})
	}
	var near []hotline.UnitDistance
	var loads map[string]int
	var err error
	// Fresh loads come along with the search in one round trip; with a
	// load cache the plain search is cheaper (the script's reads of every
	// partition cost Redis more than the search itself).
	if nl, ok := r.Units.(nearbyWithLoads); ok && r.LoadTTL <= 0 {
		var extra []string
		if len(out) > 0 {
			extra = []string{out[0].unit.ID}
		}
		near, loads, err = nl.NearbyUnitsLoads(ctx, category.Code, tier, lat, long, radius, count, extra)
	} else {
		near, err = r.Units.NearbyUnits(ctx, category.Code, tier, lat, long, radius, count)
	}
	if err != nil {
		return nil, false, err
	}
	if loads != nil {
		for i := range out {
			out[i].load, out[i].loadKnown = loads[out[i].unit.ID], true
		}
	}
	for _, nd := range near {
		u, ok := r.unit(n, nd.UnitID)
		if !ok || !u.Handles(category.Code) || u.Kind.Tier() != tier {
			continue // the index is a step behind the network; the network decides
		}
		if tier == hotline.TierCommittee && u.Kind != hotline.KindVolunteerGroup {
			continue // other committees: not their area
		}
		n, known := loads[u.ID]
		out = append(out, candidate{unit: u, distance: nd.Distance, load: n, loadKnown: known})
	}
	if tier != hotline.TierCommittee && len(out) == 0 {
		// Street and district units need no point on the map; those
		// without one are not in the geographic index but still serve.
		for _, u := range n.Units {
			if u.Kind.Tier() == tier && u.Handles(category.Code) {
				out = append(out, candidate{unit: u, distance: distanceTo(u, lat, long)})
			}
		}
	}
	return out, len(near) >= count, nil
}

// distanceTo is the great-circle distance from (lat, long) to u's point,
// NaN when u has none.
func distanceTo(u hotline.Unit, lat, long float64) float64 {
	if u.Lat == 0 && u.Long == 0 {
		return math.NaN()
	}
	return Haversine(lat, long, u.Lat, u.Long)
}

// Haversine returns the distance in metres between two points, on a sphere
// of the Earth's mean radius (what Redis GEO uses too, within 0.5 %).
func Haversine(lat1, long1, lat2, long2 float64) float64 {
	const earth = 6372797.560856 // metres, Redis's value
	rad := math.Pi / 180
	dlat, dlong := (lat2-lat1)*rad, (long2-long1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlong/2)*math.Sin(dlong/2)
	return 2 * earth * math.Asin(math.Sqrt(a))
}

// check marks the candidates that cannot take t now, with the reason.
func (r *Router) check(ctx context.Context, cands []candidate, t *hotline.Ticket, now time.Time) error {
	var ids []string
	for i := range cands {
		c := &cands[i]
		if slices.Contains(t.Declined, c.unit.ID) {
			c.why = c.unit.ID + ":declined"
			continue
		}
		on, err := OnDuty(c.unit, now)
		if err != nil && r.Logger != nil {
			r.Logger.Warn("unit hours unreadable; treated as on duty", "unit_id", c.unit.ID, "err", err)
		}
		if !on {
			c.why = c.unit.ID + ":off"
			continue
		}
		if !c.loadKnown {
			ids = append(ids, c.unit.ID)
		}
	}
	loads := map[string]int{}
	if len(ids) > 0 {
		var err error
		if loads, err = r.openLoads(ctx, ids, now); err != nil {
			return err
		}
	}
	for i := range cands {
		c := &cands[i]
		if c.why != "" {
			continue
		}
		if !c.loadKnown {
			c.load = loads[c.unit.ID]
		}
		if c.unit.Capacity > 0 && c.load >= c.unit.Capacity {
			c.why = c.unit.ID + ":full " + strconv.Itoa(c.load) + "/" + strconv.Itoa(c.unit.Capacity)
		}
	}
	return nil
}

// maxSkipped bounds the skipped units a reason names, to keep it readable.
const maxSkipped = 3

// skipWords are the words of a skipped-units note in one language.
type skipWords struct{ lead, sep, declined, off, full, more string }

var (
	skipZH = skipWords{lead: "跳过：", sep: "，", declined: " 已退回", off: " 不在岗", full: " 已满 ", more: "等 %d 个"}
	skipEN = skipWords{lead: "skipped ", sep: ", ", declined: " declined", off: " off duty", full: " full ", more: "%d in all"}
)

func skippedZH(s []string) string { return skippedIn(s, skipZH) }
func skippedEN(s []string) string { return skippedIn(s, skipEN) }

// skippedIn names the first maxSkipped skipped units (each "id:why") and
// how many there were in all.
func skippedIn(s []string, w skipWords) string {
	var parts []string
	for _, x := range s[:min(len(s), maxSkipped)] {
		id, why, _ := strings.Cut(x, ":")
		switch {
		case why == "declined":
			parts = append(parts, id+w.declined)
		case why == "off":
			parts = append(parts, id+w.off)
		default:
			parts = append(parts, id+w.full+strings.TrimPrefix(why, "full "))
		}
	}
	if len(s) > maxSkipped {
		parts = append(parts, fmt.Sprintf(w.more, len(s)))
	}
	return w.lead + strings.Join(parts, w.sep)
}

// reason explains a decision on the board, Chinese first.
func reason(n *hotline.Network, category hotline.Category, tier hotline.Tier, c candidate,
	home hotline.Unit, hasHome bool, skipped []string) string {
	var zh, en []string
	if hasHome {
		zh = append(zh, home.NameZH+"辖区")
		en = append(en, "in the area of "+home.Name("en"))
	}
	if tier > hotline.TierCommittee {
		lower := "居委会及志愿者队伍"
		lowerEN := "committee tier"
		if tier == hotline.TierDistrict {
			lower, lowerEN = "社区及街道", "committee and street tiers"
		}
		zh = append(zh, lower+"无法受理「"+category.NameZH+"」")
		en = append(en, lowerEN+" cannot take "+category.Name("en"))
	}
	// Every routing writes one: plain concatenation, no fmt.
	load, loadEN := strconv.Itoa(c.load)+"/不限", strconv.Itoa(c.load)+"/no limit"
	if c.unit.Capacity > 0 {
		load = strconv.Itoa(c.load) + "/" + strconv.Itoa(c.unit.Capacity)
		loadEN = load
	}
	dzh, den := "", ""
	if !math.IsNaN(c.distance) {
		dzh, den = "距居民 "+metresZH(c.distance)+"，", " "+metresEN(c.distance)+" away,"
	}
	zh = append(zh, c.unit.NameZH+dzh+"负载 "+load)
	en = append(en, kindEN(c.unit.Kind)+" "+c.unit.Name("en")+den+" load "+loadEN)
	if len(skipped) > 0 {
		zh = append(zh, skippedZH(skipped))
		en = append(en, skippedEN(skipped))
	}
	return strings.Join(zh, "；") + " / " + strings.Join(en, "; ")
}

func kindEN(k hotline.UnitKind) string {
	switch k {
	case hotline.KindCommittee:
		return "committee"
	case hotline.KindVolunteerGroup:
		return "volunteer group"
	case hotline.KindServiceCenter:
		return "service center"
	case hotline.KindOrganization:
		return "organization"
	}
	return "department"
}

func metresZH(m float64) string {
	if m >= 1000 {
		return strconv.FormatFloat(m/1000, 'f', 1, 64) + " 公里"
	}
	return strconv.FormatFloat(m, 'f', 0, 64) + " 米"
}

func metresEN(m float64) string {
	if m >= 1000 {
		return strconv.FormatFloat(m/1000, 'f', 1, 64) + " km"
	}
	return strconv.FormatFloat(m, 'f', 0, 64) + " m"
}

// firstRadius is where a tier-1 search starts: a circle expected to hold
// about twice count units of the set, given how many there are over the
// street's area (at least 50 m, at most full). GEOSEARCH walks every member
// inside the radius before it sorts and cuts, so on a dense street a circle
// sized to the answer is many times cheaper than the full one, and the
// answer is the same: a unit inside it is nearer than every unit outside.
// A set no larger than one page of results is searched whole at once: a
// small first circle would only add a round trip.
func firstRadius(x *unitIndex, k setKey, count int, full float64) float64 {
	n := x.sets[k]
	if n <= count || x.area <= 0 {
		return full
	}
	r := math.Sqrt(2 * float64(count) * x.area / (float64(n) * math.Pi))
	return max(50, min(full, r))
}

// boxArea is the area in m² of the bounding box of the units' points.
func boxArea(units []hotline.Unit) float64 {
	first := true
	var minLat, maxLat, minLong, maxLong float64
	for _, u := range units {
		if u.Lat == 0 && u.Long == 0 {
			continue
		}
		if first {
			minLat, maxLat, minLong, maxLong, first = u.Lat, u.Lat, u.Long, u.Long, false
			continue
		}
		minLat, maxLat = min(minLat, u.Lat), max(maxLat, u.Lat)
		minLong, maxLong = min(minLong, u.Long), max(maxLong, u.Long)
	}
	if first {
		return 0
	}
	h := Haversine(minLat, minLong, maxLat, minLong)
	w := Haversine(minLat, minLong, minLat, maxLong)
	return h * w
}
