package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/volunteers"
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
		// Clicked from script: the board redraws the detail when it hears
		// of the change, and a node chromedp found may be gone by its click.
		chromedp.Poll[chromedp.Void](`(() => { const b = document.querySelector('`+withdraw+`');
			if (!b) return false;
			if (b.textContent === "确认撤回？") return true;
			b.click(); return false; })()`),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('`+withdraw+`').click()`),
		chromedp.Poll[chromedp.Void](`(() => { const li = document.querySelector('#vol-assignments li[data-volunteer="`+id+`"]');
			return !!li && li.dataset.status === "withdrawn" && !li.querySelector(".vol-withdraw"); })()`),
		chromedp.Poll[chromedp.Void](`((document.getElementById("vol-status") || {}).textContent || "").includes("已撤回")`),
	)
	c07.checkPage(t)
}

// signInTo signs in on the login page and opens path once the staff page
// has come up.
func (b *browser) signInTo(t *testing.T, m *Main, name, password, path string) {
	t.Helper()
	b.do(t, name+": sign in and open "+path,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#filters")),
		chromedp.Navigate(m.URL()+path),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#profile dt").length > 0`),
	)
}

// A social worker opens a volunteer's record, edits their availability
// and a qualification's expiry in place and saves; the profile shows the
// new values. An edit made meanwhile by someone else is not overwritten:
// the second save is refused with a request to reload. Committee staff
// see the record without the edit button.
func TestBrowserVolunteerProfileEdit(t *testing.T) {
	m := MustRunMain(t)
	ctx := context.Background()
	vs := m.Server.Volunteers
	mustAddUser(t, m, "zhou.sw", "social_worker", "center", "social pass 2024")
	mustAddUser(t, m, "li.hua", "committee", "c07", "committee pass 2024")
	v, err := vs.Register(ctx, volunteers.RegistrationForm{Name: "陈志远", Phone: "13900139000", Committee: "c07",
		Skills: []string{"facilities"}, Languages: []string{"zh"}, Availability: "mon-fri 18:00-21:00",
		Qualifications: []volunteers.QualificationInput{{Kind: "electrician", Expires: "2026-12-31"}}})
	if err != nil {
		t.Fatal(err)
	}
	path := "/volunteers/" + v.ID

	sw := newBrowser(t)
	sw.signInTo(t, m, "zhou.sw", "social pass 2024", path)
	if got := sw.text(t, "#profile"); !strings.Contains(got, "mon-fri 18:00-21:00") || !strings.Contains(got, "有效期至 2026-12-31") {
		t.Errorf("profile before the edit = %q", got)
	}
	sw.do(t, "social worker: open the edit form; the name field has the focus",
		chromedp.WaitVisible(chromedp.CSS("#edit-open")),
		chromedp.Click(chromedp.CSS("#edit-open")),
		chromedp.WaitVisible(chromedp.CSS("#edit-form")),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "edit-name"`),
	)
	for js, want := range map[string]string{
		`document.getElementById("edit-name").value`:                                       "陈志远",
		`document.getElementById("edit-phone").value`:                                      "+8613900139000",
		`document.getElementById("edit-committee").value`:                                  "c07",
		`document.getElementById("edit-availability").value`:                               "mon-fri 18:00-21:00",
		`document.getElementById("edit-expires-electrician").value`:                        "2026-12-31",
		`String(document.querySelector('#edit-skills input[value="facilities"]').checked)`: "true",
		`String(document.getElementById("edit-expires-nurse").checkVisibility())`:          "false",
	} {
		if got := eval[string](t, sw, js); got != want {
			t.Errorf("%s = %q, want %q", js, got, want)
		}
	}

	// The availability in words the grammar does not know: the server's
	// field error shows next to the field, which takes the focus.
	sw.do(t, "social worker: an availability the registry refuses",
		chromedp.SetValue(chromedp.CSS("#edit-availability"), "weekends"),
		chromedp.Click(chromedp.CSS("#edit-save")),
		chromedp.WaitVisible(chromedp.CSS("#edit-availability-error")),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "edit-availability"`),
	)
	if got := sw.text(t, "#edit-availability-error"); !strings.Contains(got, "服务时间的写法不对") {
		t.Errorf("availability error = %q", got)
	}
	sw.do(t, "social worker: a new availability, a later expiry, and a nurse's qualification; save",
		chromedp.SetValue(chromedp.CSS("#edit-availability"), "sat 09:00-17:00; sun 14:00-18:00"),
		chromedp.SetValue(chromedp.CSS("#edit-expires-electrician"), "2028-06-30"),
		chromedp.Click(chromedp.CSS(`#edit-qualifications input[value="nurse"]`)),
		chromedp.WaitVisible(chromedp.CSS("#edit-expires-nurse")),
		chromedp.Click(chromedp.CSS("#edit-save")),
		chromedp.WaitNotVisible(chromedp.CSS("#edit-form")),
		chromedp.Poll[chromedp.Void](`document.getElementById("edit-status").textContent.includes("已保存 陈志远 的资料")`),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "edit-open"`),
	)
	profile := sw.text(t, "#profile")
	for _, want := range []string{"sat 09:00-17:00; sun 14:00-18:00", "电工 (有效期至 2028-06-30)", "护士"} {
		if !strings.Contains(profile, want) {
			t.Errorf("profile after the edit %q lacks %q", profile, want)
		}
	}
	admin := &hotline.User{ID: "u-admin", Role: hotline.RoleAdmin}
	stored, err := vs.Get(ctx, admin, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	expires := map[string]string{}
	for _, q := range stored.Qualifications {
		expires[q.Kind] = q.Expires.Format(time.RFC3339)
	}
	if stored.Availability != "sat 09:00-17:00; sun 14:00-18:00" || stored.Version != v.Version+1 || len(expires) != 2 ||
		expires["electrician"] != "2028-06-30T16:00:00Z" || expires["nurse"] != "0001-01-01T00:00:00Z" {
		t.Errorf("stored after the edit: %+v (qualifications %v); want electrician through 2028-06-30 in Shanghai, nurse for good", stored, expires)
	}
	sw.checkPage(t)

	// Someone else changes the profile meanwhile; the page still holds
	// the version it read, so its next save is refused, not applied.
	other := volunteers.Profile{RegistrationForm: volunteers.RegistrationForm{Name: "陈志远", Phone: "13900139000", Committee: "c07",
		Languages: []string{"zh"}}, Notes: "另一位社工的修改"}
	if _, err := vs.UpdateProfile(ctx, admin, v.ID, other); err != nil {
		t.Fatal(err)
	}
	sw.do(t, "social worker: a save over someone else's change is refused",
		chromedp.Click(chromedp.CSS("#edit-open")),
		chromedp.WaitVisible(chromedp.CSS("#edit-form")),
		chromedp.SetValue(chromedp.CSS("#edit-availability"), "sun 09:00-12:00"),
		chromedp.Click(chromedp.CSS("#edit-save")),
		chromedp.Poll[chromedp.Void](`document.getElementById("edit-alert").textContent.includes("请刷新页面")`),
	)
	if stored, _ := vs.Get(ctx, admin, v.ID); stored.Notes != "另一位社工的修改" || stored.Availability != "" {
		t.Errorf("the other change was overwritten: %+v", stored)
	}
	sw.do(t, "social worker: cancel; the focus goes back to the edit button",
		chromedp.Click(chromedp.CSS("#edit-cancel")),
		chromedp.WaitNotVisible(chromedp.CSS("#edit-form")),
		chromedp.Poll[chromedp.Void](`document.activeElement && document.activeElement.id === "edit-open"`),
	)
	sw.checkPage(t)

	// Committee staff read the record, with no way to edit it.
	c07 := newBrowser(t)
	c07.signInTo(t, m, "li.hua", "committee pass 2024", path)
	if got := c07.text(t, "#profile"); !strings.Contains(got, "139****9000") {
		t.Errorf("committee staff's profile = %q, want the phone masked", got)
	}
	if eval[bool](t, c07, `document.getElementById("edit-open").checkVisibility()`) {
		t.Error("committee staff see the edit button")
	}
	c07.checkPage(t)
}
