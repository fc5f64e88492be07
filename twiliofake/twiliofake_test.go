package twiliofake_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline/twiliofake"
	"github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

const (
	testSID   = "AC00000000000000000000000000000001"
	testToken = "0123456789abcdef0123456789abcdef"
)

// MustServe serves a fake for cfg and returns it with a twilio-go client
// pointed at it.
func MustServe(tb testing.TB, cfg twiliofake.Config) (*twiliofake.Server, *twilio.RestClient, *url.URL) {
	tb.Helper()
	if cfg.AccountSID == "" {
		cfg.AccountSID, cfg.AuthToken = testSID, testToken
	}
	fake := twiliofake.New(cfg)
	ts := httptest.NewServer(fake)
	tb.Cleanup(func() { fake.Close(); ts.Close() })
	base, err := url.Parse(ts.URL)
	if err != nil {
		tb.Fatal(err)
	}
	return fake, twiliofake.NewRestClient(base, cfg.AccountSID, cfg.AuthToken), base
}

func send(c *twilio.RestClient, to, body, callback string) (*openapi.ApiV2010Message, error) {
	p := &openapi.CreateMessageParams{}
	p.SetTo(to)
	p.SetFrom("+15005550006")
	p.SetBody(body)
	if callback != "" {
		p.SetStatusCallback(callback)
	}
	return c.Api.CreateMessage(p)
}

