package main

import (
	"context"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/static"
)

// securityHeaders are on every answer the service gives.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
		"connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin",
}

// Every page, asset, API answer, error and refusal carries the security
// headers: 200s, 401s, 403s, 404s, 405s, 413s and the refused websocket
// upgrade alike.
func TestSecurityHeadersOnEveryAnswer(t *testing.T) {
	f := MustAccessFixture(t)
	type req struct {
		role, method, path, body string
		headers                  map[string]string
		status                   int
	}
	reqs := []req{
		{"anon", "GET", "/", "", nil, 200},
		{"anon", "GET", "/?lang=en", "", nil, 200},
		{"anon", "GET", "/status", "", nil, 200},
		{"anon", "GET", "/login", "", nil, 200},
		{"anon", "GET", "/staff", "", nil, 200},
		{"anon", "GET", "/board", "", nil, 200},
		{"anon", "GET", "/volunteer", "", nil, 200},
		{"anon", "GET", "/volunteers", "", nil, 200},
		{"anon", "GET", "/volunteers/v1", "", nil, 200},
		{"anon", "GET", "/projects", "", nil, 200},
		{"anon", "GET", "/projects/P000001", "", nil, 200},
		{"anon", "GET", "/audit", "", nil, 200},
		{"anon", "GET", "/healthz", "", nil, 200},
		{"anon", "GET", "/readyz", "", nil, 200},
		{"anon", "GET", "/metrics", "", nil, 200},
		{"anon", "GET", "/api/v1/services", "", nil, 200},
		{"anon", "GET", "/api/v1/units", "", nil, 200},
		{"anon", "GET", "/api/v1/me", "", nil, 401},
		{"anon", "GET", "/api/v1/tickets", "", nil, 401},
		{"anon", "GET", "/api/v1/nothing", "", nil, 404},
		{"anon", "GET", "/nothing.js", "", nil, 404},
		{"anon", "GET", "/a/b/c", "", nil, 404},
		{"anon", "PUT", "/login", "", nil, 405},
		{"anon", "POST", "/api/v1/tickets", "{", nil, 400},
		{"anon", "POST", "/api/v1/tickets", strings.Repeat("x", 1<<20), nil, 413},
		{"anon", "POST", "/api/v1/login", `{"username":"admin","password":"wrong password"}`, nil, 401},
		{"anon", "GET", "/open311/v2/services.json", "", nil, 200},
		{"anon", "GET", "/open311/v2/requests/" + hotline.TicketIDWithCheck("99999999") + ".json", "", nil, 404},
		{"anon", "POST", "/twilio/voice", "From=%2B8613800138000", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 403},
		{"anon", "GET", "/sim/inbox?phone=%2B8613700000001", "", nil, 200},
		{"anon", "GET", "/ws", "", nil, 401},
		{"vol", "GET", "/ws", "", map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
			"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}, 403},
		{"c01", "GET", "/ws", "", nil, 400},
		{"c01", "GET", "/api/v1/tickets/" + f.tickets["c02"], "", nil, 404},
		{"c01", "GET", "/api/v1/audit", "", nil, 403},
		{"c01", "POST", "/api/v1/tickets/" + f.tickets["c01"] + "/note", `{"text":"x"}`, map[string]string{server.CSRFHeader: "wrong"}, 403},
		{"c01", "POST", "/api/v1/tickets/" + f.tickets["c01"] + "/note", `{"text":"x"}`, map[string]string{"Origin": "https://elsewhere.example"}, 403},
		{"admin", "GET", "/api/v1/tickets/" + f.tickets["c01"] + "/contact", "", nil, 200},
		{"admin", "GET", "/api/v1/volunteers/export.csv", "", nil, 200},
		{"admin", "GET", "/api/v1/projects/export.xlsx?year=2027", "", nil, 200},
	}
	files, err := fs.ReadDir(static.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range files {
		status := 200
		if e.Name() == "index.html" {
			status = 301 // to /, as net/http serves index files
		}
		reqs = append(reqs, req{"anon", "GET", "/" + e.Name(), "", nil, status})
	}
	for _, r := range reqs {
		code, h := f.DoWith(t, r.role, r.method, r.path, r.body, r.headers)
		if code != r.status {
			t.Errorf("%s %s as %s: %d, want %d", r.method, r.path, r.role, code, r.status)
		}
		for k, want := range securityHeaders {
			if got := h.Get(k); got != want {
				t.Errorf("%s %s as %s (%d): %s = %q, want %q", r.method, r.path, r.role, code, k, got, want)
			}
		}
	}
}

// DoWith is Do with extra headers, which win over the defaults (an empty
// value removes one); it answers the status and the headers.
func (f *accessFixture) DoWith(t *testing.T, role, method, path, body string, headers map[string]string) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, f.m.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if c := f.clients[role]; c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: server.SessionCookie, Value: c.cookie})
		req.Header.Set(server.CSRFHeader, c.csrf)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := f.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

