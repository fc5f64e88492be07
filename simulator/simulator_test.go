package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/simulator"
	"github.com/caojiadu/hotline/twiliofake"
)

const (
	testToken  = "0123456789abcdef0123456789abcdef"
	testPublic = "https://hotline.example.org"
)

// fakeLine is a tiny stand-in for the hotline's webhooks: it checks every
// signature with twilio-go's own validator against the public URL, keeps
// every form it accepted, and answers a small IVR (greeting → menu →
// description by speech → recording → ticket number and hang-up).
type fakeLine struct {
	t         *testing.T
	token     string
	public    string
	validator client.RequestValidator

	mu    sync.Mutex
	forms map[string][]url.Values // by path?query
	// answers overrides the answer to a path?query.
	answers map[string]string
	// hold, when set, holds the first voice webhook until it is closed,
	// after telling arrived the call's sid: a call left ringing.
	hold    chan struct{}
	arrived chan string
}

func newFakeLine(t *testing.T, token, public string) *fakeLine {
	return &fakeLine{t: t, token: token, public: public, validator: client.NewRequestValidator(token),
		forms: map[string][]url.Values{}, answers: map[string]string{}}
}

func (f *fakeLine) got(key string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.forms[key])
}

func (f *fakeLine) answer(key, twiml string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[key] = twiml
}

