package hotline

import (
	"context"
	"strings"
)

// Tier is a level of the three-tier service network. Lower tiers are nearer
// the resident and are tried first.
type Tier int

const (
	TierCommittee Tier = 1 // neighbourhood committees (居委会) and their volunteer groups
	TierStreet    Tier = 2 // the street's service center and the organizations it contracts
	TierDistrict  Tier = 3 // district departments
)

// UnitKind says what sort of unit it is.
type UnitKind string

const (
	KindCommittee      UnitKind = "committee"
	KindVolunteerGroup UnitKind = "volunteer_group"
	KindServiceCenter  UnitKind = "service_center"
	KindOrganization   UnitKind = "organization"
	KindDistrict       UnitKind = "district"
)

// Tier returns the tier a kind of unit belongs to.
func (k UnitKind) Tier() Tier {
	switch k {
	case KindCommittee, KindVolunteerGroup:
		return TierCommittee
	case KindServiceCenter, KindOrganization:
		return TierStreet
	case KindDistrict:
		return TierDistrict
	}
	return 0
}

// Unit is a place in the network that can receive tickets.
type Unit struct {
	ID       string   `json:"id" toml:"id"`
	Kind     UnitKind `json:"kind" toml:"kind"`
	Tier     Tier     `json:"tier" toml:"tier"`
	NameZH   string   `json:"name_zh" toml:"name_zh"`
	NameEN   string   `json:"name_en" toml:"name_en"`
	ParentID string   `json:"parent_id,omitempty" toml:"parent"`
	Lat      float64  `json:"lat" toml:"lat"`
	Long     float64  `json:"long" toml:"long"`
	// Categories are the catalogue codes the unit can handle.
	Categories []string `json:"categories" toml:"categories"`
	Phone      string   `json:"phone,omitempty" toml:"phone"`
	Address    string   `json:"address,omitempty" toml:"address"`
	// Capacity is how many open tickets the unit takes at once (0: no limit).
	Capacity int `json:"capacity,omitempty" toml:"capacity"`
	// Hours is when the unit is on duty, e.g. "mon-fri 08:30-17:00";
	// empty means always.
	Hours string `json:"hours,omitempty" toml:"hours"`
}

// Name returns the unit's name in lang ("en" or Chinese by default).
func (u Unit) Name(lang string) string {
	if lang == "en" && u.NameEN != "" {
		return u.NameEN
	}
	return u.NameZH
}

// Handles reports whether the unit can handle a category.
func (u Unit) Handles(code string) bool {
	for _, c := range u.Categories {
		if c == code {
			return true
		}
	}
	return false
}

// Point is a longitude/latitude pair, in GeoJSON order.
type Point [2]float64

// Polygon is a GeoJSON polygon: an outer ring and optional holes, each ring a
// closed list of points.
type Polygon [][]Point

// Contains reports whether (lat, long) lies inside the polygon (inside the
// outer ring and outside every hole), by ray casting. Points exactly on an
// edge may go either way; committee areas tile the street, so a point on a
// shared edge still finds one of its two committees.
func (p Polygon) Contains(lat, long float64) bool {
	if len(p) == 0 || !ringContains(p[0], lat, long) {
		return false
	}
	for _, hole := range p[1:] {
		if ringContains(hole, lat, long) {
			return false
		}
	}
	return true
}

func ringContains(ring []Point, lat, long float64) bool {
	in := false
	for i, j := 0, len(ring)-1; i < len(ring); j, i = i, i+1 {
		xi, yi := ring[i][0], ring[i][1]
		xj, yj := ring[j][0], ring[j][1]
		if (yi > lat) != (yj > lat) && long < (xj-xi)*(lat-yi)/(yj-yi)+xi {
			in = !in
		}
	}
	return in
}

// Area is a committee's territory.
type Area struct {
	UnitID  string  `json:"unit_id"`
	Polygon Polygon `json:"polygon"`
}

// GazetteerEntry maps a range of house numbers on a road to a committee.
// Residents say "长寿路 123 号"; the gazetteer turns that into a committee
// when they give no point.
type GazetteerEntry struct {
	Road      string `json:"road"`
	From      int    `json:"from,omitempty"` // inclusive; From=To=0 means the whole road
	To        int    `json:"to,omitempty"`
	Parity    string `json:"parity,omitempty"` // "", "odd" or "even"
	Committee string `json:"committee"`
}

// Network is the three-tier service network: units, committee areas and
// the gazetteer. It is read-mostly and safe to share once built.
type Network struct {
	Units     []Unit           `json:"units"`
	Areas     []Area           `json:"areas"`
	Gazetteer []GazetteerEntry `json:"gazetteer,omitempty"`
}

// Unit returns the unit with id.
func (n *Network) Unit(id string) (Unit, bool) {
	if n == nil {
		return Unit{}, false
	}
	for _, u := range n.Units {
		if u.ID == id {
			return u, true
		}
	}
	return Unit{}, false
}

