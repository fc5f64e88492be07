// Command soak runs the hotline at a steady load for a long time and
// reports whether its memory and goroutines stay flat, and whether every
// ticket and every board event arrived exactly once.
//
// It builds `hotline serve` from the working tree (or runs -bin) and starts
// it as a child process on a throwaway redis-server (loopback, free ports,
// AOF on as in production, removed at the end). It creates an
// administrator and one committee-staff user per committee with `hotline
// user add`, connects -boards live boards over GET /ws (-admin-boards of
// them the administrator's, which see every change; the rest spread over
// the 14 committees) that read for the whole run, and files -rate tickets a
// second, open loop: seven in ten through the web form's JSON API with an
// Idempotency-Key, two through Open311, one as an SMS: Twilio's webhook,
// signed here with the auth token the server was given, posted to
// /twilio/sms (a server that makes up its own token in a trial gets them
// through its phone simulator, which signs them). Residents come from
// -clients loopback addresses, so the public rate limits apply as in
// production without being hit. Every 50th web ticket is posted twice with
// its key (the retry must get the same ticket). The administrator accepts
// three tickets in ten a few seconds after they are filed, starts and
// resolves two in three of those, and the hotline texts the residents
// through its outbox (to Twilio's fake inside the process, which posts
// signed status callbacks back). Every -churn one board drops its
// connection and resumes with since, as a reloaded page does.
//
// Every -sample it reads the server's resident memory (VmRSS from /proc),
// its goroutines and heap in use from /metrics (once as found, once right
// after a GC forced through the pprof listener), and Redis's used_memory.
// At the end it stops the load, reads every ticket back through the staff
// API and compares it with what was acknowledged (lost, duplicated) and
// with what every board received (missed, delivered twice), then prints
// the table and a verdict: "flat" when the live heap after GC and the
// goroutines at the end (medians of the last five samples) are within
// -heap-slack and -goroutine-slack of their values after -warmup (medians
// of the first five from there); the heap in use after GC (live objects'
// spans, whole) and RSS are printed beside it. Memory is a measurement,
// not an assertion: the exit status is 1 only for lost or duplicated
// tickets or events, failed requests, or a server that died or did not
// stop cleanly. With -keep, the samples also go to samples.csv there.
//
// From the repository root (everything stays on loopback and ends by
// itself, about a minute after -duration):
//
//	go run ./bench/soak -duration 30m
//	go run ./bench/soak -duration 3m -keep /tmp/soak   # logs and heap/goroutine profiles kept
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// options are the command line.
type options struct {
	duration    time.Duration
	rate        int
	boards      int
	adminBoards int
	warmup      time.Duration
	sample      time.Duration
	churn       time.Duration
	clients     int
	bin         string
	redisServer string
	keep        string
	heapSlack   float64
	goSlack     int
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 30*time.Minute, "how long to keep the load on")
	flag.IntVar(&o.rate, "rate", 20, "tickets filed per second (web 70%, Open311 20%, SMS 10%)")
	flag.IntVar(&o.boards, "boards", 50, "live boards connected for the whole run")
	flag.IntVar(&o.adminBoards, "admin-boards", 8, "of the boards, how many are the administrator's (they see every change)")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Minute, "load before the baseline the verdict compares with")
	flag.DurationVar(&o.sample, "sample", 30*time.Second, "how often the server's memory is sampled")
	flag.DurationVar(&o.churn, "churn", time.Minute, "how often one board drops its connection and resumes with since (0: never)")
	flag.IntVar(&o.clients, "clients", 100, "loopback addresses residents file from (127.0.1.x); each sees the public rate limits")
	flag.StringVar(&o.bin, "bin", "", "a hotline binary to run instead of building ./cmd/hotline")
	flag.StringVar(&o.redisServer, "redis-server", "redis-server", "the redis-server program")
	flag.StringVar(&o.keep, "keep", "", "keep the server's log, Redis's log and heap/goroutine profiles (at the baseline and the end) in this directory")
	flag.Float64Var(&o.heapSlack, "heap-slack", 0.10, "how much the live heap after GC may grow from the baseline and still be flat (0.10: 10%)")
	flag.IntVar(&o.goSlack, "goroutine-slack", 5, "how many goroutines more than the baseline are still flat")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := soak(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	switch {
	case o.duration <= 0, o.sample <= 0:
		return errors.New("-duration and -sample must be positive")
	case o.rate < 1 || o.rate > 500:
		return errors.New("-rate must be 1..500 tickets a second")
	case o.adminBoards < 1 || o.boards < o.adminBoards:
		return errors.New("need at least one administrator's board, and -boards ≥ -admin-boards")
	case o.clients < 1 || o.clients > 250:
		return errors.New("-clients must be 1..250 (127.0.1.1 … 127.0.1.250)")
	case o.warmup >= o.duration:
		return errors.New("-warmup must end before -duration")
	}
	return nil
}

