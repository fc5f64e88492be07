package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/caojiadu/hotline/internal/redistest"
)

// BenchmarkTicketIntake posts tickets to the whole service on a real Redis,
// in parallel, the way bench/intake does but inside one process so that
// `-cpuprofile` sees the server's side.
func BenchmarkTicketIntake(b *testing.B) {
	url := redistest.URL(b)
	m := MustRunMainOn(b, b.TempDir(), func(m *Main) {
		m.Environ = []string{"HOTLINE_REDIS_URL=" + url, "HOTLINE_REDIS_PREFIX=" + fmt.Sprintf("bench%d", b.N), "HOTLINE_HTTP_PUBLIC_RATE_PER_MINUTE=1000000000"}
		if err := m.LoadConfig(); err != nil {
			b.Fatal(err)
		}
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr}
	var n atomic.Int64
	// Like the bench program: many clients at once, not GOMAXPROCS.
	b.SetParallelism(25)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body, _ := json.Marshal(map[string]any{"service_code": "facilities", "description": "楼道灯坏了，晚上看不见",
				"address_string": "长寿路 100 号", "phone": fmt.Sprintf("138%08d", i), "consent": true})
			req, _ := http.NewRequest("POST", m.URL()+"/api/v1/tickets", bytes.NewReader(body))
			req.Header.Set("Idempotency-Key", fmt.Sprintf("b-%d-%d", b.N, i))
			resp, err := c.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				b.Fatalf("status %d", resp.StatusCode)
			}
		}
	})
}
