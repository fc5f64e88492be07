// Command intake measures ticket intake over HTTP against a floor.
//
// It builds and starts `hotline serve` on a real Redis (a fresh key prefix),
// posts N tickets with C concurrent clients and prints tickets/s and the
// p50/p99 latency. In the same run, against the same Redis, it starts a
// floor: a bare net/http server (another process, like the hotline) whose
// handler reads the JSON body and does one XADD. It prints both and their
// ratio; the hotline's target is at least 0.6 of the floor.
//
//	go run ./bench/intake -n 20000 -c 50 -redis redis://127.0.0.1:6379/0
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	floorAddr := flag.String("floor", "", "internal: run the floor server on this address")
	n := flag.Int("n", 20000, "tickets to post per target")
	c := flag.Int("c", 50, "concurrent clients")
	warm := flag.Int("warmup", 500, "requests before measuring")
	rounds := flag.Int("rounds", 6, "rounds each target runs, taking turns with the other")
	redisURL := flag.String("redis", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis both targets use")
	flag.Parse()

	if *floorAddr != "" {
		runFloor(*floorAddr, *redisURL)
		return
	}
	if err := bench(*n, *c, *warm, *rounds, *redisURL); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// runFloor is the least any intake can do: parse the body, append it to a
// stream, answer 201.
func runFloor(addr, redisURL string) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		panic(err)
	}
	rdb := redis.NewClient(opt)
	stream := fmt.Sprintf("benchfloor:%d", os.Getpid())
	http.HandleFunc("POST /api/v1/tickets", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		b, _ := json.Marshal(body)
		id, err := rdb.XAdd(r.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"d", b}}).Result()
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		fmt.Fprintf(w, `{"id":%q}`, id)
	})
	defer rdb.Del(context.Background(), stream)
	srv := &http.Server{Addr: addr}
	go func() {
		var b [1]byte
		os.Stdin.Read(b[:]) // the parent closes stdin when done
		srv.Close()
	}()
	srv.ListenAndServe()
}

type result struct {
	name           string
	n              int
	errs           int64
	elapsed        time.Duration
	p50, p99, pmax time.Duration
	// cpuPerOp is the server process's CPU time (user + system) per
	// ticket in µs: unlike throughput, it does not depend on what else
	// the machine is doing.
	cpuPerOp float64
	// redisPerOp and clientPerOp are the same for Redis (from INFO cpu,
	// so it counts everything Redis did meanwhile) and for this program's
	// load generator: on a shared machine all three compete for the cores.
	redisPerOp, clientPerOp float64
	lat                     []time.Duration
}

func (r result) allPerOp() float64 { return r.cpuPerOp + r.redisPerOp + r.clientPerOp }

// merge adds up rounds of one target: tickets, time and CPU add; the
// percentiles are over every request of every round.
func merge(rs []result) result {
	var m result
	var cpu, rcpu, ccpu float64
	for _, r := range rs {
		m.name = r.name
		m.n += r.n
		m.errs += r.errs
		m.elapsed += r.elapsed
		m.lat = append(m.lat, r.lat...)
		cpu += r.cpuPerOp * float64(r.n)
		rcpu += r.redisPerOp * float64(r.n)
		ccpu += r.clientPerOp * float64(r.n)
	}
	n := float64(m.n)
	m.cpuPerOp, m.redisPerOp, m.clientPerOp = cpu/n, rcpu/n, ccpu/n
	sort.Slice(m.lat, func(i, j int) bool { return m.lat[i] < m.lat[j] })
	m.p50, m.p99, m.pmax = m.lat[m.n/2], m.lat[m.n*99/100], m.lat[m.n-1]
	return m
}

