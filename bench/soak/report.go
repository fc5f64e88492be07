package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// report prints the closing table.
func report(w io.Writer, o options, r *run, out *outcome, logs serverLog) {
	fmt.Fprintf(w, "\n== soak: %s of load at %d tickets/s, %d boards ==\n", fmtDur(out.loadTime), o.rate, len(r.boards))
	fmt.Fprintf(w, "command: go run ./bench/soak %s\n", strings.Join(os.Args[1:], " "))
	printMemory(w, o, r.samples)

	l := r.ledger
	l.mu.Lock()
	attempts := 0
	for _, n := range l.attempts {
		attempts += n
	}
	fmt.Fprintf(w, "\ntickets: %d requests (web %d, open311 %d, sms %d), %d acknowledged (%.1f/s), %d failed, %d of unknown outcome; %d not sent (the load generator was that far behind, starved of CPU)\n",
		attempts, l.attempts["web"], l.attempts["open311"], l.attempts["sms"], len(l.byID),
		float64(len(l.byID))/out.loadTime.Seconds(), sumValues(l.failed), l.unknown, l.skipped)
	for _, k := range slices.Sorted(maps.Keys(l.failed)) {
		fmt.Fprintf(w, "  failed: %-60s %d\n", k, l.failed[k])
	}
	var all []time.Duration
	for _, ch := range []string{"web", "open311", "sms"} {
		lat := l.latency[ch]
		all = append(all, lat...)
		fmt.Fprintf(w, "  intake latency %-8s %s\n", ch, percentiles(lat))
	}
	fmt.Fprintf(w, "  intake latency %-8s %s\n", "all", percentiles(all))
	l.mu.Unlock()

	if st := out.store; st != nil {
		t := out.tally
		fmt.Fprintf(w, "store: %d tickets (server's created counter %d); lost %d; duplicated %d (in the store, never acknowledged: %d, of which up to %d from requests of unknown outcome); one ticket for two requests %d; a repeated Idempotency-Key got its ticket back %d/%d\n",
			t.inStore, t.createdCounter, t.lost, max(t.unacked-t.unknown, 0)+t.shared, t.unacked, t.unknown, t.shared, t.idemOK, t.idemOK+t.idemBad)
		fmt.Fprintf(w, "events: %d delivered to %d boards, %d expected; missed %d; delivered twice %d; %d resumes with since (%d changes replayed); reloads %d\n",
			t.delivered, len(r.boards), t.expected, t.missed, t.twice, t.resumes, t.replayed, t.reloads)
		if extra := t.delivered - (t.expected - t.missed) - t.twice; extra > 0 {
			fmt.Fprintf(w, "  and %d changes to committee boards of tickets outside their area, routed to one of their units (allowed; not required here)\n", extra)
		}
		if len(t.drops) > 0 {
			fmt.Fprintf(w, "  connections the boards lost (not churned): %v\n", t.drops)
		} else {
			fmt.Fprintln(w, "  no board lost its connection other than by the churn")
		}
		fmt.Fprintf(w, "  from a POST's answer to the first administrator's board: %s\n", percentiles(t.boardLatency))
	}
	s := r.sched
	s.mu.Lock()
	fmt.Fprintf(w, "staff actions: accept %d, start %d, resolve %d; refused %v; %d not yet due at the end\n",
		s.ok["accept"], s.ok["start"], s.ok["resolve"], s.failed, out.pending)
	for _, e := range s.errs {
		fmt.Fprintf(w, "  %s\n", e)
	}
	s.mu.Unlock()

	if n := len(r.samples); n >= 2 {
		first, last := r.samples[0], r.samples[n-1]
		secs := (last.at - first.at).Seconds()
		fmt.Fprintf(w, "CPU: server %.0f%% of one core, Redis %.0f%%, over the load\n",
			100*(last.cpu-first.cpu)/secs, 100*(last.redisCPU-first.redisCPU)/secs)
	}
	for _, part := range []struct {
		when string
		ls   logSummary
	}{{"during the load", logs.load}, {"during the shutdown", logs.shutdown}} {
		fmt.Fprintf(w, "server log %s (warn and above): %d errors, %d warnings\n", part.when, part.ls.errors, part.ls.warnings)
		for _, m := range part.ls.top {
			fmt.Fprintf(w, "  %s\n", m)
		}
	}

	v := judge(o, r.samples)
	fmt.Fprintf(w, "verdict: %s\n", v)
	if len(out.errs) == 0 {
		fmt.Fprintln(w, "result: ok (nothing lost, nothing duplicated, every change delivered once, the server stopped cleanly)")
	} else {
		fmt.Fprintln(w, "result: FAILED")
		for _, err := range out.errs {
			fmt.Fprintf(w, "  %v\n", err)
		}
	}
}

