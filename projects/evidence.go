package projects

import (
	"cmp"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
)

// shanghai is the street's clock, on which months are counted (as the
// grouping job counts them). China has kept no daylight saving time since
// 1991, so the fixed offset is exact.
var shanghai = time.FixedZone("CST", 8*3600)

const (
	// maxExamples and maxKeywords bound what a merged or split draft
	// shows; exampleRunes is the grouping job's cut of one example.
	maxExamples  = 5
	maxKeywords  = 8
	exampleRunes = 120
)

// combine adds the evidence and estimates of src to dst (Merge).
//
// Tickets and their ids are exact: the union of both lists, a ticket in
// both counted once. Residents are summed and so are an upper bound: the
// drafts keep counts, not who, so a resident who reported in both is
// counted twice. Months and committees are summed per month and per
// committee (a shared ticket, rare, counts twice there too); shares and
// the mean rating are weighted by each side's tickets and ratings.
// Person-times, budget and target are summed: one project now does what
// both planned.
func combine(dst, src *hotline.Project) {
	a, b := &dst.Evidence, src.Evidence
	overlap := 0
	for _, id := range b.TicketIDs {
		if slices.Contains(a.TicketIDs, id) {
			overlap++
		}
	}
	ta, tb := float64(a.Tickets), float64(b.Tickets)
	if ta+tb > 0 {
		a.EscalatedShare = (a.EscalatedShare*ta + b.EscalatedShare*tb) / (ta + tb)
		a.UnresolvedShare = (a.UnresolvedShare*ta + b.UnresolvedShare*tb) / (ta + tb)
	}
	if a.Rated+b.Rated > 0 {
		a.Satisfaction = (a.Satisfaction*float64(a.Rated) + b.Satisfaction*float64(b.Rated)) / float64(a.Rated+b.Rated)
	}
	a.Rated += b.Rated
	a.Tickets += b.Tickets - overlap
	a.Residents += b.Residents
	a.TicketIDs = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a.TicketIDs), b.TicketIDs...))))

	months := map[string]int{}
	for _, m := range append(slices.Clone(a.Months), b.Months...) {
		months[m.Month] += m.Count
	}
	a.Months = a.Months[:0]
	for _, k := range slices.Sorted(maps.Keys(months)) {
		a.Months = append(a.Months, hotline.MonthCount{Month: k, Count: months[k]})
	}
	comms := map[string]int{}
	for _, c := range append(slices.Clone(a.Committees), b.Committees...) {
		comms[c.Committee] += c.Count
	}
	a.Committees = committeeCounts(comms)

	for _, x := range b.Examples {
		if len(a.Examples) < maxExamples && !slices.Contains(a.Examples, x) {
			a.Examples = append(a.Examples, x)
		}
	}
	for _, k := range b.Keywords {
		if len(a.Keywords) < maxKeywords && !slices.Contains(a.Keywords, k) {
			a.Keywords = append(a.Keywords, k)
		}
	}
	dst.Committees = committeeIDs(a.Committees, append(slices.Clone(dst.Committees), src.Committees...))
	dst.PersonTimes += src.PersonTimes
	dst.Budget += src.Budget
	dst.TargetPersonTimes += src.TargetPersonTimes
}

// committeeCounts lists counts most tickets first, then by id.
func committeeCounts(m map[string]int) []hotline.CommitteeCount {
	out := make([]hotline.CommitteeCount, 0, len(m))
	for c, n := range m {
		if c != "" {
			out = append(out, hotline.CommitteeCount{Committee: c, Count: n})
		}
	}
	slices.SortFunc(out, func(a, b hotline.CommitteeCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Committee, b.Committee))
	})
	return out
}

// committeeIDs is the project's committees: those of its evidence, most
// tickets first, then any others it named (kept, not invented).
func committeeIDs(ev []hotline.CommitteeCount, named []string) []string {
	var out []string
	for _, c := range ev {
		out = append(out, c.Committee)
	}
	for _, c := range named {
		if c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// recount builds the evidence of the tickets ids from their need records
// (Split), over the months of orig: tickets, distinct residents, months,
// committees, shares and ratings exactly as the grouping job counts them;
// examples anonymised afresh from the descriptions; the keywords of orig
// that the descriptions still use. A ticket whose record is gone (erased)
// stays in the list and the count but adds nothing else.
func recount(orig hotline.Evidence, ids []string, recs map[string]hotline.NeedRecord) hotline.Evidence {
	ev := hotline.Evidence{Tickets: len(ids), TicketIDs: slices.Sorted(slices.Values(ids))}
	months := map[string]int{}
	for _, m := range orig.Months {
		months[m.Month] = 0
	}
	comms := map[string]int{}
	residents := map[string]bool{}
	var escalated, unresolved, satSum int
	var descs []string
	for _, id := range ev.TicketIDs {
		r, ok := recs[id]
		if !ok {
			continue
		}
		months[r.CreatedAt.In(shanghai).Format("2006-01")]++
		if r.Committee != "" {
			comms[r.Committee]++
		}
		if r.ResidentKey != "" {
			residents[r.ResidentKey] = true
		}
		if r.Escalations > 0 || r.Overdue || r.Tier >= hotline.TierDistrict {
			escalated++
		}
		if r.Status != hotline.StatusResolved && r.Status != hotline.StatusClosed {
			unresolved++
		}
		if r.Satisfaction > 0 {
			satSum += r.Satisfaction
			ev.Rated++
		}
		descs = append(descs, r.Description)
	}
	for _, k := range slices.Sorted(maps.Keys(months)) {
		ev.Months = append(ev.Months, hotline.MonthCount{Month: k, Count: months[k]})
	}
	ev.Committees = committeeCounts(comms)
	ev.Residents = len(residents)
	if ev.Tickets > 0 {
		ev.EscalatedShare = float64(escalated) / float64(ev.Tickets)
		ev.UnresolvedShare = float64(unresolved) / float64(ev.Tickets)
	}
	if ev.Rated > 0 {
		ev.Satisfaction = float64(satSum) / float64(ev.Rated)
	}
	n := min(max(len(orig.Examples), 1), maxExamples)
	for _, d := range descs {
		if len(ev.Examples) == n {
			break
		}
		if x := truncate(grouping.Anonymise(d), exampleRunes); x != "" && !slices.Contains(ev.Examples, x) {
			ev.Examples = append(ev.Examples, x)
		}
	}
	for _, k := range orig.Keywords {
		if slices.ContainsFunc(descs, func(d string) bool { return strings.Contains(d, k) }) {
			ev.Keywords = append(ev.Keywords, k)
		}
	}
	return ev
}

// truncate shortens s to n runes, marking the cut with "…".
func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// share splits a whole amount in the proportion part/whole, rounded; the
// other side gets the rest, so the two always add up to what there was.
func share(amount int, part, whole int) int {
	if whole <= 0 {
		return 0
	}
	return int(math.Round(float64(amount) * float64(part) / float64(whole)))
}
