package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/report"
	"github.com/caojiadu/hotline/server"
)

// mustSeedDraft stores a draft as the nightly grouping job writes one,
// and the record of the run that wrote it.
func mustSeedDraft(t *testing.T, m *Main, p *hotline.Project) *hotline.Project {
	t.Helper()
	ctx := context.Background()
	store := redisstore.NewProjectStore(m.store.DB)
	if written, err := store.SaveDraft(ctx, p); err != nil || !written {
		t.Fatalf("save the draft: written %v, %v", written, err)
	}
	now := time.Now()
	if err := store.SaveRun(ctx, &hotline.GroupingRun{Started: now.Add(-time.Minute), Finished: now,
		From: now.AddDate(-1, 0, 0), To: now, Tickets: 812, Groups: 40, Recurring: 1, New: 0, Continued: 1, Trigger: "cron"}); err != nil {
		t.Fatalf("save the run: %v", err)
	}
	return p
}

// download fetches a link of the page as the signed-in browser would: with
// the tab's cookies, which the page's own script cannot read (HttpOnly).
func (b *browser) download(t *testing.T, m *Main, href string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	got, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{m.URL()}})
	if err != nil {
		t.Fatalf("the browser's cookies: %v", err)
	}
	req, err := http.NewRequest(http.MethodGet, m.URL()+href, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range got.Cookies {
		if c.Name == server.SessionCookie {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A social worker opens the needs projects from the staff page and finds
// the draft the nightly job wrote, with its evidence; opens it, edits it
// into a proposal (title, target, budget), sees it become 提案, and
// exports it as a workbook and as Markdown.
func TestBrowserProjectDraftEditedIntoAProposalAndExported(t *testing.T) {
	m := MustRunMain(t)
	if m.Server == nil || m.Server.Projects == nil {
		t.Fatal("Main does not give the server its needs projects (Server.Projects is nil)")
	}
	mustAddUser(t, m, "zhou.sw", "social_worker", "center", "social pass 2024")

	months := []hotline.MonthCount{}
	for i, c := range []int{2, 3, 1, 4, 3, 5, 2, 4, 6, 3, 4, 5} {
		months = append(months, hotline.MonthCount{Month: time.Date(2025, time.Month(12+i), 1, 0, 0, 0, 0, time.UTC).Format("2006-01"), Count: c})
	}
	draft := mustSeedDraft(t, m, &hotline.Project{
		Year: 2027, TitleZH: "独居老人上门探访", TitleEN: "Home visits to elderly people living alone",
		SummaryZH: "叶家宅路和宜昌路的独居老人反复来电要求有人上门看看。", ServiceCode: "elderly_visit",
		Population: "elderly_alone", Committees: []string{"c01", "c02"},
		Evidence: hotline.Evidence{Tickets: 42, Residents: 30, Months: months,
			Committees:     []hotline.CommitteeCount{{Committee: "c01", Count: 30}, {Committee: "c02", Count: 12}},
			EscalatedShare: 0.25, UnresolvedShare: 0.1, Satisfaction: 4.2, Rated: 8,
			Examples: []string{"老人独居，腿脚不便，希望有人每周上门看看", "子女在外地，老人一个人住"},
			Keywords: []string{"独居", "探访", "上门"}, TicketIDs: []string{"160035", "160036", "160037"}},
		PersonTimes: 504, CostPerPersonTime: 80, Budget: 40320, OrgKind: "elderly_care",
		Trend: hotline.TrendGrowing, PreviousTickets: 30, GeneratedAt: time.Now().UTC(),
	})
	card := `#projects li[data-project="` + draft.ID + `"]`

	sw := newBrowser(t)
	sw.do(t, "social worker: sign in and open the needs projects from the staff page",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "zhou.sw"),
		chromedp.SendKeys(chromedp.CSS("#password"), "social pass 2024"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#projects-link")),
		chromedp.Click(chromedp.CSS("#projects-link")),
		chromedp.WaitVisible(chromedp.CSS(card)),
		chromedp.Poll[chromedp.Void](`document.getElementById("run-line").textContent.includes("812")`),
	)
	if got := sw.text(t, "#run-line"); !strings.Contains(got, "分析了 812 张工单") {
		t.Errorf("last run = %q", got)
	}
	got := sw.text(t, card)
	for _, want := range []string{"独居老人上门探访", "草案", "增长", "工单 42", "居民 30", "¥40,320", "叶家宅路居委会", "宜昌路居委会"} {
		if !strings.Contains(got, want) {
			t.Errorf("the draft's card %q lacks %q", got, want)
		}
	}
	if n := eval[int](t, sw, `document.querySelectorAll('`+card+` svg.proj-chart rect.bar').length`); n != 12 {
		t.Errorf("the card's monthly chart has %d bars, want 12", n)
	}
	if got := eval[string](t, sw, `document.querySelector('`+card+` rect.bar.last').dataset.count`); got != "5" {
		t.Errorf("the latest month's bar counts %s, want 5", got)
	}
	if href := eval[string](t, sw, `document.getElementById("year-xlsx").getAttribute("href")`); href != "/api/v1/projects/export.xlsx?year=2027" {
		t.Errorf("the year's export is %q", href)
	}
	sw.checkPage(t)

	// The draft's page: its evidence, then the edit into a proposal.
	sw.do(t, "social worker: open the draft",
		chromedp.Click(chromedp.CSS(card+" h3 a")),
		chromedp.WaitVisible(chromedp.CSS("#edit-form")),
		chromedp.WaitVisible(chromedp.CSS("#month-chart svg")),
	)
	if got := sw.text(t, "#measures"); !strings.Contains(got, "42") || !strings.Contains(got, "25%") || !strings.Contains(got, "4.2") {
		t.Errorf("the evidence's measures = %q", got)
	}
	if got := sw.text(t, "#examples"); !strings.Contains(got, "希望有人每周上门看看") {
		t.Errorf("examples = %q", got)
	}
	if got := eval[string](t, sw, `document.querySelector('#ticket-ids a').getAttribute("href")`); got != "/staff?ticket=160035" {
		t.Errorf("the first ticket links to %q", got)
	}
	if got := sw.text(t, "#budget-hint"); !strings.Contains(got, "¥40,320") {
		t.Errorf("the suggested budget = %q", got)
	}
	const title = "独居老人每周探访服务"
	sw.do(t, "social worker: edit the draft into a proposal",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("f-title_zh").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#f-title_zh"), title),
		chromedp.SetValue(chromedp.CSS("#f-target_person_times"), "480"),
		chromedp.SetValue(chromedp.CSS("#f-budget"), "38400"),
		chromedp.Click(chromedp.CSS("#edit-submit")),
		chromedp.Poll[chromedp.Void](`((b) => b && b.textContent === "提案")(document.querySelector("#badges .badge"))`),
	)
	if got := sw.text(t, "#page-title"); got != title {
		t.Errorf("page title after saving = %q", got)
	}
	if got := sw.text(t, "#action-status"); !strings.Contains(got, "提案") {
		t.Errorf("announcement after saving = %q", got)
	}
	if got := sw.text(t, "#facts"); !strings.Contains(got, "¥38,400") || !strings.Contains(got, "480") {
		t.Errorf("facts after saving = %q, want the budget and the target", got)
	}
	sw.do(t, "social worker: the proposal may now be purchased", chromedp.WaitVisible(chromedp.CSS("#purchase-form")))
	stored, err := redisstore.NewProjectStore(m.store.DB).FindProject(context.Background(), draft.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != hotline.ProjectProposal || stored.TitleZH != title || stored.TargetPersonTimes != 480 || stored.Budget != 38400 {
		t.Errorf("stored: status %s, title %q, target %d, budget %v", stored.Status, stored.TitleZH, stored.TargetPersonTimes, stored.Budget)
	}

	// The exports, from the page's links, with the browser's session.
	href := eval[string](t, sw, `document.getElementById("export-xlsx").getAttribute("href")`)
	resp := sw.download(t, m, href)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("XLSX export %s: %d %s", href, resp.StatusCode, body)
	}
	if got := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(got, `attachment; filename="project-`+draft.ID+`.xlsx"`) {
		t.Errorf("XLSX content disposition %q", got)
	}
	x, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("open the workbook: %v", err)
	}
	defer x.Close()
	if got, _ := x.GetCellValue(report.SheetProject, "A1"); got != title {
		t.Errorf("the workbook's title = %q, want %q", got, title)
	}

	href = eval[string](t, sw, `document.getElementById("export-md").getAttribute("href")`)
	resp = sw.download(t, m, href)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	md := string(body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(md, "# "+title+"\n") || !strings.Contains(md, "提案 / Proposal") ||
		!strings.Contains(md, "| 预算（元） Budget (yuan) | 38,400 |") {
		t.Errorf("Markdown export %s: %d\n%s", href, resp.StatusCode, md)
	}
	if strings.Contains(md, "160035") {
		t.Errorf("the Markdown names a ticket:\n%s", md)
	}
	sw.checkPage(t)
}