// writeSamples writes the samples as CSV, sizes in bytes.
func writeSamples(path string, samples []sample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	cw.Write([]string{"seconds", "rss", "heap_inuse", "heap_inuse_after_gc", "heap_live_after_gc", "goroutines",
		"boards", "server_cpu_seconds", "redis_used_memory", "redis_keys", "redis_cpu_seconds", "tickets", "error"})
	for _, s := range samples {
		e := ""
		if s.err != nil {
			e = s.err.Error()
		}
		cw.Write([]string{strconv.Itoa(int(s.at.Seconds())), i64(s.rss), i64(s.heap), i64(s.heapGC), i64(s.liveGC),
			strconv.Itoa(s.goroutines), strconv.Itoa(s.boards), strconv.FormatFloat(s.cpu, 'f', 2, 64),
			i64(s.redisMem), i64(s.redisKeys), strconv.FormatFloat(s.redisCPU, 'f', 2, 64), strconv.Itoa(s.tickets), e})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func i64(n int64) string { return strconv.FormatInt(n, 10) }

// baselineOf is the first complete sample at or after the warm-up.
func baselineOf(o options, samples []sample) (sample, bool) {
	for _, s := range samples {
		if s.at >= o.warmup && s.err == nil {
			return s, true
		}
	}
	return sample{}, false
}

func printMemory(w io.Writer, o options, samples []sample) {
	if len(samples) == 0 {
		return
	}
	first, last := samples[0], samples[len(samples)-1]
	base, ok := baselineOf(o, samples)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\t%s\tmin\tmax\t\n", "start "+fmtDur(first.at), "baseline "+fmtDur(base.at), "end "+fmtDur(last.at))
	rows := []struct {
		name string
		f    func(sample) float64
		prec int
	}{
		{"server RSS (MiB)", func(s sample) float64 { return mib(s.rss) }, 1},
		{"heap in use (MiB)", func(s sample) float64 { return mib(s.heap) }, 1},
		{"heap in use after GC (MiB)", func(s sample) float64 { return mib(s.heapGC) }, 1},
		{"live heap after GC (MiB)", func(s sample) float64 { return mib(s.liveGC) }, 1},
		{"goroutines", func(s sample) float64 { return float64(s.goroutines) }, 0},
		{"boards connected", func(s sample) float64 { return float64(s.boards) }, 0},
		{"Redis used_memory (MiB)", func(s sample) float64 { return mib(s.redisMem) }, 1},
		{"Redis keys", func(s sample) float64 { return float64(s.redisKeys) }, 0},
		{"tickets acknowledged", func(s sample) float64 { return float64(s.tickets) }, 0},
	}
	for _, row := range rows {
		lo, hi := row.f(first), row.f(first)
		for _, s := range samples {
			if s.err == nil {
				lo, hi = min(lo, row.f(s)), max(hi, row.f(s))
			}
		}
		b := "-"
		if ok {
			b = strconv.FormatFloat(row.f(base), 'f', row.prec, 64)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", row.name,
			strconv.FormatFloat(row.f(first), 'f', row.prec, 64), b,
			strconv.FormatFloat(row.f(last), 'f', row.prec, 64),
			strconv.FormatFloat(lo, 'f', row.prec, 64), strconv.FormatFloat(hi, 'f', row.prec, 64))
	}
	tw.Flush()
	if ok {
		var after []sample
		for _, s := range samples {
			if s.at >= base.at && s.err == nil {
				after = append(after, s)
			}
		}
		fmt.Fprintf(w, "trend after the baseline (least squares over %d samples): live heap after GC %+.2f MiB/h, heap in use after GC %+.2f MiB/h, goroutines %+.1f/h, RSS %+.2f MiB/h, Redis %+.1f MiB/h\n",
			len(after),
			slope(after, func(s sample) float64 { return mib(s.liveGC) }),
			slope(after, func(s sample) float64 { return mib(s.heapGC) }),
			slope(after, func(s sample) float64 { return float64(s.goroutines) }),
			slope(after, func(s sample) float64 { return mib(s.rss) }),
			slope(after, func(s sample) float64 { return mib(s.redisMem) }))
		if n := last.tickets - base.tickets; n > 0 {
			fmt.Fprintf(w, "Redis grew %.2f KiB per ticket acknowledged after the baseline (the tickets themselves, their events and indexes)\n",
				float64(last.redisMem-base.redisMem)/1024/float64(n))
		}
	}
}

// verdict is the memory judgement: flat, or what grew.
type verdict struct {
	ok     bool
	reason string
}

func (v verdict) String() string {
	if v.ok {
		return "flat (" + v.reason + ")"
	}
	return "NOT flat (" + v.reason + ")"
}

// judgeWindow is how many samples judge takes the median of at each end
// (at most): the heap and the goroutines move a little from one sample to
// the next as the server's connection pools open and close connections
// (three goroutines and a few buffers each), which a single sample would
// mistake for growth or shrinkage.
const judgeWindow = 5

// judge compares the end of the run with the baseline after the warm-up:
// the medians of up to judgeWindow samples at each end, windows that do not
// overlap. The live heap after GC may grow by -heap-slack, goroutines by
// -goroutine-slack. The heap in use after GC and RSS are told beside it:
// they also count the free space of partly used spans, which grows for a
// while as survivors scatter over more spans without anything being held.
func judge(o options, samples []sample) verdict {
	var after []sample
	for _, s := range samples {
		if s.at >= o.warmup && s.err == nil {
			after = append(after, s)
		}
	}
	k := min(judgeWindow, len(after)/2)
	if k == 0 {
		return verdict{false, "fewer than two complete samples after the warm-up: nothing to compare"}
	}
	base, end := after[:k], after[len(after)-k:]
	med := func(ss []sample, f func(s sample) int64) int64 { return median(ss, f) }
	live := func(s sample) int64 { return s.liveGC }
	inuse := func(s sample) int64 { return s.heapGC }
	rss := func(s sample) int64 { return s.rss }
	gor := func(s sample) int64 { return int64(s.goroutines) }
	lb, le, gb, ge := med(base, live), med(end, live), med(base, gor), med(end, gor)
	change := func(f func(s sample) int64) string {
		b, e := med(base, f), med(end, f)
		return fmt.Sprintf("%.1f → %.1f MiB (%+.1f%%)", mib(b), mib(e), 100*(float64(e)/float64(b)-1))
	}
	reason := fmt.Sprintf("medians of %d samples from %s and to %s: live heap after GC %s, limit %+.0f%%; goroutines %d → %d, limit +%d. Beside it: heap in use after GC %s, RSS %s",
		k, fmtDur(base[0].at), fmtDur(end[k-1].at), change(live), 100*o.heapSlack, gb, ge, o.goSlack, change(inuse), change(rss))
	return verdict{float64(le) <= float64(lb)*(1+o.heapSlack) && ge <= gb+int64(o.goSlack), reason}
}

// median of f over ss (the upper one of an even count).
func median(ss []sample, f func(sample) int64) int64 {
	v := make([]int64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

// slope fits y = a + b·t by least squares and returns b per hour.
func slope(ss []sample, y func(sample) float64) float64 {
	if len(ss) < 2 {
		return 0
	}
	var st, sy, stt, sty float64
	for _, s := range ss {
		t := s.at.Hours()
		v := y(s)
		st += t
		sy += v
		stt += t * t
		sty += t * v
	}
	n := float64(len(ss))
	d := n*stt - st*st
	if d == 0 {
		return 0
	}
	return (n*sty - st*sy) / d
}

// percentiles formats p50, p99 and the maximum of ds in milliseconds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return fmt.Sprintf("p50 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)",
		ms(s[len(s)/2]), ms(s[len(s)*99/100]), ms(s[len(s)-1]), len(s))
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// logSummary is what the server logged at warn level and above.
type logSummary struct {
	errors, warnings int
	top              []string // the most frequent messages, with counts
}

// serverLog is the server's log in two parts: while the load ran and
// during its shutdown (the first size bytes, and the rest).
type serverLog struct{ load, shutdown logSummary }

func summarizeLog(path string, size int64) serverLog {
	f, err := os.Open(path)
	if err != nil {
		return serverLog{}
	}
	defer f.Close()
	var sl serverLog
	sl.load = summarize(io.LimitReader(f, size))
	if _, err := f.Seek(size, io.SeekStart); err == nil {
		sl.shutdown = summarize(f)
	}
	return sl
}

// summarize counts error and warning lines (slog's text format) and names
// the most frequent messages.
func summarize(r io.Reader) logSummary {
	var ls logSummary
	counts := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		level := ""
		switch {
		case strings.Contains(line, "level=ERROR"):
			ls.errors++
			level = "ERROR"
		case strings.Contains(line, "level=WARN"):
			ls.warnings++
			level = "WARN"
		default:
			continue
		}
		counts[level+" "+logMsg(line)]++
	}
	keys := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return counts[b] - counts[a] })
	for _, k := range keys[:min(len(keys), 5)] {
		ls.top = append(ls.top, fmt.Sprintf("%6d× %s", counts[k], k))
	}
	return ls
}

// logMsg is the msg= value of a slog text line.
func logMsg(line string) string {
	_, rest, ok := strings.Cut(line, " msg=")
	if !ok {
		return line
	}
	if strings.HasPrefix(rest, `"`) {
		if s, err := strconv.QuotedPrefix(rest); err == nil {
			u, _ := strconv.Unquote(s)
			return u
		}
	}
	m, _, _ := strings.Cut(rest, " ")
	return m
}
