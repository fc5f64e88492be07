package projects

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
)

// Locker hands out a lock shared by every replica (redisstore.Locker), so
// the grouping job runs once at a time however many replicas schedule it.
// Lock returns ok false, with no error, when another holder has name; the
// lock is kept (extended) until unlock.
type Locker interface {
	Lock(ctx context.Context, name string, ttl time.Duration) (unlock func() error, ok bool, err error)
}

// NeedCounter counts the tickets of a window cheaply (without reading
// them), for the total of a progress report
// (redisstore.TicketStore.CountNeeds).
type NeedCounter interface {
	CountNeeds(ctx context.Context, from, to time.Time) (int, error)
}

// LockName is the lock the job holds while it runs.
const LockName = "grouping"

// DefaultLockTTL is how long the job's lock outlives a replica that died
// holding it: the holder extends it every third of this while it runs, so
// a long run keeps it and the next night's run is never blocked.
const DefaultLockTTL = time.Minute

// progressEvery is how many tickets pass between progress reports.
const progressEvery = 1000

// DefaultMemoryLimit is the soft limit on the Go runtime's memory
// (debug.SetMemoryLimit) while the job runs, unless a lower one is set.
// The hotline runs at GOGC 400 (cmd/hotline DefaultGCPercent), tuned for
// the service's live heap of tens of MB; the job's is far larger (about
// 300 MB after reading a year of a million tickets: the segmenter's
// dictionary 130 MB, the grouper's records, the previous projects' ticket
// ids), and at GOGC 400 the heap grew to five times it, 1,280 to 1,760 MiB
// resident (bench/grouping; issue 6 asks for under 1 GiB; under this
// limit at most 774 MiB, for no CPU that could be measured). Under the
// limit the collector still runs as rarely as GOGC lets it until the heap
// nears the limit, then as often as it takes to stay under it. A window whose
// live heap comes near the limit makes the collector work hard (the
// runtime caps it at half the CPU, and lets the heap pass the limit
// rather than stall); give such a window a larger Job.MemoryLimit.
const DefaultMemoryLimit = 768 << 20

