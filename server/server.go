// Package server is the hotline's HTTP layer: the JSON API of docs/API.md,
// the staff sessions, the web pages, health checks and metrics. It talks to
// storage only through the root interfaces (hotline.TicketStore, UserStore,
// RateLimiter, Directory) and to intake through intake.Service, so it never
// imports go-redis.
//
// Later packages (dispatch, twilio, websockets) add their routes with
// Handle before Open; they get the same middleware: security headers,
// metrics, access log, panic recovery, body limit, cross-origin refusal,
// and the signed-in user through UserFromContext.
package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
)

// Defaults applied to zero Config fields. They match config.example.toml.
const (
	DefaultMaxBodyBytes        = 64 << 10
	DefaultPublicRatePerMinute = 30
	DefaultLoginRatePerMinute  = 10
	DefaultSessionTTL          = 12 * time.Hour
)

// Config is the [http] section of the configuration, less what only the
// command needs.
type Config struct {
	// Addr is where Open listens, e.g. ":8080"; ":0" picks a free port.
	Addr string
	// PublicURL is the scheme and host residents reach us at. When set, its
	// origin is trusted for unsafe requests and an https scheme makes the
	// session cookie Secure.
	PublicURL string
	// MaxBodyBytes bounds every request body; larger gets 413.
	MaxBodyBytes int64
	// PublicRatePerMinute bounds anonymous ticket submissions and status
	// lookups per client address.
	PublicRatePerMinute int
	// LoginRatePerMinute bounds login attempts per client address and,
	// separately, per username.
	LoginRatePerMinute int
	SessionTTL         time.Duration
	// TrustProxyHeaders makes the last X-Forwarded-For entry the client
	// address. Only set it behind exactly one proxy of your own, which
	// appends the address it saw: earlier entries are whatever the client
	// chose to send.
	TrustProxyHeaders bool
}

// Server serves the hotline over HTTP. Set the fields, optionally add
// routes with Handle, then call Open (or mount Handler yourself).
type Server struct {
	Config  Config
	Tickets hotline.TicketStore
	Users   hotline.UserStore
	Limiter hotline.RateLimiter // nil: no rate limits (tests, trials)
	// PublicLimiter limits anonymous intake and lookups per client; nil
	// means Limiter. An in-process limiter (memlimit) spares the hottest
	// path a round trip to Redis; logins always use Limiter, shared by
	// every replica, because they guard passwords.
	PublicLimiter hotline.RateLimiter
	Directory     hotline.Directory
	Intake        *intake.Service
	Dispatch      *dispatch.Service
	Open311       http.Handler // mounted at /open311/v2/ when set
	Static        fs.FS        // the pages and assets, at its root
	// Volunteers is the volunteer registry (volunteer.go); nil answers
	// 503 on its routes, and volunteers then see no tickets.
	Volunteers Volunteers
	// Projects is the needs projects (project.go); nil answers 503 there.
	Projects Projects
	// Audit records every disclosure of a resident's personal details in
	// full (audit.go); nil refuses such disclosures with 503.
	Audit hotline.AuditLog

	// Feed is what GET /ws follows for live boards; nil answers 503 there.
	Feed hotline.Feed
	// Ready checks the store for /readyz; nil means always ready.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// Registry receives the metrics and is what /metrics shows; nil makes
	// a new one with the Go and process collectors.
	Registry *prometheus.Registry

	once sync.Once
	mux  *http.ServeMux
	// bodyLimits raises MaxBodyBytes for the routes ("METHOD /path")
	// that take large bodies, such as the volunteer CSV import; set while
	// the routes are registered, read-only afterwards.
	bodyLimits map[string]int64
	handler    http.Handler
	metrics    *metrics
	origins    *http.CrossOriginProtection
	secure     bool // session cookies get Secure

	mu         sync.Mutex
	ln         net.Listener
	srv        *http.Server
	onShutdown []func()
}

