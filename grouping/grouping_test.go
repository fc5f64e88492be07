package grouping_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
	"github.com/caojiadu/hotline/internal/needgen"
	"github.com/caojiadu/hotline/network"
)

// MustDirectory returns the demo street's directory.
func MustDirectory(tb testing.TB) hotline.Directory {
	tb.Helper()
	n, c := network.Demo()
	if n == nil || c == nil {
		tb.Fatal("no demo network")
	}
	return hotline.NewStaticDirectory(n, c)
}

// MustGroup runs a grouper over records and returns its result for the
// history's window.
func MustGroup(tb testing.TB, dir hotline.Directory, opts grouping.Options, h *history, previous []*hotline.Project) grouping.Result {
	tb.Helper()
	g := grouping.New(dir, opts)
	for _, r := range h.records {
		g.Add(r)
	}
	return g.Result(h.from, h.to, previous)
}

// MustHandHistory generates a year (2026) of the twelve hand-written needs
// plus one-off tickets and merged duplicates.
func MustHandHistory(tb testing.TB, seed uint64) *history {
	tb.Helper()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	g := needgen.New(seed, from, 12)
	g.Needs(handNeeds())
	codes := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute", "policy", "legal", "youth", "health", "other"}
	var committees []string
	for i := 1; i <= 14; i++ {
		committees = append(committees, "c"+twoDigits(i))
	}
	g.Noise(200, noiseWords(3000), codes, committees)
	g.Duplicates(25)
	return historyOf(g.History())
}