func (f *fakeLine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	params := map[string]string{}
	for k, v := range r.PostForm {
		params[k] = v[0]
	}
	full := f.public + r.URL.RequestURI()
	if !f.validator.Validate(full, params, r.Header.Get("X-Twilio-Signature")) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	key := r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	f.mu.Lock()
	f.forms[key] = append(f.forms[key], r.PostForm)
	answer, ok := f.answers[key]
	f.mu.Unlock()
	if key == "/twilio/voice" && f.hold != nil {
		f.arrived <- r.PostForm.Get("CallSid")
		<-f.hold
	}
	w.Header().Set("Content-Type", "text/xml")
	if ok {
		io.WriteString(w, answer)
		return
	}
	switch key {
	case "/twilio/voice":
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Response>
<Say language="cmn-CN">您好，这里是曹家渡街道热线。</Say>
<Gather numDigits="1" action="/twilio/voice?step=menu" timeout="6"><Say language="cmn-CN">请按 1 报修。</Say></Gather>
<Say language="cmn-CN">没有听到您的选择，再见。</Say><Hangup/></Response>`)
	case "/twilio/voice?step=menu":
		if r.PostForm.Get("Digits") != "1" {
			io.WriteString(w, `<Response><Redirect>/twilio/voice</Redirect></Response>`)
			return
		}
		// A relative action, resolved against this document's URL.
		io.WriteString(w, `<Response><Gather input="speech" language="cmn-CN" action="?step=describe"><Say language="cmn-CN">请说说<say-as interpret-as="characters">具体</say-as>情况。</Say></Gather></Response>`)
	case "/twilio/voice?step=describe":
		io.WriteString(w, `<Response><Say language="cmn-CN">请在嘀声后留言，按井号结束。</Say><Record action="`+f.public+`/twilio/voice?step=record" maxLength="60" finishOnKey="#"/></Response>`)
	case "/twilio/voice?step=record":
		io.WriteString(w, `<Response><Say language="cmn-CN">已登记。您的编号是 1 6 0 0 3 5。</Say><Say language="en-US">Your ticket number is 1 6 0 0 3 5.</Say><Hangup/></Response>`)
	case "/twilio/sms":
		io.WriteString(w, `<Response><Message>收到。您的编号是 160035。</Message></Response>`)
	case "/twilio/status", "/twilio/recording":
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

type inboxFunc func(string) []twiliofake.Message

func (f inboxFunc) MessagesTo(p string) []twiliofake.Message { return f(p) }

// rig is a server.Server with the fake line's webhooks and the simulator
// mounted as cmd/hotline mounts them, served over HTTP.
type rig struct {
	line *fakeLine
	url  string
}

func newRig(t *testing.T, cfg simulator.Config, line *fakeLine, inbox simulator.Inbox) *rig {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv := &server.Server{Config: server.Config{PublicURL: cfg.PublicURL}}
	for _, p := range []string{"/twilio/voice", "/twilio/sms", "/twilio/status", "/twilio/recording"} {
		srv.Handle("POST "+p, line)
	}
	sim, err := simulator.New(cfg, srv.Handler(), inbox)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("/sim/", sim)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &rig{line: line, url: ts.URL}
}

func newDefaultRig(t *testing.T) *rig {
	return newRig(t, simulator.Config{AuthToken: testToken, PublicURL: testPublic, HotlineNumber: "021-62000000"},
		newFakeLine(t, testToken, testPublic), nil)
}

// call sends a JSON request and decodes the answer into out, checking the
// status.
func (rg *rig) call(t *testing.T, method, path string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, rg.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

func said(c simulator.Call) string {
	var s []string
	for _, p := range c.Prompts {
		s = append(s, p.Text)
	}
	return strings.Join(s, " | ")
}

func TestCallThroughTheMenuToATicketNumber(t *testing.T) {
	rg := newDefaultRig(t)

	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "138 0013 8000"}, http.StatusCreated, &c)
	if !strings.HasPrefix(c.SID, "CA") || len(c.SID) != 34 {
		t.Errorf("sid %q, want CA and 32 hex digits", c.SID)
	}
	if c.From != "+8613800138000" || c.To != "+862162000000" || c.Status != "in-progress" || c.Ended {
		t.Errorf("call %+v", c)
	}
	if got := said(c); got != "您好，这里是曹家渡街道热线。 | 请按 1 报修。" {
		t.Errorf("prompts %q", got)
	}
	if c.Prompts[0].Language != "cmn-CN" {
		t.Errorf("language %q", c.Prompts[0].Language)
	}
	if c.Wait == nil || c.Wait.Kind != "gather" || c.Wait.NumDigits != 1 || c.Wait.Timeout != 6 ||
		!slices.Equal(c.Wait.Input, []string{"dtmf"}) || c.Wait.FinishOnKey != "#" ||
		c.Wait.Action != testPublic+"/twilio/voice?step=menu" {
		t.Errorf("wait %+v", c.Wait)
	}
	first := rg.line.got("/twilio/voice")
	if len(first) != 1 {
		t.Fatalf("voice webhook called %d times", len(first))
	}
	for k, want := range map[string]string{"CallSid": c.SID, "From": "+8613800138000", "To": "+862162000000",
		"CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", "FromCountry": "CN"} {
		if got := first[0].Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(first[0].Get("AccountSid"), "AC") {
		t.Errorf("AccountSid %q", first[0].Get("AccountSid"))
	}

	// Keys past the first are not heard: numDigits is 1.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "12"}, http.StatusOK, &c)
	menu := rg.line.got("/twilio/voice?step=menu")
	if len(menu) != 1 || menu[0].Get("Digits") != "1" || menu[0].Get("CallStatus") != "in-progress" {
		t.Fatalf("menu forms %v", menu)
	}
	if got := said(c); got != "请说说具体情况。" {
		t.Errorf("prompts %q (SSML inside <Say> is said)", got)
	}
	if c.Wait == nil || !slices.Equal(c.Wait.Input, []string{"speech"}) || c.Wait.Action != testPublic+"/twilio/voice?step=describe" {
		t.Fatalf("wait %+v", c.Wait)
	}

	// Keys where speech is expected are refused, and nothing is posted.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusBadRequest, nil)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"speech": "  楼道灯  坏了 "}, http.StatusOK, &c)
	desc := rg.line.got("/twilio/voice?step=describe")
	if len(desc) != 1 || desc[0].Get("SpeechResult") != "楼道灯 坏了" || desc[0].Get("Confidence") == "" {
		t.Fatalf("describe forms %v", desc)
	}
	if c.Wait == nil || c.Wait.Kind != "record" || c.Wait.MaxLength != 60 {
		t.Fatalf("wait %+v", c.Wait)
	}
	if len(c.Prompts) != 2 || c.Prompts[1].Kind != "beep" {
		t.Errorf("prompts %+v, want the beep last", c.Prompts)
	}

	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"speech": "灯在三楼"}, http.StatusOK, &c)
	rec := rg.line.got("/twilio/voice?step=record")
	if len(rec) != 1 {
		t.Fatalf("record action called %d times", len(rec))
	}
	recURL := rec[0].Get("RecordingUrl")
	if !strings.HasPrefix(recURL, testPublic+"/sim/recordings/RE") || rec[0].Get("RecordingDuration") != "2" ||
		rec[0].Get("Digits") != "#" {
		t.Errorf("record form %v", rec[0])
	}
	rs := rg.line.got("/twilio/recording")
	if len(rs) != 1 || rs[0].Get("RecordingUrl") != recURL || rs[0].Get("RecordingStatus") != "completed" ||
		rs[0].Get("CallSid") != c.SID {
		t.Errorf("recording status callbacks %v", rs)
	}
	// The recording's URL serves the words typed for it.
	local := strings.TrimPrefix(recURL, testPublic)
	resp, err := http.Get(rg.url + local + ".mp3")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "灯在三楼") {
		t.Errorf("recording: %d %s", resp.StatusCode, b)
	}

	if !c.Ended || c.Status != "completed" || c.Wait != nil {
		t.Errorf("after the ticket number the call should be over: %+v", c)
	}
	if !slices.Equal(c.TicketIDs, []string{"160035"}) {
		t.Errorf("ticket ids %v", c.TicketIDs)
	}
	st := rg.line.got("/twilio/status")
	if len(st) != 1 || st[0].Get("CallStatus") != "completed" || st[0].Get("CallSid") != c.SID {
		t.Errorf("status callbacks %v", st)
	}

	// The whole call, for a page that reloads.
	var full simulator.Call
	rg.call(t, "GET", "/sim/calls/"+c.SID, nil, http.StatusOK, &full)
	if len(full.Transcript) < 8 || full.Transcript[2].Kind != "caller" || full.Transcript[2].Text != "12" {
		t.Errorf("transcript %+v", full.Transcript)
	}

	// A finished call takes no more input; hanging up again is harmless.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusConflict, nil)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/hangup", nil, http.StatusOK, &c)
	if len(rg.line.got("/twilio/status")) != 1 {
		t.Error("a second hang-up posted another status callback")
	}
}

func TestCallerHangsUpMidMenu(t *testing.T) {
	rg := newDefaultRig(t)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/hangup", nil, http.StatusOK, &c)
	if !c.Ended || c.Status != "completed" {
		t.Errorf("call %+v", c)
	}
	st := rg.line.got("/twilio/status")
	if len(st) != 1 || st[0].Get("CallStatus") != "completed" || st[0].Get("CallDuration") == "" {
		t.Errorf("status callbacks %v", st)
	}
}

func TestHangingUpWhileRingingIsNoAnswer(t *testing.T) {
	rg := newDefaultRig(t)
	rg.line.hold, rg.line.arrived = make(chan struct{}), make(chan string, 1)
	started := make(chan simulator.Call, 1)
	go func() {
		// Not rg.call: t.Fatal is for the test's goroutine only.
		var c simulator.Call
		resp, err := http.Post(rg.url+"/sim/calls", "application/json", strings.NewReader(`{"from":"13800138000"}`))
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&c)
			resp.Body.Close()
		}
		started <- c
	}()
	sid := <-rg.line.arrived
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls/"+sid+"/hangup", nil, http.StatusOK, &c)
	close(rg.line.hold)
	if !c.Ended || c.Status != "no-answer" {
		t.Errorf("hang-up while ringing: %+v", c)
	}
	st := rg.line.got("/twilio/status")
	if len(st) != 1 || st[0].Get("CallStatus") != "no-answer" || st[0].Get("CallDuration") != "0" {
		t.Errorf("status callbacks %v", st)
	}
	first := <-started
	if !first.Ended || first.Status != "no-answer" || len(first.Prompts) != 0 || first.Wait != nil {
		t.Errorf("the dial's answer after the hang-up: %+v", first)
	}
	if n := len(rg.line.got("/twilio/status")); n != 1 {
		t.Errorf("%d status callbacks, want 1", n)
	}
}

func TestSilenceFallsThroughToTheNextVerb(t *testing.T) {
	rg := newDefaultRig(t)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]any{"silence": true}, http.StatusOK, &c)
	if got := said(c); got != "没有听到您的选择，再见。" || !c.Ended {
		t.Errorf("after silence: %q ended=%v", got, c.Ended)
	}
	if n := len(rg.line.got("/twilio/voice?step=menu")); n != 0 {
		t.Errorf("the gather's action was posted %d times on silence", n)
	}
	// Only the finish key is silence too.
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "#"}, http.StatusOK, &c)
	if !c.Ended {
		t.Errorf("# alone should count as no input: %+v", c)
	}
}

func TestRedirectsAreFollowedAndLoopsStopped(t *testing.T) {
	rg := newDefaultRig(t)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	// A wrong key sends the fake back to the greeting by <Redirect>.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "7"}, http.StatusOK, &c)
	if got := said(c); !strings.Contains(got, "您好") || c.Wait == nil {
		t.Errorf("after the redirect: %q %+v", got, c.Wait)
	}
	if len(c.Webhooks) != 2 {
		t.Errorf("webhooks %+v, want the action and the redirect", c.Webhooks)
	}

	rg.line.answer("/twilio/voice?loop=1", `<Response><Say>again</Say><Redirect>?loop=1</Redirect></Response>`)
	rg.line.answer("/twilio/voice", `<Response><Redirect>/twilio/voice?loop=1</Redirect></Response>`)
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	if !c.Ended || !strings.Contains(c.Error, "redirects") {
		t.Errorf("a redirect loop should end the call with an error: %+v", c.Error)
	}
	if st := rg.line.got("/twilio/status"); len(st) == 0 || st[len(st)-1].Get("CallStatus") != "completed" {
		t.Errorf("status callbacks %v", st)
	}
}

func TestUnusableAnswersEndTheCallWithTheReason(t *testing.T) {
	for name, tc := range map[string]struct {
		answer string
		want   string
	}{
		"not xml":        {"hello", "no <Response>"},
		"not a response": {"<Foo/>", "<Foo>"},
		"broken":         {"<Response><Say>", "not well-formed"},
		"outside":        {`<Response><Redirect>https://elsewhere.example.com/x</Redirect></Response>`, "outside"},
	} {
		t.Run(name, func(t *testing.T) {
			rg := newDefaultRig(t)
			rg.line.answer("/twilio/voice", tc.answer)
			var c simulator.Call
			rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
			if !c.Ended || !strings.Contains(c.Error, tc.want) {
				t.Errorf("call %+v, want an error with %q", c, tc.want)
			}
		})
	}
}

