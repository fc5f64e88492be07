package phone_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/phone"
)

// Outage is a street on a Redis of its own, which the test stops and
// starts, with the line keeping its journal in a temporary directory.
type Outage struct {
	*Street
	Redis   *redistest.Server
	Journal *phone.Journal
	// JournalLog holds what the journal logged.
	JournalLog *syncBuffer
}

// MustOutage builds the street on a fresh redis-server with the
// append-only file fsynced on every write, so that what was stored before
// a stop is there after the start, as in production.
func MustOutage(tb testing.TB, maxJournal int64) *Outage {
	tb.Helper()
	srv := redistest.MustStartServer(tb, redistest.ServerOptions{AppendFsync: "always"})
	// Short timeouts: a stopped server must fail a webhook quickly.
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 300 * time.Millisecond,
		ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond, MaxRetries: 1})
	tb.Cleanup(func() { client.Close() })
	o := &Outage{Redis: srv, JournalLog: &syncBuffer{}}
	j, err := phone.OpenJournal(tb.TempDir(), maxJournal, slog.New(slog.NewTextHandler(o.JournalLog, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { j.Close() })
	o.Street, o.Journal = buildStreet(tb, client, "outage", j), j
	return o
}

// MustKill stops Redis as a crash would.
func (o *Outage) MustKill(tb testing.TB) {
	tb.Helper()
	if err := o.Redis.Kill(); err != nil {
		tb.Fatal(err)
	}
}

// MustRestart starts Redis again on its address and data.
func (o *Outage) MustRestart(tb testing.TB) {
	tb.Helper()
	if err := o.Redis.Start(); err != nil {
		tb.Fatal(err)
	}
}

// Entries reads every entry waiting in the journal's segments.
func (o *Outage) Entries(tb testing.TB) []phone.JournalEntry {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(o.Journal.Dir(), "seg-*.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []phone.JournalEntry
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var e phone.JournalEntry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				tb.Fatalf("journal line %q: %v", sc.Text(), err)
			}
			out = append(out, e)
		}
		f.Close()
	}
	return out
}

// MustReplay files the journal and returns how many entries it filed.
func (o *Outage) MustReplay(tb testing.TB) int {
	tb.Helper()
	n, err := o.Line.ReplayJournal(context.Background())
	if err != nil {
		tb.Fatalf("replay: %v", err)
	}
	return n
}

