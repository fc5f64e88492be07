package grouping

import (
	"cmp"
	"math"
	"slices"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// Result is what one run of the grouping found.
type Result struct {
	// Tickets are the records of the window that were grouped (merged
	// duplicates and missed calls are never kept); Groups the groups they
	// form, singletons included; Recurring the groups that recur, whether
	// they became drafts or matched a project people own.
	Tickets, Groups, Recurring int
	// Drafts: one per recurring group not owned by a non-draft project. A
	// draft continuing a previous draft or retired project carries that
	// project's ID, Version, CreatedAt, with Trend set by comparing
	// Evidence.Tickets with the previous one (growing > +15%, shrinking <
	// -15%, else steady) and PreviousTickets; a new one has ID "" and
	// Trend new. Sorted by category, then most tickets first.
	Drafts []*hotline.Project
	// Kept are the ids of proposals/purchased/rejected/merged projects that
	// a recurring group matched: the job leaves them alone (people own
	// them) and writes no duplicate draft. Sorted.
	Kept []string
	// Retired are the ids of previous drafts (status draft) that no
	// recurring group continues. Sorted.
	Retired []string
}

// window is the records of one Result call, with their words renumbered
// in word order so that nothing depends on the order of Add.
type window struct {
	from, to time.Time
	base     int      // monthNumber(from)
	months   int      // months in the window, the first and last partial ones included
	recs     []int32  // indexes into Grouper.recs
	toks     []uint32 // words of recs[i] are toks[off[i]:off[i+1]], sorted
	off      []uint32
	words    []string        // canonical word id → word
	idf      []float32       // canonical word id → inverse document frequency
	keywords map[uint64]bool // category<<32 | word: the category's catalogue keywords
}

// keywordBoost multiplies the weight of a word that is one of the
// catalogue keywords of the ticket's category (楼道灯 and 电梯 for public
// facilities): the street has said that such words are what this kind of
// need is about, while the other words of a description are mostly its
// circumstances (late at night, my mother, for a week).
const keywordBoost = 2

// weight is the weight of word t in a record of category cat: its idf,
// boosted if it is a keyword of the category.
func (w *window) weight(cat uint16, t uint32) float32 {
	x := w.idf[t]
	if w.keywords[uint64(cat)<<32|uint64(t)] {
		x *= keywordBoost
	}
	return x
}

// group is a cluster of records of one category.
type group struct {
	cat   uint16
	n     int32
	toks  []uint32  // centroid words, sorted
	w     []float32 // centroid weights: the sum of members' unit vectors
	head  []bool    // head[j]: the group is in the index under toks[j]
	norm2 float64   // squared length of the centroid
	// tail2 is the squared length of the centroid's words outside the
	// head; it stays below (Similarity/2)² × norm2 (see cluster).
	tail2 float64
	comms []uint16 // committees of the members, sorted, without 0
}

// Result clusters the records created in [from, to) and builds a draft per
// recurring group, matched to the previous projects (every status) for
// continuity. It does not change what the grouper holds: it may be called
// again, after more Adds or for another window.
func (g *Grouper) Result(from, to time.Time, previous []*hotline.Project) Result {
	g.sync()
	w := g.window(from, to)
	groups, assign := g.cluster(w)
	res := Result{Tickets: len(w.recs), Groups: len(groups)}
	built := g.recurring(w, groups, assign)
	res.Recurring = len(built)
	g.continuity(&res, built, previous)
	return res
}

// window selects the records created in [from, to) and renumbers their
// words in word order, counting how many records use each word.
func (g *Grouper) window(from, to time.Time) *window {
	w := &window{from: from, to: to, base: monthNumber(from)}
	w.months = monthNumber(to.Add(-time.Nanosecond)) - w.base + 1
	if w.months < 1 {
		w.months = 1
	}
	lo, hi := from.UnixNano(), to.UnixNano()
	for i := range g.recs {
		if c := g.recs[i].created; c >= lo && c < hi {
			w.recs = append(w.recs, int32(i))
		}
	}

	// Canonical word ids: the rank of the word among all the words seen.
	order := make([]uint32, len(g.vocab))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return cmp.Compare(g.vocab[a], g.vocab[b]) })
	rank := make([]uint32, len(g.vocab))
	w.words = make([]string, len(g.vocab))
	for r, id := range order {
		rank[id] = uint32(r)
		w.words[r] = g.vocab[id]
	}

	df := make([]int32, len(g.vocab))
	w.off = make([]uint32, 1, len(w.recs)+1)
	w.toks = make([]uint32, 0, len(g.toks))
	for _, ri := range w.recs {
		r := &g.recs[ri]
		start := len(w.toks)
		for _, t := range g.toks[r.tokOff : r.tokOff+uint32(r.tokLen)] {
			c := rank[t]
			w.toks = append(w.toks, c)
			df[c]++
		}
		slices.Sort(w.toks[start:])
		w.off = append(w.off, uint32(len(w.toks)))
	}
	w.keywords = map[uint64]bool{}
	if g.dir != nil {
		cat := g.dir.Catalogue()
		for ci, code := range g.catN {
			c, ok := cat.Find(code)
			if !ok {
				continue
			}
			for _, k := range c.Keywords {
				for _, word := range Tokens(k) {
					if utf8.RuneCountInString(word) < 2 {
						continue // 坏 of 灯坏了 is too general to name a need
					}
					if t, ok := slices.BinarySearch(w.words, word); ok {
						w.keywords[uint64(ci)<<32|uint64(t)] = true
					}
				}
			}
		}
	}
	// idf = 1 + ln((1+N)/(1+df)), the smoothed form: a word in a single
	// record of a million weighs about 14, one in every record 1, not 0,
	// so that a small window where every ticket says 电梯 still groups
	// them by it.
	w.idf = make([]float32, len(df))
	n := float64(len(w.recs))
	for t, d := range df {
		if d > 0 {
			w.idf[t] = float32(1 + math.Log((1+n)/(1+float64(d))))
		}
	}
	return w
}