func TestAWrongTokenIsRefusedByTheWebhook(t *testing.T) {
	line := newFakeLine(t, testToken, testPublic)
	rg := newRig(t, simulator.Config{AuthToken: "another-token", PublicURL: testPublic}, line, nil)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	if !c.Ended || c.Status != "failed" || !strings.Contains(c.Error, "403") || !strings.Contains(c.Error, "signature") {
		t.Errorf("call %+v", c)
	}
	if len(c.Webhooks) == 0 || c.Webhooks[0].Status != http.StatusForbidden {
		t.Errorf("webhooks %+v", c.Webhooks)
	}
}

func TestPublicURLWithAPathPrefix(t *testing.T) {
	public := "https://example.org/hotline"
	line := newFakeLine(t, testToken, public)
	rg := newRig(t, simulator.Config{AuthToken: testToken, PublicURL: public + "/"}, line, nil)
	line.answer("/twilio/voice", `<Response><Gather numDigits="1" action="voice?step=menu"><Say>press 1</Say></Gather></Response>`)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	if c.Ended || c.Wait == nil || c.Wait.Action != public+"/twilio/voice?step=menu" {
		t.Fatalf("call %+v", c)
	}
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusOK, &c)
	if c.Ended || c.Wait == nil || c.Wait.Action != public+"/twilio/voice?step=describe" {
		t.Fatalf("call %+v", c)
	}
	var cfg simulator.ConfigView
	rg.call(t, "GET", "/sim/config", nil, http.StatusOK, &cfg)
	if cfg.VoiceURL != public+"/twilio/voice" {
		t.Errorf("config %+v", cfg)
	}
}

