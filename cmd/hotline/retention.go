package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/retention"
)

// The Redis stores are what the retention sweep asks for.
var (
	_ retention.Store  = (*redisstore.TicketStore)(nil)
	_ retention.Locker = (*redisstore.Locker)(nil)
)

// newSweeper builds the retention sweep on st.
func newSweeper(st *Store, c config.Retention, log *slog.Logger) *retention.Sweeper {
	return &retention.Sweeper{Store: redisstore.NewTicketStore(st.DB), Period: c.PersonalData.Duration,
		Locker: redisstore.NewLocker(st.DB), Logger: log}
}

// openRetention schedules the daily erasure of personal details on every
// replica (the sweep's lock lets one run at a time). The scheduler stops
// with the other background work; a sweep under way is cancelled and
// waited for, and the next one carries on where it stopped.
func (m *Main) openRetention(st *Store) error {
	c := m.Config.Retention
	sweeper := newSweeper(st, c, m.Logger)
	if err := m.schedule("retention", c.Schedule, func(ctx context.Context) { m.eraseScheduled(ctx, sweeper) }); err != nil {
		return err
	}
	m.Logger.Info("erasure of personal details scheduled", "schedule", c.Schedule, "zone", "Asia/Shanghai",
		"personal_data", windowText(c.PersonalData))
	return nil
}

// eraseScheduled is the scheduler's run: quiet when another replica holds
// the lock.
func (m *Main) eraseScheduled(ctx context.Context, s *retention.Sweeper) {
	_, err := s.Run(ctx, false)
	switch {
	case err == nil:
	case hotline.ErrorCode(err) == hotline.ECONFLICT:
		m.Logger.Info("retention: skipped, another replica is erasing personal details")
	case ctx.Err() != nil:
		m.Logger.Info("retention: stopped by shutdown; the next run carries on")
	default:
		m.Logger.Error("retention: the erasure failed; the next scheduled run tries again", "err", err)
	}
}

// eraseCommand is `hotline erase`: it erases, now, the personal details
// of every finished ticket whose period has passed, on the store serve
// uses, and says what it did; with --dry-run it says what it would do and
// writes nothing.
func eraseCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dryRun bool
	m, st, err := openForCommand(ctx, "erase", args, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "count and list what would be erased; change nothing")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	r, err := newSweeper(st, m.Config.Retention, m.Logger).Run(ctx, dryRun)
	if hotline.ErrorCode(err) == hotline.ECONFLICT {
		return fmt.Errorf("%s; try again when it has finished", hotline.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return printReport(stdout, r, m.Config.Retention)
}

// windowText writes a window as the configuration does ("365d").
func windowText(w config.Window) string {
	b, _ := w.MarshalText()
	return string(b)
}

// printReport writes what a sweep did, as a table.
func printReport(w io.Writer, r *retention.Report, c config.Retention) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	what := "erased"
	if r.DryRun {
		what = "would erase (dry run: nothing changed)"
	}
	fmt.Fprintf(tw, "personal details %s: finished tickets last changed before %s (%s ago)\n", what,
		r.Cutoff.In(dispatch.Shanghai).Format("2006-01-02 15:04"), windowText(c.PersonalData))
	rows := []struct {
		name string
		n    int64
	}{
		{"tickets read", int64(r.Read)}, {"tickets erased", int64(r.Erased)}, {"notes in their history erased", int64(r.Events)},
		{"erased before, nothing new", int64(r.Marked)}, {"changed within the period (later)", int64(r.Waiting)},
	}
	if r.DryRun {
		rows[1].name, rows[2].name = "tickets to erase", "notes in their history to erase"
	} else {
		rows = append(rows, struct {
			name string
			n    int64
		}{"board feed entries dropped", r.FeedTrimmed})
	}
	for _, row := range rows {
		fmt.Fprintf(tw, "  %s\t%d\n", row.name, row.n)
	}
	fmt.Fprintf(tw, "  time taken\t%s\n", r.Duration.Round(time.Millisecond))
	if r.DryRun && len(r.Due) > 0 {
		fmt.Fprintf(tw, "  first tickets to erase\t")
		for i, id := range r.Due {
			if i > 0 {
				fmt.Fprint(tw, " ")
			}
			fmt.Fprint(tw, id)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}
