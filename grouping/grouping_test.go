package grouping_test

import (
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
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
	g := newGen(seed, from, 12)
	g.needs(handNeeds())
	codes := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute", "policy", "legal", "youth", "health", "other"}
	var committees []string
	for i := 1; i <= 14; i++ {
		committees = append(committees, "c"+twoDigits(i))
	}
	g.noise(200, noiseWords(3000), codes, committees)
	g.duplicates(25)
	return g.h
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
	var ps, rs []float64
	for seed := uint64(1); seed <= 3; seed++ {
		h := MustHandHistory(t, seed)
		res := MustGroup(t, dir, grouping.Options{}, h, nil)
		p, r := pairScores(h.truth, foundGroups(res))
		t.Logf("seed %d: %d tickets, %d groups, %d recurring: precision %.3f recall %.3f", seed, res.Tickets, res.Groups, res.Recurring, p, r)
		ps, rs = append(ps, p), append(rs, r)
		if testing.Verbose() && seed == 1 {
			for _, d := range res.Drafts {
				t.Logf("  %-14s %3d tickets %v %s | %s", d.ServiceCode, d.Evidence.Tickets, d.Committees, d.TitleZH, majority(h.truth, d.Evidence.TicketIDs))
			}
		}
	}
	for i := range ps {
		if ps[i] < 0.95 || rs[i] < 0.9 {
			t.Errorf("seed %d: precision %.3f recall %.3f, want ≥ 0.95 and ≥ 0.90", i+1, ps[i], rs[i])
		}
	}
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

var _ = rand.New
var _ = reflect.DeepEqual
var _ = regexp.MustCompile
