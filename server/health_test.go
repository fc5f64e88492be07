package server_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
)

func TestHealth(t *testing.T) {
	ts := MustOpenServer(t)
	Run(t, ts, []Scenario{
		{Name: "healthz", URL: "/healthz", ExpectedStatus: 200},
		{Name: "readyz", URL: "/readyz", ExpectedStatus: 200},
		{Name: "metrics", URL: "/metrics", ExpectedStatus: 200,
			ExpectedContent: []string{"hotline_tickets_created_total", `hotline_http_request_duration_seconds_bucket{code="200",method="GET",route="/readyz"`}},
	})
}

func TestReadyz_StoreDown(t *testing.T) {
	ts := MustOpenServer(t, func(s *server.Server) {
		// A client of a port nothing listens on: the store is down.
		down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
		t.Cleanup(func() { down.Close() })
		s.Ready = redisstore.NewDB(down, "x").Ping
	})
	Run(t, ts, []Scenario{
		{Name: "readyz", URL: "/readyz", ExpectedStatus: 503, ExpectedContent: []string{`"code":"unavailable"`}},
		{Name: "healthz is still fine", URL: "/healthz", ExpectedStatus: 200},
	})
}