func TestSMSRepliesAndTheInbox(t *testing.T) {
	now := time.Now()
	inbox := inboxFunc(func(p string) []twiliofake.Message {
		if p != "+8613800138000" {
			return nil
		}
		return []twiliofake.Message{{SID: "SM0", To: p, From: "+862162000000", Body: "您的编号是 160035",
			Status: "delivered", DateCreated: now.Add(-time.Minute)}}
	})
	rg := newRig(t, simulator.Config{AuthToken: testToken, PublicURL: testPublic, HotlineNumber: "+862162000000"},
		newFakeLine(t, testToken, testPublic), inbox)

	var res simulator.SMSResult
	rg.call(t, "POST", "/sim/sms", map[string]string{"from": "13800138000", "body": "进度？"}, http.StatusOK, &res)
	got := rg.line.got("/twilio/sms")
	if len(got) != 1 {
		t.Fatalf("sms webhook called %d times", len(got))
	}
	f := got[0]
	if !strings.HasPrefix(f.Get("MessageSid"), "SM") || len(f.Get("MessageSid")) != 34 || f.Get("Body") != "进度？" ||
		f.Get("From") != "+8613800138000" || f.Get("To") != "+862162000000" || f.Get("NumMedia") != "0" {
		t.Errorf("sms form %v", f)
	}
	if len(res.Replies) != 1 || res.Replies[0].Body != "收到。您的编号是 160035。" || !slices.Equal(res.Replies[0].TicketIDs, []string{"160035"}) {
		t.Errorf("replies %+v", res.Replies)
	}

	var in simulator.InboxView
	rg.call(t, "GET", "/sim/inbox?phone=13800138000", nil, http.StatusOK, &in)
	if len(in.Messages) != 3 {
		t.Fatalf("inbox %+v", in.Messages)
	}
	if in.Messages[0].Via != "rest" || in.Messages[1].Via != "phone" || in.Messages[1].Direction != "out" ||
		in.Messages[2].Via != "reply" || in.Messages[2].Direction != "in" {
		t.Errorf("inbox order %+v, want oldest first", in.Messages)
	}
	// No answer at all is no reply, not an error.
	rg.line.answer("/twilio/sms", "")
	rg.call(t, "POST", "/sim/sms", map[string]string{"from": "13800138000", "body": "谢谢"}, http.StatusOK, &res)
	if res.Error != "" || len(res.Replies) != 0 {
		t.Errorf("empty answer: %+v", res)
	}
	rg.call(t, "GET", "/sim/inbox?phone=13900139000", nil, http.StatusOK, &in)
	if len(in.Messages) != 0 {
		t.Errorf("another phone's inbox %+v", in.Messages)
	}
}

