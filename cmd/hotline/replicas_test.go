package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
)

// MustReplicas starts n `hotline serve` replicas (the same Main as serve,
// in this process, each on its own port and data directory) on one real
// Redis under one fresh key prefix, as behind a load balancer.
func MustReplicas(tb testing.TB, n int, configure func(*Main)) []*Main {
	tb.Helper()
	_, prefix := redistest.New(tb)
	ms := make([]*Main, n)
	for i := range ms {
		ms[i] = MustRunMainOnRedis(tb, redistest.URL(tb), prefix, configure)
	}
	return ms
}

// A need filed through one replica is seen through the others at once: by
// its status page, and by a retry of the same submission (its idempotency
// key), which files nothing new wherever it lands. An SMS to one replica
// is answered from another's ticket.
func TestReplicasShareTickets(t *testing.T) {
	ms := MustReplicas(t, 2, nil)
	a, b := ms[0], ms[1]
	need := map[string]any{"service_code": "facilities", "description": "楼道灯坏了，晚上看不见",
		"address_string": "长寿路 100 号", "phone": "13812345678", "consent": true}
	var created, again struct {
		ID string `json:"id"`
	}
	if resp := postJSON(t, http.DefaultClient, a.URL()+"/api/v1/tickets", need, http.Header{"Idempotency-Key": {"replicas-1"}}, &created); resp.StatusCode != http.StatusCreated {
		t.Fatalf("file through A: %d", resp.StatusCode)
	}
	var seen struct {
		ID          string `json:"id"`
		Description string `json:"description"`
	}
	if resp := getJSON(t, http.DefaultClient, b.URL()+"/api/v1/tickets/"+created.ID+"/status?phone_last4=5678", &seen); resp.StatusCode != http.StatusOK || seen.Description != "楼道灯坏了，晚上看不见" {
		t.Fatalf("status through B: %d %+v", resp.StatusCode, seen)
	}
	if resp := postJSON(t, http.DefaultClient, b.URL()+"/api/v1/tickets", need, http.Header{"Idempotency-Key": {"replicas-1"}}, &again); resp.StatusCode != http.StatusOK || again.ID != created.ID {
		t.Fatalf("the retry through B: %d %q, want 200 and %s", resp.StatusCode, again.ID, created.ID)
	}

	// The resident asks by SMS through B about the ticket filed through A.
	sms := url.Values{"MessageSid": {"SM0000000000000000000000000000c001"}, "From": {"+8613812345678"},
		"To": {"+862162000000"}, "Body": {"查询 " + created.ID}, "NumMedia": {"0"}}
	if code, body := postTwilio(t, b, phone.PathSMS, sms); code != http.StatusOK || !strings.Contains(body, created.ID) {
		t.Fatalf("status by SMS through B: %d %s", code, body)
	}
	_, total, err := a.Server.Tickets.FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil || total != 1 {
		t.Fatalf("%d tickets in the store, want 1 (%v)", total, err)
	}
}

// Three replicas poll the deadline queue every 50 ms: when a unit lets a
// ticket's accept limit pass, the ticket moves on once, not once per
// replica.
func TestReplicasFireAnAcceptLimitOnce(t *testing.T) {
	ms := MustReplicas(t, 3, func(m *Main) { m.Config.Dispatch.PollInterval = "50ms" })
	ctx := context.Background()
	// Routed to c03 a moment ago, to be accepted within a second and a half
	// (set directly: which units are on duty depends on the hour).
	now := time.Now()
	c03, _ := ms[0].Directory.Network().Unit("c03")
	tk := &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "dispute", Description: "楼上邻居每天深夜装修",
		Status: hotline.StatusRouted, UnitID: "c03", Tier: hotline.TierCommittee, CreatedAt: now, UpdatedAt: now,
		AcceptBy: now.Add(1500 * time.Millisecond), ResolveBy: now.Add(time.Hour),
		Location: hotline.Location{Lat: c03.Lat, Long: c03.Long, Committee: "c03"}}
	if _, err := ms[1].Server.Tickets.CreateTicket(ctx, tk, ""); err != nil {
		t.Fatal(err)
	}
	waitTicket(t, ms[2], tk.ID, func(got *hotline.Ticket) bool { return got.UnitID != "c03" })
	// Long enough for every replica to have claimed the limit, had it
	// not been claimed once for all.
	time.Sleep(2 * time.Second)
	evs, err := ms[0].Server.Tickets.TicketEvents(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	passedOver := map[string]int{}
	for _, e := range evs {
		if e.Actor == dispatch.ActorSystem && e.FromUnitID != "" {
			passedOver[e.FromUnitID]++
		}
	}
	if passedOver["c03"] != 1 {
		t.Errorf("c03's accept limit moved the ticket %d times, want 1 (history %v)", passedOver["c03"], types(evs))
	}
	for unit, n := range passedOver {
		if n != 1 {
			t.Errorf("unit %s passed over %d times, want 1", unit, n)
		}
	}
}

