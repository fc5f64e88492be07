package projects_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

const window = 200 * 24 * time.Hour

// quiet is the jobs' logger: the tests say what they check.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// job returns a grouping job on e's stores whose clock reads e.now.
func (e *env) job() *projects.Job {
	return &projects.Job{Store: e.projects, Needs: e.tickets, Directory: e.dir, Locker: redisstore.NewLocker(e.db),
		Now: func() time.Time { return e.now }, Logger: quiet}
}

// MustRun runs the job and fails the test on error.
func MustRun(tb testing.TB, j *projects.Job) *hotline.GroupingRun {
	tb.Helper()
	run, err := j.Run(context.Background(), "manual", window, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return run
}

// projectsByID lists the stored projects by id.
func projectsByID(tb testing.TB, e *env) map[string]*hotline.Project {
	tb.Helper()
	ps, err := e.projects.FindProjects(context.Background(), hotline.ProjectFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*hotline.Project{}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out
}

// draftOf returns the draft holding ticket id.
func draftOf(tb testing.TB, ps map[string]*hotline.Project, id string) *hotline.Project {
	tb.Helper()
	for _, p := range ps {
		if slices.Contains(p.Evidence.TicketIDs, id) {
			return p
		}
	}
	tb.Fatalf("no project holds ticket %s", id)
	return nil
}

// The job makes one draft per recurring need; run again on the same
// tickets it finds its own drafts and writes nothing new.
func TestJobWritesDraftsAndRerunsChangeNothing(t *testing.T) {
	end := time.Date(2026, 11, 30, 2, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	meals, lights := needs(t, e, end)

	var reports [][2]int
	j := e.job()
	run, err := j.Run(context.Background(), "manual", window, func(done, total int) { reports = append(reports, [2]int{done, total}) })
	if err != nil {
		t.Fatal(err)
	}
	if run.ID == "" || run.Tickets != 39 || run.Recurring < 2 || run.New != run.Recurring || run.Continued != 0 || run.Trigger != "manual" {
		t.Fatalf("first run %+v: want 39 tickets, the two needs new", run)
	}
	if last := reports[len(reports)-1]; last != [2]int{39, 39} {
		t.Errorf("progress ended at %v, want 39 of 39", last)
	}
	first := projectsByID(t, e)
	m, l := draftOf(t, first, meals[0]), draftOf(t, first, lights[0])
	if m.ID == l.ID || m.Status != hotline.ProjectDraft || m.Year != 2027 || m.Evidence.Tickets != len(meals) || l.Evidence.Tickets != len(lights) {
		t.Fatalf("drafts: meals %s %d tickets, lights %s %d tickets", m.ID, m.Evidence.Tickets, l.ID, l.Evidence.Tickets)
	}
	if m.ServiceCode != "elderly_meals" || fmt.Sprint(m.Committees) != "[c01]" || m.Evidence.Residents != 18 || m.PersonTimes <= 0 || m.Budget <= 0 {
		t.Errorf("meals draft: %s %v, %d residents, %d person-times, %.0f yuan", m.ServiceCode, m.Committees, m.Evidence.Residents, m.PersonTimes, m.Budget)
	}

	run2 := MustRun(t, j)
	second := projectsByID(t, e)
	if run2.New != 0 || run2.Continued != run.Recurring || run2.Retired != 0 || len(second) != len(first) {
		t.Fatalf("rerun %+v: %d projects, want none new", run2, len(second))
	}
	for id, p := range second {
		if mustJSON(t, p.Evidence) != mustJSON(t, first[id].Evidence) || p.CreatedAt != first[id].CreatedAt {
			t.Errorf("draft %s changed on a rerun over the same tickets", id)
		}
	}
	// The second run compared with the first (trend steady); from then on
	// nothing at all changes, not even a version.
	MustRun(t, j)
	for id, p := range projectsByID(t, e) {
		if p.Version != second[id].Version {
			t.Errorf("draft %s written again: version %d → %d", id, second[id].Version, p.Version)
		}
	}
	last, err := e.svc.LastRun(context.Background(), c01Staff)
	if err != nil || last.ID == run.ID || last.Tickets != 39 {
		t.Fatalf("last run %+v, %v", last, err)
	}
}

// A draft a social worker made a proposal is the worker's: a rerun leaves
// it as it is and writes no draft in its place.
func TestJobLeavesProposalsAlone(t *testing.T) {
	end := time.Date(2026, 11, 30, 2, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	meals, _ := needs(t, e, end)
	j := e.job()
	MustRun(t, j)
	m := draftOf(t, projectsByID(t, e), meals[0])
	prop, err := e.svc.Propose(context.Background(), social, m.ID, hotline.ProposalEdit{TitleZH: ptr("叶家宅路助餐")})
	if err != nil {
		t.Fatal(err)
	}
	before := len(projectsByID(t, e))

	// The same tickets again.
	run := MustRun(t, j)
	after := projectsByID(t, e)
	if got := after[m.ID]; got.Version != prop.Version || got.Status != hotline.ProjectProposal || len(after) != before || run.Kept != 1 || run.New != 0 {
		t.Fatalf("rerun %+v: proposal at version %d (was %d), %d projects (were %d)", run, got.Version, prop.Version, len(after), before)
	}

	// A month later, with more meals tickets: the need still recurs.
	e.now = end.AddDate(0, 1, 0)
	c01, _ := e.dir.Network().Unit("c01")
	for i := range 3 {
		MustTicket(t, e, &hotline.Ticket{ServiceCode: "elderly_meals", Description: "独居老人希望能上门送餐",
			Location: hotline.Location{Lat: c01.Lat, Long: c01.Long, Committee: "c01"}, Status: hotline.StatusNew,
			CreatedAt: end.Add(time.Duration(i+1) * 24 * time.Hour)})
	}
	run = MustRun(t, j)
	after = projectsByID(t, e)
	if got := after[m.ID]; got.Version != prop.Version || got.TitleZH != "叶家宅路助餐" || got.Status != hotline.ProjectProposal {
		t.Fatalf("the proposal changed: version %d → %d, %q, %s", prop.Version, got.Version, got.TitleZH, got.Status)
	}
	if len(after) != before || run.Kept != 1 || run.New != 0 {
		t.Fatalf("%d projects before, %d after (run %+v): want no new draft and the proposal kept", before, len(after), run)
	}
	for _, p := range after {
		if p.ID != m.ID && p.ServiceCode == "elderly_meals" && p.Status == hotline.ProjectDraft {
			t.Fatalf("a meals draft %s beside the proposal %s", p.ID, m.ID)
		}
	}
}

// A need that stopped recurring has its draft retired; proposals stay.
func TestJobRetiresDraftsOfNeedsThatStopped(t *testing.T) {
	end := time.Date(2026, 11, 30, 2, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	meals, lights := needs(t, e, end)
	j := e.job()
	MustRun(t, j)
	ps := projectsByID(t, e)
	m, l := draftOf(t, ps, meals[0]), draftOf(t, ps, lights[0])
	if _, err := e.svc.Propose(context.Background(), social, l.ID, hotline.ProposalEdit{}); err != nil {
		t.Fatal(err)
	}
	e.now = end.Add(window + 24*time.Hour) // the window holds none of the tickets now
	run := MustRun(t, j)
	ps = projectsByID(t, e)
	if run.Tickets != 0 || run.Retired != 1 || ps[m.ID].Status != hotline.ProjectRetired || ps[l.ID].Status != hotline.ProjectProposal {
		t.Fatalf("run %+v: meals %s, lights %s; want meals retired, lights still a proposal", run, ps[m.ID].Status, ps[l.ID].Status)
	}
	// The need comes back: its retired draft is revived, not duplicated.
	e.now = end
	run = MustRun(t, j)
	if ps := projectsByID(t, e); ps[m.ID].Status != hotline.ProjectDraft || run.New != 0 {
		t.Fatalf("need back: run %+v, meals %s", run, ps[m.ID].Status)
	}
}

// gate is a NeedSource whose scan waits until opened: a run that takes
// long enough for another to try its luck meanwhile.
type gate struct {
	hotline.NeedSource
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) ScanNeeds(ctx context.Context, from, to time.Time, fn func(hotline.NeedRecord) error) error {
	g.entered <- struct{}{}
	<-g.open
	return g.NeedSource.ScanNeeds(ctx, from, to, fn)
}

// Two replicas (two Redis clients) start the job at once: one runs, the
// other is told another replica is running it, and one run is recorded.
func TestJobRunsOnceAcrossReplicas(t *testing.T) {
	end := time.Date(2026, 11, 30, 2, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	needs(t, e, end)
	g := &gate{NeedSource: e.tickets, entered: make(chan struct{}, 2), open: make(chan struct{})}
	var jobs []*projects.Job
	for range 2 {
		opt, _ := redis.ParseURL(redistest.URL(t))
		c := redis.NewClient(opt) // a replica of its own
		t.Cleanup(func() { c.Close() })
		db := redisstore.NewDB(c, e.prefix)
		jobs = append(jobs, &projects.Job{Store: redisstore.NewProjectStore(db), Needs: g, Directory: e.dir,
			Locker: redisstore.NewLocker(db), Now: func() time.Time { return end }, Logger: quiet})
	}
	type result struct {
		run *hotline.GroupingRun
		err error
	}
	results := make(chan result, 2)
	var start sync.WaitGroup
	start.Add(1)
	for _, j := range jobs {
		go func() {
			start.Wait()
			run, err := j.Run(context.Background(), "cron", window, nil)
			results <- result{run, err}
		}()
	}
	start.Done()
	<-g.entered // one holds the lock and is reading
	refused := <-results
	AssertCode(t, refused.err, hotline.ECONFLICT)
	if !strings.Contains(hotline.ErrorMessage(refused.err), "another replica is running the grouping job") {
		t.Errorf("refusal says %q", hotline.ErrorMessage(refused.err))
	}
	close(g.open)
	ran := <-results
	if ran.err != nil || ran.run.Tickets != 39 {
		t.Fatalf("the run that held the lock: %+v, %v", ran.run, ran.err)
	}
	runs, err := e.projects.Runs(context.Background(), 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs recorded (%v), want 1", len(runs), err)
	}
	// The lock was released: the next night runs.
	if _, err := jobs[1].Run(context.Background(), "cron", window, nil); err != nil {
		t.Fatalf("the next run: %v", err)
	}
}

// Two OS processes (this test binary, run again as TestHelperProcess)
// start the job against the same Redis: exactly one run is recorded and
// the other process says another replica is running it.
func TestJobRunsOnceAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two processes")
	}
	end := time.Date(2026, 11, 30, 2, 0, 0, 0, shanghai)
	e := MustEnv(t, end)
	needs(t, e, end)
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HOTLINE_HELPER_PROCESS=1", "REDIS_URL="+redistest.URL(t),
			"HELPER_PREFIX="+e.prefix, fmt.Sprintf("HELPER_NAME=p%d", i), fmt.Sprintf("HELPER_NOW=%d", end.UnixNano()))
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for _, cmd := range cmds {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	var said []string
	for _, o := range outs {
		for _, line := range strings.Split(o.String(), "\n") {
			if strings.HasPrefix(line, "HELPER ") {
				said = append(said, strings.TrimPrefix(line, "HELPER "))
			}
		}
	}
	slices.Sort(said)
	if len(said) != 2 || said[0] != "conflict" || said[1] != "ran 39" {
		t.Fatalf("the processes said %q, want one run of 39 tickets and one conflict\n%s\n%s", said, outs[0], outs[1])
	}
	runs, err := e.projects.Runs(context.Background(), 0)
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs recorded (%v), want 1", len(runs), err)
	}
}

// TestHelperProcess is one "replica" of TestJobRunsOnceAcrossProcesses.
// Both meet at a barrier in Redis before starting the job; the one that
// gets the lock holds it until the other has answered (or 20 s passed),
// so the outcome does not depend on how fast the machine is.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("HOTLINE_HELPER_PROCESS") != "1" {
		t.Skip("run by TestJobRunsOnceAcrossProcesses")
	}
	ctx := context.Background()
	opt, err := redis.ParseURL(os.Getenv("REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer c.Close()
	prefix := os.Getenv("HELPER_PREFIX")
	var nowNS int64
	fmt.Sscan(os.Getenv("HELPER_NOW"), &nowNS)
	now := time.Unix(0, nowNS)
	db := redisstore.NewDB(c, prefix)
	barrier, answered := prefix+":helper:barrier", prefix+":helper:answered"
	c.Incr(ctx, barrier)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n, _ := c.Get(ctx, barrier).Int(); n >= 2 {
			break
		}
	}
	holdUntilAnswered := &waitingSource{NeedSource: redisstore.NewTicketStore(db), ready: func() bool {
		n, _ := c.Exists(ctx, answered).Result()
		return n > 0
	}}
	n, cat := network.Demo()
	j := &projects.Job{Store: redisstore.NewProjectStore(db), Needs: holdUntilAnswered, Directory: hotline.NewStaticDirectory(n, cat),
		Locker: redisstore.NewLocker(db), Now: func() time.Time { return now }, Logger: quiet}
	run, err := j.Run(ctx, "cron", window, nil)
	switch {
	case hotline.ErrorCode(err) == hotline.ECONFLICT:
		c.Set(ctx, answered, os.Getenv("HELPER_NAME"), 0)
		fmt.Println("HELPER conflict")
	case err != nil:
		t.Fatal(err)
	default:
		fmt.Printf("HELPER ran %d\n", run.Tickets)
	}
}

// waitingSource holds its scan until ready (at most 20 s).
type waitingSource struct {
	hotline.NeedSource
	ready func() bool
}

func (w *waitingSource) ScanNeeds(ctx context.Context, from, to time.Time, fn func(hotline.NeedRecord) error) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && !w.ready(); {
		time.Sleep(10 * time.Millisecond)
	}
	return w.NeedSource.ScanNeeds(ctx, from, to, fn)
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
