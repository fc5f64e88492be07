package notify_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/twiliofake"
	"github.com/twilio/twilio-go/client"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "feedfacefeedfacefeedfacefeedface"
	testFrom  = "+15005550006"
	resident  = "+8613800138000"
)

// clock is the real time moved ahead by what the test added, so that
// messages enqueued at the real time are due and a backoff can be skipped.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func newClock() *clock { return &clock{} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// env is one test's Redis stores, a fake Twilio and a twilio-go client on it.
type env struct {
	db       *redisstore.DB
	outbox   *redisstore.Outbox
	optOuts  *redisstore.OptOuts
	sessions *redisstore.PhoneSessions
	fake     *twiliofake.Server
	fakeURL  *url.URL
	clock    *clock
}

func newEnv(tb testing.TB, fakeCfg twiliofake.Config) *env {
	tb.Helper()
	c, prefix := redistest.New(tb)
	db := redisstore.NewDB(c, prefix)
	fakeCfg.AccountSID, fakeCfg.AuthToken = testSID, testToken
	fake := twiliofake.New(fakeCfg)
	ts := httptest.NewServer(fake)
	tb.Cleanup(func() { fake.Close(); ts.Close() })
	u, err := url.Parse(ts.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return &env{
		db: db, outbox: redisstore.NewOutbox(db), optOuts: redisstore.NewOptOuts(db),
		sessions: redisstore.NewPhoneSessions(db), fake: fake, fakeURL: u, clock: newClock(),
	}
}

// sender returns a Sender on the env's outbox through twilio-go's real
// client, on the env's clock.
func (e *env) sender(cfg notify.SenderConfig) *notify.Sender {
	if cfg.From == "" && cfg.MessagingServiceSID == "" {
		cfg.From = testFrom
	}
	api := twiliofake.NewRestClient(e.fakeURL, testSID, testToken).Api
	s := notify.NewSender(e.outbox, e.optOuts, api, cfg)
	notify.SetSenderClock(s, e.clock.Now)
	return s
}

// MustEnqueue stores a message to to and returns it.
func (e *env) MustEnqueue(tb testing.TB, key, to, body string) *hotline.OutboundMessage {
	tb.Helper()
	m := &hotline.OutboundMessage{Key: key, To: to, Body: body, Kind: "status", TicketID: "1600356"}
	if _, err := e.outbox.Enqueue(context.Background(), m); err != nil {
		tb.Fatal(err)
	}
	return m
}

// MustMessage reads a message back.
func (e *env) MustMessage(tb testing.TB, id string) *hotline.OutboundMessage {
	tb.Helper()
	m, err := e.outbox.FindMessage(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

func TestSenderSendsEachMessageOnce(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	const n = 30
	var want []*hotline.OutboundMessage
	for i := range n {
		want = append(want, e.MustEnqueue(t, fmt.Sprintf("k%d", i), fmt.Sprintf("+86138001380%02d", i), fmt.Sprintf("消息 %d", i)))
	}
	cfg := notify.SenderConfig{Batch: 4, StatusCallback: notify.StatusCallbackURL("https://hotline.example.org/")}
	a, b := e.sender(cfg), e.sender(cfg)
	var wg sync.WaitGroup
	for _, s := range []*notify.Sender{a, b} {
		wg.Go(func() {
			for s.RunOnce(context.Background()) > 0 {
			}
		})
	}
	wg.Wait()

	if got := len(e.fake.Messages()); got != n {
		t.Fatalf("twilio got %d messages, want %d", got, n)
	}
	for _, m := range want {
		sent := e.fake.MessagesTo(m.To)
		if len(sent) != 1 {
			t.Fatalf("%d messages to %s, want 1", len(sent), m.To)
		}
		got := e.MustMessage(t, m.ID)
		if got.Status != hotline.MessageSent || got.SID != sent[0].SID {
			t.Errorf("outbox has %s sid %q, want sent with %q", got.Status, got.SID, sent[0].SID)
		}
		if sent[0].Body != m.Body || sent[0].From != testFrom || sent[0].StatusCallback != "https://hotline.example.org/twilio/status" {
			t.Errorf("twilio got %+v", sent[0])
		}
	}
	// Nothing is due any more, however often the senders look.
	if got := a.RunOnce(context.Background()); got != 0 {
		t.Errorf("claimed %d after all were sent", got)
	}
}

func TestSenderRetriesServerErrorsWithBackoff(t *testing.T) {
	for _, status := range []int{500, 503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t, twiliofake.Config{})
			s := e.sender(notify.SenderConfig{})
			m := e.MustEnqueue(t, "k", resident, "您的工单已受理")
			e.fake.FailNext(2, status)

			var waits []time.Duration
			for range 2 {
				if got := s.RunOnce(context.Background()); got != 1 {
					t.Fatalf("claimed %d, want 1", got)
				}
				got := e.MustMessage(t, m.ID)
				if got.Status != hotline.MessageQueued || !strings.Contains(got.Error, fmt.Sprint(status)) {
					t.Fatalf("after a %d: %s %q, want queued with the reason", status, got.Status, got.Error)
				}
				waits = append(waits, got.NextAt.Sub(e.clock.Now()))
				// Not due before its time.
				if n := s.RunOnce(context.Background()); n != 0 {
					t.Fatalf("claimed %d before the backoff passed", n)
				}
				e.clock.Add(waits[len(waits)-1] + time.Second)
			}
			// 30 s then 60 s, each with up to a quarter of jitter.
			for i, w := range waits {
				lo := notify.DefaultBackoffMin << i
				if w < lo-time.Second || w > lo+lo/4+time.Second {
					t.Errorf("wait %d = %v, want %v to %v", i+1, w, lo, lo+lo/4)
				}
			}
			s.RunOnce(context.Background())
			got := e.MustMessage(t, m.ID)
			if got.Status != hotline.MessageSent || got.SID == "" {
				t.Fatalf("after the failures passed: %s, want sent", got.Status)
			}
			if n := len(e.fake.MessagesTo(resident)); n != 1 {
				t.Errorf("twilio has %d messages, want 1", n)
			}
		})
	}
}