// soak runs everything, in order, and tears it down in reverse.
func soak(ctx context.Context, o options) error {
	if err := o.check(); err != nil {
		return err
	}
	raiseFDLimit()
	work, err := os.MkdirTemp("", "hotline-soak")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	logDir := work
	if o.keep != "" {
		if err := os.MkdirAll(o.keep, 0o755); err != nil {
			return err
		}
		logDir = o.keep
	}

	bin := o.bin
	if bin == "" {
		bin = filepath.Join(work, "hotline")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hotline")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build hotline (run from the repository root): %w", err)
		}
	}
	ver, _ := exec.Command(bin, "version").Output()

	rd, err := startRedis(ctx, o.redisServer, filepath.Join(work, "redis"), filepath.Join(logDir, "redis.log"))
	if err != nil {
		return err
	}
	defer rd.stop()

	srv, err := startHotline(ctx, bin, rd.url, filepath.Join(work, "data"), filepath.Join(logDir, "serve.log"))
	if err != nil {
		return err
	}
	defer srv.stop()

	fmt.Printf("soak: %s at %d tickets/s (web 70%%, Open311 20%%, SMS 10%%), %d boards (%d administrator's), %d resident addresses, board churn every %s; samples every %s, baseline after %s\n",
		o.duration, o.rate, o.boards, o.adminBoards, o.clients, o.churn, o.sample, o.warmup)
	fmt.Printf("server: %s, pid %d, %s; redis %s (AOF everysec); %d CPUs\n",
		strings.TrimSpace(string(ver)), srv.cmd.Process.Pid, srv.base, rd.url, numCPU())
	if srv.signs {
		fmt.Println("sms: Twilio webhooks signed here with the auth token given to the server, posted to /twilio/sms")
	} else {
		fmt.Println("sms: through the phone simulator (/sim/sms), which signs the webhooks: this server makes up its own auth token in a trial")
	}

	staff, err := signIn(ctx, bin, rd.url, srv.base)
	if err != nil {
		return err
	}
	addrs, err := addresses()
	if err != nil {
		return err
	}
	r := newRun(o, srv, rd, staff, addrs)
	if err := r.connectBoards(ctx); err != nil {
		return err
	}
	defer r.closeBoards()
	outcome := r.drive(ctx)
	r.closeBoards()

	// The server should shut down cleanly once the load is over: a
	// replica that cannot is a finding too.
	serveLog := filepath.Join(logDir, "serve.log")
	var logSize int64
	if fi, err := os.Stat(serveLog); err == nil {
		logSize = fi.Size()
	}
	srvErr := srv.shutdown(20 * time.Second)
	logSummary := summarizeLog(serveLog, logSize)
	report(os.Stdout, o, r, outcome, logSummary)
	if o.keep != "" {
		if err := writeSamples(filepath.Join(o.keep, "samples.csv"), r.samples); err != nil {
			fmt.Fprintln(os.Stderr, "soak: samples.csv:", err)
		}
		fmt.Printf("logs, profiles and samples.csv: %s\n", o.keep)
	}

	var errs []error
	errs = append(errs, outcome.errs...)
	if srvErr != nil {
		errs = append(errs, fmt.Errorf("server shutdown: %w", srvErr))
	}
	return errors.Join(errs...)
}

// ---- the children ----------------------------------------------------------

// child is a process this program started. It runs in its own process
// group (a Ctrl-C at the terminal reaches this program only, which then
// stops the children in order) and is killed by the kernel if this program
// dies first, so none outlives a run.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // Wait's error, set before exited is closed
}

