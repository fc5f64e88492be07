// Package grouping finds the needs residents report again and again and
// turns each into a draft annual service project (issue 6).
//
// The nightly job streams the need records of a rolling window (12 months
// by default) into a Grouper with Add, then calls Result. Tickets are
// grouped when they are of the same category, say the same thing, and
// come from the same or neighbouring committees:
//
//  1. Words. Each description becomes a set of words (Tokens): Chinese is
//     cut by gse with its embedded dictionary plus the domain words of a
//     small lexicon (楼道灯, 上门送餐, 代配药 …), English is lowercased
//     with plurals and -ing/-ed taken off, stop words of both languages,
//     digits and most single characters are dropped, and the lexicon
//     folds synonyms and English words into one concept (楼梯灯, 声控灯 and
//     "stairwell light" all become 楼道灯).
//  2. Weights. A word weighs its smoothed inverse document frequency over
//     the window, 1 + ln((1+N)/(1+df)), doubled if it is one of the
//     catalogue keywords of the ticket's category; a ticket is the vector
//     of its words' weights, scaled to length 1.
//  3. Leader clustering, per category. Tickets are visited in time order
//     (then ticket id); each joins the group whose centroid (the sum of
//     its members' vectors) is most similar by cosine, if at least
//     Options.Similarity and if the group's committees include the
//     ticket's own committee or one whose office is within
//     Options.NeighbourMetres of it; else it starts a group. A word index
//     finds the groups worth comparing; the cuts that keep it fast are
//     exact (see cluster). A second pass merges the category's groups,
//     biggest first, whose centroids are as similar, which undoes the
//     splits of the first pass's order.
//  4. Recurring groups. A group recurs when it has at least MinTickets
//     tickets and spans at least MinMonths months or MinResidents
//     residents. Each becomes a draft with its evidence: counts by month
//     and committee, escalated and unresolved shares, satisfaction,
//     anonymised examples, keywords, ticket ids; a title and summary in
//     both languages; the people served and the kind of organization;
//     the person-times expected next year and the budget they cost.
//  5. Continuity. A group that shares enough tickets with a previous
//     project continues it: a draft keeps its id and gets a trend, a
//     project people own (proposal, purchased, rejected, merged) is left
//     alone, and a previous draft no group continues is retired.
//
// Two passes because a word's weight needs the whole window: Add keeps a
// compact record (32 bytes and 4 per word, no pointers) and only a few
// descriptions for examples, cutting descriptions into words on every
// processor while the caller reads on; Result does the rest. A million
// records take 16 to 20 s on two shared cores (two thirds of it in Add,
// mostly gse) with under 500 MiB of heap at peak, the segmenter's
// dictionary (about 130 MiB, loaded on first use) included; see
// BenchmarkGroup1M. The same records, in any order, give the same result.
package grouping
