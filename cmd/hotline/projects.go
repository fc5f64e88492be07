package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/grouping"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
)

// recentRun is how long after any run a scheduled run is skipped. Every
// replica's scheduler fires at the same minute; the lock lets one run at a
// time, and this keeps a replica whose clock is a little late from running
// again just after the first finished.
const recentRun = 30 * time.Minute

// The Redis stores are what the projects package asks for.
var (
	_ projects.Locker         = (*redisstore.Locker)(nil)
	_ projects.RecordReader   = (*redisstore.TicketStore)(nil)
	_ projects.NeedCounter    = (*redisstore.TicketStore)(nil)
	_ projects.UnitNeedSource = (*redisstore.TicketStore)(nil)
)

// groupingOptions are the grouping keys of the configuration.
func groupingOptions(c config.Projects) grouping.Options {
	return grouping.Options{Similarity: c.Similarity, NeighbourMetres: c.NeighbourMetres, MinMonths: c.MinMonths,
		MinResidents: c.MinResidents, MinTickets: c.MinTickets, CostPerPersonTime: c.CostPerPersonTime}
}

// newProjects builds the projects service and the grouping job on st.
func newProjects(st *Store, dir hotline.Directory, c config.Projects, log *slog.Logger) (*projects.Service, *projects.Job) {
	store, tickets := redisstore.NewProjectStore(st.DB), redisstore.NewTicketStore(st.DB)
	svc := &projects.Service{Store: store, Needs: tickets, Records: tickets, Directory: dir, Logger: log}
	job := &projects.Job{Store: store, Needs: tickets, Directory: dir, Options: groupingOptions(c),
		Locker: redisstore.NewLocker(st.DB), Logger: log}
	return svc, job
}

// openProjects wires the projects service and job into m and, when
// enabled, schedules the job on every replica (the job's lock lets one
// run at a time). The scheduler stops with the other background work; a
// run under way is cancelled and waited for.
func (m *Main) openProjects(st *Store) error {
	m.Projects, m.ProjectJob = newProjects(st, m.Directory, m.Config.Projects, m.Logger)
	c := m.Config.Projects
	if !c.Enabled {
		m.Logger.Info("grouping job not scheduled ([projects] enabled = false); `hotline group` runs it by hand")
		return nil
	}
	if err := m.schedule("projects", c.Schedule, m.groupScheduled); err != nil {
		return err
	}
	m.Logger.Info("grouping job scheduled", "schedule", c.Schedule, "zone", "Asia/Shanghai", "window", c.Window.Duration.String())
	return nil
}

// groupScheduled is the scheduler's run: skipped when a run started a
// little while ago, quiet when another replica holds the lock.
func (m *Main) groupScheduled(ctx context.Context) {
	if last, err := m.ProjectJob.Store.LastRun(ctx); err == nil && time.Since(last.Started) < recentRun {
		m.Logger.Info("grouping: skipped, a run started a moment ago", "run", last.ID, "started", last.Started)
		return
	}
	_, err := m.ProjectJob.Run(ctx, "cron", m.Config.Projects.Window.Duration, nil)
	switch {
	case err == nil:
	case hotline.ErrorCode(err) == hotline.ECONFLICT:
		m.Logger.Info("grouping: skipped, another replica is running the grouping job")
	case ctx.Err() != nil:
		m.Logger.Info("grouping: stopped by shutdown; the next run starts again")
	default:
		m.Logger.Error("grouping run failed; the next scheduled run tries again", "err", err)
	}
}

// groupCommand is `hotline group`: it runs the grouping job once, now,
// on the store serve uses, with a progress bar on stderr and a summary on
// stdout.
func groupCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var since string
	m, st, err := openForCommand(ctx, "group", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&since, "since", "", `how far back to read tickets: days ("365d") or a duration ("720h"); default [projects] window`)
	})
	if err != nil {
		return err
	}
	defer st.Close()
	window := m.Config.Projects.Window.Duration
	if since != "" {
		if window, err = config.ParseWindow(since); err != nil {
			return fmt.Errorf("--since: %w", err)
		}
		if window <= 0 {
			return fmt.Errorf("--since: give a window longer than nothing, e.g. 365d")
		}
	}
	n, c, err := loadDirectory(ctx, m.Config, st, m.Logger)
	if err != nil {
		return err
	}
	_, job := newProjects(st, hotline.NewStaticDirectory(n, c), m.Config.Projects, m.Logger)

	started := time.Now()
	prog := newProgress(stderr)
	run, err := job.Run(ctx, "manual", window, prog.report)
	prog.finish()
	if hotline.ErrorCode(err) == hotline.ECONFLICT {
		return fmt.Errorf("%s; try again when it has finished", hotline.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "grouping run %s: tickets created %s to %s\n", run.ID,
		run.From.In(dispatch.Shanghai).Format("2006-01-02 15:04"), run.To.In(dispatch.Shanghai).Format("2006-01-02 15:04"))
	for _, row := range []struct {
		name string
		n    int
	}{
		{"tickets read", run.Tickets}, {"groups", run.Groups}, {"recurring", run.Recurring},
		{"new drafts", run.New}, {"continued", run.Continued}, {"retired", run.Retired}, {"kept (people's projects)", run.Kept},
	} {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	fmt.Fprintf(tw, "  time taken\t%s\n", time.Since(started).Round(time.Millisecond))
	return tw.Flush()
}

// progress reports the reading of tickets: a bar on a terminal, else a
// line at every tenth of the way (every 100,000 tickets when the total is
// unknown), so a log file gets a few lines, not thousands.
type progress struct {
	w    io.Writer
	bar  *progressbar.ProgressBar
	last int // the tenth (or 100,000) last written as a line
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, last: -1}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("reading tickets"),
			progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("tickets"),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return p
}

func (p *progress) report(done, total int) {
	if p.bar != nil {
		if total > 0 && int64(total) != p.bar.GetMax64() {
			p.bar.ChangeMax(total)
		}
		_ = p.bar.Set(done)
		return
	}
	step := done / 100000
	if total > 0 {
		step = done * 10 / total
	}
	if step == p.last {
		return
	}
	p.last = step
	if total > 0 {
		fmt.Fprintf(p.w, "reading tickets: %d of %d (%d%%)\n", done, total, done*100/total)
	} else {
		fmt.Fprintf(p.w, "reading tickets: %d\n", done)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
