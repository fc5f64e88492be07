// Command board measures the hotline's live feed against centrifuge.
//
// Latency mode (the default): it starts the hotline's HTTP server with the
// Redis feed in a child process (this same binary, like a replica in
// production) on a fresh key prefix, creates one committee-staff user per
// committee (c01…c14) and connects -boards websocket boards spread over the
// 14 committees. Beside it, on the same Redis, it starts centrifuge (the
// engine of Centrifugo) with its Redis broker in another child process and
// connects as many clients, in its JSON protocol, over 14 committee
// channels. Then it posts at -rate per second: tickets to the hotline's
// POST /api/v1/tickets, into random committees' areas, and to centrifuge a
// publication of the same size through an HTTP endpoint that calls
// Node.Publish with history (the counterpart of the hotline's feed log).
// The two take turns in -rounds slices of -duration each, so that whatever
// else the machine is doing weighs on both alike. For every delivery it
// takes the time from the POST returning to the message arriving at a
// board that should get it, and prints p50, p90, p99 and the maximum side
// by side, with missed deliveries.
//
// Idle mode (-idle N): it connects N idle boards to the hotline child and
// prints the child's memory growth per connection (VmRSS from /proc, and
// heap plus stacks after a forced GC).
//
// Everything stays on loopback and ends by itself.
//
//	cd bench/board && go run . -redis redis://127.0.0.1:6379/0
//	cd bench/board && go run . -idle 10000
//
// This is its own module so that the service never depends on centrifuge.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/gorilla/websocket"
	"golang.org/x/crypto/bcrypt"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/static"
)

const password = "bench-password-1"

func main() {
	serveHotline := flag.Bool("serve-hotline", false, "internal: run the hotline server child")
	serveCentrifuge := flag.Bool("serve-centrifuge", false, "internal: run the centrifuge server child")
	prefix := flag.String("prefix", "", "internal: Redis key prefix of a child")
	redisURL := flag.String("redis", envOr("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis both servers use")
	boards := flag.Int("boards", 1000, "boards (websocket clients) to connect")
	rate := flag.Int("rate", 200, "tickets (publications) per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to post")
	warmup := flag.Duration("warmup", 2*time.Second, "posting before measuring")
	rounds := flag.Int("rounds", 4, "alternating slices the posting time is cut into")
	only := flag.String("only", "", "run only hotline or centrifuge")
	profile := flag.String("profile", "", "write a 10 s CPU profile of the hotline child, taken mid-run, to this file")
	idle := flag.Int("idle", 0, "connect this many idle boards to the hotline and report memory per connection")
	flag.Parse()

	var err error
	switch {
	case *serveHotline:
		err = runHotline(*redisURL, *prefix)
	case *serveCentrifuge:
		err = runCentrifuge(*redisURL, *prefix)
	case *idle > 0:
		raiseFDLimit()
		err = idleBench(*redisURL, *idle)
	default:
		raiseFDLimit()
		err = latencyBench(*redisURL, *boards, *rate, *duration, *warmup, *rounds, *only, *profile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "board bench:", err)
		os.Exit(1)
	}
}

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

// raiseFDLimit lifts the soft limit on open files to the hard one: 10,000
// boards are 10,000 sockets on each side. Children inherit it.
func raiseFDLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// ---- children ----------------------------------------------------------

// runHotline serves the hotline as cmd/hotline does (stores, intake, the
// Redis feed), minus dispatch: routing would add events of its own, and
// only ticket.created is measured. Rate limits are lifted: every board
// logs in from one address. /debug/mem reports memory after a forced GC.
func runHotline(redisURL, prefix string) error {
	// As the hotline binary does (cmd/hotline DefaultGCPercent) unless
	// GOGC is set; the centrifuge child keeps Go's default, as Centrifugo
	// ships.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	client, err := redisstore.NewClient(redisstore.ClientOptions{URL: redisURL})
	if err != nil {
		return err
	}
	defer client.Close()
	db := redisstore.NewDB(client, prefix)
	n, c := network.Demo()
	dir := hotline.NewStaticDirectory(n, c)
	tickets := redisstore.NewTicketStore(db)
	s := &server.Server{
		Config:    server.Config{Addr: "127.0.0.1:0", LoginRatePerMinute: 1 << 30, PublicRatePerMinute: 1 << 30},
		Tickets:   tickets,
		Users:     redisstore.NewUserStore(db),
		Directory: dir,
		Intake:    intake.New(tickets, dir),
		Static:    static.FS,
		Ready:     db.Ping,
		Feed:      redisstore.NewFeed(db),
	}
	s.Handle("GET /debug/mem", http.HandlerFunc(serveMem))
	s.Handle("GET /debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	if err := s.Open(); err != nil {
		return err
	}
	return serveUntilStdinCloses(s.Addr(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
}

// serveMem answers the heap and stacks in use after a full GC, and the
// number of goroutines.
func serveMem(w http.ResponseWriter, r *http.Request) {
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	json.NewEncoder(w).Encode(map[string]uint64{"heap_inuse": m.HeapInuse, "stack_inuse": m.StackInuse,
		"goroutines": uint64(runtime.NumGoroutine())})
}

// runCentrifuge serves a centrifuge node with its Redis broker: websocket
// clients at /connection/websocket, every connection accepted as one
// user, every subscription allowed with recovery on (the counterpart of
// the hotline's positions), and POST /publish?channel=… publishing the
// body with history.
func runCentrifuge(redisURL, prefix string) error {
	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelError})
	if err != nil {
		return err
	}
	shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: redisURL})
	if err != nil {
		return err
	}
	broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Prefix: prefix, Shards: []*centrifuge.RedisShard{shard}})
	if err != nil {
		return err
	}
	node.SetBroker(broker)
	node.OnConnecting(func(ctx context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: "board"}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{Options: centrifuge.SubscribeOptions{EnableRecovery: true}}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{UseWriteBufferPool: true}))
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if _, err := node.Publish(r.URL.Query().Get("channel"), body, centrifuge.WithHistory(1000, time.Hour)); err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /debug/mem", serveMem)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	return serveUntilStdinCloses(ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		node.Shutdown(ctx)
	})
}

