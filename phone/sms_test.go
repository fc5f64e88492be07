package phone_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/phone"
)

var admin = &hotline.User{ID: "admin", Role: hotline.RoleAdmin}

// SMS posts one message and returns the reply's text ("" for none).
func (st *Street) SMS(tb testing.TB, sid, from, body string) string {
	tb.Helper()
	n := MustTwiML(tb, st.Post(tb, phone.PathSMS, smsForm(sid, from, body)))
	var out []string
	for _, m := range n.All("Message") {
		out = append(out, m.Text)
	}
	return strings.Join(out, "\n")
}

func events(tb testing.TB, st *Street, id, typ string) []*hotline.Event {
	tb.Helper()
	evs, err := st.Tickets.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	var out []*hotline.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// A conversation: a new need, a correction of its category, a follow-up,
// status queries (own ticket only), STOP and START.
func TestSMS_Conversation(t *testing.T) {
	st := MustStreet(t)
	ctx := context.Background()

	got := st.SMS(t, "SM00000000000000000000000000000001", "13812345678", "楼道灯坏了，三楼一直不亮")
	tk := st.MustTicket(t, "SM00000000000000000000000000000001")
	if tk.Channel != hotline.ChannelSMS || tk.ServiceCode != "facilities" || tk.Contact.Phone != resident ||
		tk.Description != "楼道灯坏了，三楼一直不亮" || tk.CreatedBy != "twilio" || !tk.Contact.Consent {
		t.Errorf("ticket: %+v", tk)
	}
	for _, want := range []string{tk.ID, "公共设施", "1 助餐送餐", "3 居家维修"} {
		if !strings.Contains(got, want) {
			t.Errorf("reply lacks %q: %s", want, got)
		}
	}
	if strings.Contains(got, "回电") {
		t.Errorf("reply offers the callback category: %s", got)
	}

	// Correction: 3 is home repair.
	got = st.SMS(t, "SM00000000000000000000000000000002", "+8613812345678", "３")
	if tk2, _ := st.Tickets.FindTicket(ctx, tk.ID); tk2.ServiceCode != "home_repair" {
		t.Errorf("category after correction: %s", tk2.ServiceCode)
	}
	if !strings.Contains(got, "居家维修") {
		t.Errorf("correction reply: %s", got)
	}

	// A follow-up becomes a note.
	got = st.SMS(t, "SM00000000000000000000000000000003", "+8613812345678", "晚上楼道特别黑，老人容易摔倒")
	notes := events(t, st, tk.ID, hotline.EventTicketNoted)
	if len(notes) != 1 || !strings.Contains(notes[0].Note, "老人容易摔倒") || notes[0].Actor != "twilio" {
		t.Errorf("notes: %+v", notes)
	}
	if !strings.Contains(got, tk.ID) {
		t.Errorf("note reply: %s", got)
	}

	// Status: by id, and by word.
	if got = st.SMS(t, "SM00000000000000000000000000000004", "+8613812345678", tk.ID); !strings.Contains(got, "等待受理") {
		t.Errorf("status by id: %s", got)
	}
	if got = st.SMS(t, "SM00000000000000000000000000000005", "+8613812345678", "查询"); !strings.Contains(got, tk.ID) {
		t.Errorf("status by word: %s", got)
	}
	// Someone else's ticket is not shown.
	got = st.SMS(t, "SM00000000000000000000000000000006", neighbour, "查询 "+tk.ID)
	if strings.Contains(got, "等待受理") || !strings.Contains(got, "没有找到") {
		t.Errorf("another number's query: %s", got)
	}
	// Once accepted, the category stays.
	if _, err := st.Dispatch.Accept(ctx, admin, tk.ID); err != nil {
		t.Fatal(err)
	}
	got = st.SMS(t, "SM00000000000000000000000000000007", "+8613812345678", "4")
	if tk2, _ := st.Tickets.FindTicket(ctx, tk.ID); tk2.ServiceCode != "home_repair" || !strings.Contains(got, "已被受理") {
		t.Errorf("late correction: %s, %s", tk2.ServiceCode, got)
	}

	// STOP, then nothing is said; START again.
	got = st.SMS(t, "SM00000000000000000000000000000008", "+8613812345678", "退订")
	if out, _ := st.OptOuts.OptedOut(ctx, resident); !out || !strings.Contains(got, "已退订") {
		t.Errorf("STOP: opted out %v, reply %s", out, got)
	}
	if got = st.SMS(t, "SM00000000000000000000000000000009", "+8613812345678", "还有一件事"); got != "" {
		t.Errorf("after STOP the line said %q", got)
	}
	if len(events(t, st, tk.ID, hotline.EventTicketNoted)) != 2 {
		t.Errorf("what an opted-out resident says is still kept")
	}
	got = st.SMS(t, "SM00000000000000000000000000000010", "+8613812345678", "START")
	if out, _ := st.OptOuts.OptedOut(ctx, resident); out || got == "" {
		t.Errorf("START: opted out %v, reply %q", out, got)
	}
	if got := st.CountTickets(t); got != 1 {
		t.Errorf("%d tickets, want 1", got)
	}
}

// Retries of one message: one ticket, one note, the same bytes.
func TestSMS_Retries(t *testing.T) {
	st := MustStreet(t)
	f := smsForm("SM00000000000000000000000000000101", "+8613812345678", "我家水龙头漏水")
	w1 := st.Post(t, phone.PathSMS, f)
	w2 := st.Post(t, phone.PathSMS, f)
	if !bytes.Equal(w1.Body.Bytes(), w2.Body.Bytes()) {
		t.Errorf("retry answered differently:\n%s\n%s", w1.Body, w2.Body)
	}
	tk := st.MustTicket(t, "SM00000000000000000000000000000101")
	// The follow-up is retried after the conversation moved on.
	note := smsForm("SM00000000000000000000000000000102", "+8613812345678", "在厨房")
	n1 := st.Post(t, phone.PathSMS, note)
	st.SMS(t, "SM00000000000000000000000000000103", "+8613812345678", "是冷水管")
	n2 := st.Post(t, phone.PathSMS, note)
	if !bytes.Equal(n1.Body.Bytes(), n2.Body.Bytes()) {
		t.Errorf("note retry answered differently")
	}
	if got := len(events(t, st, tk.ID, hotline.EventTicketNoted)); got != 2 {
		t.Errorf("%d notes, want 2", got)
	}
	if got := st.CountTickets(t); got != 1 {
		t.Errorf("%d tickets, want 1", got)
	}
}

// Ratings after a resolved ticket: 5 thanks, 2 sends it back as a redo.
func TestSMS_Rating(t *testing.T) {
	for _, sc := range []struct {
		Score    int
		WantRedo bool
	}{{5, false}, {2, true}} {
		t.Run(fmt.Sprint(sc.Score), func(t *testing.T) {
			st := MustStreet(t)
			ctx := context.Background()
			st.SMS(t, "SM00000000000000000000000000000201", "+8613812345678", "门锁坏了，需要维修")
			tk := st.MustTicket(t, "SM00000000000000000000000000000201")
			if _, err := st.Dispatch.Accept(ctx, admin, tk.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Dispatch.Resolve(ctx, admin, tk.ID, "已更换门锁"); err != nil {
				t.Fatal(err)
			}
			// notify asks for the rating and records that it waits.
			if err := st.Sessions.Save(ctx, notify.RatingKey(resident), notify.AwaitingRating{TicketID: tk.ID, Language: "zh", RequestedAt: time.Now()}, notify.RatingWait); err != nil {
				t.Fatal(err)
			}
			got := st.SMS(t, "SM00000000000000000000000000000202", "+8613812345678", fmt.Sprintf("%d 师傅很负责", sc.Score))
			rated, _ := st.Tickets.FindTicket(ctx, tk.ID)
			if rated.Satisfaction != sc.Score || !strings.Contains(got, "感谢") {
				t.Errorf("satisfaction %d, reply %s", rated.Satisfaction, got)
			}
			if sc.WantRedo != (rated.Status == hotline.StatusReopened && rated.Redo) {
				t.Errorf("redo: status %s redo %v", rated.Status, rated.Redo)
			}
			if sc.WantRedo && !strings.Contains(got, "重新安排") {
				t.Errorf("redo reply: %s", got)
			}
			if evs := events(t, st, tk.ID, hotline.EventTicketRated); len(evs) != 1 || !strings.Contains(evs[0].Note, "师傅很负责") {
				t.Errorf("rated events: %+v", evs)
			}
			// The rating is taken once: another digit is no rating.
			if ok, _ := st.Sessions.Load(ctx, notify.RatingKey(resident), new(notify.AwaitingRating)); ok {
				t.Errorf("the awaited rating is still recorded")
			}
		})
	}
}

// A message with no words is asked for words; a short number outside a
// conversation is no ticket id.
func TestSMS_Help(t *testing.T) {
	st := MustStreet(t)
	if got := st.SMS(t, "SM00000000000000000000000000000301", "+8613812345678", " "); !strings.Contains(got, "请用文字") {
		t.Errorf("empty: %s", got)
	}
	if got := st.SMS(t, "SM00000000000000000000000000000302", "+8613812345678", "1234567"); !strings.Contains(got, "没有找到") {
		t.Errorf("unknown id: %s", got)
	}
	if got := st.SMS(t, "SM00000000000000000000000000000303", "+8613812345678", "status"); !strings.Contains(got, "No ticket") {
		t.Errorf("status with none: %s", got)
	}
	if got := st.CountTickets(t); got != 0 {
		t.Errorf("%d tickets", got)
	}
	// English in, English out; no keyword: the general category.
	got := st.SMS(t, "SM00000000000000000000000000000304", "+8613812345678", "Hello, can someone help me fill in a form?")
	tk := st.MustTicket(t, "SM00000000000000000000000000000304")
	if tk.Language != "en" || tk.ServiceCode != "other" || !strings.Contains(got, "reply with its number") {
		t.Errorf("English: %+v, %s", tk, got)
	}
}

// Deliveries of one message racing each other: one ticket, one answer.
func TestSMS_ConcurrentDuplicates(t *testing.T) {
	st := MustStreet(t)
	f := smsForm("SM00000000000000000000000000000401", "+8613812345678", "小区垃圾没人清理，味道很大")
	bodies := make([][]byte, 6)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() { bodies[i] = st.Post(t, phone.PathSMS, f).Body.Bytes() })
	}
	wg.Wait()
	for i := range bodies {
		if !bytes.Equal(bodies[i], bodies[0]) {
			t.Errorf("answer %d differs:\n%s\n%s", i, bodies[i], bodies[0])
		}
	}
	if tk := st.MustTicket(t, "SM00000000000000000000000000000401"); tk.ServiceCode != "sanitation" {
		t.Errorf("category %s", tk.ServiceCode)
	}
	if got := st.CountTickets(t); got != 1 {
		t.Errorf("%d tickets, want 1", got)
	}
}

