package grouping_test

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
)

// benchSize says how big a generated history is: records in all, of
// which noise one-off tickets and synth synthetic needs, the hand-written
// needs scale times as frequent as in the tests.
type benchSize struct {
	records, noise, synth, scale int
}

// size1M is a year of a city-sized hotline on the demo street's network:
// 1,000,000 records, of which about 24,000 are the fourteen hand-written
// needs (40 times as often), 876,000 are 2,000 synthetic needs (four key
// words each, a ticket saying two or three of them among filler words)
// and 100,000 are one-off tickets of five to eight random words out of
// 24,000. The words are real ones taken from gse's idf table, all of
// middling rarity: a flat vocabulary with no very common words is the
// hard case for the word index.
var size1M = benchSize{records: 1_000_000, noise: 100_000, synth: 2_000, scale: 40}

// generate streams the records of a history of the given size to sink,
// the same ones every call, and returns how many it made and the window.
func generate(size benchSize, sink func(r hotline.NeedRecord, truth string)) (int, time.Time, time.Time) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, shanghai)
	g := newGen(42, from, 12)
	n := 0
	g.sink = func(r hotline.NeedRecord, truth string) { n++; sink(r, truth) }

	hand := handNeeds()
	for i := range hand {
		hand[i].perMonth *= size.scale
		hand[i].residents *= size.scale
	}
	g.needs(hand)

	// 32,000 words: four keys for each synthetic need, 3,000 fillers, and
	// the rest for one-off tickets, which also use fillers.
	bank := noiseWords(32000)
	g.rng.Shuffle(len(bank), func(i, j int) { bank[i], bank[j] = bank[j], bank[i] })
	keys, fillers, rare := bank[:4*size.synth], bank[4*size.synth:4*size.synth+3000], bank[4*size.synth:]
	codes := []string{"elderly_meals", "elderly_visit", "home_repair", "facilities", "sanitation", "dispute", "policy",
		"legal", "counselling", "disability", "youth", "building_safety", "health", "other"}
	var committees []string
	for i := 1; i <= 14; i++ {
		committees = append(committees, "c"+twoDigits(i))
	}
	synth := synthNeeds(g.rng, size.synth, keys, codes, committees)
	per := (size.records - size.noise - n) / size.synth
	for _, s := range synth {
		g.synth(s, per, fillers)
	}
	g.noise(size.records-n, rare, codes, committees) // the rest, about size.noise
	return n, g.h.from, g.h.to
}

// BenchmarkGroup1M adds a million records and builds the drafts:
//
//	go test -run '^$' -bench Group1M -benchtime 1x ./grouping/
//
// It reports the seconds of grouping (Add for every record, then Result;
// the generator's own time, measured by a run of its own, is taken off),
// records per second, the peak of the heap in use while grouping (sampled
// every 20 ms, the segmenter's dictionary included), the precision and
// recall of the drafts against the generator's truth, and how many drafts
// are made mostly of one-off tickets. GROUPING_SIM=0.3 in the environment
// runs it at another Options.Similarity.
func BenchmarkGroup1M(b *testing.B) {
	dir := MustDirectory(b)

	// The generator alone, to take its time off.
	start := time.Now()
	n, _, _ := generate(size1M, func(hotline.NeedRecord, string) {})
	genTime := time.Since(start)

	for range b.N {
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		var peak atomic.Uint64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()

		truth := make([]int32, 0, n) // need of ticket 100001+i, -1 for a one-off
		names := map[string]int32{}
		b.ResetTimer()
		start := time.Now()
		g := grouping.New(dir, benchOptions())
		_, from, to := generate(size1M, func(r hotline.NeedRecord, t string) {
			g.Add(r)
			id := int32(-1)
			if t != "" {
				x, ok := names[t]
				if !ok {
					x = int32(len(names))
					names[t] = x
				}
				id = x
			}
			truth = append(truth, id)
		})
		added := time.Since(start)
		res := g.Result(from, to, nil)
		total := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()

		secs := (total - genTime).Seconds()
		p, r, oneOff := benchScores(truth, res)
		b.ReportMetric(secs, "s")
		b.ReportMetric((added - genTime).Seconds(), "add-s")
		b.ReportMetric((total - added).Seconds(), "result-s")
		b.ReportMetric(float64(n)/secs, "records/s")
		b.ReportMetric(float64(peak.Load())/(1<<20), "peak-MiB")
		b.ReportMetric(float64(base.HeapInuse)/(1<<20), "base-MiB")
		b.ReportMetric(float64(res.Groups), "groups")
		b.ReportMetric(float64(len(res.Drafts)), "drafts")
		b.ReportMetric(float64(oneOff), "one-off-drafts")
		b.ReportMetric(p, "precision")
		b.ReportMetric(r, "recall")
		b.Logf("%d records in %.1f s (generator %.1f s taken off): %d groups, %d drafts, precision %.3f recall %.3f, peak heap %.0f MiB",
			n, secs, genTime.Seconds(), res.Groups, len(res.Drafts), p, r, float64(peak.Load())/(1<<20))
	}
}

// benchScores is pairScores over the benchmark's truth, kept as a slice
// (ticket 100001+i is truth[i]) rather than a map of a million strings.
func benchScores(truth []int32, res grouping.Result) (precision, recall float64, oneOff int) {
	found := make([]int32, len(truth))
	for i := range found {
		found[i] = -1
	}
	for di, d := range res.Drafts {
		ones := 0
		for _, id := range d.Evidence.TicketIDs {
			x, err := strconv.Atoi(id[:len(id)-1]) // drop the check digit
			if err != nil {
				continue
			}
			if i := x - 100001; i >= 0 && i < len(found) {
				found[i] = int32(di)
				if truth[i] < 0 {
					ones++
				}
			}
		}
		if 2*ones > len(d.Evidence.TicketIDs) {
			oneOff++
		}
	}
	type cell struct{ t, f int64 }
	cells := map[cell]int{}
	trueSize := map[int64]int{}
	foundSize := map[int64]int{}
	for i, t := range truth {
		tt, ff := int64(t), int64(found[i])
		if t < 0 {
			tt = -1 - int64(i) // a one-off is alone
		}
		if ff < 0 {
			ff = -1 - int64(i)
		}
		cells[cell{tt, ff}]++
		trueSize[tt]++
		foundSize[ff]++
	}
	pairs := func(n int) float64 { return float64(n) * float64(n-1) / 2 }
	var both, tp, fp float64
	for _, n := range cells {
		both += pairs(n)
	}
	for _, n := range trueSize {
		tp += pairs(n)
	}
	for _, n := range foundSize {
		fp += pairs(n)
	}
	return both / max(fp, 1), both / max(tp, 1), oneOff
}

// benchOptions are the defaults, or the similarity of $GROUPING_SIM.
func benchOptions() grouping.Options {
	var o grouping.Options
	if s := os.Getenv("GROUPING_SIM"); s != "" {
		o.Similarity, _ = strconv.ParseFloat(s, 64)
	}
	return o
}

// BenchmarkTokens cuts the descriptions of the hand-written needs.
func BenchmarkTokens(b *testing.B) {
	h := MustHandHistory(b, 1)
	grouping.Tokens("预热") // load the dictionary outside the timing
	b.ResetTimer()
	for i := range b.N {
		grouping.Tokens(h.records[i%len(h.records)].Description)
	}
}
