package simulator_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/simulator"
	"github.com/caojiadu/hotline/static"
	"github.com/caojiadu/hotline/twiliofake"
)

const (
	e2eAccount = "AC0123456789abcdef0123456789abcdef"
	e2eToken   = "0123456789abcdef0123456789abcdef"
	e2eLine    = "+862162000000"
)

// street is the hotline as cmd/hotline wires it for a trial, built by
// hand: the demo street on a throwaway Redis, intake routing through
// dispatch, the phone line's webhooks, the outbox sender talking to the
// fake Twilio API through twilio-go's real client, and the simulator,
// all behind one server.Server listening on a loopback port. The public
// URL is the server's own, so the fake's signed status callbacks really
// arrive.
type street struct {
	url     string
	tickets hotline.TicketStore
	fake    *twiliofake.Server
}

func mustStreet(t *testing.T) *street {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)

	client, prefix := redistest.New(t)
	db := redisstore.NewDB(client, prefix)
	n, c := network.Demo()
	dir := hotline.NewStaticDirectory(n, c)
	tickets := redisstore.NewTicketStore(db)
	outbox := redisstore.NewOutbox(db)
	optOuts := redisstore.NewOptOuts(db)
	units := redisstore.NewUnitIndex(db)
	if err := units.IndexUnits(ctx, n); err != nil {
		t.Fatal(err)
	}
	compiled, err := dispatch.DefaultConfig().Compile(c)
	if err != nil {
		t.Fatal(err)
	}
	disp := dispatch.New(compiled, tickets, units, redisstore.NewDeadlineQueue(db), dir, nil)
	in := intake.New(tickets, dir)
	in.Place = disp.PlaceNew

	srv := &server.Server{
		Config:    server.Config{Addr: "127.0.0.1:0"},
		Tickets:   tickets,
		Users:     redisstore.NewUserStore(db),
		Directory: dir,
		Intake:    in,
		Dispatch:  disp,
		Static:    static.FS,
		Logger:    log,
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	public := srv.URL()

	// Hours empty: the line is staffed whenever the test runs.
	line, err := phone.New(phone.Config{AuthToken: e2eToken, PublicURL: public, FromNumber: e2eLine},
		phone.Deps{Intake: in, Tickets: tickets, Directory: dir, Outbox: outbox, OptOuts: optOuts,
			Sessions: redisstore.NewPhoneSessions(db), Rater: disp, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	hooks := line.Handler()
	for _, p := range []string{phone.PathVoice, phone.PathSMS, phone.PathStatus, phone.PathRecording} {
		srv.Handle("POST "+p, hooks)
	}

	fake := twiliofake.New(twiliofake.Config{AccountSID: e2eAccount, AuthToken: e2eToken, Callbacks: true,
		CallbackDelay: 10 * time.Millisecond, Logger: log})
	t.Cleanup(fake.Close)
	srv.Handle("/twiliofake/", http.StripPrefix("/twiliofake", fake))
	base, _ := url.Parse(public + "/twiliofake")
	rest := twiliofake.NewRestClient(base, e2eAccount, e2eToken)
	sender := notify.NewSender(outbox, optOuts, rest.Api, notify.SenderConfig{From: e2eLine,
		StatusCallback: notify.StatusCallbackURL(public), PollInterval: 50 * time.Millisecond, Logger: log})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	sim, err := simulator.New(simulator.Config{AuthToken: e2eToken, PublicURL: public, HotlineNumber: e2eLine,
		AccountSID: e2eAccount, Logger: log}, srv.Handler(), fake)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/sim/", sim)
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Close(sctx)
	})
	return &street{url: public, tickets: tickets, fake: fake}
}

func (st *street) rig() *rig { return &rig{url: st.url} }

