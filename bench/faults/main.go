// Command faults is the hotline's fault suite: it runs two `hotline serve`
// replicas on one Redis with its append-only file on, files needs at a
// steady rate from every channel (web form JSON, Open311, Twilio SMS and
// voice webhooks, signed), keeps live boards connected over websockets,
// and meanwhile kills a replica with SIGKILL and restarts it, kills Redis
// with SIGKILL and shuts it down cleanly (restarting it each time), pauses
// Redis (SIGSTOP) for longer than the clients' timeouts, and cuts the
// boards' connections. Then it compares every acknowledged need with the
// store (none lost, none twice) and every feed entry with what each board
// received (each once, none missed), prints the figures and exits non-zero
// on any loss, duplicate or missed event.
//
// Everything runs on loopback ports, in a temporary directory, for the
// given duration plus the time to drain (at most a few minutes more):
//
//	go run ./bench/faults -duration 3m
//
// Redis runs with appendfsync always: every write is on disk before Redis
// answers it, so a SIGKILL loses nothing that was acknowledged. (With
// everysec, the default of many deployments, a crash may lose up to a
// second of acknowledged writes; -appendfsync everysec shows it.)
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
)

type options struct {
	duration    time.Duration
	rate        float64
	replicas    int
	appendfsync string
	keep        bool
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 3*time.Minute, "how long to file needs and inject faults")
	flag.Float64Var(&o.rate, "rate", 20, "needs filed per second, the channels taking turns")
	flag.IntVar(&o.replicas, "replicas", 2, "hotline serve replicas on the one Redis")
	flag.StringVar(&o.appendfsync, "appendfsync", "always", `Redis appendfsync policy: always, everysec, or "off" for no append-only file (to see the suite catch losses)`)
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (replica logs, Redis AOF, journals)")
	flag.Parse()
	if o.replicas < 2 || o.rate <= 0 || o.duration < 30*time.Second {
		fmt.Fprintln(os.Stderr, "faults: give at least 2 replicas, a positive rate and a duration of 30s or more")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
		os.Exit(1)
	}
}

const (
	prefix     = "faults"
	authToken  = "faultsuite0123456789abcdef012345"
	apiKey     = "fault-suite-open311-key"
	password   = "fault suite password"
	adminName  = "fault.admin"
	c03Name    = "fault.c03"
	drainLimit = 90 * time.Second
)

// fault is one injected fault, as it happened.
type fault struct {
	at   time.Duration
	what string
	took time.Duration
}

