package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/simulator"
	"github.com/caojiadu/hotline/volunteers"
)

// The volunteers' loop as `hotline serve` wires it: a social worker
// imports the street's list and approves a sign-up; c03's staff put the
// nearest qualified, available volunteer on a resident's ticket; the
// volunteer gets the offer by SMS (outbox, twilio-go, the fake API),
// accepts by replying 1 through the phone line, gets the resident's
// contact; the ticket is resolved and the volunteer's hours are counted
// (the feed's "volunteers" consumer group).
func TestVolunteerFromImportToHours(t *testing.T) {
	m := MustRunMain(t)
	ctx := context.Background()
	vs := m.Server.Volunteers
	social := &hotline.User{ID: "u-social", Username: "social", Role: hotline.RoleSocialWorker}
	c03 := &hotline.User{ID: "u-c03", Username: "c03staff", Role: hotline.RoleCommittee, UnitID: "c03"}

	const near, far = "+8613700000001", "+8613700000002"
	list := "姓名,手机,居委会,技能,语言,状态,分类\n" +
		"李阿姨,13700000001,c03,elderly_visit,zh;wuu,approved,general\n" +
		"赵师傅,13700000002,c14,elderly_visit,zh,approved,general\n" +
		"缺电话,,c03,elderly_visit,zh,approved,general\n"
	report, err := vs.Import(ctx, social, strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if report.Created != 2 || len(report.Rejected) != 1 || report.Rejected[0].Line != 4 {
		t.Fatalf("import report %+v: want 2 created and line 4 refused", report)
	}
	signup, err := vs.Register(ctx, volunteers.RegistrationForm{Name: "周同学", Phone: "13700000003", Committee: "c03",
		Skills: []string{"elderly_visit"}, Languages: []string{"zh", "en"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Approve(ctx, social, signup.ID, "youth"); err != nil {
		t.Fatal(err)
	}

	lat, long := officeOf(t, m, "c03")
	tk, _, err := m.Server.Intake.Submit(ctx, intake.Submission{Channel: hotline.ChannelWeb, ServiceCode: "elderly_visit",
		Description: "独居老人需要有人上门看看", Lat: &lat, Long: &long, Phone: "13800138000", FirstName: "阿婆", Consent: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	sugg, err := vs.Match(ctx, tk, time.Now(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(sugg) < 2 || sugg[0].Volunteer.Phone == far {
		t.Fatalf("suggestions %+v: want the c03 volunteers first, not the one in c14", sugg)
	}
	first := sugg[0].Volunteer
	if _, err := vs.Assign(ctx, c03, tk.ID, []string{first.ID}); err != nil {
		t.Fatal(err)
	}

	c := &http.Client{Timeout: 10 * time.Second}
	base := m.URL()
	offer := waitInbox(t, c, base, first.Phone, tk.ID)
	if strings.Contains(offer, "13800138000") || strings.Contains(offer, "阿婆") {
		t.Errorf("the offer gives the resident away before acceptance: %q", offer)
	}
	var answer simulator.SMSResult
	postJSON(t, c, base+"/sim/sms", map[string]string{"from": first.Phone, "body": "1"}, nil, &answer)
	waitInbox(t, c, base, first.Phone, "13800138000") // the resident's contact, now that the task is theirs

	if _, err := m.Dispatch.Accept(ctx, c03, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Dispatch.Resolve(ctx, c03, tk.ID, "志愿者已上门探望"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows, err := vs.Hours(ctx, social, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), volunteers.ByVolunteer)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 1 && rows[0].Hours > 0 && rows[0].Tasks == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hours after the resolution: %+v, want one volunteer with one task", rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// officeOf returns the point of a unit of the running service's network.
func officeOf(t *testing.T, m *Main, id string) (lat, long float64) {
	t.Helper()
	u, ok := m.Directory.Network().Unit(id)
	if !ok {
		t.Fatalf("no unit %s", id)
	}
	return u.Lat, u.Long
}

// waitInbox waits until the phone has received, through Twilio's REST API,
// an SMS containing every one of wants, and returns it.
func waitInbox(t *testing.T, c *http.Client, base, phone string, wants ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var inbox simulator.InboxView
	for time.Now().Before(deadline) {
		inbox = simulator.InboxView{}
		getJSON(t, c, base+"/sim/inbox?phone="+url.QueryEscape(phone), &inbox)
		for _, m := range inbox.Messages {
			if m.Via == "rest" && !slices.ContainsFunc(wants, func(w string) bool { return !strings.Contains(m.Body, w) }) {
				return m.Body
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no SMS to %s containing %q; inbox %+v", phone, wants, inbox.Messages)
	return ""
}
