// Command grouping measures the nightly grouping job end to end on a year
// of stored tickets (issue 6: a million tickets on the 2-core machine in
// under 60 s and under 1 GiB).
//
// It fills Redis with n tickets made from internal/needgen's records (the
// history BenchmarkGroup1M groups in memory, whose true groups are known)
// as realistic ticket JSON, written straight into the ticket hashes and
// created indexes with pipelines as redisstore's BenchmarkScanNeeds does;
// the fill is timed apart and is not part of the figure. Then it runs
// projects.Job.Run over the configured window as `hotline group` wires it:
// the Redis TicketStore, ProjectStore and Locker, the configuration's
// grouping options and the job's own memory limit, the demo street's
// directory, GOGC 400 unless set. It prints what the run read and wrote,
// its wall time (and of that the reading, the grouping's result and the
// writing), the CPU of this process and of redis-server, the Go heap in
// use and the process's resident peak, and the precision and recall of the
// stored drafts against the truth. Then it runs the job again on the same
// tickets: the rerun finds every draft it made (none new, the evidence
// unchanged) and writes each once more, its trend going from new to
// steady; a third run (-runs 3) writes none.
//
//	go run ./bench/grouping -n 1000000
//
// Without -redis (or REDIS_URL) it starts a throwaway redis-server on a
// free loopback port, as internal/redistest does. With -keep the filled
// prefix stays in Redis and a later run with the same -n and -prefix reuses
// it, for up to 23 hours (then the first tickets have left the window).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/grouping"
	"github.com/caojiadu/hotline/internal/needgen"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
)

const (
	// partitions is redisstore's fixed partition count (its partitions
	// constant, exported only to its tests): a ticket number n lives in
	// partition n % 16. The fill checks it by reading tickets back through
	// the store.
	partitions = 16
	// The generated year is laid, slightly compressed (364 days for 365),
	// into the window that ends when the fill starts, from 23 hours after
	// the window's start to an hour before its end: a run up to 23 hours
	// later still reads every ticket.
	startMargin = 23 * time.Hour
	endMargin   = time.Hour
	// fillVersion names what a fill holds; a kept prefix filled by another
	// version is filled again.
	fillVersion = "needgen-1"
	// gcPercent is cmd/hotline's DefaultGCPercent, the GOGC the job runs
	// at in `hotline serve` and `hotline group`.
	gcPercent = 400
)

type options struct {
	n          int
	redisURL   string
	prefix     string
	keep       bool
	runs       int
	cpuProfile string
	memProfile string
	memLimit   int64
	gogc       string // as it was set, for the figures
}