// init applies defaults and builds the routes and middleware, once. Every
// exported method calls it, so the zero-configured parts work in any order.
func (s *Server) init() {
	s.once.Do(func() {
		if s.Config.MaxBodyBytes <= 0 {
			s.Config.MaxBodyBytes = DefaultMaxBodyBytes
		}
		if s.Config.PublicRatePerMinute <= 0 {
			s.Config.PublicRatePerMinute = DefaultPublicRatePerMinute
		}
		if s.Config.LoginRatePerMinute <= 0 {
			s.Config.LoginRatePerMinute = DefaultLoginRatePerMinute
		}
		if s.Config.SessionTTL <= 0 {
			s.Config.SessionTTL = DefaultSessionTTL
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		if s.Directory == nil {
			s.Directory = hotline.NewStaticDirectory(nil, nil)
		}
		s.metrics = newMetrics(s.Registry, s.Logger)
		if s.Registry == nil {
			s.Registry = s.metrics.registry
		}

		s.origins = http.NewCrossOriginProtection()
		if u, err := url.Parse(s.Config.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
			s.secure = u.Scheme == "https"
			if err := s.origins.AddTrustedOrigin(u.Scheme + "://" + u.Host); err != nil {
				s.Logger.Warn("public url not usable as an origin", "err", err)
			}
		}

		s.mux = http.NewServeMux()
		s.bodyLimits = map[string]int64{}
		s.registerHealthRoutes()
		s.registerServiceRoutes()
		s.registerUnitRoutes()
		s.registerTicketRoutes()
		s.registerUserRoutes()
		s.registerPageRoutes()
		s.registerWSRoutes()
		s.registerDispatchRoutes()
		s.registerVolunteerRoutes()
		s.registerProjectRoutes()
		s.registerAuditRoutes()
		if s.Open311 != nil {
			s.mux.Handle("/open311/v2/", s.Open311)
		}
		// Anything else under the API answers in the API's error shape
		// rather than the mux's plain-text 404.
		s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
			Error(w, r, hotline.Errorf(hotline.ENOTFOUND, "no such API endpoint"))
		})
		s.handler = s.middleware(s.mux)
	})
}

// Handler returns the server's handler: every route behind every
// middleware. It is built once; routes added later with Handle still pass
// through it.
func (s *Server) Handler() http.Handler {
	s.init()
	return s.handler
}

// Handle adds a route (a Go 1.22 ServeMux pattern such as
// "GET /api/v1/board/{unit}") behind the server's middleware. Call it before
// Open; like ServeMux.Handle it panics on a pattern that conflicts.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.init()
	s.mux.Handle(pattern, h)
}

// OnShutdown registers f to run when Close begins, so that connections the
// HTTP server does not track (hijacked websockets) can be told to go.
func (s *Server) OnShutdown(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onShutdown = append(s.onShutdown, f)
	if s.srv != nil {
		s.srv.RegisterOnShutdown(f)
	}
}

// Open listens on Config.Addr and serves in the background until Close.
func (s *Server) Open() error {
	if err := s.Listen(); err != nil {
		return err
	}
	return s.Serve()
}

// Listen binds Config.Addr without serving yet, so that the caller can
// learn the address (URL) before it adds the routes that need it, then
// Serve. Open does both.
func (s *Server) Listen() error {
	s.init()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return errors.New("server: already open")
	}
	addr := s.Config.Addr
	if addr == "" {
		addr = ":8080"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Serve serves on the listener Listen bound, in the background until Close.
func (s *Server) Serve() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return errors.New("server: Serve before Listen")
	}
	if s.srv != nil {
		return errors.New("server: already serving")
	}
	s.srv = &http.Server{
		Handler: s.handler,
		// Slow-header clients hold a connection for nothing; bodies are
		// small (MaxBodyBytes) so a generous read timeout is still short.
		// No WriteTimeout: websocket connections live for hours.
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	for _, f := range s.onShutdown {
		s.srv.RegisterOnShutdown(f)
	}
	go func(srv *http.Server, ln net.Listener) {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "err", err)
		}
	}(s.srv, s.ln)
	return nil
}

// Addr returns the address Open listens on ("127.0.0.1:43123"), or
// Config.Addr before Open.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return s.Config.Addr
	}
	return s.ln.Addr().String()
}

// URL returns a URL that reaches the listener from this machine, e.g.
// "http://127.0.0.1:43123": a wildcard host (":0", "[::]") is replaced with
// localhost so the URL can be dialled.
func (s *Server) URL() string {
	addr := s.Addr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// Close stops accepting connections and waits, until ctx ends, for
// in-flight requests to finish.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	srv, ln := s.srv, s.ln
	s.mu.Unlock()
	if srv == nil {
		if ln != nil {
			return ln.Close() // listening, never served
		}
		return nil
	}
	return srv.Shutdown(ctx)
}