func (w *window) words32(i int) []uint32 { return w.toks[w.off[i]:w.off[i+1]] }

// cluster runs leader clustering per category, then merges the groups
// of the category whose centroids are alike. It returns the groups and
// each window record's group.
//
// Records are visited in CreatedAt order, then ticket id, so the result
// does not depend on the order they were added. A record's vector has a
// weight for each of its words (a word counts once; see weights), scaled
// to length 1. The record joins the group whose centroid (the sum of its
// members' vectors) is most similar by cosine, if that similarity reaches
// Options.Similarity and the group's committees include the record's own
// committee or a neighbour of it (a record without a committee, or a
// group of records without one, is matched on the words alone); otherwise
// it starts a group. Ties go to the older group.
//
// Single-pass clustering depends on order: the first tickets of a need
// may start a few groups before any centroid has seen all the ways the
// need is told. So a second pass treats the category's groups as records,
// biggest first: a group whose centroid is similar enough to the centroid
// of a bigger one (same threshold, neighbouring committees) is merged into
// it, and the merged centroid is what the next groups are compared with.
//
// Only groups sharing a word with the record are compared, found through
// an index word → groups, and not every shared word counts. Let s be the
// threshold. The record's words, heaviest first, are cut into a prefix
// and a rest whose length (as a vector) is under s/2; a group's centroid
// words into a head and a tail whose length is under s/2 of the
// centroid's. The index lists a group under its head words only, and only
// the record's prefix words are looked up. A group not found that way
// shares with the record no word that is both in the prefix and in its
// head, so by Cauchy–Schwarz (both vectors of length 1) its cosine is at
// most |prefix|·|tail| + |rest|·|centroid| < 1·s/2 + s/2·1 = s: it could
// not have qualified. The search is exact, and it skips the many rare
// words a big group collects from single tickets (its tail) and the
// common words of a record (its rest), whose index lists would be long.
// A group's head only grows: when a ticket makes the tail too long, the
// tail words it touched join the head, heaviest first.
func (g *Grouper) cluster(w *window) ([]*group, []int32) {
	c := &clusterer{
		exhaustive: g.exhaustive,
		g:          g,
		w:          w,
		sim:        g.opts.Similarity,
		neighbours: g.neighbours(),
		postings:   make([][]int32, len(w.words)),
	}

	// Records in category order (by code), then time, then ticket id.
	pos := make([]int32, len(w.recs))
	for i := range pos {
		pos[i] = int32(i)
	}
	catRank := make([]int, len(g.catN))
	{
		o := make([]int, len(g.catN))
		for i := range o {
			o[i] = i
		}
		sort.Slice(o, func(a, b int) bool { return g.catN[o[a]] < g.catN[o[b]] })
		for r, c := range o {
			catRank[c] = r
		}
	}
	slices.SortFunc(pos, func(a, b int32) int {
		ra, rb := &g.recs[w.recs[a]], &g.recs[w.recs[b]]
		if c := cmp.Compare(catRank[ra.cat], catRank[rb.cat]); c != 0 {
			return c
		}
		if c := cmp.Compare(ra.created, rb.created); c != 0 {
			return c
		}
		return cmp.Compare(g.ticketID(ra), g.ticketID(rb))
	})

	c.assign = make([]int32, len(w.recs))
	for i := 0; i < len(pos); {
		j := i
		for j < len(pos) && g.recs[w.recs[pos[j]]].cat == g.recs[w.recs[pos[i]]].cat {
			j++
		}
		first := len(c.groups)
		for _, p := range pos[i:j] {
			c.record(p)
		}
		c.reset()
		c.merge(first)
		c.reset()
		i = j
	}

	// Number the surviving groups in order and point every record at its
	// group's survivor.
	final := make([]int32, len(c.groups))
	var out []*group
	for gi, gr := range c.groups {
		if c.into[gi] < 0 {
			final[gi] = int32(len(out))
			out = append(out, gr)
		}
	}
	for gi := range c.groups {
		r := int32(gi)
		for c.into[r] >= 0 {
			r = c.into[r]
		}
		final[gi] = final[r]
	}
	for p, gi := range c.assign {
		c.assign[p] = final[gi]
	}
	return out, c.assign
}