func main() {
	var o options
	flag.IntVar(&o.n, "n", 1_000_000, "tickets to fill and group")
	flag.StringVar(&o.redisURL, "redis", os.Getenv("REDIS_URL"), "Redis to fill (default $REDIS_URL, else a throwaway redis-server)")
	flag.StringVar(&o.prefix, "prefix", "benchgroup", "key prefix of the benchmark's tickets and projects (wiped unless reused)")
	flag.BoolVar(&o.keep, "keep", false, "leave the filled prefix in Redis, and reuse one left by an earlier run")
	flag.IntVar(&o.runs, "runs", 2, "runs of the job on the same tickets (the second shows the rerun)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the first run to this file")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile after the first run to this file, and one before it to the file .base (go tool pprof -diff_base)")
	flag.Int64Var(&o.memLimit, "memlimit", 0, "the job's MemoryLimit in MiB (0: the job's default, projects.DefaultMemoryLimit; -1: none), to compare")
	flag.Parse()

	// As cmd/hotline's main does.
	o.gogc = os.Getenv("GOGC")
	if o.gogc == "" {
		debug.SetGCPercent(gcPercent)
		o.gogc = strconv.Itoa(gcPercent) + " (cmd/hotline's)"
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := bench(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func bench(ctx context.Context, o options) error {
	if o.n < 1000 {
		return errors.New("-n: give at least 1000 tickets")
	}
	if o.prefix == "" || o.prefix == redisstore.DefaultPrefix {
		return fmt.Errorf("-prefix: give a prefix of the benchmark's own, not %q", o.prefix)
	}
	url, server := o.redisURL, "given"
	if url == "" {
		srv, err := startRedis()
		if err != nil {
			return err
		}
		defer srv.stop()
		url, server = srv.url, "throwaway redis-server"
		if o.keep {
			fmt.Fprintln(os.Stderr, "bench: -keep with a throwaway redis-server keeps nothing; give -redis or REDIS_URL")
		}
	}
	client, err := redisstore.NewClient(redisstore.ClientOptions{URL: url})
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	db := redisstore.NewDB(client, o.prefix)
	version, _ := infoField(ctx, client, "server", "redis_version")
	fmt.Printf("grouping job benchmark: %d tickets, %s (Redis %s) at %s, prefix %q; %d CPUs, GOMAXPROCS %d, GOGC %s, %s\n",
		o.n, server, version, hostOf(url), o.prefix, runtime.NumCPU(), runtime.GOMAXPROCS(0), o.gogc, runtime.Version())

	size := sizeFor(o.n)
	truth := &needgen.Truth{}
	reused, err := reuseFill(ctx, client, o)
	if err != nil {
		return err
	}
	if reused {
		start := time.Now()
		needgen.Generate(size, func(r hotline.NeedRecord, t string) { truth.Add(r.TicketID, t) })
		fmt.Printf("fill: reusing the %d tickets of prefix %q; truth regenerated in %.1f s\n", o.n, o.prefix, time.Since(start).Seconds())
	} else {
		if o.redisURL != "" {
			if err := wipe(ctx, client, o.prefix); err != nil {
				return err
			}
		}
		if err := fill(ctx, client, db, o, size, truth); err != nil {
			return err
		}
	}
	if !o.keep && o.redisURL != "" { // a throwaway server goes with its keys
		defer func() {
			if err := wipe(context.Background(), client, o.prefix); err != nil {
				fmt.Fprintln(os.Stderr, "bench: removing the benchmark's keys:", err)
			}
		}()
	}

	// The job as cmd/hotline's newProjects builds it.
	netw, cat := network.Demo()
	c := config.Default().Projects
	store := &timedStore{ProjectStore: redisstore.NewProjectStore(db)}
	tickets := redisstore.NewTicketStore(db)
	job := &projects.Job{Store: store, Needs: tickets, Directory: hotline.NewStaticDirectory(netw, cat),
		Options: grouping.Options{Similarity: c.Similarity, NeighbourMetres: c.NeighbourMetres, MinMonths: c.MinMonths,
			MinResidents: c.MinResidents, MinTickets: c.MinTickets, CostPerPersonTime: c.CostPerPersonTime},
		Locker: redisstore.NewLocker(db), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	switch {
	case o.memLimit < 0:
		job.MemoryLimit = -1
		fmt.Println("job memory limit: none (-memlimit -1)")
	case o.memLimit > 0:
		job.MemoryLimit = o.memLimit << 20
		fmt.Printf("job memory limit: %d MiB (-memlimit)\n", o.memLimit)
	default:
		fmt.Printf("job memory limit: %d MiB (projects.DefaultMemoryLimit)\n", projects.DefaultMemoryLimit>>20)
	}

	// The drafts stored before each run (a kept prefix holds some), to
	// tell which the run wrote and whose evidence it changed.
	_, before, err := storedDrafts(ctx, store)
	if err != nil {
		return err
	}
	var results []runResult
	for i := 1; i <= max(1, o.runs); i++ {
		var prof *os.File
		if i == 1 && o.cpuProfile != "" {
			if prof, err = os.Create(o.cpuProfile); err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(prof); err != nil {
				return err
			}
		}
		if i == 1 && o.memProfile != "" {
			// The base to take off: what the fill allocated.
			if err := writeHeapProfile(o.memProfile + ".base"); err != nil {
				return err
			}
		}
		res, err := runJob(ctx, job, store, client, c.Window.Duration)
		if prof != nil {
			pprof.StopCPUProfile()
			prof.Close()
		}
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		if i == 1 && o.memProfile != "" {
			if err := writeHeapProfile(o.memProfile); err != nil {
				return err
			}
		}
		drafts, after, err := storedDrafts(ctx, store)
		if err != nil {
			return err
		}
		for id, d := range after {
			switch b, ok := before[id]; {
			case !ok:
				res.rewritten++
				res.evidence++
			case b.version != d.version:
				res.rewritten++
				if b.evidence != d.evidence {
					res.evidence++
				}
			}
		}
		res.drafts = len(after)
		before = after
		res.precision, res.recall, res.oneOffDrafts, res.foreign = truth.Scores(drafts)
		res.print(i, truth.Tickets())
		results = append(results, res)
	}
	first := results[0]
	fmt.Printf("target (issue 6): the job under 60 s and under 1 GiB: %.1f s %s, peak RSS %s %s\n",
		first.wall.Seconds(), verdict(first.wall < 60*time.Second), mib(first.hwm), verdict(first.hwm < 1<<30))
	return nil
}

// stored is what the benchmark keeps of a stored draft between runs: its
// version and a hash of its evidence (not the draft: this process's
// memory is measured, and the drafts hold a million ticket ids).
type stored struct {
	version  int64
	evidence [sha256.Size]byte
}

// storedDrafts reads every draft of the store.
func storedDrafts(ctx context.Context, store *timedStore) ([]*hotline.Project, map[string]stored, error) {
	ps, err := store.FindProjects(ctx, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft}})
	if err != nil {
		return nil, nil, err
	}
	out := make(map[string]stored, len(ps))
	for _, p := range ps {
		ev, err := json.Marshal(p.Evidence)
		if err != nil {
			return nil, nil, err
		}
		out[p.ID] = stored{p.Version, sha256.Sum256(ev)}
	}
	return ps, out, nil
}

func verdict(ok bool) string {
	if ok {
		return "(met)"
	}
	return "(NOT met)"
}

// sizeFor is needgen.Size1M for a million, else the same proportions.
func sizeFor(n int) needgen.Size {
	if n == needgen.Size1M.Records {
		return needgen.Size1M
	}
	// At most 7,000 synthetic needs: four key words each and 3,000
	// fillers must fit in the generator's bank of 32,000 words.
	return needgen.Size{Records: n, Noise: n / 10, Synth: max(1, min(7000, n/500)), Scale: max(1, 40*n/1_000_000)}
}

// fill writes n generated tickets into the ticket hashes and the created
// indexes, recording each one's true group in truth.
func fill(ctx context.Context, client redis.UniversalClient, db *redisstore.DB, o options, size needgen.Size, truth *needgen.Truth) error {
	start := time.Now()
	genFrom, genTo := needgen.Window()
	window := config.Default().Projects.Window.Duration
	from := start.Add(-window + startMargin)
	scale := float64(window-startMargin-endMargin) / float64(genTo.Sub(genFrom))
	at := func(t time.Time) time.Time {
		return from.Add(time.Duration(float64(t.Sub(genFrom)) * scale)).UTC()
	}
	netw, _ := network.Demo()

	// The generator (and truth) on this goroutine, JSON and pipelines on
	// two workers.
	const batch = 1000
	batches := make(chan []hotline.NeedRecord, 4)
	var bytes, written atomic.Int64
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed error
			for b := range batches {
				if failed != nil {
					continue // drain
				}
				pipe := client.Pipeline()
				for _, r := range b {
					t := ticketOf(r, at, netw)
					d, err := json.Marshal(&t)
					if err != nil {
						failed = err
						break
					}
					bytes.Add(int64(len(d)))
					num, _ := strconv.ParseInt(t.ID[:len(t.ID)-1], 10, 64)
					p := num % partitions
					pipe.HSet(ctx, fmt.Sprintf("%s:{p%d}:t:%s", o.prefix, p, t.ID), "v", t.Version, "d", d)
					pipe.ZAdd(ctx, fmt.Sprintf("%s:{p%d}:idx:created", o.prefix, p), redis.Z{Score: float64(t.CreatedAt.UnixMilli()), Member: t.ID})
				}
				if failed == nil {
					if _, err := pipe.Exec(ctx); err != nil {
						failed = err
					}
				}
				if n := written.Add(int64(len(b))); n/100_000 != (n-int64(len(b)))/100_000 {
					fmt.Fprintf(os.Stderr, "fill: %d tickets, %.0f s\n", n, time.Since(start).Seconds())
				}
			}
			errs <- failed
		}()
	}
	cur := make([]hotline.NeedRecord, 0, batch)
	var ends []string // the first and last ticket ids
	n, _, _ := needgen.Generate(size, func(r hotline.NeedRecord, t string) {
		truth.Add(r.TicketID, t)
		if len(ends) < 2 {
			ends = append(ends, r.TicketID)
		}
		ends[len(ends)-1] = r.TicketID
		cur = append(cur, r)
		if len(cur) == batch {
			batches <- cur
			cur = make([]hotline.NeedRecord, 0, batch)
		}
	})
	batches <- cur
	close(batches)
	wg.Wait()
	for range 2 {
		if err := <-errs; err != nil {
			return fmt.Errorf("fill: %w", err)
		}
	}
	took := time.Since(start)

	// Read back through the store: every ticket in the window, and the
	// first and last where the store looks for them (their partition).
	s := redisstore.NewTicketStore(db)
	count, err := s.CountNeeds(ctx, start.Add(-window), start)
	if err != nil {
		return err
	}
	recs, err := s.NeedRecords(ctx, ends)
	if err != nil {
		return err
	}
	if count != n || len(recs) != len(ends) {
		return fmt.Errorf("fill: the store counts %d of %d tickets in the window and finds %d of %d by id", count, n, len(recs), len(ends))
	}
	if err := client.HSet(ctx, o.prefix+":bench:fill", "n", n, "version", fillVersion, "at", start.UTC().Format(time.RFC3339Nano)).Err(); err != nil {
		return err
	}
	used, _ := infoField(ctx, client, "memory", "used_memory")
	fmt.Printf("fill: %d tickets, %d bytes of JSON each on average, in %.1f s (%.0f tickets/s; not part of the figure); Redis used_memory %s\n",
		n, bytes.Load()/int64(n), took.Seconds(), float64(n)/took.Seconds(), mib(uint64(atoi(used))))
	return nil
}

