package simulator_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline/internal/browsertest"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/simulator"
	"github.com/caojiadu/hotline/static"
)

// The browser test drives phone.html the way cmd/hotline's browser tests
// drive the other pages: Debian's Chromium, headless, on a phone-sized
// screen, with CSP violations, uncaught exceptions and console errors
// collected and failing the test.

// browser is a headless Chromium tab (internal/browsertest), with the
// short names these tests use.
type browser struct{ *browsertest.Browser }

func newBrowser(t *testing.T) *browser {
	b := &browser{browsertest.New(t)}
	b.Where = `location.href + " | alert: " + document.getElementById("sim-alert").textContent + " | log: " + document.getElementById("call-log").innerText`
	return b
}

func (b *browser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	b.Do(t, what, steps...)
}

func (b *browser) text(t *testing.T, css string) string {
	t.Helper()
	return b.Text(t, css)
}

func (b *browser) checkPage(t *testing.T) {
	t.Helper()
	b.CheckPage(t)
}

// eval evaluates a JavaScript expression into T.
func eval[T any](t *testing.T, b *browser, js string) T {
	t.Helper()
	return browsertest.Eval[T](t, b.Browser, js)
}

// waitStep waits until the call waits for input at a step whose action
// URL contains step.
func waitStep(step string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`(document.getElementById("call-wait").dataset.action || "").includes(` +
		`"step=` + step + `")`)
}

func key(k string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(`#keypad button[data-key="` + k + `"]`))
}