// TicketsOf returns the tickets whose ExternalRef is ref.
func (st *Street) TicketsOf(tb testing.TB, ref string) []*hotline.Ticket {
	tb.Helper()
	ts, _, err := st.Tickets.FindTickets(context.Background(), hotline.TicketFilter{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*hotline.Ticket
	for _, t := range ts {
		if t.ExternalRef == ref {
			out = append(out, t)
		}
	}
	return out
}

// A caller chooses a category, then Redis goes away while they describe
// their need: they hear, in Mandarin then English, that the call is noted
// and will be returned; the call is in the journal at once; the status
// callback at the end of the call is journaled too (Twilio does not call
// again). When Redis is back the replay files exactly one callback ticket
// with what the caller gave, and empties the journal.
func TestJournal_CallDuringAnOutageBecomesOneCallbackTicket(t *testing.T) {
	o := MustOutage(t, 0)
	const sid = "CA00000000000000000000000000000a01"
	next := Next(t, MustTwiML(t, o.Post(t, phone.PathVoice, callForm(sid, resident))))
	next = Next(t, MustTwiML(t, o.Post(t, next, callForm(sid, resident, "Digits", ""))))
	next = Next(t, MustTwiML(t, o.Post(t, next, callForm(sid, resident, "Digits", "4")))) // 公共设施
	next = Next(t, MustTwiML(t, o.Post(t, next, callForm(sid, resident, "Digits", "7")))) // c07
	if step(t, next) != "describe" {
		t.Fatalf("the call should be at the description, not %q", next)
	}

	o.MustKill(t)
	n := MustTwiML(t, o.Post(t, next, callForm(sid, resident, "SpeechResult", "楼道灯坏了三天了")))
	says := n.All("Say")
	if len(says) != 2 || says[0].Attr("language") != "cmn-CN" || !strings.Contains(says[0].Text, "已记下您的来电") ||
		says[1].Attr("language") != "en-US" || !strings.Contains(says[1].Text, "noted your call") {
		t.Fatalf("the caller should hear that the call is noted, in Mandarin then English:\n%s", n.Said())
	}
	if len(n.All("Hangup")) != 1 {
		t.Errorf("the call should end after the message")
	}
	got := o.Entries(t)
	if len(got) != 1 || got[0].Kind != phone.JournalCall || got[0].CallSid != sid || got[0].From != resident ||
		got[0].Description != "楼道灯坏了三天了" || got[0].Step != "describe" {
		t.Fatalf("journal after the step: %+v", got)
	}
	w := o.Post(t, phone.PathStatus, callForm(sid, resident, "CallStatus", "completed", "CallDuration", "40"))
	if w.Code != http.StatusNoContent {
		t.Fatalf("status callback during the outage: %d %s, want 204 (journaled)", w.Code, w.Body)
	}
	if got := o.Entries(t); len(got) != 2 || got[1].Step != "status" || got[1].CallStatus != "completed" {
		t.Fatalf("journal after the status callback: %+v", got)
	}

	// Still down: the replay waits and keeps everything.
	if _, err := o.Line.ReplayJournal(context.Background()); hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
		t.Fatalf("replay while Redis is down: %v, want EUNAVAILABLE", err)
	}
	if got := o.Entries(t); len(got) != 2 {
		t.Fatalf("a failed replay lost entries: %d left", len(got))
	}

	o.MustRestart(t)
	if n := o.MustReplay(t); n != 2 {
		t.Fatalf("replayed %d entries, want 2", n)
	}
	if o.Journal.Pending() {
		t.Error("the journal is not empty after the replay")
	}
	ts := o.TicketsOf(t, sid)
	if len(ts) != 1 {
		t.Fatalf("%d tickets for the call, want 1", len(ts))
	}
	tk := ts[0]
	if tk.ServiceCode != "callback" || tk.Contact.Phone != resident || tk.Channel != hotline.ChannelVoice ||
		tk.Location.Committee != "c07" {
		t.Errorf("callback ticket: %+v", tk)
	}
	for _, want := range []string{"楼道灯坏了三天了", "公共设施", "系统暂时不可用"} {
		if !strings.Contains(tk.Description, want) {
			t.Errorf("the callback ticket's description lacks %q: %s", want, tk.Description)
		}
	}

	// Nothing more: another replay, Twilio's callback again, now served.
	if n := o.MustReplay(t); n != 0 {
		t.Errorf("a second replay filed %d entries", n)
	}
	if w := o.Post(t, phone.PathStatus, callForm(sid, resident, "CallStatus", "completed")); w.Code != http.StatusNoContent {
		t.Fatalf("status callback: %d", w.Code)
	}
	if ts := o.TicketsOf(t, sid); len(ts) != 1 {
		t.Fatalf("%d tickets for the call after everything, want 1", len(ts))
	}
}

// The call is journaled, Redis comes back, and Twilio's status callback
// gets through before the replay: the live path files the callback
// ticket, and the replay finds it rather than filing a second.
func TestJournal_CallJournaledAndFiledLiveMakesOneTicket(t *testing.T) {
	o := MustOutage(t, 0)
	const sid = "CA00000000000000000000000000000a02"
	MustTwiML(t, o.Post(t, phone.PathVoice, callForm(sid, resident)))
	o.MustKill(t)
	n := MustTwiML(t, o.Post(t, phone.PathVoice+"?lang=zh&step=menu", callForm(sid, resident, "Digits", "1")))
	if !strings.Contains(n.Said(), "已记下您的来电") {
		t.Fatalf("said: %s", n.Said())
	}
	o.MustRestart(t)
	if w := o.Post(t, phone.PathStatus, callForm(sid, resident, "CallStatus", "completed")); w.Code != http.StatusNoContent {
		t.Fatalf("status callback: %d", w.Code)
	}
	live := o.TicketsOf(t, sid)
	if len(live) != 1 {
		t.Fatalf("%d tickets after the status callback, want 1", len(live))
	}
	if n := o.MustReplay(t); n != 1 {
		t.Fatalf("replayed %d, want 1", n)
	}
	if ts := o.TicketsOf(t, sid); len(ts) != 1 || ts[0].ID != live[0].ID {
		t.Fatalf("after the replay: %d tickets, want only %s", len(ts), live[0].ID)
	}
}

// A text message during an outage: the resident is told honestly that it
// is kept and will be dealt with; the replay opens the ticket and texts
// the ticket number through the outbox, once however often it runs.
func TestJournal_SMSDuringAnOutageIsFiledAndAnswered(t *testing.T) {
	o := MustOutage(t, 0)
	const sid = "SM00000000000000000000000000000a03"
	o.MustKill(t)
	got := o.SMS(t, sid, "13812345678", "楼道灯坏了，三楼一直不亮")
	if !strings.Contains(got, "您的短信已记下") {
		t.Fatalf("reply during the outage: %q", got)
	}
	if e := o.Entries(t); len(e) != 1 || e[0].Kind != phone.JournalSMS || e[0].MessageSid != sid || e[0].From != resident {
		t.Fatalf("journal: %+v", e)
	}
	o.MustRestart(t)
	if n := o.MustReplay(t); n != 1 {
		t.Fatalf("replayed %d, want 1", n)
	}
	ts := o.TicketsOf(t, sid)
	if len(ts) != 1 || ts[0].Channel != hotline.ChannelSMS || ts[0].ServiceCode != "facilities" {
		t.Fatalf("tickets for the message: %+v", ts)
	}
	msgs, err := o.Outbox.MessagesTo(context.Background(), resident, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Kind != "reply" || !strings.Contains(msgs[0].Body, ts[0].ID) {
		t.Fatalf("answer by SMS: %+v, want one reply with %s", msgs, ts[0].ID)
	}
	// A redelivery of the journal (see the crash test) changes nothing.
	if err := o.Journal.Append(phone.JournalEntry{Kind: phone.JournalSMS, At: time.Now(), MessageSid: sid,
		From: resident, Body: "楼道灯坏了，三楼一直不亮"}); err != nil {
		t.Fatal(err)
	}
	o.MustReplay(t)
	msgs, _ = o.Outbox.MessagesTo(context.Background(), resident, 10)
	if ts := o.TicketsOf(t, sid); len(ts) != 1 || len(msgs) != 1 {
		t.Fatalf("after a second replay: %d tickets, %d messages", len(ts), len(msgs))
	}
}

// A crash after the replay filed a segment but before it deleted it:
// the next replay files its entries again, and nothing is doubled.
func TestJournal_ReplayAfterACrashBeforeTheDeleteDoublesNothing(t *testing.T) {
	o := MustOutage(t, 0)
	o.MustKill(t)
	sids := []string{"CA00000000000000000000000000000a04", "CA00000000000000000000000000000a05"}
	for _, sid := range sids {
		MustTwiML(t, o.Post(t, phone.PathVoice, callForm(sid, resident)))
	}
	if err := o.Journal.Close(); err != nil { // seal it, as a replay would
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(o.Journal.Dir(), "seg-*.jsonl"))
	if len(segs) != 1 {
		t.Fatalf("segments: %v", segs)
	}
	saved, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	o.MustRestart(t)
	if n := o.MustReplay(t); n != 2 {
		t.Fatalf("replayed %d, want 2", n)
	}
	// The delete "never happened".
	if err := os.WriteFile(segs[0], saved, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := o.MustReplay(t); n != 2 {
		t.Fatalf("second replay filed %d, want the same 2 again", n)
	}
	for _, sid := range sids {
		if ts := o.TicketsOf(t, sid); len(ts) != 1 {
			t.Errorf("call %s: %d tickets, want 1", sid, len(ts))
		}
	}
}

// A full journal refuses the entry, says so in the log with what to do,
// and the caller is not promised a callback: they are asked to call again.
// A withheld number is never journaled (nobody to call back).
func TestJournal_FullOrWithheldAsksTheCallerToCallAgain(t *testing.T) {
	o := MustOutage(t, 64)
	o.MustKill(t)
	n := MustTwiML(t, o.Post(t, phone.PathVoice, callForm("CA00000000000000000000000000000a06", resident)))
	if said := n.Said(); strings.Contains(said, "已记下") || !strings.Contains(said, "请稍后再拨") {
		t.Errorf("with a full journal the caller heard: %s", said)
	}
	if log := o.JournalLog.String(); !strings.Contains(log, "phone journal full") || !strings.Contains(log, "journal_max_bytes") {
		t.Errorf("the log does not say the journal is full and what to do:\n%s", log)
	}
	n = MustTwiML(t, o.Post(t, phone.PathVoice, callForm("CA00000000000000000000000000000a07", "anonymous")))
	if strings.Contains(n.Said(), "已记下") {
		t.Errorf("a withheld number was promised a callback: %s", n.Said())
	}
	if e := o.Entries(t); len(e) != 0 {
		t.Fatalf("journal: %+v", e)
	}
}

// Two processes share a journal directory: one does not replay the
// segment the other is writing, and does replay it once the other has
// gone (as a restarted replica replays what its predecessor left).
func TestJournal_ASegmentIsReplayedOnlyWhenNobodyWritesIt(t *testing.T) {
	dir := t.TempDir()
	writer, err := phone.OpenJournal(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := phone.OpenJournal(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := writer.Append(phone.JournalEntry{Kind: phone.JournalCall, CallSid: "CA1", From: resident}); err != nil {
		t.Fatal(err)
	}
	var filed []string
	file := func(_ context.Context, e phone.JournalEntry) error { filed = append(filed, e.CallSid); return nil }
	if n, err := other.Replay(context.Background(), file); err != nil || n != 0 {
		t.Fatalf("replay of a segment another process writes: %d, %v", n, err)
	}
	if err := writer.Append(phone.JournalEntry{Kind: phone.JournalCall, CallSid: "CA2", From: resident}); err != nil {
		t.Fatal(err)
	}
	writer.Close() // the writer is gone
	// A write cut short by a crash leaves half a line: it is skipped.
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.jsonl"))
	f, err := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"call","call_sid":"CA3","fr`)
	f.Close()
	if n, err := other.Replay(context.Background(), file); err != nil || n != 2 {
		t.Fatalf("replay after the writer left: %d, %v", n, err)
	}
	if strings.Join(filed, ",") != "CA1,CA2" || other.Pending() {
		t.Fatalf("filed %v, pending %v", filed, other.Pending())
	}
}

// An entry the store refuses for good is set aside for a person, and the
// entries after it are filed.
func TestJournal_ARefusedEntryDoesNotHoldBackTheOthers(t *testing.T) {
	dir := t.TempDir()
	j, err := phone.OpenJournal(dir, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{"CA1", "CAbad", "CA3"} {
		if err := j.Append(phone.JournalEntry{Kind: phone.JournalCall, CallSid: sid, From: resident}); err != nil {
			t.Fatal(err)
		}
	}
	var filed []string
	n, err := j.Replay(context.Background(), func(_ context.Context, e phone.JournalEntry) error {
		if e.CallSid == "CAbad" {
			return hotline.Errorf(hotline.EINVALID, "no such category")
		}
		filed = append(filed, e.CallSid)
		return nil
	})
	if err != nil || n != 2 || strings.Join(filed, ",") != "CA1,CA3" {
		t.Fatalf("replay: %d %v, filed %v", n, err, filed)
	}
	b, err := os.ReadFile(filepath.Join(dir, "rejected.jsonl"))
	if err != nil || !strings.Contains(string(b), "CAbad") {
		t.Fatalf("rejected.jsonl: %q, %v", b, err)
	}
	if j.Pending() {
		t.Error("segment left behind")
	}
}