// reuseFill reports whether the prefix holds a fill of o.n tickets by this
// version, young enough that the window still holds all its tickets.
func reuseFill(ctx context.Context, client redis.UniversalClient, o options) (bool, error) {
	if !o.keep {
		return false, nil
	}
	m, err := client.HGetAll(ctx, o.prefix+":bench:fill").Result()
	if err != nil {
		return false, err
	}
	at, err := time.Parse(time.RFC3339Nano, m["at"])
	switch {
	case len(m) == 0:
		return false, nil
	case err != nil || m["n"] != strconv.Itoa(o.n) || m["version"] != fillVersion:
		fmt.Printf("fill: prefix %q holds another fill (%v); filling again\n", o.prefix, m)
		return false, nil
	case time.Since(at) > startMargin-10*time.Minute:
		fmt.Printf("fill: prefix %q was filled %s ago, its first tickets have left the window; filling again\n",
			o.prefix, time.Since(at).Round(time.Minute))
		return false, nil
	}
	return true, nil
}

// ticketOf makes a stored ticket of a generated record, of the size and
// shape intake and dispatch leave (about 900 bytes of JSON): the record's
// words, category, committee, status, tier and times (laid into the window
// by at), a contact whose phone number follows from the record's resident
// (one resident, one number, so one ResidentKey once stored; none for an
// unknown number), an address and a point in the committee, the unit, the
// deadlines and notes. Everything else is derived from the ticket id, so
// the same record always makes the same ticket.
func ticketOf(r hotline.NeedRecord, at func(time.Time) time.Time, netw *hotline.Network) hotline.Ticket {
	h := fnv.New64a()
	h.Write([]byte(r.TicketID))
	x := h.Sum64()
	pick := func(n int) int { // another few bits of x each call
		v := int(x % uint64(n))
		x = x/uint64(n) ^ x<<7
		return v
	}
	created := at(r.CreatedAt)
	t := hotline.Ticket{
		ID: r.TicketID, Channel: channels[pick(len(channels))], ServiceCode: r.ServiceCode, Description: r.Description,
		Language: r.Language, Status: r.Status, Tier: r.Tier, Escalations: r.Escalations, OverdueNoted: r.Overdue,
		Redo: r.Redo, MergedInto: r.MergedInto, Satisfaction: r.Satisfaction, CreatedAt: created,
		AcceptBy: created.Add(2 * time.Hour), ResolveBy: created.Add(72 * time.Hour), Version: 3,
	}
	if t.Language == "" {
		t.Language = "zh"
	}
	switch t.Channel {
	case hotline.ChannelVoice, hotline.ChannelSMS:
		t.CreatedBy = "twilio"
		t.ExternalRef = fmt.Sprintf("CA%016x%016x", x, x*0x9e3779b97f4a7c15)
	default:
		t.CreatedBy = "resident"
	}
	t.Location = hotline.Location{Committee: r.Committee,
		Address: fmt.Sprintf("%s%d弄%d号%d室", roads[pick(len(roads))], 1+pick(400), 1+pick(60), 101+pick(600))}
	if u, ok := netw.Unit(r.Committee); ok {
		t.Location.Lat = math.Round((u.Lat+float64(pick(2001)-1000)/200000)*1e6) / 1e6
		t.Location.Long = math.Round((u.Long+float64(pick(2001)-1000)/200000)*1e6) / 1e6
		d, load := 50+pick(900), pick(8)
		t.UnitID = u.ID
		// As dispatch words it (router.go reason).
		t.RouteReason = fmt.Sprintf("%s辖区；距居民 %d 米，负载 %d/10 / in the area of %s; %d m away, load %d/10",
			u.NameZH, d, load, u.Name("en"), d, load)
	}
	if r.Tier == hotline.TierStreet {
		t.Declined = []string{t.UnitID}
		t.UnitID, t.RouteReason = "center", "居委会未在时限内办结，升级至街道中心 / escalated: the committee's resolve limit passed, to the street centre"
		t.Version += 2
	}
	if r.ResidentKey != "" {
		p := fnv.New64a()
		p.Write([]byte(r.ResidentKey))
		t.Contact = hotline.Contact{Phone: fmt.Sprintf("+8613%09d", p.Sum64()%1_000_000_000),
			LastName: surnames[pick(len(surnames))], FirstName: "先生", Consent: true}
		if pick(2) == 0 {
			t.Contact.FirstName = "女士"
		}
	}
	t.UpdatedAt = created.Add(10 * time.Minute)
	if t.Status != hotline.StatusRouted && t.Status != hotline.StatusNew {
		t.AcceptedAt = created.Add(time.Duration(5+pick(90)) * time.Minute)
		t.UpdatedAt = t.AcceptedAt
		t.Version++
	}
	if !r.ResolvedAt.IsZero() {
		t.ResolvedAt = created.Add(r.ResolvedAt.Sub(r.CreatedAt))
		t.UpdatedAt = t.ResolvedAt
		t.StatusNotes = notes[pick(len(notes))]
		t.Version += 2
	}
	if t.Status == hotline.StatusClosed {
		t.ClosedAt = t.ResolvedAt.Add(4 * time.Hour)
		t.UpdatedAt = t.ClosedAt
		t.Version++
	}
	return t
}