func TestBadRequestsAreRefusedWithAReason(t *testing.T) {
	rg := newDefaultRig(t)
	var c simulator.Call
	rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"POST", "/sim/calls", map[string]string{"from": "12"}, 400, "13812345678"},
		{"POST", "/sim/calls", map[string]string{"frm": "13800138000"}, 400, "frm"},
		{"POST", "/sim/calls", nil, 400, "no JSON body"},
		{"POST", "/sim/calls/CAnope/input", map[string]string{"digits": "1"}, 404, "dial again"},
		{"POST", "/sim/calls/CAnope/hangup", nil, 404, "dial again"},
		{"POST", "/sim/calls/" + c.SID + "/input", map[string]any{"digits": "1", "silence": true}, 400, "exactly one"},
		{"POST", "/sim/calls/" + c.SID + "/input", map[string]string{"digits": "1a"}, 400, "0-9"},
		{"POST", "/sim/calls/" + c.SID + "/input", map[string]string{"speech": "一"}, 400, "keys, not speech"},
		{"POST", "/sim/sms", map[string]string{"from": "13800138000", "body": "  "}, 400, "type a message"},
		{"POST", "/sim/sms", map[string]string{"from": "13800138000", "body": strings.Repeat("长", 1601)}, 400, "1600"},
		{"GET", "/sim/inbox", nil, 400, "phone"},
		{"GET", "/sim/recordings/REnope", nil, 404, "recording"},
		{"GET", "/sim/nothing", nil, 404, "no such simulator endpoint"},
	} {
		var body struct {
			Code  string `json:"code"`
			Error string `json:"error"`
		}
		rg.call(t, tc.method, tc.path, tc.body, tc.status, &body)
		if !strings.Contains(body.Error, tc.want) {
			t.Errorf("%s %s: error %q, want it to mention %q", tc.method, tc.path, body.Error, tc.want)
		}
	}
	// The call is still waiting at the greeting after all that.
	rg.call(t, "POST", "/sim/calls/"+c.SID+"/input", map[string]string{"digits": "1"}, http.StatusOK, &c)
	if c.Wait == nil || c.Wait.Action != testPublic+"/twilio/voice?step=describe" {
		t.Errorf("call %+v", c)
	}
}

