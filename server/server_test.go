package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/static"
)

// TestServer is a Server on a loopback port over a real Redis, with the
// demo network and the stores it uses, for fixtures and checks.
type TestServer struct {
	*server.Server
	DB      *redisstore.DB
	Tickets *redisstore.TicketStore
	Users   *redisstore.UserStore
	Network *hotline.Network
	Client  *http.Client
}

// newTestServer is a server on the demo street over db, wired as
// cmd/hotline wires it, not yet open.
func newTestServer(db *redisstore.DB) *TestServer {
	tickets, users := redisstore.NewTicketStore(db), redisstore.NewUserStore(db)
	n, c := network.Demo()
	dir := hotline.NewStaticDirectory(n, c)
	s := &server.Server{
		Config:    server.Config{Addr: "127.0.0.1:0"},
		Tickets:   tickets,
		Users:     users,
		Limiter:   redisstore.NewRateLimiter(db),
		Directory: dir,
		Intake:    intake.New(tickets, dir),
		Static:    static.FS,
		Ready:     db.Ping,
		Registry:  prometheus.NewRegistry(),
		Audit:     redisstore.NewAuditLog(db),
	}
	return &TestServer{Server: s, DB: db, Tickets: tickets, Users: users, Network: n,
		// No cookie jar: every scenario says which session it sends.
		Client: &http.Client{Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// MustOpenServer opens a server for tb, closed when tb ends. Each option
// may change the Server (Config, Ready, extra routes) before Open.
func MustOpenServer(tb testing.TB, options ...func(*server.Server)) *TestServer {
	tb.Helper()
	client, prefix := redistest.New(tb)
	ts := newTestServer(redisstore.NewDB(client, prefix))
	s := ts.Server
	s.Intake.OnCreated = s.TicketCreated // as cmd/hotline wires it
	for _, o := range options {
		o(s)
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return ts
}

// MustCreateUser stores a user with password pw. The hash uses bcrypt's
// lowest cost so tests stay quick; CheckPassword reads any cost.
func (ts *TestServer) MustCreateUser(tb testing.TB, username, pw string, role hotline.Role, unit string) *hotline.User {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		tb.Fatal(err)
	}
	u := &hotline.User{Username: username, Name: username, Role: role, UnitID: unit, PasswordHash: string(h)}
	if err := ts.Users.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u
}

// Session is a signed-in browser: its cookie and CSRF token.
type Session struct {
	Cookie string
	CSRF   string
	User   hotline.User
}

// MustLogin signs in through the API.
func (ts *TestServer) MustLogin(tb testing.TB, username, pw string) *Session {
	tb.Helper()
	resp := ts.Do(tb, http.MethodPost, "/api/v1/login", `{"username":"`+username+`","password":"`+pw+`"}`, nil, nil)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("login %s: status %d: %s", username, resp.StatusCode, resp.Body)
	}
	var got struct {
		User      hotline.User `json:"user"`
		CSRFToken string       `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &got); err != nil {
		tb.Fatal(err)
	}
	for _, c := range resp.Cookies {
		if c.Name == server.SessionCookie {
			return &Session{Cookie: c.Value, CSRF: got.CSRFToken, User: got.User}
		}
	}
	tb.Fatalf("login %s: no session cookie", username)
	return nil
}

// MustSubmit files a ticket through intake, as any channel would.
func (ts *TestServer) MustSubmit(tb testing.TB, sub intake.Submission) *hotline.Ticket {
	tb.Helper()
	if sub.Channel == "" {
		sub.Channel = hotline.ChannelWeb
	}
	if sub.Actor == "" {
		sub.Actor = "resident"
	}
	t, _, err := ts.Intake.Submit(context.Background(), sub, "")
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// PointIn returns a point inside the area of committee id: the mean of
// its outer ring, checked against the network itself.
func (ts *TestServer) PointIn(tb testing.TB, id string) (lat, long float64) {
	tb.Helper()
	for _, a := range ts.Network.Areas {
		if a.UnitID != id || len(a.Polygon) == 0 {
			continue
		}
		ring := a.Polygon[0]
		for _, p := range ring {
			long += p[0]
			lat += p[1]
		}
		lat, long = lat/float64(len(ring)), long/float64(len(ring))
		if u, ok := ts.Network.CommitteeAt(lat, long); !ok || u.ID != id {
			tb.Fatalf("mean point of %s (%v, %v) is not inside it", id, lat, long)
		}
		return lat, long
	}
	tb.Fatalf("no area for %s", id)
	return 0, 0
}

// Response is what a test request got back.
type Response struct {
	StatusCode int
	Header     http.Header
	Cookies    []*http.Cookie
	Body       string
}

// Do sends one request to the server. sess, when set, sends its cookie;
// headers are added as given.
func (ts *TestServer) Do(tb testing.TB, method, path, body string, sess *Session, headers map[string]string) *Response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL()+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sess != nil {
		req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: sess.Cookie})
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := ts.Client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Cookies: resp.Cookies(), Body: string(b)}
}

// Scenario is one request and what must come back, in the manner of
// pocketbase's API tests.
type Scenario struct {
	Name    string
	Method  string
	URL     string
	Body    string
	Headers map[string]string
	// Session sends a signed-in cookie; WithCSRF also sends its token.
	Session            *Session
	WithCSRF           bool
	ExpectedStatus     int
	ExpectedContent    []string
	NotExpectedContent []string
	ExpectedHeaders    map[string]string
}

// Run runs the scenarios one after another (later ones may depend on
// what earlier ones stored, as a browser's steps do).
func Run(t *testing.T, ts *TestServer, scenarios []Scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.Name, func(t *testing.T) {
			headers := map[string]string{}
			for k, v := range sc.Headers {
				headers[k] = v
			}
			if sc.WithCSRF && sc.Session != nil {
				headers[server.CSRFHeader] = sc.Session.CSRF
			}
			method := sc.Method
			if method == "" {
				method = http.MethodGet
			}
			resp := ts.Do(t, method, sc.URL, sc.Body, sc.Session, headers)
			if got, want := resp.StatusCode, sc.ExpectedStatus; got != want {
				t.Errorf("status: got %d, want %d; body: %s", got, want, resp.Body)
			}
			for _, want := range sc.ExpectedContent {
				if !strings.Contains(resp.Body, want) {
					t.Errorf("body lacks %q: %s", want, resp.Body)
				}
			}
			for _, bad := range sc.NotExpectedContent {
				if strings.Contains(resp.Body, bad) {
					t.Errorf("body has %q: %s", bad, resp.Body)
				}
			}
			for k, want := range sc.ExpectedHeaders {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("header %s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestServer_OpenAndClose(t *testing.T) {
	ts := MustOpenServer(t)
	u, err := url.Parse(ts.URL())
	if err != nil || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("URL %q has no port", ts.URL())
	}
	resp := ts.Do(t, http.MethodGet, "/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
}

// A request in flight when Close starts is answered, not cut.
func TestServer_CloseLetsInFlightRequestsFinish(t *testing.T) {
	started := make(chan struct{})
	ts := MustOpenServer(t, func(s *server.Server) {
		s.Handle("GET /slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "done")
		}))
	})
	got := make(chan *Response, 1)
	go func() { got <- ts.Do(t, http.MethodGet, "/slow", "", nil, nil) }()
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ts.Close(ctx); err != nil {
		t.Fatal(err)
	}
	resp := <-got
	if resp.StatusCode != http.StatusOK || resp.Body != "done" {
		t.Fatalf("in-flight request: %d %q", resp.StatusCode, resp.Body)
	}
}

// A route added with Handle gets the signed-in user and the middleware.
func TestServer_HandleSeesUser(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) {
		s.Handle("GET /api/v1/whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := server.UserFromContext(r.Context()); u != nil {
				io.WriteString(w, "user:"+u.Username)
				return
			}
			io.WriteString(w, "anonymous")
		}))
	})
	ts.MustCreateUser(t, "wang", "pw-wang-123", hotline.RoleDispatcher, "center")
	sess := ts.MustLogin(t, "wang", "pw-wang-123")
	Run(t, ts, []Scenario{
		{Name: "anonymous", URL: "/api/v1/whoami", ExpectedStatus: 200, ExpectedContent: []string{"anonymous"},
			ExpectedHeaders: map[string]string{"X-Frame-Options": "DENY"}},
		{Name: "signed in", URL: "/api/v1/whoami", Session: sess, ExpectedStatus: 200, ExpectedContent: []string{"user:wang"}},
		{Name: "stale cookie is anonymous", URL: "/api/v1/whoami", Session: &Session{Cookie: "not-a-session"},
			ExpectedStatus: 200, ExpectedContent: []string{"anonymous"}},
	})
}