func TestCreateAndFetch(t *testing.T) {
	fake, c, _ := MustServe(t, twiliofake.Config{})
	m, err := send(c, "+8613800138000", "您的工单 1600356 已受理", "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Sid == nil || !strings.HasPrefix(*m.Sid, "SM") || len(*m.Sid) != 34 {
		t.Fatalf("sid = %v, want SM + 32 hex", m.Sid)
	}
	if got, want := *m.Status, "queued"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
	if *m.To != "+8613800138000" || *m.From != "+15005550006" || *m.AccountSid != testSID {
		t.Errorf("to/from/account = %v %v %v", *m.To, *m.From, *m.AccountSid)
	}
	if _, err := time.Parse(time.RFC1123Z, *m.DateCreated); err != nil {
		t.Errorf("date_created %q: %v", *m.DateCreated, err)
	}
	got := fake.MessagesTo("+8613800138000")
	if len(got) != 1 || got[0].SID != *m.Sid || got[0].Body != "您的工单 1600356 已受理" {
		t.Fatalf("MessagesTo = %+v", got)
	}
	p := &openapi.FetchMessageParams{}
	fetched, err := c.Api.FetchMessage(*m.Sid, p)
	if err != nil {
		t.Fatal(err)
	}
	if *fetched.Sid != *m.Sid {
		t.Errorf("fetched sid %q, want %q", *fetched.Sid, *m.Sid)
	}
	_, err = c.Api.FetchMessage("SM00000000000000000000000000000000", p)
	var rest *client.TwilioRestError
	if !errors.As(err, &rest) || rest.Status != 404 || rest.Code != twiliofake.CodeNotFound {
		t.Errorf("unknown sid: err = %v, want 404/20404", err)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(*twiliofake.Server)
		to, body   string
		wantStatus int
		wantCode   int
	}{
		{"server error", func(f *twiliofake.Server) { f.FailNext(1, 500) }, "+8613800138000", "x", 500, twiliofake.CodeInternal},
		{"rate limited", func(f *twiliofake.Server) { f.FailNext(1, 429) }, "+8613800138000", "x", 429, twiliofake.CodeTooManyRequests},
		{"unsubscribed", func(f *twiliofake.Server) { f.Refuse("+8613800138000") }, "+8613800138000", "x", 400, twiliofake.CodeUnsubscribed},
		{"invalid to", nil, "13800138000", "x", 400, twiliofake.CodeInvalidTo},
		{"no body", nil, "+8613800138000", "", 400, twiliofake.CodeBodyRequired},
		{"body too long", nil, "+8613800138000", strings.Repeat("长", 1601), 400, twiliofake.CodeBodyTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c, _ := MustServe(t, twiliofake.Config{})
			if tt.setup != nil {
				tt.setup(fake)
			}
			_, err := send(c, tt.to, tt.body, "")
			var rest *client.TwilioRestError
			if !errors.As(err, &rest) {
				t.Fatalf("err = %v, want *client.TwilioRestError", err)
			}
			if rest.Status != tt.wantStatus || rest.Code != tt.wantCode || rest.MoreInfo == "" || rest.Message == "" {
				t.Errorf("error = %+v, want status %d code %d", rest, tt.wantStatus, tt.wantCode)
			}
			if n := len(fake.Messages()); n != 0 {
				t.Errorf("%d messages stored, want 0", n)
			}
			// The failure is used up (or the number still refused).
			_, err = send(c, tt.to, tt.body, "")
			if (err == nil) != (tt.name == "server error" || tt.name == "rate limited") {
				t.Errorf("second try: err = %v", err)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	_, _, base := MustServe(t, twiliofake.Config{})
	for name, c := range map[string]*twilio.RestClient{
		"wrong token":   twiliofake.NewRestClient(base, testSID, "wrongtoken"),
		"other account": twiliofake.NewRestClient(base, "AC00000000000000000000000000000002", testToken),
	} {
		_, err := send(c, "+8613800138000", "x", "")
		var rest *client.TwilioRestError
		if !errors.As(err, &rest) || rest.Status != 401 || rest.Code != twiliofake.CodeAuthenticate {
			t.Errorf("%s: err = %v, want 401/20003", name, err)
		}
	}
	// Without credentials at all: plain HTTP.
	resp, err := http.PostForm(base.String()+"/2010-04-01/Accounts/"+testSID+"/Messages.json", url.Values{"To": {"+8613800138000"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"code":20003`) {
		t.Errorf("no auth: %d %s", resp.StatusCode, b)
	}
}

type callback struct {
	form  url.Values
	valid bool
}

func TestStatusCallbacksSigned(t *testing.T) {
	var (
		mu   sync.Mutex
		got  []callback
		done = make(chan struct{}, 10)
	)
	validator := client.NewRequestValidator(testToken)
	var publicURL string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		ok := validator.ValidateBody(publicURL, body, r.Header.Get("X-Twilio-Signature"))
		mu.Lock()
		got = append(got, callback{form, ok})
		mu.Unlock()
		done <- struct{}{}
	}))
	defer hook.Close()
	publicURL = hook.URL + "/twilio/status?replica=a"

	fake, c, _ := MustServe(t, twiliofake.Config{Callbacks: true, CallbackDelay: time.Millisecond})
	fake.Undeliverable("+8613900139000", 0)
	ok, err := send(c, "+8613800138000", "one", publicURL)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := send(c, "+8613900139000", "two", publicURL)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("callbacks did not arrive")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	statuses := map[string][]string{}
	for _, cb := range got {
		if !cb.valid {
			t.Errorf("callback %v: signature does not validate", cb.form)
		}
		if cb.form.Get("AccountSid") != testSID {
			t.Errorf("callback AccountSid = %q", cb.form.Get("AccountSid"))
		}
		sid := cb.form.Get("MessageSid")
		statuses[sid] = append(statuses[sid], cb.form.Get("MessageStatus")+"/"+cb.form.Get("ErrorCode"))
	}
	if s := statuses[*ok.Sid]; len(s) != 2 || s[0] != "sent/" || s[1] != "delivered/" {
		t.Errorf("delivered message callbacks = %v", s)
	}
	if s := statuses[*bad.Sid]; len(s) != 2 || s[0] != "sent/" || s[1] != "undelivered/30003" {
		t.Errorf("undeliverable message callbacks = %v", s)
	}
	if m, _ := fake.Message(*ok.Sid); m.Status != "delivered" {
		t.Errorf("stored status = %q, want delivered", m.Status)
	}

	// A tampered body does not validate: the check above means something.
	if validator.ValidateBody(publicURL, []byte("MessageSid=SMx&MessageStatus=delivered"), twiliofake.Signature(testToken, publicURL, url.Values{"MessageSid": {"SMy"}})) {
		t.Error("validator accepted a signature for other parameters")
	}
}

func TestKeepsLastN(t *testing.T) {
	fake, c, _ := MustServe(t, twiliofake.Config{Keep: 3})
	var last string
	for i := range 5 {
		m, err := send(c, "+8613800138000", strings.Repeat("x", i+1), "")
		if err != nil {
			t.Fatal(err)
		}
		last = *m.Sid
	}
	msgs := fake.Messages()
	if len(msgs) != 3 || msgs[2].SID != last || msgs[0].Body != "xxx" {
		t.Fatalf("kept %d messages (%+v), want the last 3", len(msgs), msgs)
	}
}

func TestConcurrentSends(t *testing.T) {
	fake, c, _ := MustServe(t, twiliofake.Config{Callbacks: true, CallbackDelay: time.Millisecond})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := send(c, "+8613800138000", "x", ""); err != nil {
				t.Error(err)
			}
			fake.Messages()
		})
	}
	wg.Wait()
	if n := len(fake.MessagesTo("+8613800138000")); n != 20 {
		t.Errorf("%d messages, want 20", n)
	}
}

func TestTransportLeavesOtherHosts(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "other") }))
	defer other.Close()
	_, _, base := MustServe(t, twiliofake.Config{})
	hc := &http.Client{Transport: twiliofake.Transport(base)}
	resp, err := hc.Get(other.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "other" {
		t.Errorf("other host answered %q", b)
	}
	resp, err = hc.Get("https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/SMx.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 { // reached the fake, which wants credentials
		t.Errorf("api.twilio.com: status %d, want the fake's 401", resp.StatusCode)
	}
}
