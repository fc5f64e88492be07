package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/caojiadu/hotline/server"
)

// A handler that panics answers 500 in the API's shape and the server
// keeps serving.
func TestPanicRecovered(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) {
		s.Handle("GET /api/v1/boom", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
			panic("boom")
		}))
	})
	Run(t, ts, []Scenario{
		{Name: "panic", URL: "/api/v1/boom", ExpectedStatus: 500,
			ExpectedContent: []string{`"code":"internal"`, `"error":"internal error"`}, NotExpectedContent: []string{"boom"},
			ExpectedHeaders: map[string]string{"X-Frame-Options": "DENY", "Content-Type": "application/json; charset=utf-8"}},
		{Name: "still serving", URL: "/healthz", ExpectedStatus: 200},
	})
	metrics := ts.Do(t, "GET", "/metrics", "", nil, nil).Body
	if want := `hotline_http_request_duration_seconds_count{code="500",method="GET",route="/api/v1/boom"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s:\n%s", want, grep(metrics, "boom"))
	}
}

// A body over the limit is refused with 413, whether Content-Length says
// so up front or the body only turns out long while it is read.
func TestBodyLimit(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) { s.Config.MaxBodyBytes = 100 })
	big := `{"username":"` + strings.Repeat("a", 200) + `","password":"x"}`
	Run(t, ts, []Scenario{
		{Name: "login", Method: "POST", URL: "/api/v1/login", Body: big, ExpectedStatus: 413,
			ExpectedContent: []string{`"code":"invalid"`, "larger than 100 bytes"}},
	})
	req, _ := http.NewRequest("POST", ts.URL()+"/api/v1/tickets", &chunked{strings.NewReader(big)})
	resp, err := ts.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("chunked body: %d, want 413", resp.StatusCode)
	}
}

// chunked hides its length so the request is sent without Content-Length.
type chunked struct{ r *strings.Reader }

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p) }