func TestSenderGivesUp(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	s := e.sender(notify.SenderConfig{MaxAttempts: 3})
	m := e.MustEnqueue(t, "k", resident, "x")
	e.fake.FailNext(100, 500)
	for range 3 {
		s.RunOnce(context.Background())
		e.clock.Add(notify.DefaultBackoffMax * 2)
	}
	got := e.MustMessage(t, m.ID)
	if got.Status != hotline.MessageFailed || !strings.Contains(got.Error, "3 attempts") {
		t.Errorf("got %s %q, want failed after 3 attempts", got.Status, got.Error)
	}
	if n := s.RunOnce(context.Background()); n != 0 {
		t.Errorf("claimed %d after giving up", n)
	}
}

func TestSenderSuppressesOptedOutNumbers(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	s := e.sender(notify.SenderConfig{})
	if err := e.optOuts.OptOut(context.Background(), resident); err != nil {
		t.Fatal(err)
	}
	m := e.MustEnqueue(t, "k", resident, "x")
	s.RunOnce(context.Background())
	if got := e.MustMessage(t, m.ID); got.Status != hotline.MessageSuppressed {
		t.Errorf("status %s, want suppressed", got.Status)
	}
	if n := e.fake.Requests(); n != 0 {
		t.Errorf("twilio saw %d requests, want none", n)
	}
}

func TestSenderUnsubscribedFailsAndOptsOut(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	s := e.sender(notify.SenderConfig{})
	e.fake.Refuse(resident)
	m := e.MustEnqueue(t, "k1", resident, "x")
	s.RunOnce(context.Background())
	got := e.MustMessage(t, m.ID)
	if got.Status != hotline.MessageFailed || !strings.Contains(got.Error, "21610") {
		t.Errorf("got %s %q, want failed with 21610", got.Status, got.Error)
	}
	if out, err := e.optOuts.OptedOut(context.Background(), resident); err != nil || !out {
		t.Errorf("opted out = %v, %v; want true", out, err)
	}
	// The next message is suppressed without asking Twilio.
	before := e.fake.Requests()
	m2 := e.MustEnqueue(t, "k2", resident, "y")
	s.RunOnce(context.Background())
	if got := e.MustMessage(t, m2.ID); got.Status != hotline.MessageSuppressed {
		t.Errorf("second message %s, want suppressed", got.Status)
	}
	if e.fake.Requests() != before {
		t.Error("twilio was asked again")
	}
}