func median(xs []float64) float64 {
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func (r result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func bench(n, c, warm, rounds int, redisURL string) error {
	rounds = max(1, rounds)
	tmp, err := os.MkdirTemp("", "bench-intake")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "hotline")
	build := exec.Command("go", "build", "-o", bin, "./cmd/hotline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build hotline (run from the repository root): %w", err)
	}

	prefix := fmt.Sprintf("bench%d", time.Now().Unix())
	hAddr := freeAddr()
	hotline := exec.Command(bin, "serve", "--addr", hAddr, "--data", filepath.Join(tmp, "data"))
	hotline.Env = append(os.Environ(),
		"HOTLINE_REDIS_URL="+redisURL,
		"HOTLINE_REDIS_PREFIX="+prefix,
		"HOTLINE_LOG_LEVEL=warn",
		// The per-client limit protects a real deployment from one abusive
		// address; every benchmark client shares one address, so lift it.
		// The limiter still runs (one Redis call per request).
		"HOTLINE_HTTP_PUBLIC_RATE_PER_MINUTE=100000000",
	)
	hotline.Stderr = os.Stderr
	if err := hotline.Start(); err != nil {
		return err
	}
	defer func() {
		hotline.Process.Signal(os.Interrupt)
		hotline.Wait()
		cleanup(redisURL, prefix)
	}()

	fAddr := freeAddr()
	self, _ := os.Executable()
	floor := exec.Command(self, "-floor", fAddr, "-redis", redisURL)
	floorIn, _ := floor.StdinPipe()
	floor.Stderr = os.Stderr
	if err := floor.Start(); err != nil {
		return err
	}
	defer func() { floorIn.Close(); floor.Wait() }()

	for _, a := range []string{hAddr, fAddr} {
		if err := waitHTTP("http://" + a + "/healthz"); err != nil && a == hAddr {
			return err
		}
	}
	time.Sleep(200 * time.Millisecond)

	fmt.Printf("intake benchmark: %d tickets per target in %d alternating rounds, %d concurrent clients, redis %s, %d CPUs\n",
		n, rounds, c, redisURL, numCPU())
	rdb := redisClient(redisURL)
	defer rdb.Close()
	// The two targets take turns, in rounds, in the order H F F H H F ...:
	// on a shared machine the CPU left to a benchmark drifts over seconds,
	// and one long run each would credit that drift to one of them.
	hotlineT := target{name: "hotline", base: "http://" + hAddr, pid: hotline.Process.Pid}
	floorT := target{name: "floor (net/http + 1 XADD)", base: "http://" + fAddr, pid: floor.Process.Pid}
	per := max(1, n/rounds)
	var hs, fs []result
	var ratios []float64
	for r := 0; r < rounds; r++ {
		w := 0
		if r == 0 {
			w = warm
		}
		var h, f result
		if r%2 == 0 {
			h = load(hotlineT, per, c, w, rdb)
			f = load(floorT, per, c, w, rdb)
		} else {
			f = load(floorT, per, c, w, rdb)
			h = load(hotlineT, per, c, w, rdb)
		}
		hs, fs = append(hs, h), append(fs, f)
		ratios = append(ratios, h.rate()/f.rate())
	}
	h1, f1 := merge(hs), merge(fs)
	for _, r := range []result{h1, f1} {
		fmt.Printf("%-28s %8.0f tickets/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  errors %d\n",
			r.name, r.rate(), ms(r.p50), ms(r.p99), ms(r.pmax), r.errs)
		fmt.Printf("%-28s CPU per ticket: server %6.1f µs, redis %6.1f µs, load generator %6.1f µs, all %6.1f µs\n",
			"", r.cpuPerOp, r.redisPerOp, r.clientPerOp, r.allPerOp())
	}
	sort.Float64s(ratios)
	fmt.Printf("ratio hotline/floor: %.2f (throughput over all rounds; per round %.2f to %.2f, median %.2f), p99 %.2fx\n",
		h1.rate()/f1.rate(), ratios[0], ratios[len(ratios)-1], median(ratios), float64(h1.p99)/float64(f1.p99))
	fmt.Printf("CPU per ticket, hotline/floor: server %.2fx, all three processes %.2fx (so where CPU is the limit the floor's own share is %.2f)\n",
		h1.cpuPerOp/f1.cpuPerOp, h1.allPerOp()/f1.allPerOp(), f1.allPerOp()/h1.allPerOp())
	if h1.errs > 0 || f1.errs > 0 {
		return fmt.Errorf("%d + %d requests failed", h1.errs, f1.errs)
	}
	return nil
}

// target is one HTTP server under load.
type target struct {
	name, base string
	pid        int
}

func load(t target, n, c, warm int, rdb *redis.Client) result {
	name, base, pid := t.name, t.base, t.pid
	tr := &http.Transport{MaxIdleConns: c, MaxIdleConnsPerHost: c}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	descs := []string{"楼道灯坏了，晚上看不见", "独居老人需要每天送午餐", "邻居装修噪音太大", "想咨询居家养老补贴政策", "水管漏水需要维修"}
	codes := []string{"facilities", "elderly_meals", "dispute", "policy", "home_repair"}
	post := func(i int) (time.Duration, bool) {
		body, _ := json.Marshal(map[string]any{
			"service_code":   codes[i%len(codes)],
			"description":    descs[i%len(descs)],
			"address_string": fmt.Sprintf("长寿路 %d 号", 1+i%300),
			"phone":          fmt.Sprintf("138%08d", i),
			"consent":        true,
		})
		req, _ := http.NewRequest("POST", base+"/api/v1/tickets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("%s-%d-%d", name[:3], time.Now().UnixNano(), i))
		t0 := time.Now()
		resp, err := client.Do(req)
		d := time.Since(t0)
		if err != nil {
			return d, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return d, resp.StatusCode == 201
	}
	run := func(total int, lat []time.Duration) (time.Duration, int64) {
		var next atomic.Int64
		var errs atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < c; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= total {
						return
					}
					d, ok := post(i)
					if lat != nil {
						lat[i] = d
					}
					if !ok {
						errs.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		return time.Since(t0), errs.Load()
	}
	if warm > 0 {
		run(warm, nil)
	}
	lat := make([]time.Duration, n)
	cpu0, r0, c0 := cpuTime(pid), redisCPU(rdb), cpuTime(os.Getpid())
	elapsed, errs := run(n, lat)
	cpu, rcpu, ccpu := cpuTime(pid)-cpu0, redisCPU(rdb)-r0, cpuTime(os.Getpid())-c0
	return result{name: name, n: n, errs: errs, elapsed: elapsed, lat: lat,
		cpuPerOp:    float64(cpu.Microseconds()) / float64(n),
		redisPerOp:  float64(rcpu.Microseconds()) / float64(n),
		clientPerOp: float64(ccpu.Microseconds()) / float64(n)}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}

// cleanup removes the benchmark's keys so repeated runs do not fill Redis.
func cleanup(redisURL, prefix string) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
		if len(keys) == 1000 {
			rdb.Del(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		rdb.Del(ctx, keys...)
	}
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

// cpuTime reads a process's user + system CPU time from /proc (Linux).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}

func redisClient(url string) *redis.Client {
	opt, err := redis.ParseURL(url)
	if err != nil {
		panic(err)
	}
	return redis.NewClient(opt)
}

// redisCPU is Redis's own user + system CPU time, from INFO cpu.
func redisCPU(rdb *redis.Client) time.Duration {
	s, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			var f float64
			fmt.Sscan(v, &f)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}