// waitInbox polls the phone's inbox until a message satisfies ok.
func waitInbox(t *testing.T, rg *rig, phone string, ok func(simulator.SMS) bool) simulator.SMS {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var in simulator.InboxView
		rg.call(t, "GET", "/sim/inbox?phone="+url.QueryEscape(phone), nil, http.StatusOK, &in)
		for _, m := range in.Messages {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such message in the inbox: %+v", in.Messages)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A resident calls the real phone line through the simulator: the menu,
// a category, a committee, a description, a message; the line reads the
// ticket number, hangs up, and the number arrives by SMS through the
// outbox, the sender and the fake Twilio API.
func TestEndToEndCallFilesATicketAndTextsItsNumber(t *testing.T) {
	st := mustStreet(t)
	rg := st.rig()

	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	if c.Ended || c.Wait == nil || c.Wait.NumDigits != 1 || len(c.Prompts) == 0 {
		t.Fatalf("greeting: %+v", c)
	}
	// No key at the greeting: Twilio follows the <Redirect> to the menu.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]any{"silence": true}, http.StatusOK, &c)
	if c.Wait == nil || !slices.Contains(c.Wait.Input, "dtmf") || !strings.Contains(c.Wait.Action, "step=category") {
		t.Fatalf("category question: %+v", c)
	}
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusOK, &c)
	if c.Wait == nil || !strings.Contains(c.Wait.Action, "step=committee") {
		t.Fatalf("committee question: %+v", c)
	}
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusOK, &c)
	if c.Wait == nil || !slices.Equal(c.Wait.Input, []string{"speech"}) {
		t.Fatalf("description question: %+v", c)
	}
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"speech": "楼道灯坏了，晚上看不见"}, http.StatusOK, &c)
	if c.Wait == nil || c.Wait.Kind != "record" {
		t.Fatalf("recording: %+v", c)
	}
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"speech": "在三号楼"}, http.StatusOK, &c)
	if !c.Ended || c.Status != "completed" || len(c.TicketIDs) != 1 {
		t.Fatalf("after the message: %+v", c)
	}
	for _, ex := range c.Webhooks {
		if ex.Error != "" || ex.Status >= 300 {
			t.Errorf("webhook %+v", ex)
		}
	}
	id := c.TicketIDs[0]
	tk, err := st.tickets.FindTicket(context.Background(), id)
	if err != nil {
		t.Fatalf("ticket %s: %v", id, err)
	}
	if tk.Channel != hotline.ChannelVoice || !strings.Contains(tk.Description, "楼道灯坏了") ||
		tk.Contact.Phone != "+8613800138000" {
		t.Errorf("ticket %+v", tk)
	}

	m := waitInbox(t, rg, "13800138000", func(m simulator.SMS) bool { return m.Via == "rest" })
	if !strings.Contains(m.Body, id) || !slices.Equal(m.TicketIDs, []string{id}) || m.From != e2eLine {
		t.Errorf("ticket number SMS %+v, want %s", m, id)
	}

	// Texting the number back asks how it stands; the answer comes inline
	// or through the REST API, and names the ticket.
	var res simulator.SMSResult
	rg.call(t, "POST", "/sim/sms", map[string]string{"from": "13800138000", "body": id}, http.StatusOK, &res)
	if res.Error != "" || len(res.Webhooks) != 1 || res.Webhooks[0].Status != http.StatusOK {
		t.Errorf("status by SMS: %+v", res)
	}
	waitInbox(t, rg, "13800138000", func(m simulator.SMS) bool {
		return m.Direction == "in" && m.At.After(res.Sent.At) && strings.Contains(m.Body, id) ||
			m.Direction == "in" && m.Via == "reply" && strings.Contains(m.Body, id)
	})
}

// Hanging up in the middle of the menu posts the status callback, which
// the line answers by filing a callback ticket, as for a real caller.
func TestEndToEndHangUpMidMenu(t *testing.T) {
	st := mustStreet(t)
	rg := st.rig()
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13900139000"}, http.StatusCreated, &c)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/hangup", nil, http.StatusOK, &c)
	if !c.Ended || c.Status != "completed" || len(c.Webhooks) != 1 || c.Webhooks[0].Status >= 300 {
		t.Errorf("hang-up: %+v", c)
	}
}
