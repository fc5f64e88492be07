package volunteers_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/twiliofake"
	"github.com/caojiadu/hotline/volunteers"
)

const (
	taskSID      = "AC0123456789abcdef0123456789abcdef"
	taskToken    = "feedfacefeedfacefeedfacefeedface"
	taskFrom     = "+15005550006"
	taskResident = "+8613800138000"
)

// taskStart is a Wednesday morning in Shanghai.
var taskStart = time.Date(2026, 3, 4, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// TaskClock is a settable clock.
type TaskClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *TaskClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *TaskClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TaskEnv is the demo street on a fresh Redis key space, a Tasker on it,
// and the outbox sent through a fake Twilio by notify's Sender.
type TaskEnv struct {
	DB       *redisstore.DB
	Tasker   *volunteers.Tasker
	Tickets  *redisstore.TicketStore
	Vols     *redisstore.VolunteerStore
	Asg      *redisstore.AssignmentStore
	Sessions *redisstore.PhoneSessions
	Fake     *twiliofake.Server
	Sender   *notify.Sender
	Clock    *TaskClock
	phones   atomic.Int64
}

func MustTaskEnv(tb testing.TB) *TaskEnv {
	tb.Helper()
	c, prefix := redistest.New(tb)
	db := redisstore.NewDB(c, prefix)
	n, cat := network.Demo()
	e := &TaskEnv{DB: db, Tickets: redisstore.NewTicketStore(db), Vols: redisstore.NewVolunteerStore(db),
		Asg: redisstore.NewAssignmentStore(db), Sessions: redisstore.NewPhoneSessions(db), Clock: &TaskClock{t: taskStart}}
	outbox := redisstore.NewOutbox(db)
	svc := &volunteers.Service{Store: e.Vols, Assignments: e.Asg, Directory: hotline.NewStaticDirectory(n, cat), Now: e.Clock.Now}
	e.Tasker = &volunteers.Tasker{Registry: svc, Tickets: e.Tickets, Outbox: outbox, Sessions: e.Sessions}

	e.Fake = twiliofake.New(twiliofake.Config{AccountSID: taskSID, AuthToken: taskToken})
	ts := httptest.NewServer(e.Fake)
	tb.Cleanup(func() { e.Fake.Close(); ts.Close() })
	u, err := url.Parse(ts.URL)
	if err != nil {
		tb.Fatal(err)
	}
	api := twiliofake.NewRestClient(u, taskSID, taskToken).Api
	e.Sender = notify.NewSender(outbox, redisstore.NewOptOuts(db), api, notify.SenderConfig{From: taskFrom})
	return e
}

// Texts sends what the outbox holds and returns the bodies Twilio got
// for phone, oldest first.
func (e *TaskEnv) Texts(tb testing.TB, phone string) []string {
	tb.Helper()
	for e.Sender.RunOnce(context.Background()) > 0 {
	}
	var out []string
	for _, m := range e.Fake.MessagesTo(phone) {
		out = append(out, m.Body)
	}
	return out
}

// MustVolunteer stores an approved meal volunteer of c01's meal group,
// metres north of the resident, then edit.
func (e *TaskEnv) MustVolunteer(tb testing.TB, name string, metres float64, edit func(*hotline.Volunteer)) *hotline.Volunteer {
	tb.Helper()
	v := &hotline.Volunteer{
		Name: name, Phone: fmt.Sprintf("+86139%08d", e.phones.Add(1)), Committee: "c01", Groups: []string{"c01-meals"},
		Lat: 31.2424 + metres/111195.0, Long: 121.4276, Skills: []string{"elderly_meals", "home_repair"},
		Languages: []string{"zh"}, Status: hotline.VolunteerApproved,
	}
	if edit != nil {
		edit(v)
	}
	if err := e.Vols.CreateVolunteer(context.Background(), v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// MustTicket files a meal need held by c01's meal group.
func (e *TaskEnv) MustTicket(tb testing.TB) *hotline.Ticket {
	tb.Helper()
	t := &hotline.Ticket{
		Channel: hotline.ChannelWeb, ServiceCode: "elderly_meals", Description: "独居老人腿脚不便，需要每天送午餐",
		Location: hotline.Location{Address: "长寿路275号3室", Lat: 31.2424, Long: 121.4276, Committee: "c01"},
		Contact:  hotline.Contact{Phone: taskResident, LastName: "王", FirstName: "阿姨", Consent: true},
		Status:   hotline.StatusRouted, UnitID: "c01-meals", CreatedAt: e.Clock.Now(),
	}
	if _, err := e.Tickets.CreateTicket(context.Background(), t, ""); err != nil {
		tb.Fatal(err)
	}
	return t
}

// MustChange moves the ticket to status with its event at the clock's time.
func (e *TaskEnv) MustChange(tb testing.TB, id string, st hotline.Status, typ string) *hotline.Event {
	tb.Helper()
	var ev *hotline.Event
	_, err := e.Tickets.UpdateTicket(context.Background(), id, func(t *hotline.Ticket) (*hotline.Event, error) {
		t.Status = st
		if st == hotline.StatusResolved {
			t.ResolvedAt = e.Clock.Now()
		}
		ev = &hotline.Event{Type: typ, Actor: "u-c01", At: e.Clock.Now().UTC(), Note: "done"}
		return ev, nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func (e *TaskEnv) MustAssignment(tb testing.TB, id string) *hotline.Assignment {
	tb.Helper()
	a, err := e.Asg.FindAssignment(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func (e *TaskEnv) MustTicketAssignments(tb testing.TB, ticketID string) []*hotline.Assignment {
	tb.Helper()
	as, err := e.Asg.TicketAssignments(context.Background(), ticketID)
	if err != nil {
		tb.Fatal(err)
	}
	return as
}

// MustSMS is the volunteer's text; it must be handled.
func (e *TaskEnv) MustSMS(tb testing.TB, from, body string) string {
	tb.Helper()
	reply, handled, err := e.Tasker.HandleSMS(context.Background(), from, body)
	if err != nil || !handled {
		tb.Fatalf("SMS %q from %s: handled %v, err %v", body, from, handled, err)
	}
	return reply
}

func AssertTaskCode(tb testing.TB, err error, want string) {
	tb.Helper()
	if got := hotline.ErrorCode(err); got != want {
		tb.Fatalf("error code %q, want %q (err: %v)", got, want, err)
	}
}

// volunteerUser is the account a volunteer signs in with: their mobile
// number as the username.
func volunteerUser(v *hotline.Volunteer) *hotline.User {
	return &hotline.User{ID: "u-" + v.ID, Username: strings.TrimPrefix(v.Phone, "+86"), Role: hotline.RoleVolunteer}
}

var (
	c01Staff  = &hotline.User{ID: "u-c01", Role: hotline.RoleCommittee, UnitID: "c01"}
	c02Staff  = &hotline.User{ID: "u-c02", Role: hotline.RoleCommittee, UnitID: "c02"}
	mealsLead = &hotline.User{ID: "u-meals", Role: hotline.RoleCommittee, UnitID: "c01-meals"}
	repairsLd = &hotline.User{ID: "u-repairs", Role: hotline.RoleCommittee, UnitID: "c02-repairs"}
	sworker   = &hotline.User{ID: "u-sw2", Role: hotline.RoleSocialWorker, UnitID: "center"}
)

// The offer names the task and the area, never the resident; "1"
// accepts and brings the resident's contact; "2" declines and the task
// goes to the next match.
func TestTaskOfferAcceptDecline(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	b := e.MustVolunteer(t, "张华", 300, nil)
	c := e.MustVolunteer(t, "赵强", 600, nil)
	tk := e.MustTicket(t)

	got, err := e.Tasker.Assign(ctx, mealsLead, tk.ID, []string{a.ID})
	if err != nil || len(got) != 1 {
		t.Fatalf("assign: %v, %v", got, err)
	}
	offer := got[0]
	if offer.Status != hotline.AssignmentOffered || offer.By != mealsLead.ID || offer.Category != "elderly_meals" ||
		offer.Committee != "c01" || !offer.RespondBy.Equal(taskStart.Add(2*time.Hour)) {
		t.Fatalf("offer %+v", offer)
	}
	texts := e.Texts(t, a.Phone)
	if len(texts) != 1 {
		t.Fatalf("texts to A: %q", texts)
	}
	for _, want := range []string{tk.ID, "助餐", "叶家宅路居委会", "长寿路", "回复 1 接受，2 婉拒", "2 小时"} {
		if !strings.Contains(texts[0], want) {
			t.Errorf("offer lacks %q: %s", want, texts[0])
		}
	}
	for _, leak := range []string{"13800138000", "王", "275号", "独居"} {
		if strings.Contains(texts[0], leak) {
			t.Errorf("offer gives away %q: %s", leak, texts[0])
		}
	}
	if see, details, err := e.Tasker.CanSeeTicketAsVolunteer(ctx, volunteerUser(a), tk.ID); err != nil || !see || details {
		t.Errorf("offered: see %v details %v, %v; want the ticket without details", see, details, err)
	}

	// Accept: the resident's contact comes now, once.
	reply := e.MustSMS(t, a.Phone, "1")
	if !strings.Contains(reply, "接受") || !strings.Contains(reply, tk.ID) {
		t.Errorf("accept reply %q", reply)
	}
	if got := e.MustAssignment(t, offer.ID); got.Status != hotline.AssignmentAccepted || !got.AnsweredAt.Equal(taskStart) {
		t.Errorf("after 1: %+v", got)
	}
	if v, _ := e.Vols.FindVolunteer(ctx, a.ID); v.Status != hotline.VolunteerActive {
		t.Errorf("first accepted task: volunteer %s, want active", v.Status)
	}
	if again := e.MustSMS(t, a.Phone, "1"); again != reply {
		t.Errorf("a repeated 1 answered %q, want %q", again, reply)
	}
	texts = e.Texts(t, a.Phone)
	if len(texts) != 2 {
		t.Fatalf("texts to A after accepting: %q", texts)
	}
	for _, want := range []string{"王 阿姨", taskResident, "长寿路275号3室", "送午餐"} {
		if !strings.Contains(texts[1], want) {
			t.Errorf("contact text lacks %q: %s", want, texts[1])
		}
	}
	if see, details, _ := e.Tasker.CanSeeTicketAsVolunteer(ctx, volunteerUser(a), tk.ID); !see || !details {
		t.Errorf("accepted: see %v details %v; want both", see, details)
	}
	if see, _, _ := e.Tasker.CanSeeTicketAsVolunteer(ctx, volunteerUser(c), tk.ID); see {
		t.Errorf("a volunteer without the task sees the ticket")
	}

	// Decline (full-width 2): the next match not yet asked, by the system.
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{b.ID}); err != nil {
		t.Fatal(err)
	}
	if _, handled, _ := e.Tasker.HandleSMS(ctx, b.Phone, "你好，请问是什么任务"); handled {
		t.Errorf("a question was taken for an answer")
	}
	if r := e.MustSMS(t, b.Phone, "２"); !strings.Contains(r, "婉拒") {
		t.Errorf("decline reply %q", r)
	}
	if again := e.MustSMS(t, b.Phone, "2"); !strings.Contains(again, "婉拒") {
		t.Errorf("repeated decline %q", again)
	}
	as := e.MustTicketAssignments(t, tk.ID)
	if len(as) != 3 || as[0].VolunteerID != c.ID || as[0].By != volunteers.ActorSystem || as[0].Status != hotline.AssignmentOffered || as[0].Reason == "" {
		t.Fatalf("after the decline: %+v", as[0])
	}
	if as[1].VolunteerID != b.ID || as[1].Status != hotline.AssignmentDeclined {
		t.Fatalf("B's assignment %+v", as[1])
	}
	if texts := e.Texts(t, c.Phone); len(texts) != 1 || !strings.Contains(texts[0], tk.ID) {
		t.Errorf("C's offer: %q", texts)
	}
	// C answers naming the ticket.
	if r := e.MustSMS(t, c.Phone, "接受 "+tk.ID); !strings.Contains(r, "接受") {
		t.Errorf("C's accept %q", r)
	}
	if _, handled, _ := e.Tasker.HandleSMS(ctx, taskResident, "1"); handled {
		t.Errorf("a resident's 1 was taken for a volunteer's answer")
	}
}

// No answer in time: the offer expires and the next match gets it, once
// however many replicas run the expiry.
func TestTaskExpiryOffersNextMatchOnce(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	b := e.MustVolunteer(t, "张华", 300, nil)
	tk := e.MustTicket(t)
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	if n := e.Tasker.ExpireOnce(ctx); n != 0 {
		t.Fatalf("expired %d before the time", n)
	}
	e.Clock.Add(2*time.Hour + time.Second)
	replicas := []*volunteers.Tasker{e.Tasker, {Registry: e.Tasker.Registry, Tickets: e.Tickets, Outbox: e.Tasker.Outbox, Sessions: e.Sessions}}
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, r := range replicas {
		wg.Go(func() { total.Add(int64(r.ExpireOnce(ctx))) })
	}
	wg.Wait()
	if total.Load() != 1 {
		t.Fatalf("expired %d times, want 1", total.Load())
	}
	as := e.MustTicketAssignments(t, tk.ID)
	if len(as) != 2 || as[1].VolunteerID != a.ID || as[1].Status != hotline.AssignmentExpired ||
		as[0].VolunteerID != b.ID || as[0].Status != hotline.AssignmentOffered || as[0].By != volunteers.ActorSystem {
		t.Fatalf("after expiry: %+v / %+v", as[0], as[1])
	}
	if texts := e.Texts(t, b.Phone); len(texts) != 1 {
		t.Errorf("B's offer: %q", texts)
	}
	// A late answer is told the task passed on.
	if r := e.MustSMS(t, a.Phone, "1"); !strings.Contains(r, "已过答复时限") {
		t.Errorf("late accept %q", r)
	}
	if got := e.MustAssignment(t, as[1].ID); got.Status != hotline.AssignmentExpired {
		t.Errorf("a late 1 changed the expired offer to %s", got.Status)
	}
	// B lets it pass too: nobody is left, and that is no error.
	e.Clock.Add(2*time.Hour + time.Second)
	if n := e.Tasker.ExpireOnce(ctx); n != 1 {
		t.Errorf("expired %d, want B's", n)
	}
	if as := e.MustTicketAssignments(t, tk.ID); len(as) != 2 || as[0].Status != hotline.AssignmentExpired {
		t.Errorf("after B's expiry: %d assignments, newest %s", len(as), as[0].Status)
	}
	if n := e.Tasker.ExpireOnce(ctx); n != 0 {
		t.Errorf("expired %d more", n)
	}
}

// Resolution, read from the feed through the "volunteers" consumer group,
// records the accepted volunteer's hours and withdraws open offers; staff
// may correct the hours; a cancelled ticket calls its task off.
func TestTaskHoursOnResolution(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	b := e.MustVolunteer(t, "张华", 300, nil)
	tk := e.MustTicket(t)
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{a.ID, b.ID}); err != nil {
		t.Fatal(err)
	}
	e.MustSMS(t, a.Phone, "1")

	// The group starts at the beginning of every partition, so the
	// consumer cannot miss the resolution written right after.
	for p := range redisstore.NewFeed(e.DB).Partitions() {
		key := fmt.Sprintf("%s:{p%d}:feed", e.DB.Prefix(), p)
		if err := e.DB.Client().XGroupCreateMkStream(ctx, key, "volunteers", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		redisstore.NewFeed(e.DB).Consume(cctx, "volunteers", "test", e.Tasker.Handler(cctx))
	}()
	defer func() { cancel(); <-done }()

	e.Clock.Add(2*time.Hour + 20*time.Minute)
	e.MustChange(t, tk.ID, hotline.StatusResolved, hotline.EventTicketResolved)
	var as []*hotline.Assignment
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		as = e.MustTicketAssignments(t, tk.ID)
		if as[1].Status == hotline.AssignmentDone || time.Now().After(deadline) {
			break
		}
	}
	accepted, offered := as[1], as[0]
	if accepted.VolunteerID != a.ID || accepted.Status != hotline.AssignmentDone || accepted.Hours != 2.5 ||
		!accepted.DoneAt.Equal(e.Clock.Now()) {
		t.Fatalf("A after resolution: %+v", accepted)
	}
	if offered.Status != hotline.AssignmentWithdrawn {
		t.Errorf("B's open offer after resolution: %s", offered.Status)
	}
	if r := e.MustSMS(t, b.Phone, "1"); !strings.Contains(r, "已过答复时限或已由他人承担") {
		t.Errorf("B's 1 after the withdrawal: %q", r)
	}
	if see, details, _ := e.Tasker.CanSeeTicketAsVolunteer(ctx, volunteerUser(a), tk.ID); !see || details {
		t.Errorf("done: see %v details %v; want the ticket without details", see, details)
	}
	// Handled again (a redelivery): nothing moves.
	if err := e.Tasker.Handle(ctx, hotline.FeedEvent{Event: &hotline.Event{Type: hotline.EventTicketResolved, TicketID: tk.ID, At: e.Clock.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if got := e.MustAssignment(t, accepted.ID); got.Version != accepted.Version {
		t.Errorf("redelivery changed the done assignment: %+v", got)
	}

	// Corrections.
	if got, err := e.Tasker.SetHours(ctx, mealsLead, accepted.ID, 3); err != nil || got.Hours != 3 {
		t.Errorf("lead corrects: %+v, %v", got, err)
	}
	_, err := e.Tasker.SetHours(ctx, c02Staff, accepted.ID, 5)
	AssertTaskCode(t, err, hotline.ENOTFOUND)
	_, err = e.Tasker.SetHours(ctx, volunteerUser(a), accepted.ID, 5)
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	_, err = e.Tasker.SetHours(ctx, sworker, accepted.ID, 30)
	AssertTaskCode(t, err, hotline.EINVALID)
	_, err = e.Tasker.SetHours(ctx, sworker, offered.ID, 1)
	AssertTaskCode(t, err, hotline.ECONFLICT)

	// Cancelled: the accepted volunteer is told not to go.
	tk2 := e.MustTicket(t)
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk2.ID, []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	e.MustSMS(t, a.Phone, "1 "+tk2.ID)
	e.MustChange(t, tk2.ID, hotline.StatusCancelled, hotline.EventTicketCancelled)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		as = e.MustTicketAssignments(t, tk2.ID)
		if as[0].Status != hotline.AssignmentAccepted || time.Now().After(deadline) {
			break
		}
	}
	if as[0].Status != hotline.AssignmentWithdrawn || as[0].Hours != 0 {
		t.Errorf("after cancelling: %+v", as[0])
	}
	// The text follows the withdrawal in the same handler: wait for it.
	// (The sender sends a batch concurrently: texts may arrive in any order.)
	var told string
	for deadline := time.Now().Add(10 * time.Second); told == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, x := range e.Texts(t, a.Phone) {
			if strings.Contains(x, "请勿再前往") {
				told = x
			}
		}
	}
	if !strings.Contains(told, tk2.ID) {
		t.Errorf("withdrawal text %q", told)
	}
}

func TestTaskHoursRounding(t *testing.T) {
	at := taskStart
	for _, c := range []struct {
		d    time.Duration
		want float64
	}{
		{5 * time.Minute, 0.5}, {2*time.Hour + 10*time.Minute, 2}, {2*time.Hour + 20*time.Minute, 2.5},
		{20 * time.Hour, 8}, {-time.Hour, 0.5},
	} {
		if got := volunteers.TaskHours(at, at.Add(c.d), 8); got != c.want {
			t.Errorf("TaskHours(%v) = %v, want %v", c.d, got, c.want)
		}
	}
}

// Who may assign whom.
func TestTaskAssignPermissions(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	member := e.MustVolunteer(t, "李明", 100, nil)
	outsider := e.MustVolunteer(t, "钱进", 200, func(v *hotline.Volunteer) { v.Groups = nil })
	suspended := e.MustVolunteer(t, "孙立", 300, func(v *hotline.Volunteer) { v.Status = hotline.VolunteerSuspended })
	tk := e.MustTicket(t)

	_, err := e.Tasker.Assign(ctx, nil, tk.ID, []string{member.ID})
	AssertTaskCode(t, err, hotline.EUNAUTHORIZED)
	_, err = e.Tasker.Assign(ctx, c02Staff, tk.ID, []string{member.ID})
	AssertTaskCode(t, err, hotline.ENOTFOUND)
	_, err = e.Tasker.Assign(ctx, repairsLd, tk.ID, []string{member.ID})
	AssertTaskCode(t, err, hotline.ENOTFOUND)
	_, err = e.Tasker.Assign(ctx, volunteerUser(member), tk.ID, []string{member.ID})
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	_, err = e.Tasker.Assign(ctx, mealsLead, tk.ID, []string{member.ID, outsider.ID})
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	if as := e.MustTicketAssignments(t, tk.ID); len(as) != 0 {
		t.Fatalf("a refused call wrote %d assignments", len(as))
	}
	_, err = e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{suspended.ID})
	AssertTaskCode(t, err, hotline.ECONFLICT)
	_, err = e.Tasker.Assign(ctx, c01Staff, tk.ID, nil)
	AssertTaskCode(t, err, hotline.EINVALID)
	_, err = e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{"V99999"})
	AssertTaskCode(t, err, hotline.ENOTFOUND)

	if _, err := e.Tasker.Assign(ctx, mealsLead, tk.ID, []string{member.ID}); err != nil {
		t.Fatalf("lead assigns a member: %v", err)
	}
	_, err = e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{member.ID})
	AssertTaskCode(t, err, hotline.ECONFLICT)
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{outsider.ID}); err != nil {
		t.Fatalf("committee staff assign anyone: %v", err)
	}
	e.MustChange(t, tk.ID, hotline.StatusCancelled, hotline.EventTicketCancelled)
	_, err = e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{suspended.ID})
	AssertTaskCode(t, err, hotline.ECONFLICT)
}

// Staff take a task back: an offer quietly, an accepted task with a text
// to the volunteer; the next match is not offered; a closed task, another
// committee, a lead outside the group and a volunteer are refused.
func TestTaskWithdraw(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	b := e.MustVolunteer(t, "张华", 300, func(v *hotline.Volunteer) { v.Groups = nil })
	e.MustVolunteer(t, "赵强", 600, nil)
	tk := e.MustTicket(t)
	as, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{a.ID, b.ID})
	if err != nil {
		t.Fatal(err)
	}
	offerA, offerB := as[0], as[1]
	e.MustSMS(t, a.Phone, "1")

	_, err = e.Tasker.Withdraw(ctx, nil, offerA.ID)
	AssertTaskCode(t, err, hotline.EUNAUTHORIZED)
	_, err = e.Tasker.Withdraw(ctx, c02Staff, offerA.ID)
	AssertTaskCode(t, err, hotline.ENOTFOUND)
	_, err = e.Tasker.Withdraw(ctx, volunteerUser(a), offerA.ID)
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	_, err = e.Tasker.Withdraw(ctx, mealsLead, offerB.ID)
	AssertTaskCode(t, err, hotline.EFORBIDDEN)
	_, err = e.Tasker.Withdraw(ctx, c01Staff, "A99999")
	AssertTaskCode(t, err, hotline.ENOTFOUND)

	before := len(e.Texts(t, b.Phone))
	got, err := e.Tasker.Withdraw(ctx, c01Staff, offerB.ID)
	if err != nil || got.Status != hotline.AssignmentWithdrawn {
		t.Fatalf("withdraw the offer: %+v, %v", got, err)
	}
	if n := len(e.Texts(t, b.Phone)); n != before {
		t.Errorf("an unanswered offer withdrawn texted the volunteer")
	}
	got, err = e.Tasker.Withdraw(ctx, mealsLead, offerA.ID)
	if err != nil || got.Status != hotline.AssignmentWithdrawn {
		t.Fatalf("lead withdraws a member's accepted task: %+v, %v", got, err)
	}
	texts := e.Texts(t, a.Phone)
	if last := texts[len(texts)-1]; !strings.Contains(last, tk.ID) {
		t.Errorf("the volunteer who had accepted was not told: %q", texts)
	}
	if see, _, _ := e.Tasker.CanSeeTicketAsVolunteer(ctx, volunteerUser(a), tk.ID); see {
		t.Errorf("a withdrawn volunteer still sees the ticket")
	}
	if all := e.MustTicketAssignments(t, tk.ID); len(all) != 2 {
		t.Errorf("withdrawing offered the task to someone else: %d assignments", len(all))
	}
	_, err = e.Tasker.Withdraw(ctx, c01Staff, offerA.ID)
	AssertTaskCode(t, err, hotline.ECONFLICT)
}

// The answer comes through the phone line's SMS webhook, as Twilio posts
// it: the reply is TwiML, a retry of the same MessageSid gets the same
// bytes and changes nothing, and the contact text is sent once.
func TestTaskAnswerThroughTheSMSWebhook(t *testing.T) {
	e := MustTaskEnv(t)
	ctx := context.Background()
	a := e.MustVolunteer(t, "李明", 100, nil)
	tk := e.MustTicket(t)
	if _, err := e.Tasker.Assign(ctx, c01Staff, tk.ID, []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	const token, public = "12345678901234567890123456789012", "https://hotline.example.cn"
	dir := e.Tasker.Registry.Directory
	line, err := phone.New(phone.Config{AuthToken: token, PublicURL: public, FromNumber: "+862162000000"},
		phone.Deps{Intake: intake.New(e.Tickets, dir), Tickets: e.Tickets, Directory: dir, Outbox: e.Tasker.Outbox,
			OptOuts: redisstore.NewOptOuts(e.DB), Sessions: e.Sessions, Tasks: e.Tasker})
	if err != nil {
		t.Fatal(err)
	}
	post := func() *httptest.ResponseRecorder {
		form := url.Values{"MessageSid": {"SM00000000000000000000000000000077"}, "From": {a.Phone},
			"To": {"+862162000000"}, "Body": {"1"}, "NumMedia": {"0"}}
		r := httptest.NewRequest("POST", phone.PathSMS, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Twilio-Signature", phone.Sign(token, public+phone.PathSMS, form))
		w := httptest.NewRecorder()
		line.Handler().ServeHTTP(w, r)
		return w
	}
	w1, w2 := post(), post()
	if w1.Code != 200 || !strings.Contains(w1.Body.String(), "<Message>") || !strings.Contains(w1.Body.String(), "您已接受工单 "+tk.ID) {
		t.Fatalf("webhook answered %d %s", w1.Code, w1.Body)
	}
	if w1.Body.String() != w2.Body.String() {
		t.Errorf("the retry answered differently:\n%s\n%s", w1.Body, w2.Body)
	}
	as := e.MustTicketAssignments(t, tk.ID)
	if len(as) != 1 || as[0].Status != hotline.AssignmentAccepted || as[0].Version != 2 {
		t.Errorf("after the webhook: %+v", as[0])
	}
	// The offer and, once accepted, the resident's contact: the sender may
	// send the two in either order when both are due at once.
	texts := e.Texts(t, a.Phone)
	if len(texts) != 2 || !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, taskResident) }) {
		t.Errorf("texts to the volunteer: %q", texts)
	}
	if n, _, _ := e.Tickets.FindTickets(ctx, hotline.TicketFilter{}); len(n) != 1 {
		t.Errorf("the answer filed a ticket: %d tickets", len(n))
	}
}