// serveUntilStdinCloses tells the parent where it listens, then serves
// until the parent closes our stdin (or goes away), so no child outlives
// the run.
func serveUntilStdinCloses(addr string, stop func()) error {
	fmt.Printf("listening %s\n", addr)
	done := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-done:
	case <-sig:
	}
	stop()
	return nil
}

// child is a server process started by the parent.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	addr  string
}

func startChild(kind, redisURL, prefix string) (*child, error) {
	cmd := exec.Command(os.Args[0], "-serve-"+kind, "-redis", redisURL, "-prefix", prefix)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		cmd.Process.Kill()
		return nil, fmt.Errorf("%s child did not start: %q %v", kind, line, err)
	}
	go io.Copy(io.Discard, out)
	return &child{cmd: cmd, stdin: stdin, addr: addr}, nil
}

func (c *child) stop() {
	c.stdin.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// rss reads the child's resident set from /proc, in bytes.
func (c *child) rss() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS")
}

type memStats struct {
	HeapInuse  int64 `json:"heap_inuse"`
	StackInuse int64 `json:"stack_inuse"`
	Goroutines int64 `json:"goroutines"`
}

func (c *child) mem() (memStats, error) {
	var m memStats
	resp, err := http.Get("http://" + c.addr + "/debug/mem")
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// ---- the street --------------------------------------------------------

// committee is where tickets go and who watches: its id and a point in
// its area (Network.PointInCommittee).
type committee struct {
	id        string
	lat, long float64
}

func committees() ([]committee, error) {
	n, _ := network.Demo()
	var out []committee
	for _, u := range n.Units {
		if u.Kind != hotline.KindCommittee {
			continue
		}
		lat, long, ok := n.PointInCommittee(u.ID)
		if !ok {
			return nil, fmt.Errorf("no point inside committee %s", u.ID)
		}
		c := committee{id: u.ID, lat: lat, long: long}
		out = append(out, c)
	}
	if len(out) != 14 {
		return nil, fmt.Errorf("the demo street has %d committees, want 14", len(out))
	}
	return out, nil
}

// session is a signed-in user's cookie and CSRF token.
type session struct{ cookie, csrf string }

// mustUsers creates an admin (who posts) and one committee-staff user per
// committee in the hotline's store, and signs each in through the API.
func setUpUsers(redisURL, prefix, addr string, cs []committee) (admin session, staff map[string]session, err error) {
	client, err := redisstore.NewClient(redisstore.ClientOptions{URL: redisURL})
	if err != nil {
		return admin, nil, err
	}
	defer client.Close()
	users := redisstore.NewUserStore(redisstore.NewDB(client, prefix))
	h, _ := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	ctx := context.Background()
	create := func(name string, role hotline.Role, unit string) error {
		return users.CreateUser(ctx, &hotline.User{Username: name, Name: name, Role: role, UnitID: unit, PasswordHash: string(h)})
	}
	if err := create("bench-admin", hotline.RoleAdmin, ""); err != nil {
		return admin, nil, err
	}
	if admin, err = login(addr, "bench-admin"); err != nil {
		return admin, nil, err
	}
	staff = map[string]session{}
	for _, c := range cs {
		if err := create("bench-"+c.id, hotline.RoleCommittee, c.id); err != nil {
			return admin, nil, err
		}
		if staff[c.id], err = login(addr, "bench-"+c.id); err != nil {
			return admin, nil, err
		}
	}
	return admin, staff, nil
}

func login(addr, username string) (session, error) {
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, username, password)
	resp, err := http.Post("http://"+addr+"/api/v1/login", "application/json", strings.NewReader(body))
	if err != nil {
		return session{}, err
	}
	defer resp.Body.Close()
	var got struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 {
		return session{}, fmt.Errorf("login %s: status %d %v", username, resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == server.SessionCookie {
			return session{cookie: c.Value, csrf: got.CSRF}, nil
		}
	}
	return session{}, fmt.Errorf("login %s: no cookie", username)
}

// ---- boards -------------------------------------------------------------

// arrival is one message a board got: the id it carried and when.
type arrival struct {
	id string
	at time.Time
}

// board is one connected client and what it received.
type board struct {
	committee string
	conn      *websocket.Conn
	mu        sync.Mutex
	got       []arrival
}

// dialer spreads connections over several loopback source addresses, so
// that 10,000 boards never run short of ephemeral ports.
func dialer(i int) *websocket.Dialer {
	src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%4))}
	return &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 1024,
		NetDialContext: (&net.Dialer{LocalAddr: src, Timeout: 10 * time.Second}).DialContext}
}

