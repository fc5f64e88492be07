package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/caojiadu/hotline"
)

// Categories per kind of unit. Committees discover needs and mediate; the
// work itself (meals, repairs) is done by volunteer groups and organizations.
var committeeCategories = []string{"elderly_visit", "dispute", "sanitation", "facilities", "policy", "other"}

type committee struct {
	id, zh, en string
	road       string // the road of the office
	parity     string // the side of the road the office is on, "" for either
}

var committees = []committee{
	{"c01", "叶家宅路居委会", "Yejiazhai Road Neighbourhood Committee", "叶家宅路", ""},
	{"c02", "宜昌路居委会", "Yichang Road Neighbourhood Committee", "宜昌路", ""},
	{"c03", "昌化路居委会", "Changhua Road Neighbourhood Committee", "昌化路", ""},
	{"c04", "西康路居委会", "Xikang Road Neighbourhood Committee", "西康路", ""},
	{"c05", "武宁路居委会", "Wuning Road Neighbourhood Committee", "武宁路", ""},
	{"c06", "万航渡路居委会", "Wanhangdu Road Neighbourhood Committee", "万航渡路", ""},
	{"c07", "长寿路居委会", "Changshou Road Neighbourhood Committee", "长寿路", "even"},
	{"c08", "胶州路居委会", "Jiaozhou Road Neighbourhood Committee", "胶州路", ""},
	{"c09", "江宁路居委会", "Jiangning Road Neighbourhood Committee", "江宁路", "even"},
	{"c10", "长宁支路居委会", "Changning Branch Road Neighbourhood Committee", "长宁支路", ""},
	{"c11", "余姚路居委会", "Yuyao Road Neighbourhood Committee", "余姚路", "even"},
	{"c12", "康定路居委会", "Kangding Road Neighbourhood Committee", "康定路", ""},
	{"c13", "三和花园居委会", "Sanhe Garden Neighbourhood Committee", "胶州路", ""},
	{"c14", "锦绣里居委会", "Jinxiuli Neighbourhood Committee", "西康路", ""},
}

type group struct {
	id, zh, en string
	categories []string
	capacity   int
	hours      string
}

// groups lists the volunteer groups by committee; the committees left out
// have none, so their repairs and meals go up to the street's organizations.
var groups = map[string][]group{
	"c01": {{"c01-meals", "叶家宅路助餐志愿队", "Yejiazhai Road meal delivery volunteers", []string{"elderly_meals"}, 8, "mon-fri 10:30-12:30"}},
	"c02": {{"c02-repairs", "宜昌路义务维修队", "Yichang Road volunteer repair team", []string{"home_repair"}, 5, "sat-sun 09:00-16:00"}},
	"c05": {
		{"c05-meals", "武宁路助餐志愿队", "Wuning Road meal delivery volunteers", []string{"elderly_meals"}, 10, "mon-sun 10:30-12:30"},
		{"c05-visits", "武宁路老伙伴探访队", "Wuning Road old-companions visiting team", []string{"elderly_visit"}, 12, ""},
	},
	"c07": {
		{"c07-repairs", "长寿路义务维修队", "Changshou Road volunteer repair team", []string{"home_repair"}, 6, "mon-sat 09:00-17:00"},
		{"c07-visits", "长寿路睦邻探访队", "Changshou Road neighbourly visiting team", []string{"elderly_visit"}, 10, ""},
	},
	"c09": {{"c09-meals", "江宁路助餐志愿队", "Jiangning Road meal delivery volunteers", []string{"elderly_meals"}, 6, "mon-fri 10:30-12:30"}},
	"c11": {{"c11-visits", "余姚路老伙伴探访队", "Yuyao Road old-companions visiting team", []string{"elderly_visit"}, 8, ""}},
	"c12": {
		{"c12-meals", "康定路助餐志愿队", "Kangding Road meal delivery volunteers", []string{"elderly_meals"}, 8, "mon-fri 10:30-12:30"},
		{"c12-repairs", "康定路义务维修队", "Kangding Road volunteer repair team", []string{"home_repair"}, 4, "sat 09:00-12:00"},
	},
	"c14": {{"c14-visits", "锦绣里探访志愿队", "Jinxiuli visiting volunteers", []string{"elderly_visit", "elderly_meals"}, 6, ""}},
}

type org struct {
	id, zh, en   string
	categories   []string
	capacity     int
	hours        string
	in           string // committee whose area holds the office
	road, parity string
}