func TestNewRefusesToRunWithoutTokenOrURL(t *testing.T) {
	h := http.NotFoundHandler()
	for name, cfg := range map[string]simulator.Config{
		"no token":   {PublicURL: testPublic},
		"no url":     {AuthToken: testToken},
		"bad url":    {AuthToken: testToken, PublicURL: "hotline.example.org"},
		"bad number": {AuthToken: testToken, PublicURL: testPublic, HotlineNumber: "abc"},
	} {
		if _, err := simulator.New(cfg, h, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	sim, err := simulator.New(simulator.Config{AuthToken: testToken, PublicURL: testPublic, HotlineNumber: "+8612345"}, h, nil)
	if err != nil || sim.HotlineNumber() != "+8612345" {
		t.Errorf("a service number in E.164: %v", err)
	}
	if _, err := simulator.New(simulator.Config{AuthToken: testToken, PublicURL: testPublic}, nil, nil); err == nil {
		t.Error("New accepted no webhook handler")
	}
}

func TestCallsAreBounded(t *testing.T) {
	line := newFakeLine(t, testToken, testPublic)
	rg := newRig(t, simulator.Config{AuthToken: testToken, PublicURL: testPublic, MaxCalls: 2}, line, nil)
	var sids []string
	for range 3 {
		var c simulator.Call
		rg.call(t, "POST", "/sim/calls", map[string]string{"from": "13800138000"}, http.StatusCreated, &c)
		sids = append(sids, c.SID)
	}
	rg.call(t, "GET", "/sim/calls/"+sids[0], nil, http.StatusNotFound, nil)
	rg.call(t, "GET", "/sim/calls/"+sids[2], nil, http.StatusOK, nil)
}
