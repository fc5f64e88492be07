package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline/internal/browsertest"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// browser is a headless Chromium tab (internal/browsertest), with the
// short names these tests use.
type browser struct{ *browsertest.Browser }

func newBrowser(t *testing.T) *browser { return &browser{browsertest.New(t)} }

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

// serviceNames returns the catalogue's names by code, as the API serves them.
func serviceNames(t *testing.T, m *Main) map[string]hotline.Category {
	t.Helper()
	resp, err := http.Get(m.URL() + "/api/v1/services")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Services []hotline.Category `json:"services"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]hotline.Category{}
	for _, c := range body.Services {
		out[c.Code] = c
	}
	return out
}

// A resident fills in the form on a phone, gets a ticket number to read
// over the phone, and looks the ticket up with the last four digits of
// the phone number.
func TestBrowserResidentFilesANeedAndChecksItsStatus(t *testing.T) {
	m := MustRunMain(t)
	b := newBrowser(t)
	cat, ok := serviceNames(t, m)["facilities"]
	if !ok {
		t.Fatal(`the catalogue has no "facilities" category`)
	}

	category := `#categories input[name="service_code"][value="facilities"]`
	b.do(t, "open the form",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(category)),
	)
	if got, want := eval[string](t, b, `document.documentElement.lang`), "zh-CN"; got != want {
		t.Errorf("html lang = %q, want %q", got, want)
	}
	if got := b.text(t, ".emergency"); !strings.Contains(got, "110") || !strings.Contains(got, "120") || !strings.Contains(got, "119") {
		t.Errorf("emergency notice = %q, want 110, 120 and 119", got)
	}
	if got := b.text(t, category+` ~ span .cat-name`); got != cat.NameZH {
		t.Errorf("category card = %q, want %q", got, cat.NameZH)
	}

	// Sending without a description shows the error next to the field.
	b.do(t, "send without a description",
		chromedp.Click(chromedp.CSS(category)),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#description-error")),
	)
	if got := b.text(t, "#description-error"); !strings.Contains(got, "需要什么帮助") {
		t.Errorf("description error = %q, want the Chinese message", got)
	}

	b.do(t, "fill in the form",
		chromedp.SendKeys(chromedp.CSS("#description"), "楼道灯坏了，晚上看不见"),
		chromedp.SendKeys(chromedp.CSS("#address_string"), "长寿路123弄4号"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13812345678"),
		chromedp.Click(chromedp.CSS("#consent")),
	)
	if got := eval[string](t, b, `document.getElementById("description").value`); got != "楼道灯坏了，晚上看不见" {
		t.Fatalf("description = %q: Chinese text did not reach the field", got)
	}
	// A double tap: two clicks in the same instant file one need.
	b.do(t, "send with a double tap",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("submit"); s.click(); s.click(); })()`),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	id := eval[string](t, b, `document.getElementById("ticket-no").dataset.ticketId`)
	if !hotline.ValidTicketID(id) {
		t.Fatalf("ticket number %q is not a valid ticket id", id)
	}
	shown := b.text(t, "#ticket-no")
	if strings.ReplaceAll(shown, " ", "") != id || !strings.Contains(shown, " ") {
		t.Errorf("ticket number shown as %q, want %q spaced for reading aloud", shown, id)
	}
	if got := b.text(t, "#done"); !strings.Contains(got, "已收到") || !strings.Contains(got, "记下") {
		t.Errorf("confirmation = %q", got)
	}
	if center, ok := m.Directory.Network().ServiceCenter(); ok && center.Phone != "" {
		b.do(t, "wait for the hotline number", chromedp.WaitVisible(chromedp.CSS("#done-phone")))
		if got := b.text(t, "#done-phone"); !strings.Contains(got, center.Phone) {
			t.Errorf("confirmation hotline line = %q, want the service center's %s", got, center.Phone)
		}
	}
	_, total, err := redisstore.NewTicketStore(m.store.DB).FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 {
		t.Errorf("%d tickets stored after a double tap, want 1", total)
	}
	b.checkPage(t)

	// The status link carries the number; the phone's last four digits
	// unlock the ticket.
	// The page's module runs after the form is visible: wait for it to
	// have filled in the number, and for the page to have loaded.
	b.do(t, "follow the status link",
		chromedp.Click(chromedp.CSS("#status-link")),
		chromedp.WaitVisible(chromedp.CSS("#last4")),
		chromedp.Poll[chromedp.Void](`document.readyState === "complete" && document.getElementById("ticket-id").value !== ""`),
	)
	if got := eval[string](t, b, `location.pathname + location.search`); got != "/status?id="+id {
		t.Errorf("status link went to %q", got)
	}
	if got := eval[string](t, b, `document.getElementById("ticket-id").value`); got != id {
		t.Errorf("id field = %q, want %q prefilled", got, id)
	}

	b.do(t, "look up with the wrong digits",
		chromedp.SendKeys(chromedp.CSS("#last4"), "0000"),
		chromedp.Click(chromedp.CSS("#lookup-submit")),
		chromedp.Poll[chromedp.Void](`document.getElementById("lookup-alert").textContent !== ""`),
	)
	if got := b.text(t, "#lookup-alert"); !strings.Contains(got, "没有找到该编号") {
		t.Errorf("wrong digits: alert = %q", got)
	}

	b.do(t, "look up with the right digits",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("last4").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#last4"), "5678"),
		chromedp.Click(chromedp.CSS("#lookup-submit")),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	)
	// Dispatch routes the ticket right after it is stored, so the
	// resident sees it either just filed or already sent to a unit.
	if got := b.text(t, "#result-status"); got != "新提交" && got != "已派单" {
		t.Errorf("status = %q, want 新提交 or 已派单", got)
	}
	facts := b.text(t, "#result-facts")
	for _, want := range []string{cat.NameZH, "楼道灯坏了，晚上看不见", "长寿路123弄4号"} {
		if !strings.Contains(facts, want) {
			t.Errorf("status facts %q lack %q", facts, want)
		}
	}
	if got := b.text(t, "#result-history"); !strings.Contains(got, "需求已提交") {
		t.Errorf("history = %q, want the created event", got)
	}
	b.checkPage(t)
}

// The language switch turns the pages into English, keeps the choice for
// the next page, and switches back.
func TestBrowserEnglishSwitch(t *testing.T) {
	m := MustRunMain(t)
	b := newBrowser(t)
	cat := serviceNames(t, m)["facilities"]

	category := `#categories input[name="service_code"][value="facilities"]`
	b.do(t, "open the form and switch to English",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(category)),
		chromedp.Click(chromedp.CSS(`button[data-set-lang="en"]`)),
	)
	if got, want := b.text(t, `label[for="description"]`), "2. Tell us what is happening"; got != want {
		t.Errorf("description label = %q, want %q", got, want)
	}
	if got, want := b.text(t, `label[for="phone"]`), "Mobile number (optional)"; got != want {
		t.Errorf("phone label = %q, want %q", got, want)
	}
	if got, want := b.text(t, "#submit"), "Send"; got != want {
		t.Errorf("submit button = %q, want %q", got, want)
	}
	if got := b.text(t, category+` ~ span .cat-name`); got != cat.NameEN {
		t.Errorf("category card = %q, want %q", got, cat.NameEN)
	}
	if got, want := eval[string](t, b, `document.documentElement.lang`), "en"; got != want {
		t.Errorf("html lang = %q, want %q", got, want)
	}
	if got := eval[string](t, b, `document.querySelector('button[data-set-lang="en"]').getAttribute("aria-pressed")`); got != "true" {
		t.Errorf("English button aria-pressed = %q", got)
	}
	b.checkPage(t)

	// The choice is remembered on the next page.
	b.do(t, "open the status page",
		chromedp.Navigate(m.URL()+"/status"),
		chromedp.WaitVisible(chromedp.CSS("#last4")),
	)
	if got, want := b.text(t, `label[for="last4"]`), "Last 4 digits of your mobile"; got != want {
		t.Errorf("status page after switching: label = %q, want %q", got, want)
	}

	b.do(t, "switch back to Chinese",
		chromedp.Click(chromedp.CSS(`button[data-set-lang="zh"]`)),
	)
	if got, want := b.text(t, `label[for="last4"]`), "手机号后四位"; got != want {
		t.Errorf("after switching back: label = %q, want %q", got, want)
	}
	if got, want := eval[string](t, b, `document.documentElement.lang`), "zh-CN"; got != want {
		t.Errorf("html lang = %q, want %q", got, want)
	}

	// ?lang=en in the address wins over the stored choice.
	b.do(t, "open the form with ?lang=en",
		chromedp.Navigate(m.URL()+"/?lang=en"),
		chromedp.WaitVisible(chromedp.CSS(category)),
	)
	if got, want := b.text(t, "h1"), "Tell us what you need help with"; got != want {
		t.Errorf("?lang=en: heading = %q, want %q", got, want)
	}
	b.checkPage(t)
}