// A unit asked the resident a question (notify recorded it): the reply,
// numbers and all, is added to that ticket as a note, also after the SMS
// conversation that opened it has expired.
func TestSMS_ReplyToAQuestion(t *testing.T) {
	st := MustStreet(t)
	ctx := context.Background()
	st.SMS(t, "SM00000000000000000000000000000301", resident, "楼道里堆满杂物，有消防隐患")
	tk := st.MustTicket(t, "SM00000000000000000000000000000301")
	if _, err := st.Dispatch.Accept(ctx, admin, tk.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Dispatch.Ask(ctx, admin, tk.ID, "请问是几号楼几单元？"); err != nil {
		t.Fatal(err)
	}
	// The conversation has expired; the question is what is awaited.
	if err := st.Sessions.Delete(ctx, "sms:conv:"+resident); err != nil {
		t.Fatal(err)
	}
	if err := st.Sessions.Save(ctx, notify.ReplyKey(resident), notify.AwaitingReply{TicketID: tk.ID, Language: "zh", AskedAt: time.Now()}, notify.ReplyWait); err != nil {
		t.Fatal(err)
	}
	got := st.SMS(t, "SM00000000000000000000000000000302", resident, "12号楼602室")
	notes := events(t, st, tk.ID, hotline.EventTicketNoted)
	if len(notes) != 1 || !strings.Contains(notes[0].Note, "12号楼602室") {
		t.Fatalf("notes %+v after the reply %q (answer %q), want the reply on ticket %s", notes, "12号楼602室", got, tk.ID)
	}
	if !strings.Contains(got, tk.ID) {
		t.Errorf("answer %q does not name the ticket", got)
	}
	// Another number's message is not taken for the answer.
	st.SMS(t, "SM00000000000000000000000000000303", "+8613900000001", "12号楼602室")
	if notes := events(t, st, tk.ID, hotline.EventTicketNoted); len(notes) != 1 {
		t.Errorf("another number's message was added to the ticket: %d notes", len(notes))
	}
}