// A tester on a phone-sized screen dials the hotline on the simulator
// page, goes through the real menu on the keypad, says what is wrong,
// leaves a message, hears the ticket number, and finds it in the SMS pane;
// then calls again and hangs up.
func TestBrowserPhoneCallToATicketNumberBySMS(t *testing.T) {
	st := mustStreet(t)
	b := newBrowser(t)

	b.do(t, "open the simulator",
		chromedp.Navigate(st.url+"/phone.html"),
		chromedp.WaitVisible(chromedp.CSS("#dial")),
		chromedp.Poll[chromedp.Void](`document.getElementById("sim-to").textContent !== ""`),
	)
	if got := eval[string](t, b, `document.documentElement.lang`); got != "zh-CN" {
		t.Errorf("html lang = %q, want zh-CN", got)
	}
	if got := b.text(t, "h1"); got != "电话模拟" {
		t.Errorf("title %q", got)
	}
	if got := eval[string](t, b, `document.getElementById("sim-from").value`); got != "13800138000" {
		t.Errorf("caller's number %q", got)
	}

	b.do(t, "dial",
		chromedp.Click(chromedp.CSS("#dial")),
		chromedp.WaitVisible(chromedp.CSS("#hangup")),
		waitStep("menu"),
	)
	if got := b.text(t, "#call-log"); !strings.Contains(got, "热线") {
		t.Errorf("greeting: %q", got)
	}
	b.do(t, "keep Mandarin", key("1"), waitStep("category"))
	// Fourteen categories and fourteen committees: a number, then #.
	b.do(t, "choose the first category", key("1"), key("#"), waitStep("committee"))
	b.do(t, "choose the second committee", key("2"), key("#"), waitStep("describe"))
	b.do(t, "say what is wrong",
		chromedp.SendKeys(chromedp.CSS("#say"), "楼道灯坏了，晚上看不见"),
		chromedp.Click(chromedp.CSS("#say-send")),
		waitStep("record"),
	)
	b.do(t, "leave a message",
		chromedp.SendKeys(chromedp.CSS("#say"), "在三号楼二楼"),
		chromedp.Click(chromedp.CSS("#say-send")),
		chromedp.WaitVisible(chromedp.CSS("#call-ticket")),
		chromedp.WaitVisible(chromedp.CSS("#dial")),
	)
	id := eval[string](t, b, `document.getElementById("call-ticket-no").dataset.id`)
	if !hotline.ValidTicketID(id) {
		t.Fatalf("ticket number %q is not a valid ticket id", id)
	}
	if got := b.text(t, "#call-ticket-no"); !strings.Contains(strings.ReplaceAll(got, " ", ""), id) {
		t.Errorf("ticket number shown %q, want %s", got, id)
	}
	if got := b.text(t, "#call-state"); !strings.Contains(got, "已挂断") {
		t.Errorf("call state %q", got)
	}
	if got := b.text(t, "#call-log"); !strings.Contains(got, "楼道灯坏了") || !strings.Contains(got, "再见") {
		t.Errorf("call log %q", got)
	}

	b.do(t, "the ticket number arrives by SMS",
		chromedp.Poll[chromedp.Void](`Array.from(document.querySelectorAll('#sms-thread li[data-via="rest"]')).some((li) => li.textContent.includes("`+id+`"))`),
	)

	b.do(t, "text the number back",
		chromedp.SendKeys(chromedp.CSS("#sms-body"), id),
		chromedp.Click(chromedp.CSS("#sms-send")),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#sms-thread li.me").length === 1 && `+
			`document.getElementById("sms-body").value === ""`),
	)

	b.do(t, "call again and hang up",
		chromedp.Click(chromedp.CSS("#dial")),
		waitStep("menu"),
		chromedp.Click(chromedp.CSS("#hangup")),
		chromedp.WaitVisible(chromedp.CSS("#dial")),
	)
	if got := b.text(t, "#call-state"); !strings.Contains(got, "已挂断") {
		t.Errorf("after hanging up: %q", got)
	}
	if got := b.text(t, "#call-log"); !strings.Contains(got, "（挂断）") {
		t.Errorf("call log %q", got)
	}

	// Leaving the page in the middle of a call hangs up.
	b.do(t, "call and leave the page",
		chromedp.Click(chromedp.CSS("#dial")),
		waitStep("menu"),
	)
	sid := eval[string](t, b, `document.getElementById("call-log").dataset.sid`)
	b.do(t, "leave", chromedp.Navigate(st.url+"/status"), chromedp.WaitVisible(chromedp.CSS("#ticket-id")))
	rg := st.rig()
	for deadline := time.Now().Add(10 * time.Second); ; {
		var c simulator.Call
		rg.call(t, "GET", "/sim/calls/"+sid, nil, http.StatusOK, &c)
		if c.Ended {
			if c.Status != "completed" {
				t.Errorf("left call: %+v", c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaving the page did not hang up: %+v", c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.do(t, "back to the simulator",
		chromedp.Navigate(st.url+"/phone.html"),
		chromedp.Poll[chromedp.Void](`document.getElementById("sim-to").textContent !== ""`),
	)

	b.do(t, "switch to English",
		chromedp.Click(chromedp.CSS(`[data-set-lang="en"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("h1").textContent === "Phone simulator"`),
	)
	if got := b.text(t, "#dial"); got != "Call" {
		t.Errorf("dial button in English: %q", got)
	}
	if got := b.text(t, "#call-state"); got != "Not in a call" {
		t.Errorf("call state in English: %q", got)
	}
	if got := b.text(t, "#sms-thread"); !strings.Contains(got, "Hotline") {
		t.Errorf("SMS thread in English: %q", got)
	}
	b.checkPage(t)
}

// Where the simulator is not mounted (production), the page says it is
// off and shows no phone.
func TestBrowserPhonePageWhenTheSimulatorIsOff(t *testing.T) {
	ts := httptest.NewServer((&server.Server{Static: static.FS}).Handler())
	t.Cleanup(ts.Close)
	b := newBrowser(t)
	b.do(t, "open the page",
		chromedp.Navigate(ts.URL+"/phone.html"),
		chromedp.WaitVisible(chromedp.CSS("#sim-off")),
	)
	if got := b.text(t, "#sim-off"); !strings.Contains(got, "没有开启") {
		t.Errorf("notice %q", got)
	}
	if eval[bool](t, b, `!document.getElementById("sim-ui").hidden`) {
		t.Error("the phone is shown with the simulator off")
	}
	b.checkPage(t)
}
