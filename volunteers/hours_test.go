package volunteers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/volunteers"
)

// MustDone stores a done task of v on a ticket of committee, category,
// hours, done at.
func (e *TaskEnv) MustDone(tb testing.TB, v *hotline.Volunteer, committee, category string, hours float64, at time.Time) {
	tb.Helper()
	a := &hotline.Assignment{TicketID: "160035", VolunteerID: v.ID, Status: hotline.AssignmentDone, By: "u-c01",
		OfferedAt: at.Add(-3 * time.Hour), AnsweredAt: at.Add(-2 * time.Hour), DoneAt: at, Hours: hours,
		Category: category, Committee: committee}
	if err := e.Asg.CreateAssignment(context.Background(), a); err != nil {
		tb.Fatal(err)
	}
}

// Hours by volunteer, group, committee and category over a period; the
// annual CSV; the record page; who sees what.
func TestHoursReportsExportAndRecord(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	b := e.MustVolunteer(t, "=张华", 300, func(v *hotline.Volunteer) { v.Committee, v.Groups = "c02", []string{"c02-repairs"} })
	c := e.MustVolunteer(t, "赵强", 600, func(v *hotline.Volunteer) { v.Groups = nil })
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e.MustDone(t, a, "c01", "elderly_meals", 2, year.Add(24*time.Hour))
	e.MustDone(t, a, "c01", "home_repair", 1, year.Add(48*time.Hour))
	e.MustDone(t, b, "c02", "home_repair", 3, year.Add(72*time.Hour))
	e.MustDone(t, c, "c01", "elderly_meals", 1.5, year.Add(96*time.Hour))
	e.MustDone(t, a, "c01", "elderly_meals", 5, year.AddDate(1, 0, 0)) // next year
	end := year.AddDate(1, 0, 0)

	want := map[string]string{
		volunteers.ByVolunteer: a.ID + "=3/2 " + b.ID + "=3/1 " + c.ID + "=1.5/1",
		volunteers.ByGroup:     "c01-meals=3/2 c02-repairs=3/1 =1.5/1",
		volunteers.ByCommittee: "c01=4.5/3 c02=3/1",
		volunteers.ByCategory:  "home_repair=4/2 elderly_meals=3.5/2",
	}
	for by, w := range want {
		rows, err := e.Tasker.Hours(ctx, sworker, year, end, by)
		if err != nil {
			t.Fatal(err)
		}
		if got := hoursLine(rows); got != w {
			t.Errorf("by %s: %s, want %s", by, got, w)
		}
	}
	rows, _ := e.Tasker.Hours(ctx, sworker, year, end, volunteers.ByCategory)
	if rows[0].Name != "居家维修" {
		t.Errorf("category name %q", rows[0].Name)
	}
	// A committee counts what was done in its area and by its people.
	rows, err := e.Tasker.Hours(ctx, c02Staff, year, end, volunteers.ByVolunteer)
	if err != nil || hoursLine(rows) != b.ID+"=3/1" {
		t.Errorf("c02's hours: %s, %v", hoursLine(rows), err)
	}
	rows, _ = e.Tasker.Hours(ctx, sworker, time.Time{}, time.Time{}, volunteers.ByVolunteer)
	if rows[0].Key != a.ID || rows[0].Hours != 8 {
		t.Errorf("all time: %s", hoursLine(rows))
	}
	_, err = e.Tasker.Hours(ctx, volunteerUser(a), year, end, volunteers.ByVolunteer)
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	_, err = e.Tasker.Hours(ctx, sworker, year, end, "street")
	AssertTaskCode(t, err, hotline.EINVALID)
	_, err = e.Tasker.Hours(ctx, sworker, end, year, volunteers.ByGroup)
	AssertTaskCode(t, err, hotline.EINVALID)

	// The annual CSV: full numbers for social workers, masked for a committee.
	var buf bytes.Buffer
	if err := e.Tasker.ExportHours(ctx, sworker, &buf, year, end); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFF")) {
		t.Errorf("no byte-order mark")
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(buf.String(), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHead := "volunteer_id,name,phone,committee,groups,tasks,hours,hours:elderly_meals,hours:home_repair"
	if got := strings.Join(recs[0], ","); got != wantHead {
		t.Fatalf("header %s", got)
	}
	if len(recs) != 4 {
		t.Fatalf("%d rows, want 3 volunteers", len(recs)-1)
	}
	if got := strings.Join(recs[1], ","); got != a.ID+",李明,"+a.Phone+",叶家宅路居委会,叶家宅路助餐志愿队,2,3.0,2.0,1.0" {
		t.Errorf("A's row: %s", got)
	}
	if recs[2][1] != "'=张华" {
		t.Errorf("a name like a formula is written %q", recs[2][1])
	}
	buf.Reset()
	if err := e.Tasker.ExportHours(ctx, c01Staff, &buf, year, end); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, a.Phone) || !strings.Contains(out, hotline.MaskPhone(a.Phone)) || strings.Contains(out, b.ID) {
		t.Errorf("c01's export:\n%s", out)
	}

	// The record page.
	rec, err := e.Tasker.Record(ctx, volunteerUser(a), a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Hours != 8 || rec.Tasks != 3 || len(rec.Assignments) != 3 || rec.Volunteer.Phone != a.Phone ||
		hoursLine(rec.ByCategory) != "elderly_meals=7/2 home_repair=1/1" {
		t.Errorf("own record: %.1f h, %d tasks, %s, phone %s", rec.Hours, rec.Tasks, hoursLine(rec.ByCategory), rec.Volunteer.Phone)
	}
	if rec, err := e.Tasker.Record(ctx, c01Staff, a.ID); err != nil || rec.Volunteer.Phone != hotline.MaskPhone(a.Phone) {
		t.Errorf("c01 staff: %v, %v", rec, err)
	}
	if rec, err := e.Tasker.Record(ctx, mealsLead, a.ID); err != nil || rec.Volunteer.Phone != a.Phone {
		t.Errorf("the group's lead: %v, %v", rec, err)
	}
	if _, err := e.Tasker.Record(ctx, sworker, b.ID); err != nil {
		t.Errorf("social worker: %v", err)
	}
	for _, u := range []*hotline.User{volunteerUser(b), c02Staff, repairsLd} {
		_, err := e.Tasker.Record(ctx, u, a.ID)
		AssertTaskCode(t, err, hotline.ENOTFOUND)
	}
}

// hoursLine writes rows as "key=hours/tasks …".
func hoursLine(rs []volunteers.HoursRow) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Key + "=" + strconv.FormatFloat(r.Hours, 'f', -1, 64) + "/" + strconv.Itoa(r.Tasks)
	}
	return strings.Join(parts, " ")
}