// Children returns the units whose parent is id.
func (n *Network) Children(id string) []Unit {
	var out []Unit
	for _, u := range n.Units {
		if u.ParentID == id {
			out = append(out, u)
		}
	}
	return out
}

// Subtree returns id and the ids of every unit below it.
func (n *Network) Subtree(id string) []string {
	out := []string{id}
	for i := 0; i < len(out); i++ {
		for _, u := range n.Units {
			if u.ParentID == out[i] {
				out = append(out, u.ID)
			}
		}
	}
	return out
}

// Within reports whether unit id is ancestor or the unit itself.
func (n *Network) Within(id, ancestor string) bool {
	seen := 0
	for id != "" && seen <= len(n.Units) {
		if id == ancestor {
			return true
		}
		u, ok := n.Unit(id)
		if !ok {
			return false
		}
		id = u.ParentID
		seen++
	}
	return false
}

// Root returns the top of the network (the unit with no parent), usually
// the district. It is where a ticket with nowhere else to go is visible.
func (n *Network) Root() (Unit, bool) {
	for _, u := range n.Units {
		if u.ParentID == "" {
			return u, true
		}
	}
	return Unit{}, false
}

// ServiceCenter returns the street's service center: the street intake
// queue for tickets that cannot be placed automatically.
func (n *Network) ServiceCenter() (Unit, bool) {
	for _, u := range n.Units {
		if u.Kind == KindServiceCenter {
			return u, true
		}
	}
	return Unit{}, false
}

// CommitteeAt returns the committee whose area holds (lat, long).
func (n *Network) CommitteeAt(lat, long float64) (Unit, bool) {
	if n == nil {
		return Unit{}, false
	}
	for _, a := range n.Areas {
		if a.Polygon.Contains(lat, long) {
			return n.Unit(a.UnitID)
		}
	}
	return Unit{}, false
}

// PointInCommittee returns a point inside committee id's area: its office
// when that lies inside, else the mean of the area's outer ring when that
// does; ok is false when neither does (or there is no such committee).
func (n *Network) PointInCommittee(id string) (lat, long float64, ok bool) {
	u, found := n.Unit(id)
	if !found {
		return 0, 0, false
	}
	inside := func(lat, long float64) bool {
		at, ok := n.CommitteeAt(lat, long)
		return ok && at.ID == id
	}
	if inside(u.Lat, u.Long) {
		return u.Lat, u.Long, true
	}
	for _, a := range n.Areas {
		if a.UnitID != id || len(a.Polygon) == 0 || len(a.Polygon[0]) == 0 {
			continue
		}
		ring := a.Polygon[0]
		lat, long = 0, 0
		for _, p := range ring {
			long += p[0]
			lat += p[1]
		}
		lat, long = lat/float64(len(ring)), long/float64(len(ring))
		if inside(lat, long) {
			return lat, long, true
		}
	}
	return 0, 0, false
}

// CommitteeForAddress resolves a typed address through the gazetteer: the
// first entry whose road appears in the address and whose house-number range
// holds the number that follows the road name.
func (n *Network) CommitteeForAddress(address string) (Unit, bool) {
	if n == nil {
		return Unit{}, false
	}
	addr := strings.ReplaceAll(address, " ", "")
	for _, g := range n.Gazetteer {
		i := strings.Index(addr, g.Road)
		if g.Road == "" || i < 0 {
			continue
		}
		num, ok := leadingNumber(addr[i+len(g.Road):])
		if g.From == 0 && g.To == 0 {
			return n.Unit(g.Committee)
		}
		if !ok || num < g.From || num > g.To {
			continue
		}
		if (g.Parity == "odd" && num%2 == 0) || (g.Parity == "even" && num%2 == 1) {
			continue
		}
		return n.Unit(g.Committee)
	}
	return Unit{}, false
}

// leadingNumber reads the decimal number at the start of s, skipping a
// leading "第" and ASCII or full-width digits ("１２３号").
func leadingNumber(s string) (int, bool) {
	s = strings.TrimPrefix(s, "第")
	n, digits := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			n = n*10 + int(r-'0')
		case r >= '０' && r <= '９':
			n = n*10 + int(r-'０')
		default:
			return n, digits > 0
		}
		digits++
		if digits > 6 {
			return 0, false
		}
	}
	return n, digits > 0
}

// NetworkStore keeps the network and the catalogue so that every replica
// serves the same ones.
type NetworkStore interface {
	// LoadNetwork returns the stored network. Errors: ENOTFOUND when none
	// was ever saved, EUNAVAILABLE.
	LoadNetwork(ctx context.Context) (*Network, error)
	// SaveNetwork replaces the stored network. Errors: EUNAVAILABLE.
	SaveNetwork(ctx context.Context, n *Network) error
	// LoadCatalogue returns the stored catalogue. Errors: ENOTFOUND, EUNAVAILABLE.
	LoadCatalogue(ctx context.Context) (*Catalogue, error)
	// SaveCatalogue replaces the stored catalogue. Errors: EUNAVAILABLE.
	SaveCatalogue(ctx context.Context, c *Catalogue) error
}
