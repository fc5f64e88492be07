// Package report writes the needs projects (hotline.Project) as the
// documents the street files and shares: a workbook (XLSX) and a Markdown
// text of one proposal, and of a year's projects.
//
// Every document is Chinese first with the English beside it, and holds
// nothing personal of a resident: counts, shares, committees, keywords and
// the anonymised examples of the evidence (grouping took names, numbers
// and door numbers out of them), never a ticket's contact or address, and
// not the ticket ids either, since these documents leave the hotline (to
// the street's purchasing, to tendering organizations) where a ticket id
// is of no use and one more thing to guard.
package report

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/caojiadu/hotline"
)

// names looks up the names of the codes a project carries. Its directory
// may be nil: every name is then the code itself.
type names struct{ dir hotline.Directory }

func (n names) network() *hotline.Network {
	if n.dir == nil {
		return nil
	}
	return n.dir.Network()
}

// unit is the unit's name in lang, or id itself when it is not a unit
// (a committee since removed, an organization entered by name).
func (n names) unit(id, lang string) string {
	if nw := n.network(); nw != nil {
		if u, ok := nw.Unit(id); ok {
			if s := u.Name(lang); s != "" {
				return s
			}
		}
	}
	return id
}

// unitBi is the unit's Chinese and English names, "长寿居委会 / Changshou
// Committee".
func (n names) unitBi(id string) string { return bi(n.unit(id, "zh"), n.unit(id, "en")) }

func (n names) category(code, lang string) string {
	if n.dir != nil {
		if c, ok := n.dir.Catalogue().Find(code); ok {
			if s := c.Name(lang); s != "" {
				return s
			}
		}
	}
	return code
}

func (n names) categoryBi(code string) string {
	return bi(n.category(code, "zh"), n.category(code, "en"))
}

// committees are the Chinese names of ids, joined as Chinese lists are.
func (n names) committees(ids []string) string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, n.unit(id, "zh"))
	}
	return strings.Join(out, "、")
}

// organization is who runs (or is to run) the project: the purchase's
// organization once bought, else the proposal's.
func organization(p *hotline.Project) string {
	if p.Purchase != nil && p.Purchase.Organization != "" {
		return p.Purchase.Organization
	}
	return p.Organization
}

// targetPersonTimes is the purchase's target once bought, else the
// proposal's.
func targetPersonTimes(p *hotline.Project) int {
	if p.Purchase != nil && p.Purchase.TargetPersonTimes > 0 {
		return p.Purchase.TargetPersonTimes
	}
	return p.TargetPersonTimes
}

// budget is what was bought once bought, else the proposal's figure.
func budget(p *hotline.Project) float64 {
	if p.Purchase != nil && p.Purchase.Budget > 0 {
		return p.Purchase.Budget
	}
	return p.Budget
}

// bi joins a Chinese and an English text, or gives the one there is.
func bi(zh, en string) string {
	switch {
	case zh == "" || zh == en:
		return en
	case en == "":
		return zh
	}
	return zh + " / " + en
}

var statusNames = map[hotline.ProjectStatus][2]string{
	hotline.ProjectDraft:     {"草案", "Draft"},
	hotline.ProjectProposal:  {"提案", "Proposal"},
	hotline.ProjectPurchased: {"已购买", "Purchased"},
	hotline.ProjectRejected:  {"已退回", "Rejected"},
	hotline.ProjectMerged:    {"已合并", "Merged"},
	hotline.ProjectRetired:   {"已失效", "Retired"},
}

// StatusName is a status in Chinese and English, "提案 / Proposal".
func StatusName(s hotline.ProjectStatus) string {
	if n, ok := statusNames[s]; ok {
		return bi(n[0], n[1])
	}
	return string(s)
}

var trendNames = map[hotline.Trend][2]string{
	hotline.TrendNew:       {"新", "New"},
	hotline.TrendGrowing:   {"增长", "Growing"},
	hotline.TrendSteady:    {"持平", "Steady"},
	hotline.TrendShrinking: {"减少", "Shrinking"},
}

// TrendName is a trend in Chinese and English, "" for none.
func TrendName(t hotline.Trend) string {
	if n, ok := trendNames[t]; ok {
		return bi(n[0], n[1])
	}
	return string(t)
}

func termBi(terms []hotline.ProjectTerm, code string) string {
	if code == "" {
		return ""
	}
	return bi(hotline.TermName(terms, code, "zh"), hotline.TermName(terms, code, "en"))
}

// months is every month any of ps counts, oldest first.
func months(ps []*hotline.Project) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ps {
		for _, m := range p.Evidence.Months {
			if !seen[m.Month] {
				seen[m.Month] = true
				out = append(out, m.Month)
			}
		}
	}
	slices.Sort(out)
	return out
}

// monthCounts is p's tickets by month.
func monthCounts(p *hotline.Project) map[string]int {
	out := make(map[string]int, len(p.Evidence.Months))
	for _, m := range p.Evidence.Months {
		out[m.Month] += m.Count
	}
	return out
}

// totals sums the year's figures. Residents are summed too: one resident
// may stand behind two projects' needs, which the total does not know.
type totals struct {
	tickets, residents, personTimes, target int
	budget                                  float64
}

func sum(ps []*hotline.Project) totals {
	var t totals
	for _, p := range ps {
		t.tickets += p.Evidence.Tickets
		t.residents += p.Evidence.Residents
		t.personTimes += p.PersonTimes
		t.target += targetPersonTimes(p)
		t.budget += budget(p)
	}
	return t
}

// spent sums a purchase's expenses.
func spent(pu *hotline.Purchase) float64 {
	var s float64
	for _, e := range pu.Expenses {
		s += e.Amount
	}
	return s
}

// yuan writes an amount with thousands separators and the fen only when
// there are any: 12345 → "12,345", 99.5 → "99.50".
func yuan(f float64) string {
	neg := f < 0
	f = math.Abs(f)
	cents := int64(math.Round(f * 100))
	whole, frac := cents/100, cents%100
	s := strconv.FormatInt(whole, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if frac != 0 {
		b.WriteByte('.')
		if frac < 10 {
			b.WriteByte('0')
		}
		b.WriteString(strconv.FormatInt(frac, 10))
	}
	return b.String()
}

// percent writes a share 0..1 as a whole percentage, "37%".
func percent(f float64) string {
	return strconv.FormatFloat(math.Round(f*100), 'f', 0, 64) + "%"
}

// satisfaction writes a mean rating, "4.2 / 5（12 人评价 rated）", or a
// dash when nobody rated.
func satisfaction(mean float64, rated int) string {
	if rated == 0 || mean == 0 {
		return "—"
	}
	return strconv.FormatFloat(mean, 'f', 1, 64) + " / 5（" + strconv.Itoa(rated) + " 人评价 rated）"
}

// ordered returns ps by status in lifecycle order, then by tickets, most
// first, then by id: drafts and proposals before what was set aside.
func ordered(ps []*hotline.Project) []*hotline.Project {
	out := slices.Clone(ps)
	rank := func(s hotline.ProjectStatus) int {
		if i := slices.Index(hotline.ProjectStatuses, s); i >= 0 {
			return i
		}
		return len(hotline.ProjectStatuses)
	}
	slices.SortStableFunc(out, func(a, b *hotline.Project) int {
		return cmp.Or(cmp.Compare(rank(a.Status), rank(b.Status)),
			cmp.Compare(b.Evidence.Tickets, a.Evidence.Tickets),
			cmp.Compare(len(a.ID), len(b.ID)), cmp.Compare(a.ID, b.ID))
	})
	return out
}