// clusterer is the state of one clustering.
type clusterer struct {
	g          *Grouper
	w          *window
	sim        float64
	neighbours [][]uint64

	// exhaustive compares every record with every live group of its
	// category instead of searching the index: the same result, slowly;
	// the tests use it to check the search misses nothing.
	exhaustive bool
	live       []int32 // groups with words open to records now

	groups []*group
	into   []int32 // into[g] is the group g was merged into, -1 if none
	assign []int32 // window position → group

	postings [][]int32 // word → groups holding it (this category)
	touched  []uint32  // words with postings
	stamp    []int32   // stamp[g] = the visit that last saw group g
	visit    int32
	cands    []int32
	vec      []tw
	pending  []tw
	suffix   []float64
}

// tw is a word and its weight in a unit vector.
type tw struct {
	t uint32
	u float32
}

func (c *clusterer) reset() {
	c.live = c.live[:0]
	for _, t := range c.touched {
		c.postings[t] = c.postings[t][:0]
	}
	c.touched = c.touched[:0]
}

func (c *clusterer) newGroup(cat uint16) int32 {
	gi := int32(len(c.groups))
	c.groups = append(c.groups, &group{cat: cat})
	c.into = append(c.into, -1)
	c.stamp = append(c.stamp, -1)
	return gi
}

// unit scales c.vec to length 1 and sorts it heaviest first; it reports
// false for a vector of length 0.
func (c *clusterer) unit() bool {
	var n2 float64
	for _, x := range c.vec {
		n2 += float64(x.u) * float64(x.u)
	}
	if n2 == 0 {
		return false
	}
	norm := math.Sqrt(n2)
	for i := range c.vec {
		c.vec[i].u = float32(float64(c.vec[i].u) / norm)
	}
	slices.SortFunc(c.vec, heavierFirst)
	return true
}

// budget is (s/2)², the most a rest or a tail may weigh (squared, as a
// share of its vector), a hair under so that rounding cannot break the
// bound.
func (c *clusterer) budget() float64 { return c.sim * c.sim / 4 * (1 - 1e-6) }

// candidates collects the groups indexed under a word of the prefix of
// c.vec (see cluster), each once.
func (c *clusterer) candidates() []int32 {
	c.suffix = c.suffix[:0]
	for range len(c.vec) + 1 {
		c.suffix = append(c.suffix, 0)
	}
	for i := len(c.vec) - 1; i >= 0; i-- {
		c.suffix[i] = c.suffix[i+1] + float64(c.vec[i].u)*float64(c.vec[i].u)
	}
	limit := c.budget()
	prefix := 0
	for prefix < len(c.vec) && c.suffix[prefix] >= limit {
		prefix++
	}
	c.visit++
	c.cands = c.cands[:0]
	if c.exhaustive {
		return append(c.cands, c.live...)
	}
	for _, x := range c.vec[:prefix] {
		for _, gi := range c.postings[x.t] {
			if c.stamp[gi] != c.visit {
				c.stamp[gi] = c.visit
				c.cands = append(c.cands, gi)
			}
		}
	}
	return c.cands
}

