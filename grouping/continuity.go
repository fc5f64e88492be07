package grouping

import (
	"cmp"
	"slices"
	"sort"

	"github.com/caojiadu/hotline"
)

// Continuity: the drafts of one night are the drafts of the night before,
// updated, not new ones. A recurring group recognises the previous project
// by the tickets they share:
//
//   - it matches the project whose Evidence.TicketIDs overlap its tickets
//     most, provided the overlap is at least a third of the smaller of the
//     two sets. A third, not a half: a need that grew (or lost its old
//     tickets out of the rolling window) is still the same need, while two
//     needs that merely share a few tickets are not; and "of the smaller"
//     lets a small draft that people split off a big one keep its tickets.
//     Example: a draft of 90 tickets and a group of 120 that shares 40 of
//     them: 40 ≥ 90/3 = 30, a match.
//   - a project people merged into another (status merged) counts as the
//     one it was merged into: its tickets are that project's tickets.
//   - each project is matched by at most one group, and each group by at
//     most one project: the pairs with the largest overlap are taken first.
//
// Then a match with a draft (or a retired draft) continues it: same ID,
// Version and CreatedAt, a trend from the ticket counts. A match with a
// proposal, a purchased, rejected or merged project means people own the
// need: the project is Kept and no draft is written. A previous draft that
// no recurring group matches is Retired.

// trendBand is the change in tickets below which a need is steady.
const trendBand = 0.15

func (g *Grouper) continuity(res *Result, drafts []*draft, previous []*hotline.Project) {
	// A project without an id was never stored; it cannot be continued.
	previous = slices.DeleteFunc(slices.Clone(previous), func(p *hotline.Project) bool { return p == nil || p.ID == "" })
	byID := map[string]*hotline.Project{}
	for _, p := range previous {
		byID[p.ID] = p
	}
	// owner follows MergedInto to the project that holds a merged one's
	// tickets; a chain that leaves the list (or loops) stops where it can.
	owner := func(p *hotline.Project) *hotline.Project {
		for range len(previous) {
			if p.Status != hotline.ProjectMerged || p.MergedInto == "" {
				break
			}
			next, ok := byID[p.MergedInto]
			if !ok {
				break
			}
			p = next
		}
		return p
	}

	// (ticket, owner) pairs, sorted and without repeats.
	type pair struct {
		tid   string
		owner string
	}
	var pairs []pair
	for _, p := range previous {
		o := owner(p).ID
		for _, t := range p.Evidence.TicketIDs {
			pairs = append(pairs, pair{t, o})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		if c := cmp.Compare(a.tid, b.tid); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	pairs = slices.Compact(pairs)
	size := map[string]int{}
	for _, p := range pairs {
		size[p.owner]++
	}

	type match struct {
		draft   int
		owner   string
		overlap int
	}
	var matches []match
	overlap := map[string]int{}
	for di, d := range drafts {
		clear(overlap)
		for _, t := range d.tids {
			i := sort.Search(len(pairs), func(i int) bool { return pairs[i].tid >= t })
			for ; i < len(pairs) && pairs[i].tid == t; i++ {
				overlap[pairs[i].owner]++
			}
		}
		for o, n := range overlap {
			if 3*n >= min(len(d.tids), size[o]) {
				matches = append(matches, match{di, o, n})
			}
		}
	}
	slices.SortFunc(matches, func(a, b match) int {
		if c := cmp.Compare(b.overlap, a.overlap); c != 0 {
			return c
		}
		if c := cmp.Compare(a.draft, b.draft); c != 0 {
			return c
		}
		return cmp.Compare(a.owner, b.owner)
	})
	matchedBy := map[string]int{} // owner → draft
	ownerOf := make([]string, len(drafts))
	for _, m := range matches {
		if ownerOf[m.draft] != "" {
			continue
		}
		if _, taken := matchedBy[m.owner]; taken {
			continue
		}
		ownerOf[m.draft] = m.owner
		matchedBy[m.owner] = m.draft
	}

	for di, d := range drafts {
		o := ownerOf[di]
		if o == "" {
			res.Drafts = append(res.Drafts, d.p)
			continue
		}
		prev := byID[o]
		switch prev.Status {
		case hotline.ProjectDraft, hotline.ProjectRetired:
			p := d.p
			p.ID, p.Version, p.CreatedAt = prev.ID, prev.Version, prev.CreatedAt
			p.MergedFrom, p.SplitFrom = prev.MergedFrom, prev.SplitFrom
			p.PreviousTickets = prev.Evidence.Tickets
			p.Trend = trend(prev.Evidence.Tickets, p.Evidence.Tickets)
			res.Drafts = append(res.Drafts, p)
		default:
			res.Kept = append(res.Kept, prev.ID)
		}
	}
	for _, p := range previous {
		if p.Status != hotline.ProjectDraft {
			continue
		}
		if _, ok := matchedBy[p.ID]; !ok {
			res.Retired = append(res.Retired, p.ID)
		}
	}
	slices.Sort(res.Kept)
	res.Kept = slices.Compact(res.Kept)
	slices.Sort(res.Retired)
	res.Retired = slices.Compact(res.Retired)
}

// trend compares a group's tickets now with the previous run's.
func trend(before, now int) hotline.Trend {
	if before <= 0 {
		if now > 0 {
			return hotline.TrendGrowing
		}
		return hotline.TrendSteady
	}
	change := float64(now-before) / float64(before)
	switch {
	case change > trendBand:
		return hotline.TrendGrowing
	case change < -trendBand:
		return hotline.TrendShrinking
	}
	return hotline.TrendSteady
}