var (
	channels = []hotline.Channel{hotline.ChannelVoice, hotline.ChannelVoice, hotline.ChannelVoice, hotline.ChannelSMS, hotline.ChannelWeb, hotline.ChannelWalkIn}
	roads    = []string{"长寿路", "宜昌路", "余姚路", "叶家宅路", "康定路", "昌化路", "武宁路", "江宁路", "胶州路", "西康路", "万航渡路", "长宁支路"}
	surnames = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙"}
	notes    = []string{"已安排志愿者上门处理，居民表示满意", "已联系物业维修，问题已解决", "已转交相关部门并电话回访居民", "社工已上门了解情况并协助办理"}
)

// timedStore is the Redis ProjectStore, noting when the job starts
// writing drafts (after the grouping's Result).
type timedStore struct {
	*redisstore.ProjectStore
	firstSave time.Time
	saves     int
}

func (s *timedStore) SaveDraft(ctx context.Context, p *hotline.Project) (bool, error) {
	if s.saves == 0 {
		s.firstSave = time.Now()
	}
	s.saves++
	return s.ProjectStore.SaveDraft(ctx, p)
}

// runResult is what one run of the job measured.
type runResult struct {
	run                       *hotline.GroupingRun
	wall, read, result, write time.Duration
	cpuUser, cpuSys, redisCPU time.Duration
	peakHeap, peakRSS, hwm    uint64
	hwmSince                  string
	load                      [2]string // load average before and after
	redisPeak                 uint64
	saves, drafts, rewritten  int
	evidence                  int // drafts new or whose evidence changed
	precision, recall         float64
	oneOffDrafts, foreign     int
}

