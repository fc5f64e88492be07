package server

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// The Content-Security-Policy of every response. The pages have no inline
// script or style (see package static), so nothing needs 'unsafe-inline';
// ws:/wss: are for the staff board's live feed.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
	"script-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

type ctxKey int

const (
	loggerKey ctxKey = iota
	authKey
	routeKey
)

// middleware wraps the mux. Order matters, outermost first:
//   - security headers before anything can write, so even a panic's 500
//     carries them;
//   - metrics and access log around everything below, so they see the
//     final status, including the recovered 500;
//   - recovery inside them, body limit and the origin check before any
//     handler reads the body, then the session;
//   - recordRoute right around the mux, which sets r.Pattern on the
//     request it is handed (not on the copies the outer layers hold).
func (s *Server) middleware(mux http.Handler) http.Handler {
	h := recordRoute(mux)
	h = s.authenticate(h)
	h = s.checkOrigin(h)
	h = s.limitBody(h)
	h = s.recoverPanic(h)
	h = s.observe(h)
	return securityHeaders(h)
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// recordRoute copies the pattern the mux matched into the holder that
// observe put in the context. It reads it in a defer so that a panicking
// handler is still counted under its route.
func recordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p, ok := r.Context().Value(routeKey).(*string); ok {
				*p = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// observe records the request duration histogram and writes the access
// log. The log has the path but never the query string: status lookups
// carry the last digits of a phone there.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var pattern string
		ctx := context.WithValue(r.Context(), routeKey, &pattern)
		ctx = context.WithValue(ctx, loggerKey, s.Logger)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			d := time.Since(start)
			route := routeLabel(pattern)
			s.metrics.observe(route, r.Method, rec.status(), d)
			level := slog.LevelInfo
			switch route {
			case "/healthz", "/readyz", "/metrics":
				level = slog.LevelDebug // probes every few seconds drown the log
			}
			if s.Logger.Enabled(ctx, level) { // spares boxing the fields
				s.Logger.Log(ctx, level, "http",
					"method", r.Method, "route", route, "path", r.URL.Path,
					"status", rec.status(), "bytes", rec.bytes,
					"duration_ms", float64(d.Microseconds())/1000)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// routeLabel turns a pattern ("GET /api/v1/tickets/{id}") into the route
// label ("/api/v1/tickets/{id}"): the method has its own label, and
// requests no pattern matched share one label so that probing random
// paths cannot blow up the number of series.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:]
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop a host part
	}
	return pattern
}

// recoverPanic turns a handler's panic into a 500 and a logged stack, so
// one bad request never takes the process (and everyone's calls) down.
func (s *Server) recoverPanic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				// The handler's way to abort a response on purpose;
				// net/http handles it without a stack trace.
				panic(v)
			}
			s.Logger.Error("panic in handler", "method", r.Method, "path", r.URL.Path,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if rec, ok := w.(*statusRecorder); ok && rec.code != 0 {
				return // the answer has begun; the client sees it cut short
			}
			Error(w, r, hotline.Internal(fmt.Errorf("panic: %v", v)))
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, else when a handler reads past the limit (see Error's 413).
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max := s.Config.MaxBodyBytes
		if n, ok := s.bodyLimits[r.Method+" "+r.URL.Path]; ok {
			max = n // a route that takes more (see Server.bodyLimits)
		}
		if r.ContentLength > max {
			Error(w, r, &http.MaxBytesError{Limit: max})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// checkOrigin refuses unsafe requests sent by a browser from another site
// (Sec-Fetch-Site, else Origin compared with Host or PublicURL). Requests
// with neither header come from programs, which carry no ambient cookies.
func (s *Server) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.origins.Check(r); err != nil {
			Error(w, r, hotline.Errorf(hotline.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// loggerFrom returns the server's logger for r, or the default one for a
// request that did not pass through the middleware (tests of Error alone).
func loggerFrom(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// clientAddr returns the client's address as a rate-limit key. IPv6
// clients are keyed by their /64: one household or phone is handed a
// whole /64 and could otherwise rotate through it.
func (s *Server) clientAddr(r *http.Request) string {
	addr := ""
	if s.Config.TrustProxyHeaders {
		if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			addr = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	if addr == "" {
		addr = r.RemoteAddr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// limit counts one request under key against perMinute; over it, the
// answer is ETOOMANY with the wait. A nil Limiter allows everything.
func (s *Server) limit(r *http.Request, key string, perMinute int) error {
	return limitWith(r, s.Limiter, key, perMinute)
}

// limitPublic is limit for anonymous intake and lookups, on PublicLimiter.
func (s *Server) limitPublic(r *http.Request, perMinute int) error {
	l := s.PublicLimiter
	if l == nil {
		l = s.Limiter
	}
	return limitWith(r, l, "public:"+s.clientAddr(r), perMinute)
}

func limitWith(r *http.Request, l hotline.RateLimiter, key string, perMinute int) error {
	if l == nil {
		return nil
	}
	ok, after, err := l.Allow(r.Context(), key, perMinute, time.Minute)
	if err != nil {
		return err
	}
	if !ok {
		return tooMany(after)
	}
	return nil
}

// statusRecorder remembers the status and size of a response for the
// metrics and the log. It passes Flush and Hijack through (the live board
// upgrades to a websocket) and unwraps for http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.code == 0 && code >= 200 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) status() int {
	if w.code == 0 {
		return http.StatusOK // nothing written: net/http sends 200
	}
	return w.code
}

func (w *statusRecorder) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err == nil && w.code == 0 {
		w.code = http.StatusSwitchingProtocols
	}
	return c, rw, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
