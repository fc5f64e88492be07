package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
)

// Signed webhooks from outside need a token and a public URL both sides
// know, as with a real Twilio account. The public URL is a loopback port
// nobody listens on: the fake Twilio API inside each replica sends its
// status callbacks there, and they fail at once, never leaving the machine.
const (
	outageToken     = "0123456789abcdef0123456789abcdef"
	outagePublicURL = "http://127.0.0.1:9"
)

// MustRunMainOnRedis starts the service on the Redis at redisURL under
// prefix (a replica: several may share one Redis and prefix), with its
// own data directory, the phone line on (no Twilio account: the SMS go to
// the fake API inside the process) and webhooks signed with outageToken.
func MustRunMainOnRedis(tb testing.TB, redisURL, prefix string, configure func(*Main)) *Main {
	tb.Helper()
	return MustRunMainOn(tb, tb.TempDir(), func(m *Main) {
		m.Config.Redis.URL, m.Config.Redis.Prefix = redisURL, prefix
		m.Config.Twilio.Simulator = "on"
		m.Config.Twilio.AuthToken, m.Config.Twilio.PublicURL = outageToken, outagePublicURL
		m.Config.Projects.Enabled = false
		if configure != nil {
			configure(m)
		}
	})
}

// postTwilio posts a webhook to m signed as Twilio signs it (for the
// public URL, whichever replica receives it) and returns the status and
// the body.
func postTwilio(tb testing.TB, m *Main, path string, form url.Values) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest(http.MethodPost, m.URL()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", phone.Sign(outageToken, outagePublicURL+path, form))
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("POST %s: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// mustReady waits until m answers /readyz (its store answers).
func mustReady(t *testing.T, m *Main) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.URL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 30 s after Redis came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ticketsOf returns the tickets of m's store whose ExternalRef is ref.
func ticketsOf(tb testing.TB, m *Main, ref string) []*hotline.Ticket {
	tb.Helper()
	ts, _, err := m.Server.Tickets.FindTickets(context.Background(), hotline.TicketFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*hotline.Ticket
	for _, t := range ts {
		if t.ExternalRef == ref {
			out = append(out, t)
		}
	}
	return out
}

// Redis crashes while a resident calls: `hotline serve` keeps the call in
// the journal under its data directory, the caller hears that the call is
// noted, and once Redis is back the replica files the callback ticket by
// itself, once.
func TestOutageCallIsCalledBackWhenRedisReturns(t *testing.T) {
	srv := redistest.MustStartServer(t, redistest.ServerOptions{AppendFsync: "always"})
	m := MustRunMainOnRedis(t, srv.URL, "outage", nil)
	const sid = "CA0000000000000000000000000000b001"
	form := url.Values{"CallSid": {sid}, "From": {"+8613812345678"}, "To": {"+862162000000"},
		"CallStatus": {"ringing"}, "Direction": {"inbound"}}

	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	code, body := postTwilio(t, m, phone.PathVoice, form)
	if code != http.StatusOK || !strings.Contains(body, "已记下您的来电") || !strings.Contains(body, "noted your call") {
		t.Fatalf("the caller heard (%d): %s", code, body)
	}
	segs, _ := filepath.Glob(filepath.Join(m.DataDir, "phone-journal", "seg-*.jsonl"))
	if len(segs) != 1 {
		t.Fatalf("journal segments under the data directory: %v", segs)
	}
	if b, _ := os.ReadFile(segs[0]); !strings.Contains(string(b), sid) {
		t.Fatalf("the segment does not hold the call: %s", b)
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(ticketsOf(t, m, sid)) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	ts := ticketsOf(t, m, sid)
	if len(ts) != 1 || ts[0].ServiceCode != "callback" || ts[0].Contact.Phone != "+8613812345678" {
		t.Fatalf("tickets for the call: %+v", ts)
	}
	// The call's end, reported now, files nothing more.
	form.Set("CallStatus", "completed")
	if code, _ := postTwilio(t, m, phone.PathStatus, form); code != http.StatusNoContent {
		t.Fatalf("status callback: %d", code)
	}
	if ts := ticketsOf(t, m, sid); len(ts) != 1 {
		t.Fatalf("%d tickets after the status callback, want 1", len(ts))
	}
	for time.Now().Before(deadline) {
		if segs, _ := filepath.Glob(filepath.Join(m.DataDir, "phone-journal", "seg-*.jsonl")); len(segs) == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the journal still holds segments after the replay")
}

// The resident form while Redis is down says that nothing was registered
// and gives the number to call; sent again once Redis is back, the same
// need is filed once.
func TestBrowserFormSaysNothingWasSavedWhileRedisIsDown(t *testing.T) {
	srv := redistest.MustStartServer(t, redistest.ServerOptions{AppendFsync: "always"})
	m := MustRunMainOnRedis(t, srv.URL, "form", nil)
	center, ok := m.Directory.Network().ServiceCenter()
	if !ok || center.Phone == "" {
		t.Fatal("the demo street's service center has no phone number")
	}
	b := newBrowser(t)
	category := `#categories input[name="service_code"][value="facilities"]`
	b.do(t, "fill in the form",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(category)),
		chromedp.Click(chromedp.CSS(category)),
		chromedp.SendKeys(chromedp.CSS("#description"), "楼道灯坏了，晚上看不见"),
		chromedp.SendKeys(chromedp.CSS("#address_string"), "长寿路123弄4号"),
	)
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	b.do(t, "send while Redis is down",
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.Poll[chromedp.Void](`document.getElementById("form-alert").textContent !== ""`),
	)
	alert := b.text(t, "#form-alert")
	for _, want := range []string{"没有登记", "不会重复登记", "拨打热线", center.Phone} {
		if !strings.Contains(alert, want) {
			t.Errorf("alert %q lacks %q", alert, want)
		}
	}
	if eval[bool](t, b, `!document.getElementById("done").hidden`) {
		t.Error("the confirmation is shown although nothing was saved")
	}

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The resident tries again once the service is back: go-redis' pool
	// keeps refusing for a moment after failed dials, as a load balancer's
	// readiness probe (/readyz) shows.
	mustReady(t, m)
	b.do(t, "send again",
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	_, total, err := redisstore.NewTicketStore(m.store.DB).FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil || total != 1 {
		t.Fatalf("%d tickets after sending twice, want 1 (%v)", total, err)
	}
	b.checkPage(t)
}