// The answer to the first submission is lost on the way back (the request
// reached the server, the phone never heard): the resident sees that it may
// not have been saved, presses send again, and the same Idempotency-Key
// makes the second press return the first ticket instead of a second one.
func TestBrowserRetryAfterALostAnswerFilesOnce(t *testing.T) {
	m := MustRunMain(t)
	b := newBrowser(t)

	category := `#categories input[name="service_code"][value="home_repair"]`
	b.do(t, "fill in the form",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(category)),
		chromedp.Click(chromedp.CSS(category)),
		chromedp.SendKeys(chromedp.CSS("#description"), "厨房水龙头漏水"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13812345678"),
		chromedp.Click(chromedp.CSS("#consent")),
		// The first POST reaches the server, then its answer is dropped.
		chromedp.Evaluate[chromedp.Void](`(() => {
			const real = window.fetch;
			let lost = false;
			window.fetch = async (url, init) => {
				const res = await real(url, init);
				if (!lost && init && init.method === "POST") {
					lost = true;
					throw new TypeError("answer lost");
				}
				return res;
			};
		})()`),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.Poll[chromedp.Void](`document.getElementById("form-alert").textContent !== ""`),
	)
	if got := b.text(t, "#form-alert"); !strings.Contains(got, "不会重复登记") {
		t.Errorf("after a lost answer: alert = %q, want the network message", got)
	}
	tickets := redisstore.NewTicketStore(m.store.DB)
	_, total, err := tickets.FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 {
		t.Fatalf("%d tickets after the first press, want 1 (the answer was lost, not the request)", total)
	}

	b.do(t, "press send again",
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	id := eval[string](t, b, `document.getElementById("ticket-no").dataset.ticketId`)
	list, total, err := tickets.FindTickets(context.Background(), hotline.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || list[0].ID != id {
		t.Errorf("after the retry: %d tickets, shown %s; want the one first filed", total, id)
	}
	b.checkPage(t)
}
