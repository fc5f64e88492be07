package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/volunteers"
)

// auditLog is the answer of GET /api/v1/audit.
type auditLog struct {
	Entries []hotline.AuditEntry `json:"entries"`
	More    bool                 `json:"more"`
}

// MustAudit reads the audit log as the administrator with query q.
func (f *accessFixture) MustAudit(t *testing.T, q string) auditLog {
	t.Helper()
	code, _, body := f.Do(t, "admin", "GET", "/api/v1/audit?"+q, "")
	if code != 200 {
		t.Fatalf("audit ?%s: %d %s", q, code, body)
	}
	var l auditLog
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// Every view of a resident's details in full is recorded, and only the
// administrator reads the record; masked views are not disclosures.
func TestAuditOfPersonalDetails(t *testing.T) {
	f := MustAccessFixture(t)
	c01, dispatcher := f.tickets["c01"], f.clients["c01d"].user

	// The dispatcher opens the ticket: phone, address and e-mail masked,
	// nothing recorded.
	code, _, body := f.Do(t, "c01d", "GET", "/api/v1/tickets/"+c01, "")
	if code != 200 || !strings.Contains(body, `"phone":"138****5678"`) || !strings.Contains(body, `"address":"长寿路 ***"`) {
		t.Fatalf("ticket view: %d %s", code, body)
	}
	if l := f.MustAudit(t, "ticket="+c01); len(l.Entries) != 0 {
		t.Fatalf("a masked view was recorded: %+v", l.Entries)
	}

	// They ask for the details in full: recorded before the answer.
	before := time.Now()
	code, _, body = f.Do(t, "c01d", "GET", "/api/v1/tickets/"+c01+"/contact", "")
	var full struct {
		Phone, Address, Email string
		AuditID               string `json:"audit_id"`
	}
	if err := json.Unmarshal([]byte(body), &full); code != 200 || err != nil {
		t.Fatalf("contact: %d %s", code, body)
	}
	if full.Phone != "+86"+residentPhone || full.Address != residentAddr || full.Email != "zhang.apo@example.com" || full.AuditID == "" {
		t.Fatalf("contact answered %+v", full)
	}
	after := time.Now()

	l := f.MustAudit(t, "ticket="+c01)
	if len(l.Entries) != 1 {
		t.Fatalf("audit of %s: %+v, want the one view", c01, l.Entries)
	}
	e := l.Entries[0]
	if e.ID != full.AuditID || e.UserID != dispatcher.ID || e.Username != "c01.disp" || e.Role != hotline.RoleDispatcher ||
		e.UnitID != "c01" || e.TicketID != c01 || e.Via != "GET /api/v1/tickets/{id}/contact" ||
		!slices.Equal(e.Fields, []string{hotline.AuditPhone, hotline.AuditAddress, hotline.AuditEmail}) {
		t.Errorf("entry %+v", e)
	}
	if e.At.Before(before.Add(-time.Second)) || e.At.After(after.Add(time.Second)) {
		t.Errorf("entry at %v, want between %v and %v", e.At, before, after)
	}
	// The same entry by the reader's username or id, and within the day.
	today := e.At.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly) // dates are Shanghai days; the entry's, should midnight pass meanwhile
	for _, q := range []string{"user=c01.disp", "user=" + dispatcher.ID, "user=C01.Disp&ticket=" + c01,
		"from=" + today + "&to=" + today} {
		if l := f.MustAudit(t, q); !slices.ContainsFunc(l.Entries, func(x hotline.AuditEntry) bool { return x.ID == e.ID }) {
			t.Errorf("?%s: %+v lacks %s", q, l.Entries, e.ID)
		}
	}
	for _, q := range []string{"user=c02.staff", "ticket=" + f.tickets["c02"], "from=" + url.QueryEscape(after.Add(time.Minute).Format(time.RFC3339))} {
		if l := f.MustAudit(t, q); slices.ContainsFunc(l.Entries, func(x hotline.AuditEntry) bool { return x.ID == e.ID }) {
			t.Errorf("?%s holds %s", q, e.ID)
		}
	}

	// The volunteer who accepted their task was texted the resident's
	// phone and address: recorded too, under the volunteer.
	l = f.MustAudit(t, "ticket="+f.tickets["vol"])
	if !slices.ContainsFunc(l.Entries, func(x hotline.AuditEntry) bool {
		return x.Via == volunteers.AuditContactVia && x.UserID == "volunteer:"+f.volunteers["vol"] &&
			slices.Equal(x.Fields, []string{hotline.AuditPhone, hotline.AuditAddress})
	}) {
		t.Errorf("no entry of the contact texted to the volunteer: %+v", l.Entries)
	}

	// An export of the volunteers is one entry with its count and query.
	if code, _, body := f.Do(t, "social", "GET", "/api/v1/volunteers/export.csv?committee=c01", ""); code != 200 || !strings.Contains(body, "13700000001") {
		t.Fatalf("export: %d %.200s", code, body)
	}
	l = f.MustAudit(t, "user=social")
	if len(l.Entries) != 1 || l.Entries[0].Count != 2 || l.Entries[0].Filter != "committee=c01" || l.Entries[0].TicketID != "" {
		t.Errorf("export entries %+v, want one of 2 records with its query", l.Entries)
	}

	// Only the administrator reads the log.
	for _, role := range []string{"c01d", "center", "social", "vol"} {
		if code, _, _ := f.Do(t, role, "GET", "/api/v1/audit?ticket="+c01, ""); code != 403 {
			t.Errorf("audit as %s: %d, want 403", role, code)
		}
	}
	for q, field := range map[string]string{"ticket=12345": "ticket", "from=yesterday": "from", "limit=0": "limit",
		"from=2026-03-02&to=2026-03-01": "from"} {
		code, _, body := f.Do(t, "admin", "GET", "/api/v1/audit?"+q, "")
		if code != 400 || !strings.Contains(body, `"`+field+`"`) {
			t.Errorf("?%s: %d %s, want 400 naming %s", q, code, body, field)
		}
	}
}

// A ticket that holds nothing personal discloses nothing: the answer is
// empty and nothing is recorded.
func TestAuditNothingToDisclose(t *testing.T) {
	f := MustAccessFixture(t)
	tk, _, err := f.m.Server.Intake.Submit(t.Context(), intakeAnonymous(), "")
	if err != nil {
		t.Fatal(err)
	}
	code, _, body := f.Do(t, "center", "GET", "/api/v1/tickets/"+tk.ID+"/contact", "")
	if code != 200 || strings.Contains(body, "audit_id") {
		t.Fatalf("contact of an anonymous ticket: %d %s", code, body)
	}
	if l := f.MustAudit(t, "ticket="+tk.ID); len(l.Entries) != 0 {
		t.Errorf("recorded %+v", l.Entries)
	}
}

// intakeAnonymous is a web ticket with no contact and no location.
func intakeAnonymous() intake.Submission {
	return intake.Submission{Channel: hotline.ChannelWeb, ServiceCode: "facilities",
		Description: "路灯坏了，晚上很黑", Actor: "resident"}
}