// idOf finds the string value that follows key in a JSON message without
// decoding it all: the boards of both systems pay the same small cost.
func idOf(msg []byte, key string) string {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return ""
	}
	rest := msg[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// connectAll connects n boards with dial (which returns a board ready to
// read live messages), a few dozen at a time.
func connectAll(n int, dial func(i int) (*board, error)) ([]*board, error) {
	boards := make([]*board, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				b, err := dial(i)
				if err != nil {
					select {
					case errc <- fmt.Errorf("board %d: %w", i, err):
					default:
					}
					next.Store(int64(n))
					return
				}
				boards[i] = b
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		for _, b := range boards {
			if b != nil {
				b.conn.Close()
			}
		}
		return nil, err
	default:
	}
	return boards, nil
}

// dialHotline connects a board of committee c and reads its hello.
func dialHotline(addr string, i int, c string, s session) (*board, error) {
	h := http.Header{"Cookie": {server.SessionCookie + "=" + s.cookie}}
	conn, _, err := dialer(i).Dial("ws://"+addr+"/ws", h)
	if err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := conn.ReadMessage()
	if err != nil || !bytes.Contains(msg, []byte(`"type":"hello"`)) {
		conn.Close()
		return nil, fmt.Errorf("no hello: %q %v", msg, err)
	}
	conn.SetReadDeadline(time.Time{})
	return &board{committee: c, conn: conn}, nil
}

// readHotline records every ticket message until the connection ends.
func (b *board) readHotline() {
	for {
		_, msg, err := b.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		if id := idOf(msg, `"ticket_id":"`); id != "" {
			b.mu.Lock()
			b.got = append(b.got, arrival{id, now})
			b.mu.Unlock()
		}
	}
}

// dialCentrifuge connects a client in centrifuge's JSON protocol and
// subscribes it to its committee's channel.
func dialCentrifuge(addr string, i int, c string) (*board, error) {
	conn, _, err := dialer(i).Dial("ws://"+addr+"/connection/websocket", nil)
	if err != nil {
		return nil, err
	}
	cmds := `{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"committee:` + c + `","recover":false}}`
	if err := conn.WriteMessage(websocket.TextMessage, []byte(cmds)); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for subscribed := false; !subscribed; {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			conn.Close()
			return nil, err
		}
		for _, line := range bytes.Split(msg, []byte("\n")) {
			if bytes.Contains(line, []byte(`"error"`)) {
				conn.Close()
				return nil, fmt.Errorf("centrifuge: %s", line)
			}
			if bytes.HasPrefix(line, []byte(`{"id":2,`)) {
				subscribed = true
			}
		}
	}
	conn.SetReadDeadline(time.Time{})
	return &board{committee: c, conn: conn}, nil
}