func twoDigits(i int) string { return string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// foundGroups maps each ticket of a draft to the draft's index.
func foundGroups(res grouping.Result) map[string]int {
	found := map[string]int{}
	for i, d := range res.Drafts {
		for _, id := range d.Evidence.TicketIDs {
			found[id] = i
		}
	}
	return found
}

func TestResult_FindsTheKnownNeeds(t *testing.T) {
	dir := MustDirectory(t)
	for seed := uint64(1); seed <= 3; seed++ {
		h := MustHandHistory(t, seed)
		res := MustGroup(t, dir, grouping.Options{}, h, nil)
		p, r := pairScores(h.truth, foundGroups(res))
		t.Logf("seed %d: %d tickets, %d groups, %d recurring: precision %.3f recall %.3f", seed, res.Tickets, res.Groups, res.Recurring, p, r)
		if testing.Verbose() && seed == 1 {
			for _, d := range res.Drafts {
				t.Logf("  %-14s %3d tickets %v %s | %s", d.ServiceCode, d.Evidence.Tickets, d.Committees, d.TitleZH, majority(h.truth, d.Evidence.TicketIDs))
			}
		}
		if p < 0.95 || r < 0.90 {
			t.Errorf("seed %d: precision %.3f recall %.3f, want ≥ 0.95 and ≥ 0.90", seed, p, r)
		}
		// The hard cases, said plainly.
		for _, pair := range [][2]string{
			{"lights-west", "lift-west"},         // same category, same committee
			{"lights-west", "streetlights-west"}, // same category, same committee, both lights
			{"tap-leak", "drain"},                // same category, same committee
			{"lights-west", "lights-east"},       // same words, committees 1.7 km apart
		} {
			for _, d := range res.Drafts {
				n := needCounts(h.truth, d.Evidence.TicketIDs)
				if n[pair[0]] > 0 && n[pair[1]] > 0 {
					t.Errorf("seed %d: draft %q holds %d %s and %d %s tickets", seed, d.TitleZH, n[pair[0]], pair[0], n[pair[1]], pair[1])
				}
			}
		}
		// Every need recurs and gets a draft of its own.
		for _, n := range handNeeds() {
			if d := draftOf(res, h.truth, n.Name); d == nil {
				t.Errorf("seed %d: no draft for %s", seed, n.Name)
			}
		}
	}
}

// needCounts counts a draft's tickets by true need.
func needCounts(truth map[string]string, ids []string) map[string]int {
	n := map[string]int{}
	for _, id := range ids {
		n[truth[id]]++
	}
	return n
}

// draftOf returns the biggest draft made mostly of need's tickets.
func draftOf(res grouping.Result, truth map[string]string, need string) *hotline.Project {
	var best *hotline.Project
	for _, d := range res.Drafts {
		n := needCounts(truth, d.Evidence.TicketIDs)
		if 2*n[need] > len(d.Evidence.TicketIDs) && (best == nil || d.Evidence.Tickets > best.Evidence.Tickets) {
			best = d
		}
	}
	return best
}

func TestResult_SearchIsExact(t *testing.T) {
	// The word index with its prefix and tail cuts must find every group
	// that comparing with all of them finds.
	dir := MustDirectory(t)
	h := MustHandHistory(t, 4)
	// And a slice of the benchmark's flat vocabulary, the index's hard case.
	needgen.Generate(needgen.Size{Records: 10_000, Noise: 1_000, Synth: 300, Scale: 1}, func(r hotline.NeedRecord, truth string) {
		h.records = append(h.records, r)
	})
	fast := MustGroup(t, dir, grouping.Options{}, h, nil)
	g := grouping.New(dir, grouping.Options{})
	grouping.Exhaustive(g)
	for _, r := range h.records {
		g.Add(r)
	}
	slow := g.Result(h.from, h.to, nil)
	if !reflect.DeepEqual(fast, slow) {
		t.Errorf("indexed search: %d groups, %d drafts; exhaustive: %d groups, %d drafts", fast.Groups, len(fast.Drafts), slow.Groups, len(slow.Drafts))
	}
	t.Logf("%d records, %d groups, %d drafts either way", fast.Tickets, fast.Groups, len(fast.Drafts))
}

// majority names the true groups of a draft's tickets with their counts.
func majority(truth map[string]string, ids []string) string {
	n := map[string]int{}
	for _, id := range ids {
		t := truth[id]
		if t == "" {
			t = "one-off"
		}
		n[t]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, k+":"+itoa(v))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// window2026 is the year the small scenarios happen in.
var (
	from2026 = time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	to2026   = time.Date(2027, 1, 1, 0, 0, 0, 0, shanghai)
)

// scenario builds small histories by hand.
type scenario struct {
	next    int
	records []hotline.NeedRecord
}

// add files a ticket in month m (0 = January 2026) on day d.
func (s *scenario) add(code, committee, desc, resident string, m, d int) *hotline.NeedRecord {
	s.next++
	s.records = append(s.records, hotline.NeedRecord{
		TicketID:    hotline.TicketIDWithCheck(strconv.Itoa(500000 + s.next)),
		ServiceCode: code,
		Description: desc,
		Committee:   committee,
		CreatedAt:   time.Date(2026, time.Month(m+1), d, 10, 0, 0, 0, shanghai),
		ResidentKey: resident,
		Status:      hotline.StatusResolved,
	})
	return &s.records[len(s.records)-1]
}

func (s *scenario) history() *history {
	return &history{from: from2026, to: to2026, records: s.records}
}

var liftWords = []string{"电梯又坏了，住高层下不了楼", "电梯故障停运了", "我们楼的电梯坏了好几天"}

func TestResult_Recurring(t *testing.T) {
	dir := MustDirectory(t)
	for _, tc := range []struct {
		name      string
		months    []int    // month of each ticket
		residents []string // resident of each ticket
		recurring bool
	}{
		{"three months, one resident", []int{0, 4, 8}, []string{"a", "a", "a"}, true},
		{"two months, four residents", []int{2, 2, 3, 3}, []string{"a", "b", "c", "d"}, false},
		{"one month, five residents", []int{5, 5, 5, 5, 5}, []string{"a", "b", "c", "d", "e"}, true},
		{"one month, five tickets of unknown residents", []int{5, 5, 5, 5, 5}, []string{"", "", "", "", ""}, false},
		{"one month, four residents and one unknown", []int{5, 5, 5, 5, 5}, []string{"a", "b", "c", "d", ""}, false},
		{"two tickets over three months", []int{0, 6}, []string{"a", "b"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s scenario
			for i, m := range tc.months {
				s.add("facilities", "c01", liftWords[i%len(liftWords)], tc.residents[i], m, 1+i)
			}
			res := MustGroup(t, dir, grouping.Options{}, s.history(), nil)
			if got := len(res.Drafts) == 1 && res.Recurring == 1; got != tc.recurring {
				t.Fatalf("recurring = %v (%d drafts, %d recurring, %d groups), want %v", got, len(res.Drafts), res.Recurring, res.Groups, tc.recurring)
			}
			if res.Groups != 1 {
				t.Errorf("groups = %d, want 1 (the tickets say the same)", res.Groups)
			}
			if !tc.recurring {
				return
			}
			ev := res.Drafts[0].Evidence
			if ev.Tickets != len(tc.months) {
				t.Errorf("tickets = %d, want %d", ev.Tickets, len(tc.months))
			}
			if len(ev.Months) != 12 || ev.Months[0].Month != "2026-01" || ev.Months[11].Month != "2026-12" {
				t.Errorf("months = %v, want every month of 2026", ev.Months)
			}
			for _, m := range ev.Months {
				want := 0
				for _, x := range tc.months {
					if fmt.Sprintf("2026-%02d", x+1) == m.Month {
						want++
					}
				}
				if m.Count != want {
					t.Errorf("month %s: %d tickets, want %d", m.Month, m.Count, want)
				}
			}
		})
	}
}

func TestResult_WithoutDirectory(t *testing.T) {
	// No network, no catalogue: committees are their ids and neighbour
	// only themselves, categories are their codes.
	var s scenario
	for m := range 3 {
		s.add("facilities", "c01", liftWords[m], "a", m, 2)
		s.add("facilities", "c02", liftWords[m], "b", m, 2)
	}
	res := MustGroup(t, nil, grouping.Options{}, s.history(), nil)
	if len(res.Drafts) != 2 {
		t.Fatalf("%d drafts, want one for each committee", len(res.Drafts))
	}
	if d := res.Drafts[0]; !strings.HasPrefix(d.TitleZH, "c01片区facilities服务项目") {
		t.Errorf("title %q", d.TitleZH)
	}
}

func TestResult_MergedDuplicatesCountOnce(t *testing.T) {
	dir := MustDirectory(t)
	var s scenario
	var ids []string
	for m := range 4 {
		r := s.add("facilities", "c01", liftWords[m%3], "r"+strconv.Itoa(m), m, 3)
		ids = append(ids, r.TicketID)
	}
	for i := range 3 { // the same lift, reported again the same day
		d := s.add("facilities", "c01", liftWords[i], "other"+strconv.Itoa(i), i, 3)
		d.MergedInto = ids[i]
	}
	res := MustGroup(t, dir, grouping.Options{}, s.history(), nil)
	if res.Tickets != 4 {
		t.Errorf("tickets read = %d, want 4", res.Tickets)
	}
	if len(res.Drafts) != 1 {
		t.Fatalf("%d drafts, want 1", len(res.Drafts))
	}
	ev := res.Drafts[0].Evidence
	if ev.Tickets != 4 || ev.Residents != 4 || !reflect.DeepEqual(ev.TicketIDs, ids) {
		t.Errorf("evidence: %d tickets of %d residents %v; want 4 of 4 %v", ev.Tickets, ev.Residents, ev.TicketIDs, ids)
	}
}

func TestResult_CallbacksAreNeverGrouped(t *testing.T) {
	dir := MustDirectory(t)
	var s scenario
	for m := range 10 {
		s.add("callback", "c01", "未接来电，请回电", "r"+strconv.Itoa(m), m, 2)
	}
	res := MustGroup(t, dir, grouping.Options{}, s.history(), nil)
	if res.Tickets != 0 || res.Groups != 0 || len(res.Drafts) != 0 {
		t.Errorf("callbacks: %d tickets, %d groups, %d drafts; want none", res.Tickets, res.Groups, len(res.Drafts))
	}
}

func TestResult_OnlyTheWindow(t *testing.T) {
	dir := MustDirectory(t)
	var s scenario
	for m := range 3 {
		s.add("facilities", "c01", liftWords[m], "a", m, 2)
	}
	late := s.add("facilities", "c01", liftWords[0], "a", 0, 2)
	late.CreatedAt = to2026 // the window is [from, to)
	res := MustGroup(t, dir, grouping.Options{}, s.history(), nil)
	if res.Tickets != 3 {
		t.Errorf("tickets = %d, want 3 (one is created at the end of the window)", res.Tickets)
	}
}

func TestResult_IsDeterministic(t *testing.T) {
	dir := MustDirectory(t)
	h := MustHandHistory(t, 5)
	first := MustGroup(t, dir, grouping.Options{}, h, nil)

	// The same records in another order: a store scans in no order.
	shuffled := *h
	shuffled.records = slices.Clone(h.records)
	rng := rand.New(rand.NewPCG(7, 7))
	rng.Shuffle(len(shuffled.records), func(i, j int) {
		shuffled.records[i], shuffled.records[j] = shuffled.records[j], shuffled.records[i]
	})
	g := grouping.New(dir, grouping.Options{})
	for _, r := range shuffled.records {
		g.Add(r)
	}
	second := g.Result(h.from, h.to, nil)
	third := g.Result(h.from, h.to, nil) // and Result again on the same grouper

	if !reflect.DeepEqual(first, second) {
		t.Error("another order of the same records gives other drafts")
	}
	if !reflect.DeepEqual(second, third) {
		t.Error("a second Result gives other drafts")
	}
	if len(first.Drafts) == 0 {
		t.Fatal("no drafts")
	}
}

// MustPrevious turns a run's drafts into stored projects: P1, P2, … with
// version 3.
func MustPrevious(tb testing.TB, res grouping.Result) []*hotline.Project {
	tb.Helper()
	var out []*hotline.Project
	for i, d := range res.Drafts {
		p := *d
		p.ID = "P" + strconv.Itoa(i+1)
		p.Version = 3
		p.CreatedAt = time.Date(2026, 6, 1, 0, 0, 0, 0, shanghai)
		out = append(out, &p)
	}
	return out
}

func TestResult_Continuity(t *testing.T) {
	dir := MustDirectory(t)
	h := MustHandHistory(t, 1)
	first := MustGroup(t, dir, grouping.Options{}, h, nil)
	previous := MustPrevious(t, first)
	byNeed := map[string]*hotline.Project{}
	for _, n := range handNeeds() {
		d := draftOf(first, h.truth, n.Name)
		for _, p := range previous {
			if d != nil && p.Evidence.TicketIDs[0] == d.Evidence.TicketIDs[0] {
				byNeed[n.Name] = p
			}
		}
	}
	// What people and earlier runs did meanwhile:
	byNeed["lights-west"].Evidence.Tickets /= 2      // fewer before: growing now
	byNeed["lift-west"].Evidence.Tickets *= 2        // more before: shrinking now
	byNeed["noise"].Status = hotline.ProjectProposal // a social worker owns it
	byNeed["allowance"].Status = hotline.ProjectRetired
	byNeed["medicine"].Status = hotline.ProjectPurchased
	// visits was merged into a proposal, which has none of its tickets.
	owner := &hotline.Project{ID: "P-owner", Status: hotline.ProjectProposal, Evidence: hotline.Evidence{TicketIDs: []string{"1"}}}
	byNeed["visits"].Status, byNeed["visits"].MergedInto = hotline.ProjectMerged, owner.ID
	// A draft whose need stopped, and one sharing too few tickets with a
	// group: 5 of the after-school tickets among 40 (5 < 40/3).
	gone := &hotline.Project{ID: "P-gone", Status: hotline.ProjectDraft, Evidence: hotline.Evidence{Tickets: 2, TicketIDs: []string{"11", "22"}}}
	few := &hotline.Project{ID: "P-few", Status: hotline.ProjectDraft}
	few.Evidence.TicketIDs = append(few.Evidence.TicketIDs, draftOf(first, h.truth, "after-school").Evidence.TicketIDs[:5]...)
	for i := range 35 {
		few.Evidence.TicketIDs = append(few.Evidence.TicketIDs, "9"+strconv.Itoa(1000+i))
	}
	few.Evidence.Tickets = 40
	// after-school itself left the list (so that only P-few could claim it).
	var prev []*hotline.Project
	for _, p := range previous {
		if p != byNeed["after-school"] {
			prev = append(prev, p)
		}
	}
	prev = append(prev, owner, gone, few)

	second := MustGroup(t, dir, grouping.Options{}, h, prev)

	find := func(id string) *hotline.Project {
		for _, d := range second.Drafts {
			if d.ID == id {
				return d
			}
		}
		return nil
	}
	for _, tc := range []struct {
		need  string
		trend hotline.Trend
	}{
		{"lights-west", hotline.TrendGrowing},
		{"lift-west", hotline.TrendShrinking},
		{"rubbish", hotline.TrendSteady},
		{"allowance", hotline.TrendSteady}, // a retired draft comes back
	} {
		p := byNeed[tc.need]
		d := find(p.ID)
		if d == nil {
			t.Errorf("%s: draft %s not continued", tc.need, p.ID)
			continue
		}
		if d.Trend != tc.trend || d.PreviousTickets != p.Evidence.Tickets {
			t.Errorf("%s: trend %s after %d tickets, want %s after %d", tc.need, d.Trend, d.PreviousTickets, tc.trend, p.Evidence.Tickets)
		}
		if d.Version != 3 || !d.CreatedAt.Equal(p.CreatedAt) || d.Status != hotline.ProjectDraft {
			t.Errorf("%s: version %d created %v status %s; want the previous project's 3, %v, draft", tc.need, d.Version, d.CreatedAt, d.Status, p.CreatedAt)
		}
	}
	if want := []string{"P-owner", byNeed["medicine"].ID, byNeed["noise"].ID}; !sameSet(second.Kept, want) {
		t.Errorf("kept %v, want %v", second.Kept, want)
	}
	if want := []string{"P-few", "P-gone"}; !reflect.DeepEqual(second.Retired, want) {
		t.Errorf("retired %v, want %v", second.Retired, want)
	}
	for _, need := range []string{"noise", "medicine", "visits"} {
		if d := draftOf(second, h.truth, need); d != nil {
			t.Errorf("%s: a draft %q (id %q) duplicates a project people own", need, d.TitleZH, d.ID)
		}
	}
	if d := draftOf(second, h.truth, "after-school"); d == nil || d.ID != "" || d.Trend != hotline.TrendNew {
		t.Errorf("after-school: want a new draft (id \"\", trend new), got %+v", d)
	}
	if second.Recurring != first.Recurring {
		t.Errorf("recurring %d, want %d as before (kept groups count)", second.Recurring, first.Recurring)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return reflect.DeepEqual(a, b)
}

// A surname before a form of address, as the generator writes names.
var (
	rePhoneDigits = regexp.MustCompile(`\d[\d\s-]{6,}\d`)
	reDoorNumber  = regexp.MustCompile(`\d+\s*(号|室|弄|楼)`)
	reNamed       = regexp.MustCompile(`[` + string(familyZH) + `](` + strings.Join(titlesZH, "|") + `)|Mr Smith|Mrs Brown|Ms Lee|Mr Wang|Miss Taylor`)
)

func TestResult_ExamplesAreAnonymised(t *testing.T) {
	dir := MustDirectory(t)
	h := MustHandHistory(t, 2)
	res := MustGroup(t, dir, grouping.Options{}, h, nil)
	shown := 0
	for _, d := range res.Drafts {
		ex := d.Evidence.Examples
		if len(ex) == 0 || len(ex) > 3 {
			t.Errorf("%s: %d examples, want 1 to 3", d.TitleZH, len(ex))
		}
		for _, e := range ex {
			if m := rePhoneDigits.FindString(e); m != "" {
				t.Errorf("example %q shows a phone number %q", e, m)
			}
			if m := reDoorNumber.FindString(e); m != "" {
				t.Errorf("example %q shows a door number %q", e, m)
			}
			if m := reNamed.FindString(e); m != "" {
				t.Errorf("example %q names %q", e, m)
			}
			if shown < 6 {
				shown++
				t.Logf("example: %s", e)
			}
		}
	}
}

func TestAnonymise(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"王阿姨家电梯坏了，电话13812345678", "某阿姨家电梯坏了，电话***"},
		{"长寿路275号3室漏水，联系+86 138 1234 5678", "长寿路…号…室漏水，联系***"},
		{"康定路12弄5号楼，座机021-62345678", "康定路…弄…号楼，座机***"},
		{"欧阳先生和李师傅都反映过", "某先生和某师傅都反映过"},
		{"住在１２楼的张女士", "住在…楼的某女士"},
		{"Mr Smith at No. 5 Changshou Road, Flat 12, call 13812345678", "Mr … at No. … Changshou Road, Flat …, call ***"},
		{"Mrs Brown lives at 275 Yuyao Road", "Mrs … lives at … Yuyao Road"},
		{"老人八十多岁，三天没吃饭", "老人八十多岁，三天没吃饭"},
	} {
		if got := grouping.Anonymise(tc.in); got != tc.want {
			t.Errorf("Anonymise(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestResult_Budget(t *testing.T) {
	dir := MustDirectory(t)
	h := MustHandHistory(t, 3)
	res := MustGroup(t, dir, grouping.Options{}, h, nil)
	for _, d := range res.Drafts {
		if d.CostPerPersonTime != 16.5 {
			t.Errorf("%s: cost per person-time %v, want 16.5", d.TitleZH, d.CostPerPersonTime)
		}
		if want := math.Round(float64(d.PersonTimes) * 16.5); d.Budget != want {
			t.Errorf("%s: budget %v, want %d × 16.5 = %v", d.TitleZH, d.Budget, d.PersonTimes, want)
		}
		if d.PersonTimes < d.Evidence.Tickets {
			t.Errorf("%s: %d person-times for %d tickets", d.TitleZH, d.PersonTimes, d.Evidence.Tickets)
		}
	}

	// Two tickets a month for six months, then four: 36 in the year,
	// doubling (24 over 12), so 72 person-times, 1,188 yuan.
	var s scenario
	for m := range 12 {
		k := 2
		if m >= 6 {
			k = 4
		}
		for i := range k {
			s.add("facilities", "c01", liftWords[i%3], "r"+strconv.Itoa(i), m, 1+i)
		}
	}
	res = MustGroup(t, dir, grouping.Options{}, s.history(), nil)
	if len(res.Drafts) != 1 {
		t.Fatalf("%d drafts, want 1", len(res.Drafts))
	}
	if d := res.Drafts[0]; d.PersonTimes != 72 || d.Budget != 1188 {
		t.Errorf("person-times %d budget %v, want 72 and 1188", d.PersonTimes, d.Budget)
	}
	// A dearer person-time.
	res = MustGroup(t, dir, grouping.Options{CostPerPersonTime: 20}, s.history(), nil)
	if d := res.Drafts[0]; d.Budget != 1440 || d.CostPerPersonTime != 20 {
		t.Errorf("budget %v at %v a person-time, want 1440 at 20", d.Budget, d.CostPerPersonTime)
	}
}

func TestResult_DraftContents(t *testing.T) {
	dir := MustDirectory(t)
	h := MustHandHistory(t, 1)
	res := MustGroup(t, dir, grouping.Options{}, h, nil)

	for _, d := range res.Drafts {
		ev := d.Evidence
		if d.Status != hotline.ProjectDraft || d.Year != 2028 || !d.GeneratedAt.Equal(h.to) {
			t.Errorf("%s: status %s year %d generated %v; want draft, 2028 (the year after 1 Jan 2027), %v", d.TitleZH, d.Status, d.Year, d.GeneratedAt, h.to)
		}
		if len(ev.Months) != 12 || ev.Months[0].Month != "2026-01" || ev.Months[11].Month != "2026-12" {
			t.Errorf("%s: months %v", d.TitleZH, ev.Months)
		}
		sum := 0
		for _, m := range ev.Months {
			sum += m.Count
		}
		if sum != ev.Tickets || len(ev.TicketIDs) != ev.Tickets || !slices.IsSorted(ev.TicketIDs) {
			t.Errorf("%s: %d tickets, %d by month, %d ids (sorted %v)", d.TitleZH, ev.Tickets, sum, len(ev.TicketIDs), slices.IsSorted(ev.TicketIDs))
		}
		if !slices.IsSortedFunc(ev.Committees, func(a, b hotline.CommitteeCount) int { return b.Count - a.Count }) || len(d.Committees) != len(ev.Committees) {
			t.Errorf("%s: committees %v / %v not by count", d.TitleZH, ev.Committees, d.Committees)
		}
		if ev.EscalatedShare < 0 || ev.EscalatedShare > 1 || ev.UnresolvedShare < 0 || ev.UnresolvedShare > 1 {
			t.Errorf("%s: shares %v %v", d.TitleZH, ev.EscalatedShare, ev.UnresolvedShare)
		}
		if ev.Rated > 0 && (ev.Satisfaction < 1 || ev.Satisfaction > 5) {
			t.Errorf("%s: satisfaction %v of %d", d.TitleZH, ev.Satisfaction, ev.Rated)
		}
		if len(ev.Keywords) == 0 || len(ev.Keywords) > 5 {
			t.Errorf("%s: keywords %v", d.TitleZH, ev.Keywords)
		}
		if !strings.Contains(d.SummaryZH, strconv.Itoa(ev.Tickets)+"件") || !strings.Contains(d.SummaryEN, strconv.Itoa(ev.Tickets)+" ") {
			t.Errorf("summaries do not give the %d tickets: %s / %s", ev.Tickets, d.SummaryZH, d.SummaryEN)
		}
	}

	for _, tc := range []struct {
		need, population, orgKind, titleZH, titleEN string
	}{
		{"meals-west", "elderly_alone", "elderly_care", "助餐送餐", "Meal delivery"},
		{"lights-west", "", "repair", "叶家宅路片区公共设施服务项目：楼道灯", "Public facilities around Yejiazhai Rd: corridor lights"},
		{"lift-west", "", "repair", "电梯", "lifts"},
		{"after-school", "children", "youth", "西康路", "Xikang Rd"},
		{"wheelchair", "disabled", "disability", "锦绣里片区助残服务项目", "Jinxiuli"},
		{"allowance", "families", "community", "低保", "Policy enquiries"},
		{"noise", "", "legal_aid", "噪音", "noise"},
		{"tap-leak", "", "repair", "水龙头", "taps"},
	} {
		d := draftOf(res, h.truth, tc.need)
		if d == nil {
			t.Errorf("%s: no draft", tc.need)
			continue
		}
		if tc.population != "" && d.Population != tc.population {
			t.Errorf("%s: population %s, want %s", tc.need, d.Population, tc.population)
		}
		if d.OrgKind != tc.orgKind {
			t.Errorf("%s: org kind %s, want %s", tc.need, d.OrgKind, tc.orgKind)
		}
		if !strings.Contains(d.TitleZH, tc.titleZH) || !strings.Contains(d.TitleEN, tc.titleEN) || !strings.HasSuffix(d.TitleZH, "（2028）") {
			t.Errorf("%s: titles %q / %q, want them to hold %q / %q", tc.need, d.TitleZH, d.TitleEN, tc.titleZH, tc.titleEN)
		}
		if testing.Verbose() {
			t.Logf("%s\n  %s\n  %s\n  %s\n  %s %s %d person-times %.0f yuan %v", tc.need, d.TitleZH, d.TitleEN, d.SummaryZH, d.Population, d.OrgKind, d.PersonTimes, d.Budget, d.Evidence.Keywords)
		}
	}
}

func TestTokens(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"楼道灯坏了", []string{"楼道灯", "坏"}},
		{"楼梯灯不亮了", []string{"楼道灯", "坏"}},
		{"请问我们家里的电梯又坏了吗？", []string{"电梯", "坏"}},
		{"The stairwell lights are not working", []string{"楼道灯", "坏"}},
		{"Lifts broken, 3 days", []string{"电梯", "坏"}},
		{"独居老人张师傅希望上门送餐，电话13812345678", []string{"独居", "老人", "送餐"}},
		{"Wheelchairs and DOORS", []string{"轮椅", "door"}},
		{"１２号楼漏水", []string{"漏水"}},
		{"", nil},
	} {
		if got := grouping.Tokens(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestOptions_WithDefaults(t *testing.T) {
	got := grouping.Options{MinMonths: 4}.WithDefaults()
	want := grouping.Options{Similarity: 0.25, NeighbourMetres: 1500, MinMonths: 4, MinResidents: 5, MinTickets: 3, CostPerPersonTime: 16.5, Examples: 3}
	if got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
}