// A session ends at its expiry: the next request is 401, the session is
// deleted from the store (the embedded store never expires keys by itself)
// and the browser is told to drop the cookie.
func TestSessionExpires(t *testing.T) {
	const ttl = 2 * time.Second
	m := MustRunMainOn(t, t.TempDir(), func(m *Main) { m.Config.HTTP.SessionTTL.Duration = ttl })
	ctx := context.Background()
	hash, _ := bcrypt.GenerateFromPassword([]byte(accessPassword), bcrypt.MinCost)
	if err := m.Server.Users.CreateUser(ctx, &hotline.User{Username: "li.ming", Role: hotline.RoleCommittee, UnitID: "c01", PasswordHash: string(hash)}); err != nil {
		t.Fatal(err)
	}
	f := &accessFixture{m: m, c: &http.Client{Timeout: 10 * time.Second}}
	c := f.MustLogin(t, "li.ming")
	f.clients = map[string]*accessClient{"li": c}
	signedIn := time.Now()
	sessions := func() int {
		keys, err := m.store.DB.Client().Keys(ctx, m.store.DB.Prefix()+":session:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	if code, _, _ := f.Do(t, "li", "GET", "/api/v1/me", ""); code != 200 {
		t.Fatalf("me while signed in: %d", code)
	}
	if n := sessions(); n != 1 {
		t.Fatalf("%d sessions stored, want 1", n)
	}

	time.Sleep(time.Until(signedIn.Add(ttl + 100*time.Millisecond)))
	code, h, _ := f.Do(t, "li", "GET", "/api/v1/me", "")
	if code != 401 {
		t.Fatalf("me after the session's expiry: %d, want 401", code)
	}
	resp := http.Response{Header: h}
	dropped := false
	for _, ck := range resp.Cookies() {
		dropped = dropped || ck.Name == server.SessionCookie && ck.Value == "" && ck.MaxAge < 0
	}
	if !dropped {
		t.Errorf("the answer does not drop the cookie: %q", h.Values("Set-Cookie"))
	}
	if n := sessions(); n != 0 {
		t.Errorf("%d sessions stored after the expiry, want 0", n)
	}
	// The board, the lists and the details in full are all closed to it.
	for _, path := range []string{"/api/v1/tickets", "/api/v1/tickets/" + hotline.TicketIDWithCheck("99999999") + "/contact", "/ws"} {
		if code, _, _ := f.Do(t, "li", "GET", path, ""); code != 401 {
			t.Errorf("GET %s after expiry: %d, want 401", path, code)
		}
	}
}

// Logins are limited per client address and per username: the attempt
// over the limit is refused even with the right password.
func TestLoginRateLimited(t *testing.T) {
	m := MustRunMainOn(t, t.TempDir(), func(m *Main) { m.Config.HTTP.LoginRatePerMinute = 3 })
	hash, _ := bcrypt.GenerateFromPassword([]byte(accessPassword), bcrypt.MinCost)
	if err := m.Server.Users.CreateUser(context.Background(), &hotline.User{Username: "li.ming", Role: hotline.RoleAdmin, PasswordHash: string(hash)}); err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for i, tc := range []struct {
		user, password string
		want           int
	}{
		{"li.ming", "wrong password", 401},
		{"li.ming", "wrong again", 401},
		{"li.ming", accessPassword, 200},
		{"li.ming", accessPassword, 429},
		{"someone.else", "any", 429}, // the address is spent too
	} {
		resp := postJSON(t, c, m.URL()+"/api/v1/login", map[string]string{"username": tc.user, "password": tc.password}, nil, nil)
		if resp.StatusCode != tc.want {
			t.Errorf("attempt %d (%s): %d, want %d", i+1, tc.user, resp.StatusCode, tc.want)
		}
		if tc.want == 429 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("attempt %d: 429 without Retry-After", i+1)
		}
	}
}