// readCentrifuge records every publication, and answers the server's
// pings (an empty object) as the protocol asks.
func (b *board) readCentrifuge() {
	for {
		_, msg, err := b.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		for _, line := range bytes.Split(msg, []byte("\n")) {
			switch {
			case bytes.Equal(line, []byte("{}")):
				b.conn.WriteMessage(websocket.TextMessage, []byte("{}"))
			case bytes.HasPrefix(line, []byte(`{"push"`)):
				if id := idOf(line, `"id":"`); id != "" {
					b.mu.Lock()
					b.got = append(b.got, arrival{id, now})
					b.mu.Unlock()
				}
			}
		}
	}
}

// ---- posting and counting ----------------------------------------------

// post is one ticket (publication) as the poster saw it.
type post struct {
	committee string
	returned  time.Time
	measured  bool // posted after the warmup
}

// result is one system's figures.
type result struct {
	posts, failed      int
	expected, arrived  int
	p50, p90, p99, max time.Duration
	// lead is when each post's first board got it, after the POST
	// returned (negative: before); spread is how long after that first
	// board each other one got it. Together they tell the publishing
	// path (how soon the POST answers compared with how soon the fan-out
	// starts) from the fan-out itself.
	lead50, spread50, spread99 time.Duration
}

// postAll calls send at rate per second for d (open loop: a slow answer
// does not delay the next post) and collects what each returned. seq
// numbers posts across calls.
func postAll(rate int, d time.Duration, measured bool, cs []committee, seq *int, send func(c committee, seq int) (id string, err error)) (map[string]post, int) {
	var mu sync.Mutex
	posts := map[string]post{}
	failed := 0
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	for start := time.Now(); time.Since(start) < d; *seq++ {
		<-tick.C
		c, n := cs[rand.IntN(len(cs))], *seq
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := send(c, n)
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if failed == 0 {
					fmt.Fprintln(os.Stderr, "post failed:", err)
				}
				failed++
				return
			}
			posts[id] = post{committee: c.id, returned: now, measured: measured}
		}()
	}
	wg.Wait()
	return posts, failed
}

