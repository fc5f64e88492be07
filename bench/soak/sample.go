package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// sample is the server and Redis at one moment of the run.
type sample struct {
	at  time.Duration // since the load started
	rss int64         // the server's VmRSS, bytes
	// heap is go_memstats_heap_inuse_bytes as found: it swings with the
	// collector's cycle (GOGC 400: up to five times the live heap).
	// heapGC is HeapInuse right after a GC forced through the pprof
	// listener: every span that holds a live object, whole, so it also
	// moves with how scattered the survivors are. liveGC is HeapAlloc
	// then: the bytes of the objects still alive, which is what a leak
	// makes grow and what the verdict compares.
	heap, heapGC int64
	liveGC       int64
	goroutines   int
	boards       int // hotline_ws_connections
	cpu          float64
	redisMem     int64 // used_memory
	redisKeys    int64
	redisCPU     float64
	tickets      int // acknowledged so far
	err          error
}

// takeSample reads everything, appends it to the run's samples and prints
// it as a line of the log.
func (r *run) takeSample(ctx context.Context, at time.Duration) sample {
	s := sample{at: at, tickets: r.acked()}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var errs []error
	rss, err := vmRSS(r.srv.cmd.Process.Pid)
	errs = append(errs, err)
	s.rss = rss
	if m, err := scrape(ctx, r.srv.base+"/metrics"); err == nil {
		s.heap = int64(m["go_memstats_heap_inuse_bytes"])
		s.goroutines = int(m["go_goroutines"])
		s.boards = int(m["hotline_ws_connections"])
		s.cpu = m["process_cpu_seconds_total"]
	} else {
		errs = append(errs, err)
	}
	// ?gc=1 runs a full collection (and sweep) before writing the
	// profile; with debug=1 the profile is text and ends with the
	// runtime's MemStats as read right after, before any gzip encoder or
	// metrics page allocates anything.
	if resp, err := get(ctx, r.srv.debugBase+"/debug/pprof/heap?gc=1&debug=1"); err == nil {
		ms, err := memStats(resp.Body)
		drain(resp)
		s.heapGC, s.liveGC = ms["HeapInuse"], ms["HeapAlloc"]
		if err == nil && s.heapGC == 0 {
			err = errors.New("no HeapInuse in the heap profile")
		}
		errs = append(errs, err)
	} else {
		errs = append(errs, err)
	}
	if info, err := r.rd.client.Info(ctx, "memory", "cpu", "keyspace").Result(); err == nil {
		f := infoFields(info)
		s.redisMem, _ = strconv.ParseInt(f["used_memory"], 10, 64)
		us, _ := strconv.ParseFloat(f["used_cpu_user"], 64)
		sy, _ := strconv.ParseFloat(f["used_cpu_sys"], 64)
		s.redisCPU = us + sy
		if db := f["db0"]; db != "" { // keys=123,expires=4,avg_ttl=0
			k, _, _ := strings.Cut(strings.TrimPrefix(db, "keys="), ",")
			s.redisKeys, _ = strconv.ParseInt(k, 10, 64)
		}
	} else {
		errs = append(errs, err)
	}
	s.err = errors.Join(errs...)
	r.samples = append(r.samples, s)
	fmt.Printf("%8s  rss %6.1f MiB  heap %5.1f MiB, after GC %5.1f in use, %5.1f live  goroutines %4d  boards %3d  server CPU %6.1f s  redis %6.1f MiB %7d keys  tickets %7d  failed %d",
		fmtDur(at), mib(s.rss), mib(s.heap), mib(s.heapGC), mib(s.liveGC), s.goroutines, s.boards, s.cpu, mib(s.redisMem), s.redisKeys, s.tickets, r.ledger.failures())
	if s.err != nil {
		fmt.Printf("  (sample incomplete: %v)", s.err)
	}
	fmt.Println()
	return s
}

func get(ctx context.Context, target string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		drain(resp)
		return nil, fmt.Errorf("GET %s: status %d", target, resp.StatusCode)
	}
	return resp, nil
}

// scrape reads a Prometheus text page into name → value, summing the
// series of a name over their labels (hotline_tickets_created_total over
// channels).
func scrape(ctx context.Context, target string) (map[string]float64, error) {
	resp, err := get(ctx, target)
	if err != nil {
		return nil, err
	}
	defer drain(resp)
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		m[strings.TrimSpace(name)] += v
	}
	return m, sc.Err()
}

// memStats reads the "# Name = value" lines of a text heap profile.
func memStats(r io.Reader) (map[string]int64, error) {
	m := map[string]int64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimPrefix(sc.Text(), "# "), " = ")
		if !ok || !strings.HasPrefix(sc.Text(), "# ") {
			continue
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			m[k] = n
		}
	}
	return m, sc.Err()
}

// vmRSS is a process's resident set from /proc/<pid>/status, in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// infoFields splits Redis's INFO answer into its fields.
func infoFields(info string) map[string]string {
	f := map[string]string{}
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
			f[k] = v
		}
	}
	return f
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}