// cosine of the unit vector c.vec with group gr's centroid.
func (c *clusterer) cosine(gr *group) float64 {
	var dot float64
	for _, x := range c.vec {
		if j, ok := slices.BinarySearch(gr.toks, x.t); ok {
			dot += float64(x.u) * float64(gr.w[j])
		}
	}
	return dot / math.Sqrt(gr.norm2)
}

// addTo adds vec (sorted by word) to group gi's centroid, in word order
// so that the float sums depend on nothing but the records, and keeps the
// tail short: if the words vec touched outside the head made it too long,
// they join the head (and the index), heaviest first, until it is short
// enough again. Only those words can have made it longer (the weights
// only grow, so the centroid's length only grows too).
func (c *clusterer) addTo(gi int32, vec []tw) {
	gr := c.groups[gi]
	c.pending = c.pending[:0]
	for _, x := range vec {
		j, ok := slices.BinarySearch(gr.toks, x.t)
		if !ok {
			gr.toks = slices.Insert(gr.toks, j, x.t)
			gr.w = slices.Insert(gr.w, j, 0)
			gr.head = slices.Insert(gr.head, j, false)
		}
		old := float64(gr.w[j])
		gr.w[j] += x.u
		nw := float64(gr.w[j])
		gr.norm2 += nw*nw - old*old
		if !gr.head[j] {
			gr.tail2 += nw*nw - old*old
			c.pending = append(c.pending, tw{x.t, gr.w[j]})
		}
	}
	limit := c.budget() * gr.norm2
	if gr.tail2 < limit {
		return
	}
	slices.SortFunc(c.pending, heavierFirst)
	for _, x := range c.pending {
		j, _ := slices.BinarySearch(gr.toks, x.t)
		gr.head[j] = true
		gr.tail2 -= float64(x.u) * float64(x.u)
		c.post(x.t, gi)
		if gr.tail2 < limit {
			break
		}
	}
}

// reindex puts group gi back in an emptied index: its heaviest words
// until the rest is short enough.
func (c *clusterer) reindex(gi int32) {
	gr := c.groups[gi]
	c.pending = c.pending[:0]
	for j, t := range gr.toks {
		gr.head[j] = false
		c.pending = append(c.pending, tw{t, gr.w[j]})
	}
	gr.tail2 = gr.norm2
	limit := c.budget() * gr.norm2
	slices.SortFunc(c.pending, heavierFirst)
	for _, x := range c.pending {
		if gr.tail2 < limit {
			break
		}
		j, _ := slices.BinarySearch(gr.toks, x.t)
		gr.head[j] = true
		gr.tail2 -= float64(x.u) * float64(x.u)
		c.post(x.t, gi)
	}
}

func (c *clusterer) post(t uint32, gi int32) {
	if len(c.postings[t]) == 0 {
		c.touched = append(c.touched, t)
	}
	c.postings[t] = append(c.postings[t], gi)
}

func heavierFirst(a, b tw) int {
	if c := cmp.Compare(b.u, a.u); c != 0 {
		return c
	}
	return cmp.Compare(a.t, b.t)
}

// record places the record at window position p (the first pass).
func (c *clusterer) record(p int32) {
	w, g := c.w, c.g
	r := &g.recs[w.recs[p]]
	c.vec = c.vec[:0]
	for _, t := range w.words32(int(p)) {
		if x := w.weight(r.cat, t); x > 0 {
			c.vec = append(c.vec, tw{t, x})
		}
	}
	if !c.unit() {
		// No word that tells records apart: a group of its own, never
		// indexed, never merged.
		gi := c.newGroup(r.cat)
		gr := c.groups[gi]
		gr.n, gr.comms = 1, appendComm(nil, r.comm)
		c.assign[p] = gi
		return
	}
	best, bestSim := int32(-1), 0.0
	for _, gi := range c.candidates() {
		gr := c.groups[gi]
		if !neighbourly(gr.comms, r.comm, c.neighbours) {
			continue
		}
		if s := c.cosine(gr); s >= c.sim && (s > bestSim || s == bestSim && gi < best) {
			best, bestSim = gi, s
		}
	}
	if best < 0 {
		best = c.newGroup(r.cat)
		c.live = append(c.live, best)
	}
	gr := c.groups[best]
	c.assign[p] = best
	gr.n++
	gr.comms = appendComm(gr.comms, r.comm)
	slices.SortFunc(c.vec, func(a, b tw) int { return cmp.Compare(a.t, b.t) })
	c.addTo(best, c.vec)
}