func TestSenderInvalidNumberFails(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	s := e.sender(notify.SenderConfig{})
	m := e.MustEnqueue(t, "k", "+86123", "x")
	s.RunOnce(context.Background())
	got := e.MustMessage(t, m.ID)
	if got.Status != hotline.MessageFailed || !strings.Contains(got.Error, "21211") {
		t.Errorf("got %s %q, want failed with 21211", got.Status, got.Error)
	}
	if out, _ := e.optOuts.OptedOut(context.Background(), "+86123"); out {
		t.Error("an invalid number was opted out")
	}
}

func TestSenderUsesMessagingService(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	s := e.sender(notify.SenderConfig{MessagingServiceSID: "MG0123456789abcdef0123456789abcdef"})
	e.MustEnqueue(t, "k", resident, "x")
	s.RunOnce(context.Background())
	sent := e.fake.MessagesTo(resident)
	if len(sent) != 1 || sent[0].MessagingServiceSID != "MG0123456789abcdef0123456789abcdef" {
		t.Fatalf("twilio got %+v, want one message through the service", sent)
	}
}

// What a status callback handler does with Twilio's report: validate the
// signature against the public URL, then Outbox.RecordStatus.
func TestSenderStatusCallbackReachesTheOutbox(t *testing.T) {
	var (
		e         *env
		publicURL string
		mu        sync.Mutex
		invalid   int
	)
	validator := client.NewRequestValidator(testToken)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !validator.ValidateBody(publicURL, body, r.Header.Get("X-Twilio-Signature")) {
			mu.Lock()
			invalid++
			mu.Unlock()
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		form, _ := url.ParseQuery(string(body))
		err := e.outbox.RecordStatus(r.Context(), form.Get("MessageSid"),
			hotline.MessageStatus(form.Get("MessageStatus")), form.Get("ErrorCode"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}))
	defer hook.Close()
	publicURL = hook.URL + notify.StatusCallbackPath
	e = newEnv(t, twiliofake.Config{Callbacks: true, CallbackDelay: time.Millisecond})
	e.fake.Undeliverable("+8613900139000", 0)
	s := e.sender(notify.SenderConfig{StatusCallback: notify.StatusCallbackURL(hook.URL)})
	ok := e.MustEnqueue(t, "k1", resident, "x")
	bad := e.MustEnqueue(t, "k2", "+8613900139000", "y")
	s.RunOnce(context.Background())

	deadline := time.Now().Add(5 * time.Second)
	for {
		a, b := e.MustMessage(t, ok.ID), e.MustMessage(t, bad.ID)
		if a.Status == hotline.MessageDelivered && b.Status == hotline.MessageUndelivered {
			if b.Error == "" || !strings.Contains(b.Error, "30003") {
				t.Errorf("undelivered message error %q, want 30003", b.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statuses %s and %s, want delivered and undelivered", a.Status, b.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if invalid > 0 {
		t.Errorf("%d callbacks failed signature validation", invalid)
	}
}

// A refusal that blames the settings (here: no sender) keeps the message
// for after they are fixed.
func TestSenderSettingsErrorsAreRetried(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	api := twiliofake.NewRestClient(e.fakeURL, testSID, testToken).Api
	s := notify.NewSender(e.outbox, e.optOuts, api, notify.SenderConfig{})
	m := e.MustEnqueue(t, "k", resident, "x")
	s.RunOnce(context.Background())
	got := e.MustMessage(t, m.ID)
	if got.Status != hotline.MessageQueued || got.Attempts != 1 || !strings.Contains(got.Error, "21603") {
		t.Errorf("got %s after %d attempts (%q), want queued for a retry after 21603", got.Status, got.Attempts, got.Error)
	}
}
