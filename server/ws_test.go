package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
)

// boardWait bounds every wait for a board message. It is generous (the
// race detector on a busy machine) and never a measure of speed.
const boardWait = 10 * time.Second

// MustOpenFeedServer opens a server with the live feed on the Redis keys
// under prefix, so that several servers can share one store like replicas
// behind a load balancer. It returns the server and a func that closes it
// (also called when tb ends).
func MustOpenFeedServer(tb testing.TB, client redis.UniversalClient, prefix string) (*TestServer, func()) {
	tb.Helper()
	db := redisstore.NewDB(client, prefix)
	ts := newTestServer(db)
	s := ts.Server
	s.Feed = redisstore.NewFeed(db)
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	var once sync.Once
	closeFn := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Close(ctx); err != nil {
				tb.Errorf("close: %v", err)
			}
		})
	}
	tb.Cleanup(closeFn)
	return ts, closeFn
}

// feedFixture is a street whose server follows the feed, with staff of
// two committees, an admin and a volunteer of c02's repair group.
type feedFixture struct {
	*TestServer
	Admin, C01, C02, Volunteer *Session
	c01Lat, c01Long            float64
	c02Lat, c02Long            float64
}

func mustFeedFixture(t *testing.T) *feedFixture {
	t.Helper()
	client, prefix := redistest.New(t)
	ts, _ := MustOpenFeedServer(t, client, prefix)
	return mustStaff(t, ts)
}

func mustStaff(t *testing.T, ts *TestServer) *feedFixture {
	t.Helper()
	f := &feedFixture{TestServer: ts}
	f.c01Lat, f.c01Long = ts.PointIn(t, "c01")
	f.c02Lat, f.c02Long = ts.PointIn(t, "c02")
	ts.MustCreateUser(t, "admin", "admin-pw-1", hotline.RoleAdmin, "")
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	ts.MustCreateUser(t, "c02staff", "c02-pw-123", hotline.RoleCommittee, "c02")
	ts.MustCreateUser(t, "vol", "vol-pw-1234", hotline.RoleVolunteer, "c02-repairs")
	f.Admin = ts.MustLogin(t, "admin", "admin-pw-1")
	f.C01 = ts.MustLogin(t, "c01staff", "c01-pw-123")
	f.C02 = ts.MustLogin(t, "c02staff", "c02-pw-123")
	f.Volunteer = ts.MustLogin(t, "vol", "vol-pw-1234")
	return f
}

// MustTicketIn files a ticket in committee's area (c01 or c02).
func (f *feedFixture) MustTicketIn(tb testing.TB, committee, what string) *hotline.Ticket {
	tb.Helper()
	lat, long := f.c01Lat, f.c01Long
	if committee == "c02" {
		lat, long = f.c02Lat, f.c02Long
	}
	t := f.MustSubmit(tb, intake.Submission{ServiceCode: "sanitation", Description: what, Lat: &lat, Long: &long})
	if t.UnitID != committee {
		tb.Fatalf("ticket %s went to %q, want %q", t.ID, t.UnitID, committee)
	}
	return t
}