// runJob runs the job once, sampling memory meanwhile.
func runJob(ctx context.Context, job *projects.Job, store *timedStore, client redis.UniversalClient, window time.Duration) (runResult, error) {
	var res runResult
	// Start from what the fill or the previous run left: collected, and
	// the resident high-water mark brought down to the resident set now.
	runtime.GC()
	debug.FreeOSMemory()
	res.hwmSince = "the run's start"
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		res.hwmSince = "the process's start (clear_refs: " + err.Error() + ")"
	}
	store.saves, store.firstSave = 0, time.Time{}
	res.load[0] = loadAverage()
	redis0 := redisCPU(ctx, client)
	u0, s0 := rusage()

	var peakHeap, peakRSS atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peakHeap.Store(max(peakHeap.Load(), ms.HeapInuse))
			peakRSS.Store(max(peakRSS.Load(), rss()))
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()

	var lastProgress time.Time
	start := time.Now()
	run, err := job.Run(ctx, "bench", window, func(done, total int) {
		lastProgress = time.Now()
		if done%100_000 == 0 {
			fmt.Fprintf(os.Stderr, "reading tickets: %d of %d, %.1f s\n", done, total, time.Since(start).Seconds())
		}
	})
	end := time.Now()
	close(stop)
	<-sampled
	if err != nil {
		return res, err
	}
	u1, s1 := rusage()
	res.load[1] = loadAverage()
	res.run = run
	res.wall = end.Sub(start)
	res.read = lastProgress.Sub(start)
	writeFrom := end
	if !store.firstSave.IsZero() {
		writeFrom = store.firstSave
	}
	res.result, res.write = writeFrom.Sub(lastProgress), end.Sub(writeFrom)
	res.cpuUser, res.cpuSys = u1-u0, s1-s0
	res.redisCPU = redisCPU(ctx, client) - redis0
	res.peakHeap, res.peakRSS, res.hwm = peakHeap.Load(), peakRSS.Load(), vmHWM()
	res.saves = store.saves
	peak, _ := infoField(ctx, client, "memory", "used_memory_peak")
	res.redisPeak = uint64(atoi(peak))
	return res, nil
}