// tally joins the posts with what the boards received. A delivery that
// arrived before its POST had returned counts as zero.
func tally(posts map[string]post, failed int, boards []*board) result {
	r := result{failed: failed}
	per := map[string]int{}
	for _, b := range boards {
		per[b.committee]++
	}
	for _, p := range posts {
		if p.measured {
			r.posts++
			r.expected += per[p.committee]
		}
	}
	var lat []time.Duration
	for _, b := range boards {
		b.mu.Lock()
		seen := map[string]bool{}
		for _, a := range b.got {
			p, ok := posts[a.id]
			if !ok || !p.measured || p.committee != b.committee || seen[a.id] {
				continue
			}
			seen[a.id] = true
			lat = append(lat, max(a.at.Sub(p.returned), 0))
		}
		b.mu.Unlock()
	}
	first := map[string]time.Time{}
	for _, b := range boards {
		for _, a := range b.got {
			if f, ok := first[a.id]; !ok || a.at.Before(f) {
				first[a.id] = a.at
			}
		}
	}
	var lead, spread []time.Duration
	for id, p := range posts {
		if f, ok := first[id]; ok && p.measured {
			lead = append(lead, f.Sub(p.returned))
		}
	}
	for _, b := range boards {
		for _, a := range b.got {
			if p, ok := posts[a.id]; ok && p.measured {
				spread = append(spread, a.at.Sub(first[a.id]))
			}
		}
	}
	slices.Sort(lead)
	slices.Sort(spread)
	if len(lead) > 0 && len(spread) > 0 {
		r.lead50 = lead[len(lead)/2]
		r.spread50, r.spread99 = spread[len(spread)/2], spread[len(spread)*99/100]
	}
	slices.Sort(lat)
	r.arrived = len(lat)
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p90 = lat[len(lat)*90/100]
		r.p99 = lat[len(lat)*99/100]
		r.max = lat[len(lat)-1]
	}
	return r
}

// ticketBody is what the poster files: a resident's need of ordinary size.
func ticketBody(c committee, seq int) string {
	return fmt.Sprintf(`{"service_code":"sanitation","description":"楼道垃圾堆了三天没人清理，气味很大，请尽快安排 #%d","lat":%v,"long":%v,"address_string":"长寿路 %d 号"}`,
		seq, c.lat, c.long, 1+seq%300)
}

func httpClient() *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 200, MaxConnsPerHost: 200}}
}

// system is one of the two servers under test, with its boards connected.
type system struct {
	name   string
	child  *child
	boards []*board
	send   func(c committee, seq int) (id string, err error)
	close  func()
}

func (s *system) stop() {
	for _, b := range s.boards {
		b.conn.Close()
	}
	s.close()
}

// startHotline starts the hotline child on a fresh prefix, signs in its
// users and connects n boards.
func startHotline(redisURL string, n int, cs []committee) (*system, error) {
	prefix := fmt.Sprintf("benchboard-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	ch, err := startChild("hotline", redisURL, prefix)
	if err != nil {
		return nil, err
	}
	s := &system{name: "hotline", child: ch, close: func() { ch.stop(); dropKeys(redisURL, prefix) }}
	_, staff, err := setUpUsers(redisURL, prefix, ch.addr, cs)
	if err != nil {
		s.close()
		return nil, err
	}
	if s.boards, err = connectAll(n, func(i int) (*board, error) {
		c := cs[i%len(cs)].id
		return dialHotline(ch.addr, i, c, staff[c])
	}); err != nil {
		s.close()
		return nil, err
	}
	for _, b := range s.boards {
		go b.readHotline()
	}
	hc := httpClient()
	s.send = func(c committee, seq int) (string, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ch.addr+"/api/v1/tickets", strings.NewReader(ticketBody(c, seq)))
		req.Header.Set("Content-Type", "application/json")
		// Anonymously, as residents file through the web form (the child
		// lifts the per-client limit): the POST does what intake does.
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if got := idOf(body, `"committee":"`); got != c.id {
			return "", fmt.Errorf("ticket placed in %q, want %q", got, c.id)
		}
		return idOf(body, `"id":"`), nil
	}
	return s, nil
}

