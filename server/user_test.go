package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
)

func TestUserAPI(t *testing.T) {
	ts := MustOpenServer(t)
	ts.MustCreateUser(t, "zhang", "right-pw-1", hotline.RoleCommittee, "c01")
	sess := ts.MustLogin(t, "zhang", "right-pw-1")
	other := ts.MustLogin(t, "zhang", "right-pw-1")

	Run(t, ts, []Scenario{
		{Name: "login: wrong password", Method: "POST", URL: "/api/v1/login",
			Body: `{"username":"zhang","password":"wrong"}`, ExpectedStatus: 401,
			ExpectedContent: []string{`"code":"unauthorized"`, "wrong username or password"}},
		{Name: "login: unknown user, same answer", Method: "POST", URL: "/api/v1/login",
			Body: `{"username":"nobody","password":"wrong"}`, ExpectedStatus: 401,
			ExpectedContent: []string{"wrong username or password"}},
		{Name: "login: missing fields", Method: "POST", URL: "/api/v1/login", Body: `{}`, ExpectedStatus: 400,
			ExpectedContent: []string{`"username":`, `"password":`}},
		{Name: "login: wrong type", Method: "POST", URL: "/api/v1/login", Body: `{"username":"zhang","password":123}`,
			ExpectedStatus: 400, ExpectedContent: []string{`"password":"must be a string"`}},
		{Name: "login: malformed JSON", Method: "POST", URL: "/api/v1/login", Body: `{"username"`, ExpectedStatus: 400,
			ExpectedContent: []string{"request body is not valid JSON"}},
		{Name: "login: cross-origin", Method: "POST", URL: "/api/v1/login", Body: `{"username":"zhang","password":"right-pw-1"}`,
			Headers: map[string]string{"Origin": "http://evil.example"}, ExpectedStatus: 403},
		{Name: "me", URL: "/api/v1/me", Session: sess, ExpectedStatus: 200,
			ExpectedContent:    []string{`"username":"zhang"`, `"csrf_token":"` + sess.CSRF + `"`, `"unit_id":"c01"`},
			NotExpectedContent: []string{"password", "$2a$"}},
		{Name: "me: no session", URL: "/api/v1/me", ExpectedStatus: 401},
		{Name: "logout: without CSRF token", Method: "POST", URL: "/api/v1/logout", Session: sess, ExpectedStatus: 403,
			ExpectedContent: []string{"missing or wrong CSRF token"}},
		{Name: "logout: another session's token", Method: "POST", URL: "/api/v1/logout", Session: sess,
			Headers: map[string]string{server.CSRFHeader: other.CSRF}, ExpectedStatus: 403},
		{Name: "logout", Method: "POST", URL: "/api/v1/logout", Session: sess, WithCSRF: true, ExpectedStatus: 200},
		{Name: "me after logout", URL: "/api/v1/me", Session: sess, ExpectedStatus: 401},
		{Name: "the other session lives on", URL: "/api/v1/me", Session: other, ExpectedStatus: 200},
	})
}

func TestLogin_Cookie(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) { s.Config.PublicURL = "https://hotline.example.org" })
	ts.MustCreateUser(t, "li", "li-password", hotline.RoleAdmin, "")
	resp := ts.Do(t, "POST", "/api/v1/login", `{"username":"li","password":"li-password"}`, nil,
		map[string]string{"Origin": "https://hotline.example.org"}) // the public origin is trusted
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Body)
	}
	var c *http.Cookie
	for _, x := range resp.Cookies {
		if x.Name == server.SessionCookie {
			c = x
		}
	}
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || len(c.Value) < 43 {
		t.Errorf("cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/, 32 random bytes", c)
	}
	if c.MaxAge != int(server.DefaultSessionTTL.Seconds()) {
		t.Errorf("cookie MaxAge %d, want %v", c.MaxAge, server.DefaultSessionTTL)
	}
}

func TestLogin_RateLimited(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) { s.Config.LoginRatePerMinute = 3 })
	ts.MustCreateUser(t, "chen", "chen-password", hotline.RoleAdmin, "")
	for i := 0; i < 3; i++ {
		if got := ts.Do(t, "POST", "/api/v1/login", `{"username":"chen","password":"guess"}`, nil, nil).StatusCode; got != 401 {
			t.Fatalf("attempt %d: %d, want 401", i, got)
		}
	}
	// Even the right password waits now: the limit counts attempts.
	resp := ts.Do(t, "POST", "/api/v1/login", `{"username":"chen","password":"chen-password"}`, nil, nil)
	if resp.StatusCode != 429 {
		t.Fatalf("fourth attempt: %d %s, want 429", resp.StatusCode, resp.Body)
	}
	if ra := resp.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if !strings.Contains(resp.Body, `"code":"too_many"`) {
		t.Errorf("body %s", resp.Body)
	}
}

// The per-username limit holds even when the attempts come from many
// addresses (here: X-Forwarded-For behind a trusted proxy).
func TestLogin_RateLimitedPerUsername(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) {
		s.Config.LoginRatePerMinute = 2
		s.Config.TrustProxyHeaders = true
	})
	for i, addr := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"} {
		resp := ts.Do(t, "POST", "/api/v1/login", `{"username":"Target","password":"guess"}`, nil,
			map[string]string{"X-Forwarded-For": "spoofed, " + addr})
		want := 401
		if i == 2 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("attempt %d from %s: %d, want %d", i, addr, resp.StatusCode, want)
		}
	}
}

func TestPassword(t *testing.T) {
	h, err := server.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !server.CheckPassword(h, "correct horse") {
		t.Error("the right password does not match")
	}
	if server.CheckPassword(h, "correct horsE") {
		t.Error("a wrong password matches")
	}
	if server.CheckPassword("not a hash", "x") {
		t.Error("a garbage hash matches")
	}
	for _, pw := range []string{"", strings.Repeat("x", 73)} {
		if _, err := server.HashPassword(pw); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("HashPassword(%d bytes): %v, want EINVALID", len(pw), err)
		}
	}
}