// merge is the second pass over the groups from index first on (one
// category): biggest first, each is merged into the most similar bigger
// group kept so far, or kept.
func (c *clusterer) merge(first int) {
	order := make([]int32, 0, len(c.groups)-first)
	for gi := first; gi < len(c.groups); gi++ {
		if len(c.groups[gi].toks) > 0 {
			order = append(order, int32(gi))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := cmp.Compare(c.groups[b].n, c.groups[a].n); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, gi := range order {
		gr := c.groups[gi]
		c.vec = c.vec[:0]
		for j, t := range gr.toks {
			c.vec = append(c.vec, tw{t, gr.w[j]})
		}
		c.unit()
		best, bestSim := int32(-1), 0.0
		for _, k := range c.candidates() {
			kg := c.groups[k]
			if !groupsNeighbourly(kg.comms, gr.comms, c.neighbours) {
				continue
			}
			if s := c.cosine(kg); s >= c.sim && (s > bestSim || s == bestSim && k < best) {
				best, bestSim = k, s
			}
		}
		if best < 0 {
			c.reindex(gi)
			c.live = append(c.live, gi)
			continue
		}
		// Merge: the centroid is a sum, so the group's own sums add up.
		kg := c.groups[best]
		c.vec = c.vec[:0]
		for j, t := range gr.toks {
			c.vec = append(c.vec, tw{t, gr.w[j]})
		}
		c.addTo(best, c.vec)
		kg.n += gr.n
		for _, x := range gr.comms {
			kg.comms = appendComm(kg.comms, x)
		}
		c.into[gi] = best
		gr.toks, gr.w, gr.head = nil, nil, nil
	}
}

// groupsNeighbourly reports whether two groups may merge: yes when either
// has no committee, or when a committee of one neighbours one of the other.
func groupsNeighbourly(a, b []uint16, nb [][]uint64) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range b {
		if neighbourly(a, x, nb) {
			return true
		}
	}
	return false
}

// appendComm adds committee c (unless 0) to the sorted set cs.
func appendComm(cs []uint16, c uint16) []uint16 {
	if c == 0 {
		return cs
	}
	i, ok := slices.BinarySearch(cs, c)
	if ok {
		return cs
	}
	return slices.Insert(cs, i, c)
}

// neighbourly reports whether a record of committee c may join a group
// with committees cs: yes when either has no committee, or when cs holds c
// or a neighbour of c.
func neighbourly(cs []uint16, c uint16, nb [][]uint64) bool {
	if c == 0 || len(cs) == 0 {
		return true
	}
	row := nb[c]
	for _, x := range cs {
		if row[x/64]&(1<<(x%64)) != 0 {
			return true
		}
	}
	return false
}

// neighbours returns, for every committee index, a bit set of the
// committees whose offices lie within Options.NeighbourMetres of its own
// (itself included). A committee the network does not know (or that has
// no coordinates) neighbours only itself.
func (g *Grouper) neighbours() [][]uint64 {
	var net *hotline.Network
	if g.dir != nil {
		net = g.dir.Network()
	}
	n := len(g.comN)
	words := (n + 63) / 64
	type place struct {
		lat, long float64
		ok        bool
	}
	at := make([]place, n)
	for i, id := range g.comN {
		if u, ok := net.Unit(id); ok && id != "" && (u.Lat != 0 || u.Long != 0) {
			at[i] = place{u.Lat, u.Long, true}
		}
	}
	nb := make([][]uint64, n)
	for i := range nb {
		nb[i] = make([]uint64, words)
		nb[i][i/64] |= 1 << (i % 64)
		if !at[i].ok {
			continue
		}
		for j := range n {
			if j != i && at[j].ok && metres(at[i].lat, at[i].long, at[j].lat, at[j].long) <= g.opts.NeighbourMetres {
				nb[i][j/64] |= 1 << (j % 64)
			}
		}
	}
	return nb
}

// metres is the distance between two points by the equirectangular
// approximation: within a street or a city its error is far below a metre
// per kilometre.
func metres(lat1, long1, lat2, long2 float64) float64 {
	const r = 6371000.0
	rad := math.Pi / 180
	x := (long2 - long1) * rad * math.Cos((lat1+lat2)/2*rad)
	y := (lat2 - lat1) * rad
	return r * math.Sqrt(x*x+y*y)
}
