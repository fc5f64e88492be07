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
	"github.com/caojiadu/hotline/internal/needgen"
)

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
	n, _, _ := needgen.Generate(needgen.Size1M, func(hotline.NeedRecord, string) {})
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

		var truth needgen.Truth
		b.ResetTimer()
		start := time.Now()
		g := grouping.New(dir, benchOptions())
		_, from, to := needgen.Generate(needgen.Size1M, func(r hotline.NeedRecord, t string) {
			g.Add(r)
			truth.Add(r.TicketID, t)
		})
		added := time.Since(start)
		res := g.Result(from, to, nil)
		total := time.Since(start)
		b.StopTimer()
		close(stop)
		wg.Wait()

		secs := (total - genTime).Seconds()
		p, r, oneOff, _ := truth.Scores(res.Drafts)
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