// startCentrifuge starts the centrifuge child on a fresh prefix and
// connects n clients, each subscribed to its committee's channel.
func startCentrifuge(redisURL string, n int, cs []committee) (*system, error) {
	prefix := fmt.Sprintf("benchcf-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	ch, err := startChild("centrifuge", redisURL, prefix)
	if err != nil {
		return nil, err
	}
	s := &system{name: "centrifuge", child: ch, close: func() { ch.stop(); dropKeys(redisURL, prefix) }}
	if s.boards, err = connectAll(n, func(i int) (*board, error) {
		return dialCentrifuge(ch.addr, n+i, cs[i%len(cs)].id)
	}); err != nil {
		s.close()
		return nil, err
	}
	for _, b := range s.boards {
		go b.readCentrifuge()
	}
	hc := httpClient()
	// The publication is what a hotline board gets: a ticket summary of
	// the same size, so both systems move the same bytes.
	s.send = func(c committee, seq int) (string, error) {
		id := "cf" + strconv.Itoa(seq)
		now := time.Now().UTC().Format(time.RFC3339Nano)
		data := fmt.Sprintf(`{"type":"ticket.created","ticket_id":%q,"ticket":{"id":%q,"status":"new","channel":"web","service_code":"sanitation","excerpt":"楼道垃圾堆了三天没人清理，气味很大，请尽快安排 #%d","unit_id":%q,"tier":1,"committee":%q,"lat":%v,"long":%v,"created_at":%q,"updated_at":%q,"version":1},"event":{"at":%q,"actor":"u1","version":1,"status":"new","unit_id":%q},"position":%q}`,
			id, id, seq, c.id, c.id, c.lat, c.long, now, now, now, c.id, strings.Repeat("1796011075489-0.", 15)+"1796011075489-0")
		resp, err := hc.Post("http://"+ch.addr+"/publish?channel=committee:"+c.id, "application/json", strings.NewReader(data))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("publish: status %d", resp.StatusCode)
		}
		return id, nil
	}
	return s, nil
}

func saveProfile(url, file string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(file, b, 0o644)
}

