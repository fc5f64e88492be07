package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline"
)

// A neighbour registers as a volunteer on the public form (on a phone);
// a social worker approves the registration, with a classification, on the
// review page; a resident files a need in the volunteer's committee, and
// the committee's staff assign the volunteer to it from the board's ticket
// detail, where the suggestion shows its distance, load and reason.
func TestBrowserVolunteerApprovedAndAssignedFromTheBoard(t *testing.T) {
	m := MustRunMain(t)
	n := m.Directory.Network()

	// As in the board's test: an address the gazetteer places in c07 and a
	// category c07 handles, so that routing gives the ticket to c07.
	const committee, category, address = "c07", "facilities", "长寿路178号"
	unit, ok := n.Unit(committee)
	if !ok || !unit.Handles(category) {
		t.Fatalf("the demo street has no committee %s handling %s", committee, category)
	}
	mustAddUser(t, m, "zhou.sw", "social_worker", "center", "social pass 2024")
	mustAddUser(t, m, "li.hua", "committee", committee, "committee pass 2024")

	// The registration, on a phone-sized screen.
	neighbour := newBrowser(t)
	skill := `#skills input[name="skills"][value="` + category + `"]`
	neighbour.do(t, "neighbour: open the registration form from the home page",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/volunteer"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/volunteer"]`)),
		chromedp.WaitVisible(chromedp.CSS(skill)),
		chromedp.WaitReady(chromedp.CSS(`#committee option[value="`+committee+`"]`)),
	)
	if got := neighbour.text(t, "h1"); got != "成为志愿者" {
		t.Errorf("registration page title = %q", got)
	}
	// In English the form and the registry's own lists (languages) switch.
	neighbour.do(t, "neighbour: English, then back to Chinese",
		chromedp.Click(chromedp.CSS(`button[data-set-lang="en"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("h1").textContent === "Volunteer with us"`),
	)
	if got := neighbour.text(t, "#languages"); !strings.Contains(got, "Shanghainese") {
		t.Errorf("languages in English = %q", got)
	}
	neighbour.do(t, "neighbour: back to Chinese",
		chromedp.Click(chromedp.CSS(`button[data-set-lang="zh"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector("h1").textContent === "成为志愿者"`),
	)
	if got := neighbour.text(t, "#languages"); !strings.Contains(got, "上海话") {
		t.Errorf("languages in Chinese = %q", got)
	}
	neighbour.do(t, "neighbour: send without consent",
		chromedp.SendKeys(chromedp.CSS("#name"), "陈志远"),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13900139000"),
		chromedp.SetValue(chromedp.CSS("#committee"), committee),
		chromedp.Click(chromedp.CSS(skill)),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#consent-error")),
	)
	neighbour.do(t, "neighbour: agree and register",
		chromedp.Click(chromedp.CSS("#consent")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	if got := neighbour.text(t, "#done"); !strings.Contains(got, "报名已收到") {
		t.Errorf("confirmation = %q", got)
	}
	neighbour.checkPage(t)

	// The social worker's review.
	sw := newBrowser(t)
	sw.do(t, "social worker: sign in and open the review page from the staff page",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "zhou.sw"),
		chromedp.SendKeys(chromedp.CSS("#password"), "social pass 2024"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#volunteers-link")),
		chromedp.Click(chromedp.CSS("#volunteers-link")),
		chromedp.WaitVisible(chromedp.CSS(`#volunteers-body tr[data-volunteer]`)),
	)
	id := eval[string](t, sw, `document.querySelector("#volunteers-body tr[data-volunteer]").dataset.volunteer`)
	row := `#volunteers-body tr[data-volunteer="` + id + `"]`
	if got := sw.text(t, row); !strings.Contains(got, "陈志远") || !strings.Contains(got, "+8613900139000") || !strings.Contains(got, "待审核") {
		t.Errorf("review row = %q, want the name, the full phone (a social worker sees it) and 待审核", got)
	}
	sw.do(t, "social worker: approving without a class is refused on the page",
		chromedp.Click(chromedp.CSS(row+` [data-action="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#row-error-`+id)),
	)
	sw.do(t, "social worker: approve as a skilled volunteer",
		chromedp.SetValue(chromedp.CSS(row+` select[data-classify]`), "skilled"),
		chromedp.Click(chromedp.CSS(row+` [data-action="approve"]`)),
		chromedp.Poll[chromedp.Void](`((e) => e && e.textContent === "已通过")(document.querySelector('`+row+` .badge'))`),
	)
	if got := sw.text(t, "#action-status"); !strings.Contains(got, "陈志远") {
		t.Errorf("announcement after approval = %q", got)
	}

	// A bulk import with one good row and one bad: the bad one is listed
	// with its line, column and reason.
	file := filepath.Join(t.TempDir(), "volunteers.csv")
	csv := "姓名,手机,居委会,技能,语言\n王芳,13800138001,c07,facilities,zh\n坏号码,12345,c07,facilities,zh\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	sw.do(t, "social worker: import a CSV",
		chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{file}),
		chromedp.Click(chromedp.CSS("#import-submit")),
		chromedp.WaitVisible(chromedp.CSS("#import-rejected")),
	)
	if got := sw.text(t, "#import-summary"); !strings.Contains(got, "新增或更新 1 人") || !strings.Contains(got, "1 行没有导入") {
		t.Errorf("import summary = %q", got)
	}
	if got := sw.text(t, "#import-rejected tbody"); !strings.Contains(got, "3") || !strings.Contains(got, "手机") {
		t.Errorf("rejected rows = %q, want line 3, the phone column", got)
	}
	sw.checkPage(t)

	// The committee assigns the volunteer from the board.
	c07 := newBrowser(t)
	c07.signInToBoard(t, m, "li.hua", "committee pass 2024")

	// A resident's need in c07, filed once the board is live.
	resp := postJSON(t, http.DefaultClient, m.URL()+"/api/v1/tickets", map[string]any{
		"service_code": category, "description": "楼道灯坏了，晚上看不见", "address_string": address,
		"phone": "13812345678", "consent": true,
	}, nil, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("file a need: %d", resp.StatusCode)
	}
	var ticketID string
	if loc := resp.Header.Get("Location"); strings.HasPrefix(loc, "/api/v1/tickets/") {
		ticketID = strings.TrimSuffix(strings.TrimPrefix(loc, "/api/v1/tickets/"), "/status")
	}
	if !hotline.ValidTicketID(ticketID) {
		t.Fatalf("no ticket id in the answer's Location %q", resp.Header.Get("Location"))
	}

	pick := `#vol-suggestions input[name="volunteer"][value="` + id + `"]`
	c07.do(t, "committee: open the ticket; the volunteer is suggested",
		chromedp.Poll[chromedp.Void](queueStatus(ticketID)+` === "已派单"`),
		chromedp.Click(chromedp.CSS(`.q-item[data-ticket="`+ticketID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#vol-box")),
		chromedp.WaitVisible(chromedp.CSS(pick)),
	)
	suggestion := c07.text(t, `#vol-suggestions li[data-volunteer="`+id+`"]`)
	for _, want := range []string{"陈志远", "139****9000", "距离", "手头 0 件任务", "公共设施"} {
		if !strings.Contains(suggestion, want) {
			t.Errorf("suggestion %q lacks %q", suggestion, want)
		}
	}
	if strings.Contains(suggestion, "13900139000") || strings.Contains(suggestion, " m away") {
		t.Errorf("suggestion %q shows the volunteer's phone to committee staff", suggestion)
	}
	if got := c07.text(t, "#vol-box"); !strings.Contains(got, "还没有派志愿者") {
		t.Errorf("volunteers part before assigning = %q", got)
	}
	// The ticket's detail is drawn again when the board hears of the
	// change, so the assignment is read by polling, not from one node.
	c07.do(t, "committee: assign the volunteer; the assignment shows, offered",
		chromedp.Click(chromedp.CSS(pick)),
		chromedp.Click(chromedp.CSS("#vol-assign-submit")),
		chromedp.Poll[chromedp.Void](`(() => { const li = document.querySelector('#vol-assignments li[data-volunteer="`+id+`"]');
			return !!li && li.textContent.includes("陈志远") && li.textContent.includes("已发出，待回复"); })()`),
	)
	c07.do(t, "committee: the assignment is announced to screen readers",
		chromedp.Poll[chromedp.Void](`((document.getElementById("vol-status") || {}).textContent || "").includes("已派给 1 位志愿者")`),
	)
	// Withdrawing takes two presses: the first only asks.
	withdraw := `#vol-assignments li[data-volunteer="` + id + `"] .vol-withdraw`
	c07.do(t, "committee: withdraw the offer, confirming in place",
		chromedp.Click(chromedp.CSS(withdraw)),
		chromedp.Poll[chromedp.Void](`(document.querySelector('`+withdraw+`') || {}).textContent === "确认撤回？"`),
		chromedp.Click(chromedp.CSS(withdraw)),
		chromedp.Poll[chromedp.Void](`(() => { const li = document.querySelector('#vol-assignments li[data-volunteer="`+id+`"]');
			return !!li && li.dataset.status === "withdrawn" && !li.querySelector(".vol-withdraw"); })()`),
		chromedp.Poll[chromedp.Void](`((document.getElementById("vol-status") || {}).textContent || "").includes("已撤回")`),
	)
	c07.checkPage(t)
}