func (r runResult) print(i, tickets int) {
	run := r.run
	fmt.Printf("run %d (%s): %d tickets read, %d groups, %d recurring; drafts: %d new, %d continued, %d retired, %d kept; %d SaveDraft calls; %d drafts stored, %d of them written by this run (new or version moved), %d new or with other evidence (tickets)\n",
		i, run.ID, run.Tickets, run.Groups, run.Recurring, run.New, run.Continued, run.Retired, run.Kept, r.saves, r.drafts, r.rewritten, r.evidence)
	fmt.Printf("  wall %.1f s: reading the tickets into the grouper %.1f s (to the last progress report), the grouping's result %.1f s, writing %.1f s\n",
		r.wall.Seconds(), r.read.Seconds(), r.result.Seconds(), r.write.Seconds())
	fmt.Printf("  CPU: this process %.1f s (user %.1f, system %.1f), redis-server %.1f s; machine load average %s before, %s after\n",
		(r.cpuUser + r.cpuSys).Seconds(), r.cpuUser.Seconds(), r.cpuSys.Seconds(), r.redisCPU.Seconds(), r.load[0], r.load[1])
	fmt.Printf("  memory: Go heap in use at most %s (sampled every 20 ms); peak RSS %s (VmHWM since %s; sampled VmRSS at most %s); Redis used_memory_peak %s\n",
		mib(r.peakHeap), mib(r.hwm), r.hwmSince, mib(r.peakRSS), mib(r.redisPeak))
	fmt.Printf("  drafts against the generator's truth (%d tickets): precision %.3f, recall %.3f; %d drafts mostly one-off tickets; %d ticket ids not generated\n",
		tickets, r.precision, r.recall, r.oneOffDrafts, r.foreign)
}

