package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

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

// The access log names route and path, never the query string (status
// lookups carry phone digits there) and never a phone number or name.
func TestAccessLog_NoPersonalData(t *testing.T) {
	var buf syncBuffer
	ts := MustOpenServer(t, func(s *server.Server) {
		s.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	resp := ts.Do(t, "POST", "/api/v1/tickets",
		`{"service_code":"sanitation","description":"水管漏了","phone":"13812345678","last_name":"欧阳"}`, nil, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, resp.Body)
	}
	var v struct{ ID string }
	json.Unmarshal([]byte(resp.Body), &v)
	ts.Do(t, "GET", "/api/v1/tickets/"+v.ID+"/status?phone_last4=5678", "", nil, nil)

	want := `"route":"/api/v1/tickets/{id}/status"`
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the log line follows the answer
	}
	log := buf.String()
	if !strings.Contains(log, want) || !strings.Contains(log, `"route":"/api/v1/tickets","path":"/api/v1/tickets","status":201`) {
		t.Fatalf("access log lacks the requests:\n%s", log)
	}
	for _, bad := range []string{"phone_last4", "5678", "欧阳", "水管"} {
		if strings.Contains(log, bad) {
			t.Errorf("log holds %q:\n%s", bad, log)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
