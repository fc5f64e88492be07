package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/caojiadu/hotline"
)

// mustAddUser creates a staff account on m's data directory the way an
// administrator does, with `hotline user add`.
func mustAddUser(t *testing.T, m *Main, name, role, unit, password string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"user", "add", "--name", name, "--role", role, "--unit", unit,
		"--data", m.DataDir, "--password-stdin"}, strings.NewReader(password+"\n"), &out, &errOut)
	if err != nil {
		t.Fatalf("user add %s: %v (%s)", name, err, errOut.String())
	}
}

// signInToBoard signs in on the login page, checks that the staff page
// links to the board, and opens the board until it is live and has read
// the (empty) list of tickets. It opens /board by address rather than by
// the link, since the staff page may still be settling after sign-in.
func (b *browser) signInToBoard(t *testing.T, m *Main, name, password string) {
	t.Helper()
	b.do(t, name+": sign in",
		chromedp.EmulateViewport(820, 1180),
		chromedp.Navigate(m.URL()+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#filters`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/board"]`)),
	)
	b.do(t, name+": open the board",
		chromedp.Navigate(m.URL()+"/board"),
		chromedp.WaitVisible(chromedp.CSS("#conn.conn-connected")),
		chromedp.Poll[chromedp.Void](`document.getElementById("queue-count").textContent === "没有符合条件的工单。"`),
	)
}

// queueStatus is the status a board's queue shows for a ticket ("" when the
// ticket is not in the queue).
func queueStatus(id string) string {
	return `((e) => e ? e.textContent : "")(document.querySelector('.q-item[data-ticket="` + id + `"] .q-status'))`
}

// A resident files a need inside a committee's area. The street's
// dispatcher and the committee each watch their board in their own browser
// (separate sessions); the ticket appears on both without a reload, the
// committee accepts it on its board, and the dispatcher's board shows it
// accepted a moment later, through the live feed.
func TestBrowserBoardsFollowATicketLive(t *testing.T) {
	m := MustRunMain(t)
	n := m.Directory.Network()

	// An address the gazetteer places in c07's area, and a category c07
	// handles, so that routing gives the ticket to c07.
	const committee, category, address = "c07", "facilities", "长寿路178号"
	unit, ok := n.Unit(committee)
	if !ok || !unit.Handles(category) {
		t.Fatalf("the demo street has no committee %s handling %s", committee, category)
	}
	if got, ok := n.CommitteeForAddress(address); !ok || got.ID != committee {
		t.Fatalf("%s is placed in %q, want %s", address, got.ID, committee)
	}

	mustAddUser(t, m, "zhao.min", "dispatcher", "center", "dispatch pass 2024")
	mustAddUser(t, m, "li.hua", "committee", committee, "committee pass 2024")

	// Two browsers, two profiles: two cookie jars, two sessions.
	center := newBrowser(t)
	c07 := newBrowser(t)

	// Without the live feed the boards cannot connect: say so at once
	// rather than after a step's deadline.
	jar, _ := cookiejar.New(nil)
	api := &http.Client{Jar: jar}
	if resp := postJSON(t, api, m.URL()+"/api/v1/login", map[string]string{"username": "zhao.min", "password": "dispatch pass 2024"}, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	if resp := getJSON(t, api, m.URL()+"/ws", nil); resp.StatusCode == http.StatusServiceUnavailable {
		t.Fatalf("GET /ws answers 503: the live feed is not wired into cmd/hotline (Server.Feed)")
	}

	center.signInToBoard(t, m, "zhao.min", "dispatch pass 2024")
	c07.signInToBoard(t, m, "li.hua", "committee pass 2024")

	// A resident files the need through the web form, giving a typed
	// address the gazetteer places in c07 (长寿路 154–202, even side).
	resident := newBrowser(t)
	pick := `#categories input[name="service_code"][value="` + category + `"]`
	resident.do(t, "resident: file a need through the web form",
		chromedp.Navigate(m.URL()+"/"),
		chromedp.WaitVisible(chromedp.CSS(pick)),
		chromedp.Click(chromedp.CSS(pick)),
		chromedp.SendKeys(chromedp.CSS("#description"), "楼道灯坏了，晚上看不见"),
		chromedp.SendKeys(chromedp.CSS("#address_string"), address),
		chromedp.SendKeys(chromedp.CSS("#phone"), "13812345678"),
		chromedp.Click(chromedp.CSS("#consent")),
		chromedp.Click(chromedp.CSS("#submit")),
		chromedp.WaitVisible(chromedp.CSS("#done")),
	)
	id := eval[string](t, resident, `document.getElementById("ticket-no").dataset.ticketId`)
	if !hotline.ValidTicketID(id) {
		t.Fatalf("the form showed ticket number %q", id)
	}
	resident.checkPage(t)

	for name, b := range map[string]*browser{"dispatcher": center, "committee": c07} {
		b.do(t, name+": the new ticket appears, routed",
			chromedp.Poll[chromedp.Void](queueStatus(id)+` === "已派单"`),
		)
		if got := eval[string](t, b, `document.getElementById("announce").textContent`); !strings.Contains(got, "新工单") || !strings.Contains(got, unit.NameZH) {
			t.Errorf("%s board: announcement = %q, want the new ticket and %s", name, got, unit.NameZH)
		}
		if got := eval[string](t, b, `document.title`); !strings.HasPrefix(got, "(") || !strings.Contains(got, "新工单") {
			t.Errorf("%s board: title = %q, want the count of new tickets", name, got)
		}
		if got := eval[string](t, b, `document.querySelector('.q-item[data-ticket="`+id+`"]').closest("li").querySelector(".q-due").textContent`); !strings.Contains(got, "受理") {
			t.Errorf("%s board: countdown = %q, want the accept limit", name, got)
		}
		// Placed by its address, the ticket has no exact point: the map
		// counts it in its committee's area instead of drawing a dot.
		if got := eval[string](t, b, `document.querySelector('#map path[data-committee="`+committee+`"]').getAttribute("aria-label")`); !strings.Contains(got, "，1 条工单") {
			t.Errorf("%s board: %s area = %q, want it to count the ticket", name, committee, got)
		}
	}

	// The committee opens the ticket: its history and routing reason are
	// there, and it accepts.
	c07.do(t, "committee: open the ticket",
		chromedp.Click(chromedp.CSS(`.q-item[data-ticket="`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#actions [data-action="accept"]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("detail-history").children.length >= 1`),
	)
	// Routed at intake, the ticket's first event already places it.
	if got := c07.text(t, "#detail-history"); !strings.Contains(got, "需求已提交") || !strings.Contains(got, "已派单") {
		t.Errorf("committee: history = %q, want the created event, routed", got)
	}
	if got := c07.text(t, "#detail-reason"); got == "" {
		t.Errorf("committee: no routing reason shown")
	}
	c07.do(t, "committee: accept",
		chromedp.Click(chromedp.CSS(`#actions [data-action="accept"]`)),
		chromedp.Poll[chromedp.Void](`((e) => e && e.textContent === "已受理")(document.getElementById("detail-state"))`),
		chromedp.WaitVisible(chromedp.CSS(`#actions [data-action="start"]`)),
	)

	center.do(t, "dispatcher: the ticket shows accepted",
		chromedp.Poll[chromedp.Void](queueStatus(id)+` === "已受理"`),
	)
	if got := eval[string](t, center, `document.querySelector('.q-item[data-ticket="`+id+`"]').closest("li").querySelector(".q-due").textContent`); !strings.Contains(got, "办结") {
		t.Errorf("dispatcher board after accept: countdown = %q, want the resolve limit", got)
	}
	center.checkPage(t)
	c07.checkPage(t)
}