// Job is the grouping job: it reads a window of tickets, groups recurring
// needs (package grouping) and writes one draft project per recurring
// group, continuing the drafts of earlier runs, leaving alone the projects
// people own, and retiring the drafts whose need stopped recurring. Set its
// fields before the first Run.
type Job struct {
	Store     hotline.ProjectStore
	Needs     hotline.NeedSource
	Directory hotline.Directory
	Options   grouping.Options
	// Locker makes the run exclusive across replicas. Nil: no lock (one
	// process, as in tests).
	Locker  Locker
	LockTTL time.Duration // 0: DefaultLockTTL
	// MemoryLimit is the process's soft memory limit while the job runs
	// (see DefaultMemoryLimit); a lower limit already in force (GOMEMLIMIT)
	// is kept. 0: DefaultMemoryLimit; negative: none.
	MemoryLimit int64
	// Now is the clock; tests replace it. Nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

func (j *Job) now() time.Time {
	if j.Now != nil {
		return j.Now()
	}
	return time.Now()
}

func (j *Job) logger() *slog.Logger {
	if j.Logger != nil {
		return j.Logger
	}
	return slog.Default()
}

// errStillOwned tells the retirement that a draft became someone's.
var errStillOwned = errors.New("no longer a draft")

// Run runs the job over the tickets created in [now−since, now) and
// records the run. trigger says who asked ("cron", "manual"). progress,
// when not nil, is called from Run's goroutine as tickets are read, with
// total the number expected (-1 when unknown), and once more at the end
// of the reading with done = total.
//
// Running it again on the same tickets writes nothing new: each group
// finds the draft it made before (by its tickets) and a draft whose
// content did not change is not written (ProjectStore.SaveDraft). A new
// group mostly made of tickets people's projects hold is not written
// either (fragmentOfOwned).
// Errors: EINVALID (since ≤ 0), ECONFLICT (another replica holds the lock:
// nothing was done), EUNAVAILABLE, and ctx's cancellation as EUNAVAILABLE.
func (j *Job) Run(ctx context.Context, trigger string, since time.Duration, progress func(done, total int)) (*hotline.GroupingRun, error) {
	if since <= 0 {
		return nil, hotline.Errorf(hotline.EINVALID, "the window to read must be longer than nothing")
	}
	if j.Locker != nil {
		ttl := j.LockTTL
		if ttl <= 0 {
			ttl = DefaultLockTTL
		}
		unlock, ok, err := j.Locker.Lock(ctx, LockName, ttl)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, hotline.Errorf(hotline.ECONFLICT, "another replica is running the grouping job")
		}
		defer func() {
			if err := unlock(); err != nil {
				j.logger().Warn("grouping: releasing the lock failed; it lapses by itself", "err", err)
			}
		}()
	}
	defer limitMemory(j.MemoryLimit)()

	started := j.now()
	run := &hotline.GroupingRun{Started: started.UTC(), From: started.Add(-since).UTC(), To: started.UTC(), Trigger: trigger}
	// Every project, whatever its status and year: a group matched by a
	// proposal of last year is still that proposal's need.
	previous, err := j.Store.FindProjects(ctx, hotline.ProjectFilter{})
	if err != nil {
		return nil, err
	}

	total := -1
	if c, ok := j.Needs.(NeedCounter); ok && progress != nil {
		if n, err := c.CountNeeds(ctx, run.From, run.To); err == nil {
			total = n
		} else {
			j.logger().Warn("grouping: counting the tickets failed; progress without a total", "err", err)
		}
	}
	g := grouping.New(j.Directory, j.Options)
	read := 0
	err = j.Needs.ScanNeeds(ctx, run.From, run.To, func(r hotline.NeedRecord) error {
		g.Add(r)
		read++
		if progress != nil && read%progressEvery == 0 {
			t := total
			if t >= 0 {
				t = max(t, read) // a ticket created since the count
			}
			progress(read, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(read, read)
	}
	if err := ctx.Err(); err != nil {
		return nil, hotline.Unavailable(err)
	}

	res := g.Result(run.From, run.To, previous)
	run.Tickets, run.Groups, run.Recurring, run.Kept = res.Tickets, res.Groups, res.Recurring, len(res.Kept)
	owned := ownedTickets(previous)
	fragments := 0
	for _, d := range res.Drafts {
		isNew := d.ID == ""
		if isNew && fragmentOfOwned(d, owned) {
			fragments++
			continue
		}
		written, err := j.Store.SaveDraft(ctx, d)
		if err != nil {
			return nil, err
		}
		switch {
		case isNew:
			run.New++
		case written:
			run.Continued++
		}
	}
	for _, id := range res.Retired {
		_, err := j.Store.UpdateProject(ctx, id, func(p *hotline.Project) error {
			// A social worker may have taken it up since the run began.
			if p.Status != hotline.ProjectDraft {
				return errStillOwned
			}
			p.Status = hotline.ProjectRetired
			p.UpdatedBy = ""
			return nil
		})
		switch {
		case err == nil:
			run.Retired++
		case errors.Is(err, errStillOwned), hotline.ErrorCode(err) == hotline.ENOTFOUND:
		default:
			return nil, err
		}
	}
	run.Finished = j.now().UTC()
	if err := j.Store.SaveRun(ctx, run); err != nil {
		return nil, err
	}
	j.logger().Info("grouping run", "run", run.ID, "trigger", trigger, "tickets", run.Tickets,
		"groups", run.Groups, "recurring", run.Recurring, "new", run.New, "continued", run.Continued,
		"retired", run.Retired, "kept", run.Kept, "fragments", fragments, "took", run.Finished.Sub(run.Started).Round(time.Millisecond))
	return run, nil
}

// runsLimited counts the runs under way in this process that lowered the
// soft memory limit, and keeps the limit in force before the first.
var runsLimited struct {
	sync.Mutex
	n     int
	saved int64
}

// limitMemory lowers the soft memory limit to limit (0: DefaultMemoryLimit;
// negative: leaves it) for one run, and returns what puts back the limit
// in force before, once no run is under way (tests run jobs side by side).
func limitMemory(limit int64) (restore func()) {
	if limit < 0 {
		return func() {}
	}
	if limit == 0 {
		limit = DefaultMemoryLimit
	}
	runsLimited.Lock()
	defer runsLimited.Unlock()
	cur := debug.SetMemoryLimit(-1) // -1 reads it
	if runsLimited.n == 0 {
		runsLimited.saved = cur
	}
	runsLimited.n++
	debug.SetMemoryLimit(min(cur, limit))
	return func() {
		runsLimited.Lock()
		defer runsLimited.Unlock()
		if runsLimited.n--; runsLimited.n == 0 {
			debug.SetMemoryLimit(runsLimited.saved)
		}
	}
}

// ownedTickets is the set of tickets held by the projects people own
// (proposals, purchased, rejected and merged ones).
func ownedTickets(previous []*hotline.Project) map[string]bool {
	owned := map[string]bool{}
	for _, p := range previous {
		if p.Status == hotline.ProjectDraft || p.Status == hotline.ProjectRetired {
			continue
		}
		for _, t := range p.Evidence.TicketIDs {
			owned[t] = true
		}
	}
	return owned
}

// fragmentOfOwned reports whether a new draft is mostly (half its tickets
// or more) tickets of projects people own. The grouping continues each
// previous project with one group at most; when a window moves, a need a
// proposal holds can come out as two groups, and the smaller one, which
// lost the match, would come back every night as a "new" draft of a need
// already taken up. Such a fragment is not written: the people who own
// the need see its tickets in their project.
func fragmentOfOwned(d *hotline.Project, owned map[string]bool) bool {
	n := 0
	for _, t := range d.Evidence.TicketIDs {
		if owned[t] {
			n++
		}
	}
	return len(d.Evidence.TicketIDs) > 0 && 2*n >= len(d.Evidence.TicketIDs)
}