var orgs = []org{
	{"org-elderly", "乐龄为老服务社", "Leling Elderly Care Services", []string{"elderly_meals", "elderly_visit"}, 40, "mon-sun 08:00-18:00", "c12", "余姚路", "even"},
	{"org-counsel", "心晴心理咨询服务中心", "Xinqing Psychological Counselling Centre", []string{"counselling"}, 15, "mon-sat 09:00-17:00", "c13", "康定路", ""},
	{"org-legal", "启明法律服务社", "Qiming Legal Advice Service", []string{"legal"}, 20, "mon-fri 09:00-17:00", "c07", "昌化路", ""},
	{"org-disability", "阳光助残服务社", "Sunshine Disability Services", []string{"disability"}, 20, "mon-fri 08:30-17:00", "c05", "余姚路", "odd"},
	{"org-youth", "青苗社会工作服务社", "Qingmiao Social Work Agency", []string{"youth"}, 15, "mon-fri 13:00-21:00; sat 09:00-17:00", "c03", "宜昌路", ""},
	{"org-repair", "邻里帮居家维修社", "Linlibang Home Repair (social enterprise)", []string{"home_repair"}, 30, "mon-sat 08:00-18:00", "c08", "长寿路", "even"},
}

// phone numbers in the demo are deliberately unallocated (a Shanghai local
// number never starts with 0) so that a demo run cannot text a stranger.
func phone(n int) string { return fmt.Sprintf("021-0000%04d", n) }

func demoUnits(areas map[string]hotline.Polygon) []hotline.Unit {
	const officeHours = "mon-fri 08:30-17:00"
	us := []hotline.Unit{
		{ID: "jingan", Kind: hotline.KindDistrict, NameZH: "静安区", NameEN: "Jing'an District",
			Lat: 31.2286, Long: 121.4480, Address: "静安区（演示地址）", Phone: phone(1)},
		{ID: "jingan-civil", Kind: hotline.KindDistrict, ParentID: "jingan", NameZH: "静安区民政局", NameEN: "Jing'an District Civil Affairs Bureau",
			Lat: 31.2291, Long: 121.4486, Categories: []string{"policy"}, Hours: "mon-fri 09:00-17:00", Phone: phone(2), Address: "静安区（演示地址）"},
		{ID: "jingan-housing", Kind: hotline.KindDistrict, ParentID: "jingan", NameZH: "静安区房屋管理局", NameEN: "Jing'an District Housing Administration",
			Lat: 31.2279, Long: 121.4471, Categories: []string{"building_safety", "facilities"}, Hours: "mon-fri 09:00-17:00", Phone: phone(3), Address: "静安区（演示地址）"},
		{ID: "jingan-justice", Kind: hotline.KindDistrict, ParentID: "jingan", NameZH: "静安区司法局", NameEN: "Jing'an District Justice Bureau",
			Lat: 31.2295, Long: 121.4469, Categories: []string{"dispute"}, Hours: "mon-fri 09:00-17:00", Phone: phone(4), Address: "静安区（演示地址）"},
		{ID: "jingan-health", Kind: hotline.KindDistrict, ParentID: "jingan", NameZH: "静安区卫生健康委员会", NameEN: "Jing'an District Health Commission",
			Lat: 31.2283, Long: 121.4492, Categories: []string{"health"}, Hours: "mon-fri 09:00-17:00", Phone: phone(5), Address: "静安区（演示地址）"},
	}
	center := officeOn(areas, "c06", "长寿路", "even")
	us = append(us, hotline.Unit{ID: "center", Kind: hotline.KindServiceCenter, ParentID: "jingan",
		NameZH: "曹家渡街道社区生活服务中心", NameEN: "Caojiadu Community Life Service Centre",
		Lat: round(center.at.y), Long: round(center.at.x), Categories: []string{"policy", "other", "callback"},
		Phone: phone(10), Address: fmt.Sprintf("%s%d号", center.road, center.number), Capacity: 0, Hours: "mon-sun 08:00-20:00"})
	for i, o := range orgs {
		h := officeOn(areas, o.in, o.road, o.parity)
		us = append(us, hotline.Unit{ID: o.id, Kind: hotline.KindOrganization, ParentID: "center",
			NameZH: o.zh, NameEN: o.en, Lat: round(h.at.y), Long: round(h.at.x), Categories: o.categories,
			Phone: phone(20 + i), Address: fmt.Sprintf("%s%d号", h.road, h.number), Capacity: o.capacity, Hours: o.hours})
	}
	for i, c := range committees {
		h := officeOn(areas, c.id, c.road, c.parity)
		addr := fmt.Sprintf("%s%d号", h.road, h.number)
		us = append(us, hotline.Unit{ID: c.id, Kind: hotline.KindCommittee, ParentID: "center",
			NameZH: c.zh, NameEN: c.en, Lat: round(h.at.y), Long: round(h.at.x), Categories: committeeCategories,
			Phone: phone(101 + i), Address: addr, Capacity: 30, Hours: officeHours})
		for j, g := range groups[c.id] {
			// A group meets at its committee's office; nudge the point
			// east so that a map shows both.
			us = append(us, hotline.Unit{ID: g.id, Kind: hotline.KindVolunteerGroup, ParentID: c.id,
				NameZH: g.zh, NameEN: g.en, Lat: round(h.at.y), Long: round(h.at.x + 0.0001*float64(j+1)),
				Categories: g.categories, Address: addr, Capacity: g.capacity, Hours: g.hours})
		}
	}
	for i := range us {
		us[i].Tier = us[i].Kind.Tier()
	}
	return us
}