func waitTicket(t *testing.T, m *Main, id string, ok func(*hotline.Ticket) bool) *hotline.Ticket {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tk, err := m.Server.Tickets.FindTicket(context.Background(), id)
		if err == nil && ok(tk) {
			return tk
		}
		if time.Now().After(deadline) {
			t.Fatalf("ticket %s: %+v, %v: the awaited state never came", id, tk, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func types(evs []*hotline.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+" from "+e.FromUnitID)
	}
	return out
}

// Every replica's scheduler fires the nightly grouping at the same
// minute: with both firing at once, one runs and writes its drafts, the
// other is told another replica runs it (or that a run just started), and
// one run is recorded.
func TestReplicasRunTheNightlyGroupingOnce(t *testing.T) {
	ms := MustReplicas(t, 2, nil)
	seedNeeds(t, ms[0])
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			m.groupScheduled(context.Background())
		}()
	}
	close(start)
	wg.Wait()
	runs, err := redisstore.NewProjectStore(ms[1].store.DB).Runs(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Trigger != "cron" || runs[0].New != 2 {
		t.Fatalf("runs %+v, want one cron run with two new drafts", runs)
	}
}

// boardMessage is what a live board receives.
type boardMessage struct {
	Type     string `json:"type"`
	TicketID string `json:"ticket_id"`
	Position string `json:"position"`
	Event    struct {
		Version int64 `json:"version"`
	} `json:"event"`
}

// mustBoard signs in as a new admin through m and opens the live board
// there; the messages it receives arrive on the returned channel.
func mustBoard(t *testing.T, m *Main, username string) <-chan boardMessage {
	t.Helper()
	hash, err := server.HashPassword("a long password here")
	if err != nil {
		t.Fatal(err)
	}
	u := &hotline.User{Username: username, Name: username, Role: hotline.RoleAdmin, PasswordHash: hash, CreatedAt: time.Now()}
	if err := redisstore.NewUserStore(m.store.DB).CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	if resp := postJSON(t, &http.Client{Jar: jar}, m.URL()+"/api/v1/login",
		map[string]string{"username": username, "password": "a long password here"}, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	d := &websocket.Dialer{Jar: jar, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(m.URL(), "http")+"/ws", nil)
	if err != nil {
		t.Fatalf("open the board: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	out := make(chan boardMessage, 256)
	go func() {
		defer close(out)
		for {
			_, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var msg boardMessage
			if json.Unmarshal(b, &msg) == nil {
				out <- msg
			}
		}
	}()
	if hello := <-out; hello.Type != "hello" {
		t.Fatalf("first message %+v, want hello", hello)
	}
	return out
}

// A board connected to replica A gets every change of a ticket filed and
// worked through replica B, once each and in order, with nothing else.
func TestReplicasBoardOnOneSeesChangesThroughTheOther(t *testing.T) {
	ms := MustReplicas(t, 2, nil)
	a, b := ms[0], ms[1]
	board := mustBoard(t, a, "board.a")

	var created struct {
		ID string `json:"id"`
	}
	postJSON(t, http.DefaultClient, b.URL()+"/api/v1/tickets", map[string]any{"service_code": "facilities",
		"description": "楼道灯坏了", "address_string": "长寿路 100 号", "phone": "13812345678", "consent": true},
		nil, &created)
	waitTicket(t, b, created.ID, func(tk *hotline.Ticket) bool { return tk.Status == hotline.StatusRouted })
	admin := &hotline.User{ID: "u-admin", Username: "admin", Role: hotline.RoleAdmin}
	if _, err := b.Dispatch.Accept(context.Background(), admin, created.ID); err != nil {
		t.Fatal(err)
	}
	want, err := b.Server.Tickets.TicketEvents(context.Background(), created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) < 2 || want[len(want)-1].Type != hotline.EventTicketAccepted {
		t.Fatalf("history %v: want the ticket filed and accepted", types(want))
	}

	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case msg, ok := <-board:
			if !ok {
				t.Fatalf("the board closed after %v", got)
			}
			got = append(got, fmt.Sprintf("%s v%d %s", msg.TicketID, msg.Event.Version, msg.Type))
		case <-timeout:
			t.Fatalf("the board on A got %v, want all of %v", got, types(want))
		}
	}
	// Anything more within a while would be a duplicate.
	select {
	case msg := <-board:
		t.Fatalf("an extra message after the history: %+v (got %v)", msg, got)
	case <-time.After(time.Second):
	}
	for i, e := range want {
		if w := fmt.Sprintf("%s v%d %s", e.TicketID, e.Version, e.Type); got[i] != w {
			t.Errorf("message %d: %q, want %q", i, got[i], w)
		}
	}
}