func run(ctx context.Context, o options) (err error) {
	if _, err := os.Stat("cmd/hotline"); err != nil {
		return errors.New("run from the repository root: go run ./bench/faults")
	}
	tmp, err := os.MkdirTemp("", "hotline-faults")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep || err != nil {
			fmt.Fprintln(os.Stderr, "faults: logs, AOF and journals kept in", tmp)
		} else {
			os.RemoveAll(tmp)
		}
	}()
	bin := filepath.Join(tmp, "hotline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hotline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build hotline: %w", err)
	}

	redisDir := filepath.Join(tmp, "redis")
	if err := os.MkdirAll(redisDir, 0o700); err != nil {
		return err
	}
	policy := o.appendfsync
	if policy == "off" {
		policy = ""
	}
	rdb, err := redistest.StartServer(redistest.ServerOptions{Dir: redisDir, AppendFsync: policy})
	if err != nil {
		return err
	}
	defer rdb.Close()

	replicas := make([]*replica, o.replicas)
	cfg := filepath.Join(tmp, "hotline.toml")
	for i := range replicas {
		if replicas[i], err = newReplica(i+1, bin, cfg, tmp); err != nil {
			return err
		}
	}
	lb, err := startBalancer(replicas)
	if err != nil {
		return err
	}
	defer lb.close()
	if err := os.WriteFile(cfg, []byte(config(rdb.URL, lb.url())), 0o600); err != nil {
		return err
	}
	for _, u := range []struct{ name, role, unit string }{{adminName, "admin", ""}, {c03Name, "committee", "c03"}} {
		args := []string{"user", "add", "--config", cfg, "--name", u.name, "--role", u.role, "--password-stdin"}
		if u.unit != "" {
			args = append(args, "--unit", u.unit)
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Stdin, cmd.Stderr = tmp, strings.NewReader(password+"\n"), os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("hotline user add %s: %w", u.name, err)
		}
	}
	for _, r := range replicas {
		if err := r.start(); err != nil {
			return err
		}
		defer r.stop()
	}

	client := redis.NewClient(&redis.Options{Addr: rdb.Addr})
	defer client.Close()
	db := redisstore.NewDB(client, prefix)
	feed := redisstore.NewFeed(db)
	network, err := redisstore.NewNetworkStore(db).LoadNetwork(ctx)
	if err != nil {
		return err
	}

	adminCookies, csrf, err := login(replicas[0], adminName, password)
	if err != nil {
		return err
	}
	c03Cookies, _, err := login(replicas[1], c03Name, password)
	if err != nil {
		return err
	}
	admin := &hotline.User{Username: adminName, Role: hotline.RoleAdmin}
	staff := &hotline.User{Username: c03Name, Role: hotline.RoleCommittee, UnitID: "c03"}
	boards := []*board{
		newBoard("admin, stays on replica 1", admin, replicas, 0, false, adminCookies),
		newBoard("admin, stays on replica 2", admin, replicas, 1, false, adminCookies),
		newBoard("admin, roams", admin, replicas, 0, true, adminCookies),
		newBoard("c03 staff, roams", staff, replicas, 1, true, c03Cookies),
	}
	boardCtx, stopBoards := context.WithCancel(ctx)
	defer stopBoards()
	var boardsDone sync.WaitGroup
	for _, b := range boards {
		boardsDone.Add(1)
		go func() { defer boardsDone.Done(); b.run(boardCtx, feed.Partitions()) }()
	}
	if err := waitFor(30*time.Second, func() bool {
		for _, b := range boards {
			b.mu.Lock()
			ok := b.start != nil
			b.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the boards did not connect: %w", err)
	}

	fmt.Printf("fault suite: %v at %.0f needs/s over %s, %d replicas, %d boards, Redis appendfsync %s\n",
		o.duration, o.rate, strings.Join(channels, ", "), o.replicas, len(boards), o.appendfsync)
	ld := newLoad(replicas, authToken, lb.url(), apiKey,
		&staffClient{replicas: replicas, client: &http.Client{Timeout: 20 * time.Second}, cookies: adminCookies, csrf: csrf})
	loadCtx, stopLoad := context.WithTimeout(ctx, o.duration)
	defer stopLoad()
	started := time.Now()
	loadDone := make(chan struct{})
	go func() { ld.run(loadCtx, o.rate); close(loadDone) }()
	faults := inject(loadCtx, started, o.duration, rdb, replicas, boards)
	<-loadDone
	loadTook := time.Since(started)
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// Drain: every replica up, every journal filed, the boards caught up.
	for _, r := range replicas {
		if !r.up() {
			if err := r.start(); err != nil {
				return err
			}
		}
	}
	if err := waitFor(drainLimit, func() bool {
		for _, r := range replicas {
			if segs, _ := filepath.Glob(filepath.Join(r.dataDir, "phone-journal", "seg-*.jsonl")); len(segs) > 0 {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("the phone journals were not filed: %w", err)
	}
	time.Sleep(3 * time.Second) // routing and accepts of the last tickets
	head, err := feed.Head(ctx)
	if err != nil {
		return err
	}
	var from hotline.FeedPosition
	for _, b := range boards {
		b.mu.Lock()
		if from == nil {
			from = b.start.Copy()
		}
		for p, id := range b.start {
			if hotline.CompareStreamIDs(id, from[p]) < 0 {
				from[p] = id
			}
		}
		b.mu.Unlock()
	}
	entries, events, err := readFeed(ctx, feed, from)
	if err != nil {
		return err
	}
	_ = waitFor(drainLimit, func() bool {
		for _, b := range boards {
			if !caughtUp(b, network, entries, events, head) {
				return false
			}
		}
		return true
	})
	time.Sleep(time.Second) // a duplicate would come now
	stopBoards()
	boardsDone.Wait()

	st, err := readStore(ctx, redisstore.NewTicketStore(db))
	if err != nil {
		return err
	}
	ld.mu.Lock()
	filings := ld.filings
	ld.mu.Unlock()
	figs, problems := tally(filings, st)
	journaled := journalFiled(replicas)

	ld.logMu.Lock()
	attempts := ld.attempts
	ld.logMu.Unlock()
	failed := report(o, loadTook, faults, attempts, started, figs, st, boards, network, entries, events, head, journaled, ld.accepts.Load(), problems)
	if failed {
		return errors.New("tickets lost or duplicated, or events missed or duplicated: see above")
	}
	return nil
}

// config is the replicas' configuration file.
func config(redisURL, publicURL string) string {
	return fmt.Sprintf(`# written by bench/faults
[http]
# Every load client comes from loopback: lift the per-client limit.
public_rate_per_minute = 100000000
login_rate_per_minute = 1000
shutdown_timeout = "5s"

[redis]
url = %q
prefix = %q

[open311]
api_keys = [%q]

[twilio]
# No account: the SMS the line sends go to the fake Twilio API inside each
# replica. The token and public URL are the suite's, so it signs webhooks.
auth_token = %q
public_url = %q
simulator = "on"
# Calls go through the whole menu at any hour (after voice_hours a caller
# only leaves a message, which the suite's calls do not expect).
voice_hours = ""

[projects]
enabled = false

[log]
level = "info"
`, redisURL, prefix, apiKey, authToken, publicURL)
}

// inject runs the faults at even intervals over the load, each followed
// by the recovery (restart, resume), and returns what it did once the
// load is over.
func inject(ctx context.Context, started time.Time, d time.Duration, rdb *redistest.Server, replicas []*replica, boards []*board) []fault {
	kinds := []struct {
		what string
		do   func() error
	}{
		{"SIGKILL replica 1, restart after 3 s", func() error {
			replicas[0].kill()
			time.Sleep(3 * time.Second)
			return replicas[0].start()
		}},
		{"SIGKILL Redis, restart after 2 s", func() error {
			if err := rdb.Kill(); err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			return rdb.Start()
		}},
		{"cut every board's connection (TCP reset)", func() error {
			for _, b := range boards {
				b.drop()
			}
			return nil
		}},
		// go-redis gives up on a command after a 3 s read timeout and 3
		// retries: 15 s is past all of it, so requests fail rather than wait.
		{"SIGSTOP Redis for 15 s (past the client's 4 × 3 s), SIGCONT", func() error {
			if err := rdb.Pause(); err != nil {
				return err
			}
			time.Sleep(15 * time.Second)
			return rdb.Resume()
		}},
		{"Redis SHUTDOWN (clean), restart after 2 s", func() error {
			if err := rdb.Stop(); err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			return rdb.Start()
		}},
		{"SIGKILL replica 2, restart after 3 s", func() error {
			replicas[1].kill()
			time.Sleep(3 * time.Second)
			return replicas[1].start()
		}},
	}
	cycles := max(1, int(d/(3*time.Minute)))
	total := cycles * len(kinds)
	var out []fault
	for k := range total {
		at := started.Add(d * time.Duration(k+1) / time.Duration(total+1))
		select {
		case <-ctx.Done():
			return out
		case <-time.After(time.Until(at)):
		}
		f := kinds[k%len(kinds)]
		t0 := time.Now()
		if err := f.do(); err != nil {
			fmt.Fprintf(os.Stderr, "faults: %s: %v\n", f.what, err)
		}
		out = append(out, fault{at: t0.Sub(started), what: f.what, took: time.Since(t0)})
		fmt.Fprintf(os.Stderr, "faults: %5.1fs %s (%.1fs)\n", t0.Sub(started).Seconds(), f.what, time.Since(t0).Seconds())
	}
	return out
}

func waitFor(limit time.Duration, ok func() bool) error {
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil
}

var filedRE = regexp.MustCompile(`phone journal: filed the calls and messages.* entries=(\d+)`)

// journalFiled adds up, from the replicas' logs, the journal entries the
// replayers filed.
func journalFiled(replicas []*replica) int {
	n := 0
	for _, r := range replicas {
		f, err := os.Open(r.logPath)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if m := filedRE.FindStringSubmatch(sc.Text()); m != nil {
				k, _ := strconv.Atoi(m[1])
				n += k
			}
		}
		f.Close()
	}
	return n
}

// report prints the figures and says whether the run failed.
func report(o options, took time.Duration, faults []fault, attempts []attempt, started time.Time, figs map[string]*channelFigures, st *store, boards []*board,
	n *hotline.Network, entries map[string]feedEntry, events map[string]hotline.FeedEvent, head hotline.FeedPosition,
	journaled int, accepts int64, problems []string) bool {
	fmt.Printf("\nload ran %v (new needs for %v, then retries of those under way)\n", took.Round(time.Second), o.duration)
	fmt.Println("\nfaults injected, and what the load's requests got from the fault's start to 5 s after its end:")
	for _, f := range faults {
		fmt.Printf("  %6.1fs  %s  (%.1fs)\n", f.at.Seconds(), f.what, f.took.Seconds())
		from, to := started.Add(f.at), started.Add(f.at+f.took+5*time.Second)
		for _, c := range channels {
			m := map[string]int{}
			for _, a := range attempts {
				if a.channel == c && !a.at.Before(from) && a.at.Before(to) {
					m[a.outcome]++
				}
			}
			fmt.Printf("             %-8s %s\n", c, outcomes(m))
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Println("\ntickets:")
	fmt.Fprintln(tw, "channel\tfiled\tacknowledged\tvia journal\tcallback promised\tlost\tduplicated\tid mismatch\tunacknowledged\t(stored anyway)\tanswers\t")
	var sum channelFigures
	for _, c := range channels {
		f := figs[c]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t\n", c, f.filed, f.acked, f.viaJournal, f.promised,
			f.lost, f.duplicated, f.mismatched, f.unacked, f.unackedStored, answers(f))
		sum.filed += f.filed
		sum.acked += f.acked
		sum.viaJournal += f.viaJournal
		sum.promised += f.promised
		sum.lost += f.lost
		sum.duplicated += f.duplicated
		sum.mismatched += f.mismatched
		sum.unacked += f.unacked
		sum.unackedStored += f.unackedStored
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\t\n", sum.filed, sum.acked, sum.viaJournal, sum.promised,
		sum.lost, sum.duplicated, sum.mismatched, sum.unacked, sum.unackedStored)
	tw.Flush()
	fmt.Printf("tickets in the store: %d; web tickets accepted by staff during the run: %d\n", st.total, accepts)
	fmt.Printf("callers while Redis was away: %d calls and %d messages kept in the phone journals; one ticket each now: %d and %d; journal entries filed by the replayers: %d\n",
		figs["voice"].viaJournal, figs["sms"].viaJournal, figs["voice"].journalStored, figs["sms"].journalStored, journaled)

	fmt.Println("\nlive boards (feed entries from each board's first hello to the end):")
	fmt.Fprintln(tw, "board\texpected\tdelivered\tmissed\tduplicated\tout of order\tnot theirs\treloads (covered)\tconnections\trefused\tcut\tclose codes\t")
	var evMissed, evDup, evOther int
	for _, b := range boards {
		f := check(b, n, entries, events, head)
		b.mu.Lock()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d (%d)\t%d\t%d\t%d\t%s\t\n", b.name, f.expected, f.delivered, f.missed,
			f.duplicated, f.outOfOrder, f.unexpected, len(b.reloads), f.coveredByReload, b.connects, b.refused, b.drops, codes(b.closeCodes))
		b.mu.Unlock()
		evMissed += f.missed
		evDup += f.duplicated
		evOther += f.outOfOrder + f.unexpected
		for _, e := range f.examples {
			problems = append(problems, b.name+": "+e)
		}
	}
	tw.Flush()

	if len(problems) > 0 {
		fmt.Println("\nproblems:")
		sort.Strings(problems)
		for i, p := range problems {
			if i == 30 {
				fmt.Printf("  … and %d more\n", len(problems)-30)
				break
			}
			fmt.Println("  " + p)
		}
	}
	failed := sum.lost > 0 || sum.duplicated > 0 || sum.mismatched > 0 || evMissed > 0 || evDup > 0 || evOther > 0
	verdict := "PASS"
	if failed {
		verdict = "FAIL"
	}
	fmt.Printf("\n%s: %d acknowledged, %d lost, %d duplicated; events: %d missed, %d duplicated\n",
		verdict, sum.acked, sum.lost, sum.duplicated, evMissed, evDup)
	return failed
}

func answers(f *channelFigures) string {
	codes := make([]int, 0, len(f.answers))
	for c := range f.answers {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, f.answers[c]))
	}
	if f.noAnswer > 0 {
		parts = append(parts, fmt.Sprintf("none×%d", f.noAnswer))
	}
	return strings.Join(parts, " ")
}

func outcomes(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func codes(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == -1 {
			name = "error"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, m[k]))
	}
	return strings.Join(parts, " ")
}
