package grouping

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// draft is a recurring group and the project built from it.
type draft struct {
	p    *hotline.Project
	tids []string // sorted ticket ids (also p.Evidence.TicketIDs)
}

// recurring counts every group that could recur and builds a draft for
// each that does, sorted by category, then most tickets, then first ticket
// id.
func (g *Grouper) recurring(w *window, groups []*group, assign []int32) []*draft {
	// Members of each group with enough tickets, by a counting sort.
	start := make([]int32, len(groups)+1)
	for gi, gr := range groups {
		if int(gr.n) >= g.opts.MinTickets {
			start[gi+1] = gr.n
		}
	}
	for i := range groups {
		start[i+1] += start[i]
	}
	members := make([]int32, start[len(groups)])
	fill := slices.Clone(start[:len(groups)])
	for p, gi := range assign {
		if int(groups[gi].n) >= g.opts.MinTickets {
			members[fill[gi]] = int32(p)
			fill[gi]++
		}
	}

	var out []*draft
	monthWords := (w.months + 63) / 64
	seen := make([]uint64, monthWords)
	var residents []uint64
	for gi, gr := range groups {
		if int(gr.n) < g.opts.MinTickets {
			continue
		}
		ms := members[start[gi]:start[gi+1]]
		clear(seen)
		residents = residents[:0]
		for _, p := range ms {
			r := &g.recs[w.recs[p]]
			m := monthNumber(time.Unix(0, r.created)) - w.base
			seen[m/64] |= 1 << (m % 64)
			if r.resident != 0 {
				residents = append(residents, r.resident)
			}
		}
		nm := 0
		for _, x := range seen {
			nm += bits.OnesCount64(x)
		}
		slices.Sort(residents)
		nr := len(slices.Compact(residents))
		if nm < g.opts.MinMonths && nr < g.opts.MinResidents {
			continue
		}
		out = append(out, g.build(w, gr, ms, nr))
	}
	slices.SortFunc(out, func(a, b *draft) int {
		if c := cmp.Compare(a.p.ServiceCode, b.p.ServiceCode); c != 0 {
			return c
		}
		if c := cmp.Compare(b.p.Evidence.Tickets, a.p.Evidence.Tickets); c != 0 {
			return c
		}
		return cmp.Compare(a.tids[0], b.tids[0])
	})
	return out
}

