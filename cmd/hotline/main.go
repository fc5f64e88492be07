// Command hotline runs the resident-needs hotline: `hotline serve` starts
// the service; `hotline user add|list` manage staff accounts; `hotline
// version` prints the build. All wiring of the program happens here: the
// packages it builds on never read configuration or the environment.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/robfig/cron/v3"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/embedded"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/memlimit"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/open311"
	"github.com/caojiadu/hotline/projects"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/static"
	"github.com/caojiadu/hotline/volunteers"
)

// version is set at build time with -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `hotline — resident-needs hotline and intake (社区热线)

usage:
  hotline serve   [--addr HOST:PORT] [--data DIR] [--config FILE]
  hotline user add  --name NAME --role ROLE [--unit UNIT] [--display NAME] --password-stdin [--data DIR] [--config FILE]
  hotline user list [--data DIR] [--config FILE]
  hotline group   [--since 365d] [--data DIR] [--config FILE]
  hotline erase   [--dry-run] [--data DIR] [--config FILE]
  hotline version

roles: admin, dispatcher, committee, social_worker, volunteer
With no Redis configured ([redis] url / sentinel / cluster, or HOTLINE_REDIS_URL)
the embedded trial store under --data (default ./data) is used.
`

// DefaultGCPercent is the garbage collector's target unless GOGC is set.
// The service allocates on every request and keeps a small live heap (tens
// of MB), so at Go's default of 100 it collects often enough to show in the
// live board's tail latency; 400 trades a few MB for a quarter of the
// collections (bench/board: p99 3.3 ms → 2.1 ms at 200 tickets/s).
const DefaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hotline:", err)
		}
		os.Exit(2)
	}
}

// run dispatches a subcommand. It returns when the command is done; for
// serve, when ctx is cancelled (SIGINT/SIGTERM) and shutdown has finished.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	switch args[0] {
	case "serve":
		m := NewMain()
		m.Stderr = stderr
		if err := m.ParseFlags(args[0], args[1:], stderr); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "user":
		if len(args) < 2 {
			fmt.Fprint(stderr, usage)
			return flag.ErrHelp
		}
		switch args[1] {
		case "add":
			return userAdd(ctx, args[2:], stdin, stdout, stderr)
		case "list":
			return userList(ctx, args[2:], stdout, stderr)
		}
	case "group":
		return groupCommand(ctx, args[1:], stdout, stderr)
	case "erase":
		return eraseCommand(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "hotline", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.Join(args, " "))
}

func buildVersion() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

// Main is the program: configuration in, a running service out. Tests use
// the same Main on port 0 (see MustRunMain).
type Main struct {
	ConfigPath string
	DataDir    string
	// Addr overrides [http] addr when set (the --addr flag).
	Addr    string
	Config  config.Config
	Environ []string
	Stderr  io.Writer
	Logger  *slog.Logger

	store    *Store
	debug    *http.Server
	Dispatch *dispatch.Service

	// background runs the deadline loop and the routing of new tickets;
	// Close stops it and waits, so nothing is cut off half-way.
	background     sync.WaitGroup
	bg             context.Context
	stopBackground context.CancelFunc
	phone          *phoneLine
	Directory      *hotline.StaticDirectory
	Server         *server.Server
	// Projects and ProjectJob are the needs projects and their nightly
	// grouping (projects.go).
	Projects   *projects.Service
	ProjectJob *projects.Job
}

// NewMain returns a Main with the defaults of the flags.
func NewMain() *Main {
	return &Main{DataDir: "data", Config: config.Default(), Environ: os.Environ(), Stderr: os.Stderr}
}

// ParseFlags reads the common flags (--data, --config) and, for serve,
// --addr, then loads the configuration.
func (m *Main) ParseFlags(name string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("hotline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&m.DataDir, "data", m.DataDir, "data directory of the embedded store")
	fs.StringVar(&m.ConfigPath, "config", "", "configuration file (see config.example.toml)")
	if name == "serve" {
		fs.StringVar(&m.Addr, "addr", "", "listen address, HOST:PORT (default [http] addr, :8080)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return m.LoadConfig()
}

// LoadConfig reads ConfigPath (if any) and the environment into Config.
func (m *Main) LoadConfig() error {
	c, err := config.Load(m.ConfigPath, m.Environ)
	if err != nil {
		if f := hotline.ErrorFields(err); len(f) > 0 {
			for k, v := range f {
				err = fmt.Errorf("%w\n  %s: %s", err, k, v)
			}
		}
		return err
	}
	m.Config = c
	return nil
}

// Run opens the store, loads the network and starts serving. It returns as
// soon as the server listens.
func (m *Main) Run(ctx context.Context) error {
	if m.Logger == nil {
		m.Logger = newLogger(m.Config.Log, m.Stderr)
	}
	st, err := OpenStore(ctx, m.Config, m.DataDir, true, m.Logger)
	if err != nil {
		return err
	}
	m.store = st

	n, c, err := loadDirectory(ctx, m.Config, st, m.Logger)
	if err != nil {
		return err
	}
	m.Directory = hotline.NewStaticDirectory(n, c)

	tickets := redisstore.NewTicketStore(st.DB)
	in := intake.New(tickets, m.Directory)

	dc, err := m.Config.Dispatch.Compile(c)
	if err != nil {
		return err
	}
	// Opening hours are dispatch's grammar: refuse a typo at start rather
	// than treat the unit as always on duty.
	for _, u := range n.Units {
		if _, err := dispatch.ParseHours(u.Hours); err != nil {
			return fmt.Errorf("network: unit %s: hours: %s", u.ID, hotline.ErrorMessage(err))
		}
	}
	units := redisstore.NewUnitIndex(st.DB)
	if err := units.IndexUnits(ctx, n); err != nil {
		return err
	}
	m.Dispatch = dispatch.New(dc, tickets, units, redisstore.NewDeadlineQueue(st.DB), m.Directory, m.Logger)
	addr := m.Config.HTTP.Addr
	if m.Addr != "" {
		addr = m.Addr
	}
	m.Server = &server.Server{
		Config: server.Config{
			Addr:                addr,
			PublicURL:           m.Config.HTTP.PublicURL,
			MaxBodyBytes:        m.Config.HTTP.MaxBodyBytes,
			PublicRatePerMinute: m.Config.HTTP.PublicRatePerMinute,
			LoginRatePerMinute:  m.Config.HTTP.LoginRatePerMinute,
			SessionTTL:          m.Config.HTTP.SessionTTL.Duration,
			TrustProxyHeaders:   m.Config.HTTP.TrustProxyHeaders,
		},
		Tickets: tickets,
		Users:   redisstore.NewUserStore(st.DB),
		Limiter: redisstore.NewRateLimiter(st.DB),
		// Public limits are per replica (see memlimit): no Redis round
		// trip on intake.
		PublicLimiter: memlimit.New(),
		Directory:     m.Directory,
		Intake:        in,
		Dispatch:      m.Dispatch,
		Feed:          redisstore.NewFeed(st.DB),
		Audit:         redisstore.NewAuditLog(st.DB),
		Static:        static.FS,
		Ready:         st.DB.Ping,
		Logger:        m.Logger,
	}
	in.Place = m.Dispatch.PlaceNew
	in.Logger = m.Logger
	in.OnCreated = func(t *hotline.Ticket) {
		m.Server.TicketCreated(t)
		m.noteTicket(t)
		if t.Status == hotline.StatusNew {
			m.routeSoon(t.ID) // placement at intake failed: try again now
		}
	}
	m.Server.Open311 = &open311.Handler{
		Tickets:      tickets,
		Directory:    m.Directory,
		Intake:       in,
		APIKeys:      m.Config.Open311.APIKeys,
		Jurisdiction: m.Config.Open311.Jurisdiction,
		BaseURL:      m.Config.HTTP.PublicURL,
		Limiter:      m.Server.PublicLimiter,
		Logger:       m.Logger,
		Audit:        m.Server.Audit,
	}
	if err := m.Server.Listen(); err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	bg, cancel := context.WithCancel(context.Background())
	m.bg, m.stopBackground = bg, cancel
	// The volunteer registry and its tasking (offers by SMS through the
	// phone line's outbox; replies through its SMS webhook).
	outbox, sessions := redisstore.NewOutbox(st.DB), redisstore.NewPhoneSessions(st.DB)
	volunteerStore := redisstore.NewVolunteerStore(st.DB)
	if err := volunteerStore.EnsureIndexes(ctx); err != nil {
		return fmt.Errorf("bring the volunteer indexes up to date: %w", err)
	}
	registry := &volunteers.Service{Store: volunteerStore, Assignments: redisstore.NewAssignmentStore(st.DB),
		Directory: m.Directory, Logger: m.Logger}
	tasker := &volunteers.Tasker{Registry: registry, Tickets: tickets, Outbox: outbox, Sessions: sessions,
		Audit: m.Server.Audit}
	m.Server.Volunteers = server.NewVolunteers(registry, tasker)
	m.startBackground(func(ctx context.Context) { _ = tasker.RunExpiry(ctx) })
	if err := m.openProjects(st); err != nil {
		return err
	}
	m.Server.Projects = m.Projects
	if err := m.openRetention(st); err != nil {
		return err
	}
	feed, consumer := redisstore.NewFeed(st.DB), consumerName(m.Server.Addr())
	m.startBackground(func(ctx context.Context) {
		if err := feed.Consume(ctx, "volunteers", consumer, tasker.Handler(ctx)); err != nil && ctx.Err() == nil {
			m.Logger.Error("volunteer hours stopped", "err", err)
		}
	})
	// The phone line needs the server's URL on the trial store (its
	// public URL there), so it is wired between Listen and Serve.
	if m.phone, err = m.openPhone(st, tickets, in, outbox, sessions, tasker); err != nil {
		return err
	}
	if err := m.Server.Serve(); err != nil {
		return err
	}
	// Passed time limits are handled by whichever replica claims them.
	m.startBackground(func(ctx context.Context) { _ = m.Dispatch.Run(ctx) })
	if a := m.Config.HTTP.DebugAddr; a != "" {
		if err := m.openDebug(a); err != nil {
			return err
		}
	}
	m.Logger.Info("hotline serving", "url", m.Server.URL(), "version", buildVersion(),
		"committees", countKind(n, hotline.KindCommittee), "categories", len(c.Categories))
	return nil
}

// startBackground runs f until Close, which cancels its context and waits
// for it.
func (m *Main) startBackground(f func(ctx context.Context)) {
	m.background.Add(1)
	go func() {
		defer m.background.Done()
		f(m.bg)
	}()
}

// schedule runs job at the times of the cron spec (five fields, the
// street's clock) until Close, which stops the scheduler and waits for a
// run under way; job's context is cancelled then. section names the
// configuration the spec came from, for the error.
func (m *Main) schedule(section, spec string, job func(ctx context.Context)) error {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return fmt.Errorf("[%s] schedule %q: %w", section, spec, err)
	}
	m.startBackground(func(ctx context.Context) {
		cr := cron.New(cron.WithLocation(dispatch.Shanghai))
		cr.Schedule(sched, cron.FuncJob(func() { job(ctx) }))
		cr.Start()
		<-ctx.Done()
		<-cr.Stop().Done()
	})
	return nil
}

// routeSoon routes a ticket just stored, off the request: the resident's
// answer does not wait for routing. Routing failures are logged and left to
// the deadline queue (intake gave the ticket a one-minute accept limit).
func (m *Main) routeSoon(id string) {
	m.background.Add(1)
	go func() {
		defer m.background.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := m.Dispatch.RouteNew(ctx, id); err != nil {
			m.Logger.Warn("routing a new ticket failed; the deadline queue will retry", "ticket", id, "err", err)
		}
	}()
}

// openDebug serves Go's profiler on its own listener, apart from the
// public mux, so it can never be reached through the service's address.
func (m *Main) openDebug(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("debug listener on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.debug = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go m.debug.Serve(ln)
	m.Logger.Info("debug listener (pprof)", "addr", ln.Addr().String())
	return nil
}

// URL is where the running service answers.
func (m *Main) URL() string { return m.Server.URL() }

// Close shuts down in order: stop taking requests and let in-flight ones
// finish, then close the store (the embedded one writes its last snapshot
// after the last write it acknowledged).
func (m *Main) Close() error {
	var errs []error
	if m.debug != nil {
		m.debug.Close()
		m.debug = nil
	}
	if m.Server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.HTTP.ShutdownTimeout.Duration)
		errs = append(errs, m.Server.Close(ctx))
		cancel()
		m.Server = nil
	}
	if m.stopBackground != nil {
		m.stopBackground()
		m.background.Wait()
		m.stopBackground = nil
	}
	m.phone.close()
	m.phone = nil
	if m.store != nil {
		errs = append(errs, m.store.Close())
		m.store = nil
	}
	if m.Logger != nil {
		m.Logger.Info("hotline stopped")
	}
	return errors.Join(errs...)
}

// Store is an open store: a Redis client, and the embedded server behind it
// when this process owns one.
type Store struct {
	Client   redis.UniversalClient
	DB       *redisstore.DB
	Embedded *embedded.Store
}

// Close closes the client, then the embedded store.
func (s *Store) Close() error {
	err := s.Client.Close()
	if s.Embedded != nil {
		err = errors.Join(err, s.Embedded.Close())
	}
	return err
}

// OpenStore connects to the configured Redis, or to the embedded store of
// dataDir: its own when no other process owns it, else the one that process
// serves (so `user add` works beside a running `serve`). exclusive asks for
// ownership (serve), refusing to share a directory with another serve.
func OpenStore(ctx context.Context, c config.Config, dataDir string, exclusive bool, log *slog.Logger) (*Store, error) {
	st := &Store{}
	if c.Redis.Configured() {
		client, err := redisstore.NewClient(redisstore.ClientOptions{
			URL: c.Redis.URL, SentinelMaster: c.Redis.SentinelMaster, SentinelAddrs: c.Redis.SentinelAddrs,
			ClusterAddrs: c.Redis.ClusterAddrs, Username: c.Redis.Username, Password: c.Redis.Password,
		})
		if err != nil {
			return nil, err
		}
		st.Client = client
	} else {
		es, err := embedded.Open(dataDir, c.Embedded.SnapshotInterval.Duration, log)
		switch {
		case err == nil:
			st.Embedded = es
			st.Client = redis.NewClient(&redis.Options{Addr: es.Addr()})
		case errors.Is(err, embedded.ErrRunning) && !exclusive:
			addr, ok := embedded.Locate(dataDir)
			if !ok {
				return nil, fmt.Errorf("data directory %s is busy; try again", dataDir)
			}
			st.Client = redis.NewClient(&redis.Options{Addr: addr})
		case errors.Is(err, embedded.ErrRunning):
			return nil, fmt.Errorf("another hotline serve is using --data %s; stop it or give another --data", dataDir)
		default:
			return nil, err
		}
	}
	st.DB = redisstore.NewDB(st.Client, c.Redis.Prefix)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.DB.Ping(pctx); err != nil {
		st.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return st, nil
}

// loadDirectory decides which network and catalogue are in force. Files
// named in the configuration win and are saved to the store, so every
// replica and command sees them; else what the store has; else, on an empty
// store, the demo street, so a newcomer sees a working system at once.
func loadDirectory(ctx context.Context, c config.Config, st *Store, log *slog.Logger) (*hotline.Network, *hotline.Catalogue, error) {
	ns := redisstore.NewNetworkStore(st.DB)
	files := network.Files{Units: c.Network.Units, Areas: c.Network.Areas, Gazetteer: c.Network.Gazetteer, Catalogue: c.Catalogue.File}
	if files != (network.Files{}) {
		n, cat, err := network.Load(files) // Load validates
		if err != nil {
			return nil, nil, err
		}
		if err := ns.SaveNetwork(ctx, n); err != nil {
			return nil, nil, err
		}
		if err := ns.SaveCatalogue(ctx, cat); err != nil {
			return nil, nil, err
		}
		log.Info("network loaded from files", "units", len(n.Units), "categories", len(cat.Categories))
		return n, cat, nil
	}
	n, err := ns.LoadNetwork(ctx)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		dn, dc := network.Demo()
		if err := ns.SaveNetwork(ctx, dn); err != nil {
			return nil, nil, err
		}
		if err := ns.SaveCatalogue(ctx, dc); err != nil {
			return nil, nil, err
		}
		log.Info("empty store: loaded the demo street network and service catalogue", "units", len(dn.Units), "categories", len(dc.Categories))
		return dn, dc, nil
	} else if err != nil {
		return nil, nil, err
	}
	cat, err := ns.LoadCatalogue(ctx)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		_, cat = network.Demo()
		err = ns.SaveCatalogue(ctx, cat)
	}
	if err != nil {
		return nil, nil, err
	}
	return n, cat, nil
}

func countKind(n *hotline.Network, k hotline.UnitKind) int {
	c := 0
	for _, u := range n.Units {
		if u.Kind == k {
			c++
		}
	}
	return c
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openForCommand opens the store for a one-shot subcommand.
func openForCommand(ctx context.Context, name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (*Main, *Store, error) {
	m := NewMain()
	fs := flag.NewFlagSet("hotline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&m.DataDir, "data", m.DataDir, "data directory of the embedded store")
	fs.StringVar(&m.ConfigPath, "config", "", "configuration file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := m.LoadConfig(); err != nil {
		return nil, nil, err
	}
	// One-shot commands log only warnings: their output is for people.
	m.Config.Log.Level = "warn"
	m.Logger = newLogger(m.Config.Log, stderr)
	st, err := OpenStore(ctx, m.Config, m.DataDir, false, m.Logger)
	if err != nil {
		return nil, nil, err
	}
	return m, st, nil
}

func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var name, role, unit, display string
	var pwStdin bool
	_, st, err := openForCommand(ctx, "user add", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&name, "name", "", "username (lowercase letters, digits, . _ -)")
		fs.StringVar(&role, "role", "", "admin, dispatcher, committee, social_worker or volunteer")
		fs.StringVar(&unit, "unit", "", "the unit the user belongs to (e.g. c01, center)")
		fs.StringVar(&display, "display", "", "the name shown to colleagues")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if err != nil {
		return err
	}
	defer st.Close()
	if !pwStdin {
		return errors.New("give the password on standard input with --password-stdin (never on the command line, where ps and shell history show it)")
	}
	if !hotline.Role(role).Valid() {
		return fmt.Errorf("--role %q: use one of admin, dispatcher, committee, social_worker, volunteer", role)
	}
	if unit == "" && hotline.Role(role) != hotline.RoleAdmin {
		return fmt.Errorf("--unit is needed for role %s: the user sees the tickets of that unit and below it", role)
	}
	if unit != "" {
		n, err := redisstore.NewNetworkStore(st.DB).LoadNetwork(ctx)
		if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
			return err
		}
		if n == nil {
			n, _ = network.Demo()
		}
		if _, ok := n.Unit(unit); !ok {
			return fmt.Errorf("--unit %q is not in the network", unit)
		}
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	pw := strings.TrimRight(line, "\r\n")
	if len([]rune(pw)) < 10 {
		return errors.New("the password must be at least 10 characters")
	}
	hash, err := server.HashPassword(pw)
	if err != nil {
		return err
	}
	if display == "" {
		display = name
	}
	u := &hotline.User{Username: name, Name: display, Role: hotline.Role(role), UnitID: unit, PasswordHash: hash, CreatedAt: time.Now().UTC()}
	if err := redisstore.NewUserStore(st.DB).CreateUser(ctx, u); err != nil {
		return fmt.Errorf("%s", hotline.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "user %s added (role %s, unit %s)\n", u.Username, u.Role, orDash(u.UnitID))
	return nil
}

func userList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	_, st, err := openForCommand(ctx, "user list", args, stderr, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	users, err := redisstore.NewUserStore(st.DB).ListUsers(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USERNAME\tNAME\tROLE\tUNIT\tCREATED")
	for _, u := range users {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Username, u.Name, u.Role, orDash(u.UnitID), u.CreatedAt.Format("2006-01-02"))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
