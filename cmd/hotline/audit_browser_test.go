package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// signIn signs in on the login page and waits for the staff page.
func (b *browser) signIn(t *testing.T, m *Main, name, password string) {
	t.Helper()
	b.do(t, name+": sign in",
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#filters`)),
	)
}

// A dispatcher opens a resident's ticket on /staff: phone and address
// masked. One click shows them in full and says the view is recorded; the
// street's administrator finds the view on /audit.
func TestBrowserContactShownOnceAndAudited(t *testing.T) {
	m := MustRunMain(t)
	mustAddUser(t, m, "zhao.min", "dispatcher", "center", "dispatch pass 2024")
	mustAddUser(t, m, "wang.admin", "admin", "", "admin pass 2024!")
	lat, long := officeOf(t, m, "c01")
	tk, _, err := m.Server.Intake.Submit(context.Background(), intake.Submission{Channel: hotline.ChannelWeb,
		ServiceCode: "elderly_visit", Description: "独居老人需要有人上门看看", Lat: &lat, Long: &long,
		Address: residentAddr, Phone: residentPhone, FirstName: "阿婆", LastName: "张", Consent: true, Actor: "resident"}, "")
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	b.signIn(t, m, "zhao.min", "dispatch pass 2024")
	b.do(t, "open the ticket",
		chromedp.Navigate(m.URL()+"/staff?ticket="+tk.ID),
		chromedp.WaitVisible(chromedp.CSS("#contact-show")),
	)
	facts := b.text(t, "#detail-facts")
	if !strings.Contains(facts, "138****5678") || !strings.Contains(facts, "长寿路 ***") || strings.Contains(facts, "100 号") {
		t.Errorf("the detail before the click: %q, want the phone and the door masked", facts)
	}
	if got := eval[bool](t, b, `document.getElementById("audit-link").hidden`); !got {
		t.Error("a dispatcher is offered the audit log")
	}
	b.do(t, "show the details in full",
		chromedp.Click(chromedp.CSS("#contact-show")),
		chromedp.WaitVisible(chromedp.CSS("#contact-full dl")),
	)
	full := b.text(t, "#contact-full")
	for _, want := range []string{"+86" + residentPhone, residentAddr, "张 阿婆", "本次查看已记录"} {
		if !strings.Contains(full, want) {
			t.Errorf("the details in full %q lack %q", full, want)
		}
	}
	b.checkPage(t)

	// The board's detail has the same button, the details kept once shown.
	b.do(t, "open the ticket on the board",
		chromedp.Navigate(m.URL()+"/board?ticket="+tk.ID),
		chromedp.WaitVisible(chromedp.CSS("#contact-show")),
	)
	if facts := b.text(t, "#detail-facts"); !strings.Contains(facts, "138****5678") || strings.Contains(facts, residentPhone) {
		t.Errorf("the board's detail: %q, want the phone masked", facts)
	}
	b.do(t, "show the details in full on the board",
		chromedp.Click(chromedp.CSS("#contact-show")),
		chromedp.WaitVisible(chromedp.CSS("#contact-full dl")),
	)
	if full := b.text(t, "#contact-full"); !strings.Contains(full, "+86"+residentPhone) {
		t.Errorf("the board's details in full: %q", full)
	}
	b.checkPage(t)

	admin := newBrowser(t)
	admin.signIn(t, m, "wang.admin", "admin pass 2024!")
	// The log's count says it has read the log (empty while loading, then
	// "正在读取……"): the page's script is running, and a search goes
	// through it rather than the form's own submission.
	loaded := `((s) => s !== "" && s !== "正在读取……")(document.getElementById("audit-count").textContent)`
	admin.do(t, "follow the link to the audit log",
		chromedp.WaitVisible(chromedp.CSS("#audit-link")),
		chromedp.Click(chromedp.CSS("#audit-link")),
		chromedp.WaitVisible(chromedp.CSS("#f-ticket")),
	)
	admin.do(t, "wait for the log", chromedp.Poll[chromedp.Void](loaded))
	admin.do(t, "search the ticket's entries",
		chromedp.SendKeys(chromedp.CSS("#f-ticket"), tk.ID),
		chromedp.Click(chromedp.CSS(`#filters button[type="submit"]`)),
		chromedp.Poll[chromedp.Void](`location.search.includes("ticket=`+tk.ID+`")`),
		chromedp.Poll[chromedp.Void](loaded),
		chromedp.WaitVisible(chromedp.CSS("#audit-body tr")),
	)
	row := admin.text(t, "#audit-body tr")
	for _, want := range []string{"zhao.min", "调度员", "电话、地址", "/contact"} {
		if !strings.Contains(row, want) {
			t.Errorf("the audit row %q lacks %q", row, want)
		}
	}
	if got, want := admin.text(t, "#audit-count"), "共 2 条"; got != want { // /staff and /board
		t.Errorf("count %q, want %q", got, want)
	}
	admin.checkPage(t)
}