// build makes the draft of a recurring group with members ms (positions
// in the window) and nr distinct residents.
func (g *Grouper) build(w *window, gr *group, ms []int32, nr int) *draft {
	code := g.catN[gr.cat]
	ev := hotline.Evidence{Tickets: len(ms), Residents: nr}

	// Months, oldest first, every month of the window.
	counts := make([]int, w.months)
	comm := map[uint16]int{}
	var escalated, unresolved, satSum int
	df := map[uint32]int{}
	tids := make([]string, 0, len(ms))
	for _, p := range ms {
		r := &g.recs[w.recs[p]]
		counts[monthNumber(time.Unix(0, r.created))-w.base]++
		if r.comm != 0 {
			comm[r.comm]++
		}
		if r.flags&flagEscalated != 0 {
			escalated++
		}
		if r.flags&flagUnresolved != 0 {
			unresolved++
		}
		if r.sat > 0 {
			satSum += int(r.sat)
			ev.Rated++
		}
		for _, t := range w.words32(int(p)) {
			df[t]++
		}
		tids = append(tids, g.ticketID(r))
	}
	first := time.Date(w.base/12, time.Month(w.base%12+1), 1, 0, 0, 0, 0, shanghai)
	for i, c := range counts {
		ev.Months = append(ev.Months, hotline.MonthCount{Month: first.AddDate(0, i, 0).Format("2006-01"), Count: c})
	}
	for c, n := range comm {
		ev.Committees = append(ev.Committees, hotline.CommitteeCount{Committee: g.comN[c], Count: n})
	}
	slices.SortFunc(ev.Committees, func(a, b hotline.CommitteeCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Committee, b.Committee)
	})
	n := float64(len(ms))
	ev.EscalatedShare = float64(escalated) / n
	ev.UnresolvedShare = float64(unresolved) / n
	if ev.Rated > 0 {
		ev.Satisfaction = float64(satSum) / float64(ev.Rated)
	}
	slices.Sort(tids)
	ev.TicketIDs = tids

	// Keywords: the words at least two tickets share, ranked by how many
	// tickets use them times how rare they are in the window.
	type kw struct {
		t     uint32
		df    int
		score float64
	}
	var kws []kw
	for t, d := range df {
		if d >= 2 {
			kws = append(kws, kw{t, d, float64(d) * float64(w.idf[t])})
		}
	}
	slices.SortFunc(kws, func(a, b kw) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(w.words[a.t], w.words[b.t])
	})
	for _, k := range kws {
		if len(ev.Keywords) == 5 {
			break
		}
		if k.score > 0 {
			ev.Keywords = append(ev.Keywords, w.words[k.t])
		}
	}
	// Words used by at least a quarter of the tickets say who is served.
	var common []string
	for _, k := range kws {
		if k.df*4 >= len(ms) {
			common = append(common, w.words[k.t])
		}
	}

	ev.Examples = g.examplesOf(w, gr, ms)

	p := &hotline.Project{
		Status:            hotline.ProjectDraft,
		Year:              w.to.In(shanghai).Year() + 1,
		ServiceCode:       code,
		Population:        population(code, common),
		OrgKind:           orgKind(code),
		Evidence:          ev,
		CostPerPersonTime: g.opts.CostPerPersonTime,
		GeneratedAt:       w.to,
		Trend:             hotline.TrendNew,
	}
	for _, c := range ev.Committees {
		p.Committees = append(p.Committees, c.Committee)
	}
	p.PersonTimes = personTimes(counts, ev.Tickets)
	p.Budget = math.Round(float64(p.PersonTimes) * g.opts.CostPerPersonTime)
	g.describe(w, p)
	return &draft{p: p, tids: tids}
}

// personTimes estimates next year's person-times from the monthly counts
// of the window (oldest first): the tickets of the last 12 months (a
// shorter window is scaled up to a year), times the trend, the tickets of
// the last 6 months over those of the 6 before, bounded to 0.5×..2× so
// that one busy or quiet half-year cannot swing a budget more than
// that; never less than the window's own tickets. A window shorter than
// 12 months has no trend. Worked example: 10 tickets a month for 6 months
// then 15 a month for 6: 150 × (90/60 = 1.5) = 225 person-times.
func personTimes(counts []int, tickets int) int {
	m := len(counts)
	last := min(12, m)
	var year float64
	for _, c := range counts[m-last:] {
		year += float64(c)
	}
	year = year * 12 / float64(last)
	trend := 1.0
	if m >= 12 {
		var recent, before float64
		for _, c := range counts[m-6:] {
			recent += float64(c)
		}
		for _, c := range counts[m-12 : m-6] {
			before += float64(c)
		}
		switch {
		case before > 0:
			trend = recent / before
		case recent > 0:
			trend = 2
		}
		trend = max(0.5, min(2, trend))
	}
	return max(int(math.Round(year*trend)), tickets)
}