// wipe deletes every key of prefix.
func wipe(ctx context.Context, client redis.UniversalClient, prefix string) error {
	iter := client.Scan(ctx, 0, prefix+":*", 5000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 5000 {
			if err := client.Unlink(ctx, keys...).Err(); err != nil {
				return err
			}
			keys = keys[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(keys) > 0 {
		return client.Unlink(ctx, keys...).Err()
	}
	return nil
}

// rusage is this process's user and system CPU time.
func rusage() (user, sys time.Duration) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

// loadAverage is the machine's load average over the last minute: the
// machine is shared, and wall time follows it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// rss is this process's resident set now (/proc/self/statm).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// vmHWM is this process's peak resident set (VmHWM in /proc/self/status).
func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for l := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// infoField reads one field of a section of INFO.
func infoField(ctx context.Context, client redis.UniversalClient, section, field string) (string, error) {
	s, err := client.Info(ctx, section).Result()
	if err != nil {
		return "", err
	}
	for l := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

// redisCPU is Redis's own user + system CPU time, from INFO cpu.
func redisCPU(ctx context.Context, client redis.UniversalClient) time.Duration {
	var total float64
	for _, f := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, _ := infoField(ctx, client, "cpu", f)
		x, _ := strconv.ParseFloat(v, 64)
		total += x
	}
	return time.Duration(total * float64(time.Second))
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// hostOf is a redis URL without its password.
func hostOf(url string) string {
	if i := strings.LastIndexByte(url, '@'); i >= 0 {
		return "redis://…@" + url[i+1:]
	}
	return url
}

// server is a throwaway redis-server.
type server struct {
	cmd *exec.Cmd
	dir string
	url string
}

// startRedis starts redis-server on a free loopback port with no
// persistence, as internal/redistest does, and waits for it to answer.
// A small shell outlives this process and stops the server should this
// one die without stop.
func startRedis() (*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("no -redis, no REDIS_URL and no redis-server on PATH: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "bench-grouping")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &server{cmd: cmd, dir: dir, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	watch := exec.Command("sh", "-c", fmt.Sprintf(
		"while kill -0 %d 2>/dev/null; do sleep 1; done; kill %d 2>/dev/null; rm -rf %q",
		os.Getpid(), cmd.Process.Pid, dir))
	_ = watch.Start()
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on port %d did not answer: %w", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}