func tomlList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func writeUnitsTOML(path string, us []hotline.Unit) error {
	var b strings.Builder
	b.WriteString(`# The demo street's service network: one [[unit]] table per unit.
# Generated by internal/demogen together with areas.geojson and
# gazetteer.csv; see README.md for every key. Names, addresses and phone
# numbers are invented (phone numbers are deliberately unallocated).
`)
	section := ""
	for _, u := range us {
		s := map[hotline.UnitKind]string{
			hotline.KindDistrict:       "Tier 3: the district and its departments",
			hotline.KindServiceCenter:  "Tier 2: the street's service centre and the organizations it contracts",
			hotline.KindOrganization:   "Tier 2: the street's service centre and the organizations it contracts",
			hotline.KindCommittee:      "Tier 1: neighbourhood committees and their volunteer groups",
			hotline.KindVolunteerGroup: "Tier 1: neighbourhood committees and their volunteer groups",
		}[u.Kind]
		if s != section {
			fmt.Fprintf(&b, "\n# %s\n", s)
			section = s
		}
		fmt.Fprintf(&b, "\n[[unit]]\nid = %q\nkind = %q\ntier = %d\nname_zh = %q\nname_en = %q\n", u.ID, u.Kind, u.Tier, u.NameZH, u.NameEN)
		if u.ParentID != "" {
			fmt.Fprintf(&b, "parent = %q\n", u.ParentID)
		}
		fmt.Fprintf(&b, "lat = %s\nlong = %s\n", strconv.FormatFloat(u.Lat, 'f', -1, 64), strconv.FormatFloat(u.Long, 'f', -1, 64))
		if len(u.Categories) > 0 {
			fmt.Fprintf(&b, "categories = %s\n", tomlList(u.Categories))
		}
		if u.Phone != "" {
			fmt.Fprintf(&b, "phone = %q\n", u.Phone)
		}
		if u.Address != "" {
			fmt.Fprintf(&b, "address = %q\n", u.Address)
		}
		if u.Capacity != 0 {
			fmt.Fprintf(&b, "capacity = %d\n", u.Capacity)
		}
		if u.Hours != "" {
			fmt.Fprintf(&b, "hours = %q\n", u.Hours)
		}
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func writeUnitsCSV(path string, us []hotline.Unit) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	fmt.Fprintln(f, "# The same network as units.toml, for editing in a spreadsheet. See README.md.")
	w := csv.NewWriter(f)
	w.Write([]string{"id", "kind", "tier", "name_zh", "name_en", "parent", "lat", "long", "categories", "phone", "address", "capacity", "hours"})
	for _, u := range us {
		capacity := ""
		if u.Capacity != 0 {
			capacity = strconv.Itoa(u.Capacity)
		}
		w.Write([]string{u.ID, string(u.Kind), strconv.Itoa(int(u.Tier)), u.NameZH, u.NameEN, u.ParentID,
			strconv.FormatFloat(u.Lat, 'f', -1, 64), strconv.FormatFloat(u.Long, 'f', -1, 64),
			strings.Join(u.Categories, ";"), u.Phone, u.Address, capacity, u.Hours})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