func startChild(cmd *exec.Cmd) (*child, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// terminate sends SIGTERM and waits up to grace, then kills.
func (c *child) terminate(grace time.Duration) error {
	select {
	case <-c.exited:
		return fmt.Errorf("had already exited: %v", c.err)
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
		return c.err
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.exited
		return fmt.Errorf("did not stop within %s of SIGTERM; killed", grace)
	}
}

type redisChild struct {
	*child
	url    string
	client *redis.Client
}

// startRedis starts a redis-server on a free loopback port with its files
// under dir: AOF on (fsync every second) as a deployment runs it, no RDB
// snapshots.
func startRedis(ctx context.Context, program, dir, logFile string) (*redisChild, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port := freePort()
	cmd := exec.Command(program, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
		"--logfile", logFile)
	c, err := startChild(cmd)
	if err != nil {
		return nil, fmt.Errorf("start %s (apt-get install redis-server): %w", program, err)
	}
	r := &redisChild{child: c, url: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}
	r.client = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	for deadline := time.Now().Add(10 * time.Second); ; {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := r.client.Ping(pctx).Err()
		cancel()
		if err == nil {
			return r, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			r.stop()
			return nil, fmt.Errorf("redis-server did not answer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *redisChild) stop() {
	r.client.Close()
	_ = r.terminate(10 * time.Second)
}

// hotlineChild is `hotline serve`.
type hotlineChild struct {
	*child
	base      string // http://127.0.0.1:port
	debugBase string // the pprof listener
	authToken string // the Twilio auth token it was given
	signs     bool   // it checks webhooks against authToken (see probeSignature)
}

// apiKey is the Open311 key the soak files with.
const apiKey = "soak-open311-key-0123456789"

// startHotline starts `hotline serve` on Redis, its log (warnings and
// errors) going to logFile, and waits until it is ready. The phone
// simulator is forced on: with no Twilio account, the webhooks are signed
// with a token of the process's own and the SMS it sends go to Twilio's
// fake inside the process, so nothing leaves the machine.
func startHotline(ctx context.Context, bin, redisURL, dataDir, logFile string) (*hotlineChild, error) {
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child holds its own descriptor
	addr := fmt.Sprintf("127.0.0.1:%d", freePort())
	debugAddr := fmt.Sprintf("127.0.0.1:%d", freePort())
	token := fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64())
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data", dataDir)
	cmd.Env = append(cleanEnv(),
		"HOTLINE_REDIS_URL="+redisURL,
		"HOTLINE_OPEN311_API_KEYS="+apiKey,
		"HOTLINE_TWILIO_SIMULATOR=on",
		"HOTLINE_TWILIO_AUTH_TOKEN="+token,
		"HOTLINE_HTTP_DEBUG_ADDR="+debugAddr,
		"HOTLINE_LOG_LEVEL=warn",
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	c, err := startChild(cmd)
	if err != nil {
		return nil, err
	}
	h := &hotlineChild{child: c, base: "http://" + addr, debugBase: "http://" + debugAddr, authToken: token}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := http.Get(h.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if h.signs, err = probeSignature(h.base, token); err != nil {
					h.stop()
					return nil, err
				}
				return h, nil
			}
		}
		select {
		case <-c.exited:
			return nil, fmt.Errorf("hotline serve exited at start (%v); see %s", c.err, logFile)
		case <-ctx.Done():
			h.stop()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			h.stop()
			return nil, fmt.Errorf("hotline serve not ready after 30 s; see %s", logFile)
		}
	}
}

// shutdown stops the server as a deployment does (SIGTERM) and reports a
// crash before it, or a shutdown that fails or hangs.
func (h *hotlineChild) shutdown(grace time.Duration) error { return h.terminate(grace) }

func (h *hotlineChild) stop() {
	select {
	case <-h.exited:
	default:
		_ = h.terminate(20 * time.Second)
	}
}

// cleanEnv is this process's environment without HOTLINE_ settings, so a
// developer's shell cannot change what the soak measures.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOTLINE_") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	return env
}

// ---- staff -------------------------------------------------------------------

// password is every soak user's password (the hotline wants 10 characters).
const password = "soak-password-0123456789"

// staffUser is a signed-in user: their committee ("" for the
// administrator) and session.
type staffUser struct {
	name, committee string
	cookie, csrf    string
}

// signIn creates the administrator and one committee-staff user per
// committee of the demo street with `hotline user add`, as an operator
// would, and signs each in through the API, each from an address of its
// own (logins are limited per address).
func signIn(ctx context.Context, bin, redisURL, base string) (map[string]*staffUser, error) {
	cs, err := committees()
	if err != nil {
		return nil, err
	}
	users := map[string]*staffUser{"": {name: "soak-admin"}}
	for _, c := range cs {
		users[c.id] = &staffUser{name: "soak-" + c.id, committee: c.id}
	}
	i := 0
	for unit, u := range users {
		args := []string{"user", "add", "--name", u.name, "--role", "admin", "--password-stdin"}
		if unit != "" {
			args = []string{"user", "add", "--name", u.name, "--role", "committee", "--unit", unit, "--password-stdin"}
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(cleanEnv(), "HOTLINE_REDIS_URL="+redisURL, "HOTLINE_LOG_LEVEL=warn")
		cmd.Stdin = strings.NewReader(password + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("hotline user add %s: %v: %s", u.name, err, out)
		}
		i++
		hc := httpClientFrom(net.IPv4(127, 0, 2, byte(i)), 1)
		if err := u.login(ctx, hc, base); err != nil {
			return nil, err
		}
	}
	return users, nil
}

// ---- small helpers ------------------------------------------------------------

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// raiseFDLimit lifts the soft limit on open files to the hard one; the
// children inherit it.
func raiseFDLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// drain reads and closes a response body so its connection is reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
}