// dropKeys deletes what a run wrote under prefix.
func dropKeys(redisURL, prefix string) {
	client, err := redisstore.NewClient(redisstore.ClientOptions{URL: redisURL})
	if err != nil {
		return
	}
	defer client.Close()
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := client.Scan(ctx, cursor, prefix+"*", 1000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			client.Unlink(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// latencyBench runs both systems in alternating slices of the posting
// time, so that whatever else the machine does at the moment weighs on
// both alike; each system's boards stay connected (and idle) while the
// other one is measured.
func latencyBench(redisURL string, nBoards, rate int, d, warmup time.Duration, rounds int, only, profile string) error {
	cs, err := committees()
	if err != nil {
		return err
	}
	fmt.Printf("boards: %d per system over %d committees; %d posts/s for %s per system in %d alternating slices, after %s of warmup each; GOMAXPROCS %d\n",
		nBoards, len(cs), rate, d, rounds, warmup, runtime.GOMAXPROCS(0))
	var systems []*system
	if only != "centrifuge" {
		s, err := startHotline(redisURL, nBoards, cs)
		if err != nil {
			return fmt.Errorf("hotline: %w", err)
		}
		defer s.stop()
		systems = append(systems, s)
		if profile != "" {
			go func() {
				time.Sleep(warmup + d/2)
				if err := saveProfile("http://"+s.child.addr+"/debug/pprof/profile?seconds=10", profile); err != nil {
					fmt.Fprintln(os.Stderr, "profile:", err)
				}
			}()
		}
	}
	if only != "hotline" {
		s, err := startCentrifuge(redisURL, nBoards, cs)
		if err != nil {
			return fmt.Errorf("centrifuge: %w", err)
		}
		defer s.stop()
		systems = append(systems, s)
	}
	posts := make([]map[string]post, len(systems))
	failed := make([]int, len(systems))
	seq := 0
	for i, s := range systems {
		posts[i] = map[string]post{}
		p, f := postAll(rate, warmup, false, cs, &seq, s.send)
		maps.Copy(posts[i], p)
		failed[i] += f
	}
	for range rounds {
		for i, s := range systems {
			p, f := postAll(rate, d/time.Duration(rounds), true, cs, &seq, s.send)
			maps.Copy(posts[i], p)
			failed[i] += f
		}
	}
	time.Sleep(2 * time.Second) // the last deliveries
	res := map[string]result{}
	for i, s := range systems {
		res[s.name] = tally(posts[i], failed[i], s.boards)
	}
	h, c := res["hotline"], res["centrifuge"]
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	fmt.Printf("\n%-28s %14s %14s %8s\n", "POST returned → board", "hotline", "centrifuge", "ratio")
	fmt.Printf("%-28s %14d %14d\n", "posts measured", h.posts, c.posts)
	fmt.Printf("%-28s %14d %14d\n", "posts failed", h.failed, c.failed)
	fmt.Printf("%-28s %14d %14d\n", "deliveries expected", h.expected, c.expected)
	fmt.Printf("%-28s %14d %14d\n", "missed", h.expected-h.arrived, c.expected-c.arrived)
	fmt.Printf("%-28s %14s %14s %8s\n", "p50", ms(h.p50), ms(c.p50), ratio(h.p50, c.p50))
	fmt.Printf("%-28s %14s %14s %8s\n", "p90", ms(h.p90), ms(c.p90), ratio(h.p90, c.p90))
	fmt.Printf("%-28s %14s %14s %8s\n", "p99", ms(h.p99), ms(c.p99), ratio(h.p99, c.p99))
	fmt.Printf("%-28s %14s %14s %8s\n", "max", ms(h.max), ms(c.max), ratio(h.max, c.max))
	fmt.Printf("%-28s %14s %14s\n", "first board − POST, p50", ms(h.lead50), ms(c.lead50))
	fmt.Printf("%-28s %14s %14s %8s\n", "fan-out spread p50", ms(h.spread50), ms(c.spread50), ratio(h.spread50, c.spread50))
	fmt.Printf("%-28s %14s %14s %8s\n", "fan-out spread p99", ms(h.spread99), ms(c.spread99), ratio(h.spread99, c.spread99))
	if len(systems) == 2 {
		verdict := "meets"
		if h.p99 > c.p99 {
			verdict = "MISSES"
		}
		fmt.Printf("\ntarget p99 no worse than centrifuge's: %s\n", verdict)
	}
	return nil
}

// ---- idle memory ---------------------------------------------------------

func idleBench(redisURL string, n int) error {
	cs, err := committees()
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("benchidle-%d-%d", os.Getpid(), time.Now().UnixNano()%1e9)
	ch, err := startChild("hotline", redisURL, prefix)
	if err != nil {
		return err
	}
	defer ch.stop()
	defer dropKeys(redisURL, prefix)
	_, staff, err := setUpUsers(redisURL, prefix, ch.addr, cs)
	if err != nil {
		return err
	}
	// One board first, so the hub, the feed's connections and the
	// handshake's code paths are in the baseline, not in the growth.
	warm, err := connectAll(14, func(i int) (*board, error) { return dialHotline(ch.addr, i, cs[i].id, staff[cs[i].id]) })
	if err != nil {
		return err
	}
	time.Sleep(time.Second)
	m0, err := ch.mem()
	if err != nil {
		return err
	}
	r0, err := ch.rss()
	if err != nil {
		return err
	}
	start := time.Now()
	boards, err := connectAll(n, func(i int) (*board, error) {
		c := cs[i%len(cs)].id
		return dialHotline(ch.addr, 14+i, c, staff[c])
	})
	if err != nil {
		return err
	}
	took := time.Since(start)
	time.Sleep(3 * time.Second) // let the handshakes' garbage go
	m1, err := ch.mem()
	if err != nil {
		return err
	}
	r1, err := ch.rss()
	if err != nil {
		return err
	}
	for _, b := range append(boards, warm...) {
		b.conn.Close()
	}
	kb := func(b int64) string { return fmt.Sprintf("%.1f KB", float64(b)/1024/float64(n)) }
	fmt.Printf("idle boards connected: %d in %s\n", n, took.Round(time.Millisecond))
	fmt.Printf("server RSS:            %.1f MB → %.1f MB, %s per board\n", float64(r0)/(1<<20), float64(r1)/(1<<20), kb(r1-r0))
	fmt.Printf("heap in use after GC:  %s per board\n", kb(m1.HeapInuse-m0.HeapInuse))
	fmt.Printf("goroutine stacks:      %s per board (%d goroutines → %d)\n", kb(m1.StackInuse-m0.StackInuse), m0.Goroutines, m1.Goroutines)
	verdict := "meets"
	if float64(r1-r0)/float64(n) >= 30*1024 {
		verdict = "MISSES"
	}
	fmt.Printf("\ntarget RSS under 30 KB per idle board: %s\n", verdict)
	return nil
}