// population guesses the people served from the words a quarter of the
// group's tickets use, then from the category.
func population(code string, common []string) string {
	has := func(subs ...string) bool {
		for _, w := range common {
			for _, s := range subs {
				if strings.Contains(w, s) {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("独居", "alone"):
		return "elderly_alone"
	case has("老人", "老年", "elderly"):
		return "elderly"
	case has("残疾", "轮椅", "disab"):
		return "disabled"
	case has("孩子", "学生", "child"):
		return "children"
	case has("困难", "低保"):
		return "families"
	}
	switch {
	case strings.HasPrefix(code, "elderly_"):
		return "elderly"
	case code == "disability":
		return "disabled"
	case code == "youth":
		return "children"
	}
	return "residents"
}

// orgKind is the kind of organization that runs projects of a category.
func orgKind(code string) string {
	switch code {
	case "legal", "dispute":
		return "legal_aid"
	case "counselling":
		return "social_work"
	case "health":
		return "health"
	case "disability":
		return "disability"
	case "youth":
		return "youth"
	case "home_repair", "facilities", "building_safety", "sanitation":
		return "repair"
	}
	if strings.HasPrefix(code, "elderly_") {
		return "elderly_care"
	}
	return "community"
}

// examplesOf picks up to Options.Examples anonymised descriptions among
// the members whose description Add sampled: the most typical first (the
// highest cosine to the group's centroid), then by ticket id, skipping
// texts already shown.
func (g *Grouper) examplesOf(w *window, gr *group, ms []int32) []string {
	type cand struct {
		sim  float64
		id   string
		text string
	}
	var cs []cand
	for _, p := range ms {
		d := g.ex.descs[w.recs[p]]
		if d == nil {
			continue
		}
		var dot, n2 float64
		for _, t := range w.words32(int(p)) {
			x := float64(w.idf[t])
			n2 += x * x
			if j, ok := slices.BinarySearch(gr.toks, t); ok {
				dot += x * float64(gr.w[j])
			}
		}
		s := 0.0
		if n2 > 0 && gr.norm2 > 0 {
			s = dot / math.Sqrt(n2*gr.norm2)
		}
		cs = append(cs, cand{s, g.ticketID(&g.recs[w.recs[p]]), d.text})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.sim, a.sim); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	var out []string
	for _, c := range cs {
		if len(out) == g.opts.Examples {
			break
		}
		t := truncate(Anonymise(c.text), 120)
		if t != "" && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// truncate shortens s to n runes, marking the cut with "…".
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// describe writes the draft's titles and summaries from the category and
// committee names of the network, the evidence and the keywords.
func (g *Grouper) describe(w *window, p *hotline.Project) {
	var cat hotline.Category
	var net *hotline.Network
	if g.dir != nil {
		cat, _ = g.dir.Catalogue().Find(p.ServiceCode)
		net = g.dir.Network()
	}
	catZH, catEN := cat.Name("zh"), cat.Name("en")
	if catZH == "" {
		catZH, catEN = p.ServiceCode, p.ServiceCode
	}
	ev := &p.Evidence

	var zhNames, enNames []string
	for _, c := range ev.Committees {
		zh, en := c.Committee, c.Committee
		if u, ok := net.Unit(c.Committee); ok {
			zh = strings.TrimSuffix(u.NameZH, "居委会")
			en = shortEN(u.NameEN)
		}
		zhNames = append(zhNames, zh)
		enNames = append(enNames, en)
	}
	var areaZH, areaEN string
	switch n := len(zhNames); {
	case n == 0:
		areaZH, areaEN = "全街道", "across the street"
	case n == 1:
		areaZH, areaEN = zhNames[0]+"片区", "around "+enNames[0]
	case n == 2:
		areaZH, areaEN = zhNames[0]+"、"+zhNames[1]+"片区", "around "+enNames[0]+" and "+enNames[1]
	default:
		areaZH = fmt.Sprintf("%s、%s等%d个片区", zhNames[0], zhNames[1], n)
		areaEN = fmt.Sprintf("around %s, %s and %d more areas", enNames[0], enNames[1], n-2)
	}

	// The two top keywords tell apart drafts of one category and area
	// (corridor lights and lifts are both "public facilities").
	var kwZH, kwEN []string
	for _, k := range ev.Keywords {
		if len(kwZH) < 2 {
			kwZH = append(kwZH, k)
		}
		if len(kwEN) < 2 {
			if gl, ok := glosses[k]; ok {
				kwEN = append(kwEN, gl)
			} else if isASCII(k) {
				kwEN = append(kwEN, k)
			}
		}
	}
	p.TitleZH = areaZH + strings.TrimSuffix(catZH, "服务") + "服务项目"
	if len(kwZH) > 0 {
		p.TitleZH += "：" + strings.Join(kwZH, "、")
	}
	p.TitleZH += fmt.Sprintf("（%d）", p.Year)
	p.TitleEN = catEN + " " + areaEN
	if len(kwEN) > 0 {
		p.TitleEN += ": " + strings.Join(kwEN, ", ")
	}
	p.TitleEN += fmt.Sprintf(" (%d)", p.Year)

	firstM, lastM := ev.Months[0].Month, ev.Months[len(ev.Months)-1].Month
	nm := 0
	for _, m := range ev.Months {
		if m.Count > 0 {
			nm++
		}
	}
	var topZH, topEN []string
	for i, c := range ev.Committees {
		if i == 3 {
			break
		}
		topZH = append(topZH, fmt.Sprintf("%s（%d件）", zhNames[i], c.Count))
		topEN = append(topEN, fmt.Sprintf("%s (%d)", enNames[i], c.Count))
	}
	pct := func(x float64) int { return int(math.Round(x * 100)) }

	var zh strings.Builder
	fmt.Fprintf(&zh, "%s至%s，共有%d件“%s”类诉求反映同一需求，来自%d位居民，分布在%d个月份（共%d个月）。",
		firstM, lastM, ev.Tickets, catZH, ev.Residents, nm, len(ev.Months))
	if len(topZH) > 0 {
		fmt.Fprintf(&zh, "主要集中在%s。", strings.Join(topZH, "、"))
	}
	fmt.Fprintf(&zh, "%d%%的工单曾升级或超时，%d%%尚未解决；", pct(ev.EscalatedShare), pct(ev.UnresolvedShare))
	if ev.Rated > 0 {
		fmt.Fprintf(&zh, "%d件有评价，平均满意度%.1f分（满分5分）。", ev.Rated, ev.Satisfaction)
	} else {
		zh.WriteString("尚无满意度评价。")
	}
	if len(ev.Keywords) > 0 {
		fmt.Fprintf(&zh, "居民常提到：%s。", strings.Join(ev.Keywords, "、"))
	}
	fmt.Fprintf(&zh, "预计明年服务约%d人次，按每人次%.1f元估算预算%.0f元。", p.PersonTimes, p.CostPerPersonTime, p.Budget)
	p.SummaryZH = zh.String()

	var en strings.Builder
	fmt.Fprintf(&en, "From %s to %s, %d “%s” requests about the same need came from %d residents in %d of %d months.",
		firstM, lastM, ev.Tickets, catEN, ev.Residents, nm, len(ev.Months))
	if len(topEN) > 0 {
		fmt.Fprintf(&en, " Most came from %s.", strings.Join(topEN, ", "))
	}
	fmt.Fprintf(&en, " %d%% were escalated or overdue and %d%% are not resolved;", pct(ev.EscalatedShare), pct(ev.UnresolvedShare))
	if ev.Rated > 0 {
		fmt.Fprintf(&en, " %d were rated, %.1f out of 5 on average.", ev.Rated, ev.Satisfaction)
	} else {
		en.WriteString(" none was rated yet.")
	}
	if len(ev.Keywords) > 0 {
		fmt.Fprintf(&en, " Residents often mention: %s.", strings.Join(ev.Keywords, ", "))
	}
	fmt.Fprintf(&en, " Next year: about %d person-times, %.0f yuan at %.1f yuan each.", p.PersonTimes, p.Budget, p.CostPerPersonTime)
	p.SummaryEN = en.String()
}

// shortEN turns "Yejiazhai Road Neighbourhood Committee" into
// "Yejiazhai Rd".
func shortEN(name string) string {
	name = strings.TrimSuffix(name, " Neighbourhood Committee")
	name = strings.TrimSuffix(name, " Neighborhood Committee")
	name = strings.Replace(name, " Road", " Rd", 1)
	return name
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