// MustChange records one change to ticket id, as dispatch would.
func (ts *TestServer) MustChange(tb testing.TB, id, typ string, status hotline.Status, unit string) *hotline.Ticket {
	tb.Helper()
	t, err := ts.Tickets.UpdateTicket(context.Background(), id, func(t *hotline.Ticket) (*hotline.Event, error) {
		ev := &hotline.Event{Type: typ, Actor: "test", Status: status}
		if unit != "" && unit != t.UnitID {
			ev.FromUnitID, ev.UnitID, t.UnitID = t.UnitID, unit, unit
		}
		if status != "" {
			t.Status = status
		}
		return ev, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// BoardMessage is any message of GET /ws (docs/API.md, "Live feed").
type BoardMessage struct {
	Type     string                `json:"type"`
	TicketID string                `json:"ticket_id"`
	Ticket   hotline.TicketSummary `json:"ticket"`
	Event    struct {
		Version    int64  `json:"version"`
		Actor      string `json:"actor"`
		Status     string `json:"status"`
		UnitID     string `json:"unit_id"`
		FromUnitID string `json:"from_unit_id"`
	} `json:"event"`
	Position string `json:"position"`
	Reason   string `json:"reason"`
	Replayed *int   `json:"replayed"`
	Code     string `json:"code"`
	Error    string `json:"error"`
}

// key names one ticket change: "160035@3".
func (m BoardMessage) key() string { return fmt.Sprintf("%s@%d", m.TicketID, m.Event.Version) }

// Board is a websocket client of GET /ws.
type Board struct {
	*websocket.Conn
}

// wsURL is the server's /ws with since, when given.
func (ts *TestServer) wsURL(since string) string {
	u := "ws" + strings.TrimPrefix(ts.URL(), "http") + "/ws"
	if since != "" {
		u += "?since=" + url.QueryEscape(since)
	}
	return u
}

// DialBoard opens /ws with sess's cookie (when set) and the extra headers.
func (ts *TestServer) DialBoard(sess *Session, since string, header http.Header, d *websocket.Dialer) (*Board, *http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	if sess != nil {
		header.Set("Cookie", server.SessionCookie+"="+sess.Cookie)
	}
	if d == nil {
		d = &websocket.Dialer{HandshakeTimeout: boardWait}
	}
	c, resp, err := d.Dial(ts.wsURL(since), header)
	if err != nil {
		return nil, resp, err
	}
	return &Board{Conn: c}, resp, nil
}

// MustDialBoard opens a board and reads its first message: hello for a
// fresh board; for one with since, whatever the replay begins with.
func (ts *TestServer) MustDialBoard(tb testing.TB, sess *Session, since string) (*Board, BoardMessage) {
	tb.Helper()
	b, resp, err := ts.DialBoard(sess, since, nil, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		tb.Fatalf("dial /ws: %v (status %d)", err, status)
	}
	tb.Cleanup(func() { b.Close() })
	first := b.Next(tb)
	if since == "" && first.Type != "hello" {
		tb.Fatalf("first message: got %+v, want hello", first)
	}
	return b, first
}

// Read reads one message within boardWait.
func (b *Board) Read() (BoardMessage, error) {
	var m BoardMessage
	b.SetReadDeadline(time.Now().Add(boardWait))
	err := b.ReadJSON(&m)
	return m, err
}

// Next reads one message and fails the test on error.
func (b *Board) Next(tb testing.TB) BoardMessage {
	tb.Helper()
	m, err := b.Read()
	if err != nil {
		tb.Fatalf("board read: %v", err)
	}
	return m
}

// Until reads messages up to and including the change of ticket id to
// version, and returns them all.
func (b *Board) Until(tb testing.TB, id string, version int64) []BoardMessage {
	tb.Helper()
	var got []BoardMessage
	for {
		m := b.Next(tb)
		got = append(got, m)
		if m.TicketID == id && m.Event.Version == version {
			return got
		}
	}
}

// keys lists the ticket changes among ms, in order.
func keys(ms []BoardMessage) []string {
	var out []string
	for _, m := range ms {
		if m.TicketID != "" {
			out = append(out, m.key())
		}
	}
	return out
}

func mustPosition(tb testing.TB, s string) hotline.FeedPosition {
	tb.Helper()
	p, err := hotline.ParseFeedPosition(s, 16)
	if err != nil {
		tb.Fatalf("position %q: %v", s, err)
	}
	return p
}

// notBefore reports whether b is at or after a in every partition: board
// positions never go back.
func notBefore(a, b hotline.FeedPosition) bool {
	for i := range a {
		if hotline.CompareStreamIDs(b[i], a[i]) < 0 {
			return false
		}
	}
	return true
}

func TestWS_EventsInOrder(t *testing.T) {
	f := mustFeedFixture(t)
	b, hello := f.MustDialBoard(t, f.C01, "")
	last := mustPosition(t, hello.Position)

	tk := f.MustTicketIn(t, "c01", "楼道灯坏了")
	others := []*hotline.Ticket{f.MustTicketIn(t, "c01", "垃圾没清"), f.MustTicketIn(t, "c01", "水管漏水")}
	f.MustChange(t, tk.ID, hotline.EventTicketAccepted, hotline.StatusAccepted, "")
	f.MustChange(t, tk.ID, hotline.EventTicketStarted, hotline.StatusInProgress, "")
	f.MustChange(t, tk.ID, hotline.EventTicketResolved, hotline.StatusResolved, "")

	want := map[string]bool{}
	for _, o := range others {
		want[o.ID+"@1"] = true
	}
	for v := 1; v <= 4; v++ {
		want[fmt.Sprintf("%s@%d", tk.ID, v)] = true
	}
	var versions []int64
	types := map[int64]string{}
	for len(want) > 0 {
		m := b.Next(t)
		if !want[m.key()] {
			t.Fatalf("unexpected or repeated message %s: %+v", m.key(), m)
		}
		delete(want, m.key())
		if m.TicketID == tk.ID {
			versions = append(versions, m.Event.Version)
			types[m.Event.Version] = m.Type
			if m.Ticket.Version != m.Event.Version || m.Ticket.ID != tk.ID {
				t.Errorf("summary %s v%d beside event v%d", m.Ticket.ID, m.Ticket.Version, m.Event.Version)
			}
		}
		pos := mustPosition(t, m.Position)
		if !notBefore(last, pos) {
			t.Errorf("position went back: %s after %s", pos, last)
		}
		last = pos
	}
	if got, want := fmt.Sprint(versions), "[1 2 3 4]"; got != want {
		t.Errorf("versions of %s: got %s, want %s", tk.ID, got, want)
	}
	wantTypes := map[int64]string{1: hotline.EventTicketCreated, 2: hotline.EventTicketAccepted,
		3: hotline.EventTicketStarted, 4: hotline.EventTicketResolved}
	for v, typ := range wantTypes {
		if types[v] != typ {
			t.Errorf("type of v%d: got %q, want %q", v, types[v], typ)
		}
	}
}

// Each board gets what its user may see, and a board sees a ticket leave.
func TestWS_Visibility(t *testing.T) {
	f := mustFeedFixture(t)
	admin, _ := f.MustDialBoard(t, f.Admin, "")
	c01, _ := f.MustDialBoard(t, f.C01, "")
	c02, _ := f.MustDialBoard(t, f.C02, "")

	t1 := f.MustTicketIn(t, "c01", "c01 的事")
	t2 := f.MustTicketIn(t, "c02", "c02 的事")
	// c02 hands t2 to its repair group, which passes it on to the
	// street's repair organization, which accepts it.
	f.MustChange(t, t2.ID, hotline.EventTicketRouted, hotline.StatusRouted, "c02-repairs")
	f.MustChange(t, t2.ID, hotline.EventTicketRouted, hotline.StatusRouted, "org-repair")
	f.MustChange(t, t2.ID, hotline.EventTicketAccepted, hotline.StatusAccepted, "")
	gotAdmin := map[string]bool{}
	for _, k := range keys(admin.Until(t, t2.ID, 4)) {
		gotAdmin[k] = true
	}
	if !gotAdmin[t1.ID+"@1"] {
		t.Errorf("admin missed %s", t1.ID)
	}

	// Sentinels, filed after the admin saw everything above: the hub hands
	// entries to all boards in one order, so what a board got before its
	// sentinel is all it will ever get of the above.
	s1 := f.MustTicketIn(t, "c01", "c01 哨兵")
	s2 := f.MustTicketIn(t, "c02", "c02 哨兵")
	f.MustChange(t, s2.ID, hotline.EventTicketRouted, hotline.StatusRouted, "c02-repairs")

	for _, tc := range []struct {
		name  string
		board *Board
		until string
		untv  int64
		want  []string
	}{
		{"c01", c01, s1.ID, 1, []string{t1.ID + "@1", s1.ID + "@1"}},
		// c02 staff keep sight of t2 after it left their units: it lies
		// in their committee's area.
		{"c02", c02, s2.ID, 2, []string{t2.ID + "@1", t2.ID + "@2", t2.ID + "@3", t2.ID + "@4", s2.ID + "@1", s2.ID + "@2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := strings.Join(keys(tc.board.Until(t, tc.until, tc.untv)), " "), strings.Join(tc.want, " "); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

// A board that reconnects with the position of the last message it got
// receives exactly what it missed: nothing twice, nothing lost.
func TestWS_ResumeAfterDisconnect(t *testing.T) {
	f := mustFeedFixture(t)
	b, _ := f.MustDialBoard(t, f.C01, "")
	t1 := f.MustTicketIn(t, "c01", "一")
	m := b.Until(t, t1.ID, 1)
	last := m[len(m)-1].Position
	b.Close()

	// Missed while away: two new tickets, a change to t1, and one ticket
	// the board may not see.
	t2 := f.MustTicketIn(t, "c01", "二")
	hidden := f.MustTicketIn(t, "c02", "别处")
	f.MustChange(t, t1.ID, hotline.EventTicketAccepted, hotline.StatusAccepted, "")
	t3 := f.MustTicketIn(t, "c01", "三")

	b, first := f.MustDialBoard(t, f.C01, last)
	got := []BoardMessage{first}
	for got[len(got)-1].Type != "hello" {
		got = append(got, b.Next(t))
	}
	hello := got[len(got)-1]
	got = got[:len(got)-1]
	replayed := map[string]bool{}
	for _, k := range keys(got) {
		if replayed[k] {
			t.Errorf("%s replayed twice", k)
		}
		replayed[k] = true
	}
	want := []string{t2.ID + "@1", t1.ID + "@2", t3.ID + "@1"}
	for _, k := range want {
		if !replayed[k] {
			t.Errorf("replay lacks %s; got %v", k, keys(got))
		}
	}
	if len(replayed) != len(want) || replayed[hidden.ID+"@1"] {
		t.Errorf("replay: got %v, want %v", keys(got), want)
	}
	if hello.Replayed == nil || *hello.Replayed != len(want) {
		t.Errorf("hello after replay: %+v, want replayed %d", hello, len(want))
	}

	// And live from there, once each.
	t4 := f.MustTicketIn(t, "c01", "四")
	if got := keys(b.Until(t, t4.ID, 1)); strings.Join(got, " ") != t4.ID+"@1" {
		t.Errorf("live after resume: got %v", got)
	}
}

// Boards that drop out and come back while tickets keep arriving get every
// change exactly once, including those that arrive while a board is
// replaying (where history meets the live tail).
func TestWS_ResumeUnderLoad(t *testing.T) {
	f := mustFeedFixture(t)
	b, hello := f.MustDialBoard(t, f.C01, "")
	const n = 40
	ids := make(chan string, n)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			lat, long := f.c01Lat, f.c01Long
			tk, _, err := f.Intake.Submit(context.Background(), intake.Submission{Channel: hotline.ChannelWeb,
				Actor: "resident", ServiceCode: "sanitation", Description: fmt.Sprint("第", i), Lat: &lat, Long: &long}, "")
			if err != nil {
				t.Error(err)
				return
			}
			ids <- tk.ID
			time.Sleep(3 * time.Millisecond)
		}
	}()

	last := hello.Position
	seen := map[string]int{}
	for reconnects := 0; len(seen) < n; {
		m, err := b.Read()
		if err != nil {
			t.Fatalf("read after %d messages: %v", len(seen), err)
		}
		switch m.Type {
		case "hello":
			continue
		case hotline.EventTicketCreated:
		default:
			t.Fatalf("unexpected %+v", m)
		}
		seen[m.TicketID]++
		last = m.Position
		// Drop out every seventh message and come back where we were.
		if len(seen)%7 == 0 && reconnects < 5 {
			reconnects++
			b.Close()
			var first BoardMessage
			b, first = f.MustDialBoard(t, f.C01, last)
			if first.TicketID != "" {
				seen[first.TicketID]++
				last = first.Position
			}
		}
	}
	<-done
	close(ids)
	for id := range ids {
		if seen[id] != 1 {
			t.Errorf("%s delivered %d times", id, seen[id])
		}
	}
}

// A board away so long that the feed no longer holds what it missed is
// told to reload, then continues live.
func TestWS_ReloadWhenHistoryIsGone(t *testing.T) {
	f := mustFeedFixture(t)
	b, _ := f.MustDialBoard(t, f.C01, "")
	t1 := f.MustTicketIn(t, "c01", "一")
	m := b.Until(t, t1.ID, 1)
	last := m[len(m)-1].Position
	b.Close()

	for range 3 {
		f.MustTicketIn(t, "c01", "错过")
	}
	ctx := context.Background()
	for p := range 16 {
		key := fmt.Sprintf("%s:{p%d}:feed", f.DB.Prefix(), p)
		if err := f.DB.Client().XTrimMaxLen(ctx, key, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	b, first := f.MustDialBoard(t, f.C01, last)
	if first.Type != "reload" || first.Reason != "history gone" || first.Position == "" {
		t.Fatalf("got %+v, want reload", first)
	}
	t2 := f.MustTicketIn(t, "c01", "二")
	if got := keys(b.Until(t, t2.ID, 1)); strings.Join(got, " ") != t2.ID+"@1" {
		t.Errorf("live after reload: got %v", got)
	}
}

// A board that stops reading is cut off with 4008 once its queue is full,
// and a board beside it keeps receiving everything meanwhile.
func TestWS_SlowBoardIsCutOff(t *testing.T) {
	// Room for bursts (the feed hands over entries in batches after any
	// pause), small enough that a board that stopped reading fills it soon.
	defer server.SetWSQueue(64)()
	defer server.SetWSSendBuffer(4096)()
	f := mustFeedFixture(t)
	fast, _ := f.MustDialBoard(t, f.C01, "")

	// The slow board's socket takes little before the server's writes
	// block, so its queue fills after a few dozen messages, not thousands.
	d := &websocket.Dialer{HandshakeTimeout: boardWait, NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	slow, _, err := f.DialBoard(f.C01, "", nil, d)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if m := slow.Next(t); m.Type != "hello" {
		t.Fatalf("slow board's first message: %+v", m)
	}

	// The fast board reads in the background.
	type result struct {
		m   BoardMessage
		err error
	}
	fastc := make(chan result, 10000)
	go func() {
		for {
			m, err := fast.Read()
			fastc <- result{m, err}
			if err != nil {
				return
			}
		}
	}()

	// The fast board gets each ticket before the next is filed, so only
	// the board that stopped reading falls behind.
	var created []string
	for len(created) < 1000 {
		id := f.MustTicketIn(t, "c01", strings.Repeat("慢", 60)).ID
		created = append(created, id)
		r := <-fastc
		if r.err != nil {
			t.Fatalf("fast board after %d tickets: %v", len(created), r.err)
		}
		if r.m.TicketID != id {
			t.Fatalf("fast board got %q, want %s", r.m.TicketID, id)
		}
		if len(created)%10 == 0 && wsConnections(t, f.TestServer) < 2 {
			break
		}
	}
	if n := wsConnections(t, f.TestServer); n != 1 {
		t.Fatalf("%v boards connected after %d tickets, want 1", n, len(created))
	}
	// And it goes on receiving after the slow one is gone.
	last := f.MustTicketIn(t, "c01", "之后").ID
	if r := <-fastc; r.err != nil || r.m.TicketID != last {
		t.Fatalf("fast board after the cut: %+v %v", r.m, r.err)
	}

	var n int
	for {
		_, err := slow.Read()
		if err == nil {
			n++
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4008 || ce.Text != "slow: reconnect with since" {
			t.Fatalf("slow board ended with %v after %d messages, want close 4008", err, n)
		}
		break
	}
	if n == 0 || n >= len(created) {
		t.Errorf("slow board got %d of %d messages before the cut", n, len(created))
	}
	if got := metric(t, f.TestServer, `hotline_ws_disconnects_total{reason="slow"}`); got != 1 {
		t.Errorf("slow disconnects: got %v, want 1", got)
	}
}

// wsConnections reads the server's count of open boards.
func wsConnections(tb testing.TB, ts *TestServer) float64 {
	tb.Helper()
	return metric(tb, ts, "hotline_ws_connections")
}

func metric(tb testing.TB, ts *TestServer, name string) float64 {
	tb.Helper()
	resp := ts.Do(tb, http.MethodGet, "/metrics", "", nil, nil)
	sc := bufio.NewScanner(strings.NewReader(resp.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return f
		}
	}
	return 0
}

// Two replicas on one Redis: a ticket filed through either reaches boards
// on both.
func TestWS_TwoReplicas(t *testing.T) {
	client, prefix := redistest.New(t)
	a, _ := MustOpenFeedServer(t, client, prefix)
	b, _ := MustOpenFeedServer(t, client, prefix)
	f := mustStaff(t, a) // users and sessions live in Redis: valid on b too

	onA, _ := a.MustDialBoard(t, f.C01, "")
	onB, _ := b.MustDialBoard(t, f.C01, "")
	body := fmt.Sprintf(`{"service_code":"sanitation","description":"经 A 提交","lat":%v,"long":%v}`, f.c01Lat, f.c01Long)
	resp := a.Do(t, http.MethodPost, "/api/v1/tickets", body, nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create through A: %d %s", resp.StatusCode, resp.Body)
	}
	id := between(resp.Body, `"id":"`, `"`)
	for name, board := range map[string]*Board{"A": onA, "B": onB} {
		if got := keys(board.Until(t, id, 1)); strings.Join(got, " ") != id+"@1" {
			t.Errorf("board on %s: got %v", name, got)
		}
	}

	// And the other way round, with a board that moved from A to B
	// (its replica went away) and resumes there.
	m := f.MustTicketIn(t, "c01", "经 B")
	got := onA.Until(t, m.ID, 1)
	onA.Close()
	c := f.MustSubmit(t, intake.Submission{ServiceCode: "sanitation", Description: "换了副本",
		Lat: &f.c01Lat, Long: &f.c01Long})
	moved, first := b.MustDialBoard(t, f.C01, got[len(got)-1].Position)
	// From history, or live when B's hub had not read it yet at the
	// reconnect: either way once, and nothing else.
	rest := []BoardMessage{first}
	if first.TicketID != c.ID {
		rest = append(rest, moved.Until(t, c.ID, 1)...)
	}
	if got := keys(rest); strings.Join(got, " ") != c.ID+"@1" {
		t.Errorf("resumed on B: got %v, want %s", got, c.ID+"@1")
	}
}

func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	v, _, _ := strings.Cut(rest, to)
	return v
}

func TestWS_Refusals(t *testing.T) {
	f := mustFeedFixture(t)
	for _, tc := range []struct {
		name   string
		sess   *Session
		header http.Header
		want   int
	}{
		{"no session", nil, nil, http.StatusUnauthorized},
		{"stale session", &Session{Cookie: "not-a-session"}, nil, http.StatusUnauthorized},
		{"other origin", f.C01, http.Header{"Origin": {"http://evil.example"}}, http.StatusForbidden},
		{"cross-site fetch", f.C01, http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"}}, http.StatusForbidden},
		// A volunteer sees only the tickets assigned to them, never a
		// unit's whole feed.
		{"volunteer", f.Volunteer, nil, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, resp, err := f.DialBoard(tc.sess, "", tc.header, nil)
			if err == nil {
				b.Close()
				t.Fatal("connected")
			}
			if resp == nil || resp.StatusCode != tc.want {
				t.Fatalf("got %v, want status %d", resp, tc.want)
			}
		})
	}

	t.Run("same origin", func(t *testing.T) {
		b, _, err := f.DialBoard(f.C01, "", http.Header{"Origin": {f.URL()}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
	})

	t.Run("plain GET", func(t *testing.T) {
		if resp := f.Do(t, http.MethodGet, "/ws", "", f.C01, nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d: %s", resp.StatusCode, resp.Body)
		}
	})

	for _, since := range []string{"nonsense", "1-0.2-0", strings.Repeat("0-0.", 15) + "x-1"} {
		t.Run("bad since "+since, func(t *testing.T) {
			b, _, err := f.DialBoard(f.C01, since, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			m := b.Next(t)
			if m.Type != "error" || m.Code != hotline.EINVALID || m.Error == "" {
				t.Errorf("got %+v, want an invalid error", m)
			}
			_, err = b.Read()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 4400 {
				t.Errorf("got %v, want close 4400", err)
			}
		})
	}
}

// A replica shutting down tells its boards to go elsewhere and resume.
func TestWS_Shutdown(t *testing.T) {
	client, prefix := redistest.New(t)
	ts, closeServer := MustOpenFeedServer(t, client, prefix)
	f := mustStaff(t, ts)
	b, _ := f.MustDialBoard(t, f.C01, "")
	closeServer()
	_, err := b.Read()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || !strings.Contains(ce.Text, "since") {
		t.Errorf("got %v, want close 1001 telling to reconnect with since", err)
	}
}

// Without a feed the endpoint says so rather than hanging.
func TestWS_NoFeed(t *testing.T) {
	ts := MustOpenServer(t)
	ts.MustCreateUser(t, "c01staff", "c01-pw-123", hotline.RoleCommittee, "c01")
	sess := ts.MustLogin(t, "c01staff", "c01-pw-123")
	_, resp, err := ts.DialBoard(sess, "", nil, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v, %v; want 503", resp, err)
	}
}

// Signing out closes the member of staff's open boards with 4401, not only
// when the session would have expired.
func TestWS_SignOutClosesTheBoard(t *testing.T) {
	defer server.SetWSSessionCheck(100 * time.Millisecond)()
	f := mustFeedFixture(t)
	stays, _ := f.MustDialBoard(t, f.C02, "")
	leaves, _ := f.MustDialBoard(t, f.C01, "")
	defer stays.Close()
	defer leaves.Close()

	if r := f.Do(t, "POST", "/api/v1/logout", "", f.C01, map[string]string{server.CSRFHeader: f.C01.CSRF}); r.StatusCode != 200 {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Body)
	}
	for {
		_, err := leaves.Read()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != 4401 {
			t.Fatalf("signed-out board ended with %v, want close 4401", err)
		}
		break
	}
	// Another member of staff's board goes on.
	id := f.MustTicketIn(t, "c02", "之后").ID
	for m := stays.Next(t); m.TicketID != id; m = stays.Next(t) {
	}
}
