package notify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/notify"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/twiliofake"
	"github.com/redis/go-redis/v9"
)

func newTicket(phone, lang string, consent bool) *hotline.Ticket {
	return &hotline.Ticket{
		Channel:     hotline.ChannelWeb,
		ServiceCode: "home_repair",
		Description: "楼道灯坏了",
		Location:    hotline.Location{Address: "长寿路 123 号", Lat: 31.2397123, Long: 121.4331987, Committee: "c01"},
		Contact:     hotline.Contact{Phone: phone, LastName: "王", Consent: consent},
		Language:    lang,
	}
}

func accept(t *hotline.Ticket) (*hotline.Event, error) {
	t.Status, t.UnitID = hotline.StatusAccepted, "u1"
	return &hotline.Event{Type: hotline.EventTicketAccepted, Actor: "u1", UnitID: "u1"}, nil
}

func resolve(what string) hotline.TicketChange {
	return func(t *hotline.Ticket) (*hotline.Event, error) {
		t.Status, t.StatusNotes = hotline.StatusResolved, what
		return &hotline.Event{Type: hotline.EventTicketResolved, Actor: "u1", UnitID: t.UnitID, Note: what}, nil
	}
}

func note(t *hotline.Ticket) (*hotline.Event, error) {
	return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "u1", Note: "请居民回电"}, nil
}

// MustTicket stores t, applies changes and returns it as last stored.
func MustTicket(tb testing.TB, s *redisstore.TicketStore, t *hotline.Ticket, changes ...hotline.TicketChange) *hotline.Ticket {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.CreateTicket(ctx, t, ""); err != nil {
		tb.Fatal(err)
	}
	for _, c := range changes {
		var err error
		if t, err = s.UpdateTicket(ctx, t.ID, c); err != nil {
			tb.Fatal(err)
		}
	}
	return t
}

// StartNotifier runs a notifier as consumer name of group "notify" until
// the returned stop (or the test's end).
func (e *env) StartNotifier(tb testing.TB, name string) (stop func()) {
	tb.Helper()
	n := notify.NewNotifier(redisstore.NewTicketStore(e.db), e.outbox, e.sessions)
	c := redisstore.NewFeedConsumer(e.db, "notify", name)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, n.Handler(ctx)) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("consumer %s: %v", name, err)
			}
		})
	}
	tb.Cleanup(stop)
	e.waitGroup(tb, "notify")
	return stop
}

// waitGroup waits until group exists on every partition of the feed.
func (e *env) waitGroup(tb testing.TB, group string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for p := range redisstore.NewFeed(e.db).Partitions() {
		k := fmt.Sprintf("%s:{p%d}:feed", e.db.Prefix(), p)
		for {
			gs, _ := e.db.Client().XInfoGroups(context.Background(), k).Result()
			if slices.ContainsFunc(gs, func(g redis.XInfoGroup) bool { return g.Name == group }) {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("group %s missing on partition %d", group, p)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// messagesTo lists the outbox's messages to phone, oldest first.
func (e *env) messagesTo(tb testing.TB, phone string) []*hotline.OutboundMessage {
	tb.Helper()
	ms, err := e.outbox.MessagesTo(context.Background(), phone, 100)
	if err != nil {
		tb.Fatal(err)
	}
	slices.Reverse(ms)
	return ms
}

// waitMessages waits until phone has n messages in the outbox, then a
// little longer for any extra one to show.
func (e *env) waitMessages(tb testing.TB, phone string, n int) []*hotline.OutboundMessage {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.messagesTo(tb, phone)) < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%s has %d messages, want %d", phone, len(e.messagesTo(tb, phone)), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	return e.messagesTo(tb, phone)
}

func kinds(ms []*hotline.OutboundMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Kind)
	}
	slices.Sort(out)
	return out
}

func TestNotifierOneMessagePerChangeAcrossConsumersAndReplays(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	store, feed := redisstore.NewTicketStore(e.db), redisstore.NewFeed(e.db)
	from, err := feed.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e.StartNotifier(t, "replica-a")
	e.StartNotifier(t, "replica-b")

	const (
		zhPhone = "+8613800138001"
		enPhone = "+8613800138002"
		noPhone = "+8613800138003"
	)
	zh := MustTicket(t, store, newTicket(zhPhone, "", true), accept, note, resolve("已更换灯泡，联系人电话 13912345678"))
	en := MustTicket(t, store, newTicket(enPhone, "en", true), accept, resolve("Replaced the bulb"))
	MustTicket(t, store, newTicket(noPhone, "zh", false), accept, resolve("done"))
	MustTicket(t, store, newTicket("", "zh", true), accept, resolve("done"))

	zhMsgs := e.waitMessages(t, zhPhone, 3)
	enMsgs := e.waitMessages(t, enPhone, 3)
	want := []string{notify.KindAccepted, notify.KindRatingRequest, notify.KindResolved}
	if got := kinds(zhMsgs); !slices.Equal(got, want) {
		t.Errorf("zh ticket got %v, want %v", got, want)
	}
	if got := kinds(enMsgs); !slices.Equal(got, want) {
		t.Errorf("en ticket got %v, want %v", got, want)
	}
	if ms := e.messagesTo(t, noPhone); len(ms) != 0 {
		t.Errorf("a ticket without consent got %d messages", len(ms))
	}

	byKind := func(ms []*hotline.OutboundMessage) map[string]*hotline.OutboundMessage {
		m := map[string]*hotline.OutboundMessage{}
		for _, x := range ms {
			m[x.Kind] = x
		}
		return m
	}
	zk, ek := byKind(zhMsgs), byKind(enMsgs)
	for kind, m := range zk {
		if !strings.Contains(m.Body, zh.ID) || m.TicketID != zh.ID || strings.Contains(m.Body, "王") {
			t.Errorf("zh %s: %q", kind, m.Body)
		}
		if !strings.HasPrefix(m.Key, "ticket:"+zh.ID+":v") || !strings.HasSuffix(m.Key, ":"+kind) {
			t.Errorf("zh %s key %q", kind, m.Key)
		}
	}
	if b := zk[notify.KindResolved].Body; !strings.Contains(b, "已办结") || !strings.Contains(b, "已更换灯泡") || strings.Contains(b, "13912345678") {
		t.Errorf("zh resolved text %q: want 已办结, what was done, the number masked", b)
	}
	if b := zk[notify.KindRatingRequest].Body; !strings.Contains(b, "1-5") {
		t.Errorf("zh rating request %q", b)
	}
	if b := ek[notify.KindAccepted].Body; !strings.Contains(b, "accepted") || !strings.Contains(b, en.ID) {
		t.Errorf("en accepted text %q", b)
	}
	if b := ek[notify.KindResolved].Body; !strings.Contains(b, "resolved") || !strings.Contains(b, "Replaced the bulb") {
		t.Errorf("en resolved text %q", b)
	}
	if b := ek[notify.KindRatingRequest].Body; !strings.Contains(b, "Reply 1-5 (5 = very satisfied)") {
		t.Errorf("en rating request %q", b)
	}
	if r, s := zk[notify.KindRatingRequest], zk[notify.KindResolved]; !r.NextAt.After(s.NextAt) {
		t.Errorf("rating request due %v, not after the resolved message (%v)", r.NextAt, s.NextAt)
	}

	// The rating conversation is recorded for the SMS webhook.
	for _, c := range []struct{ phone, id, lang string }{{zhPhone, zh.ID, "zh"}, {enPhone, en.ID, "en"}} {
		var got notify.AwaitingRating
		found, err := e.sessions.Load(context.Background(), notify.RatingKey(c.phone), &got)
		if err != nil || !found || got.TicketID != c.id || got.Language != c.lang {
			t.Errorf("awaiting rating for %s = %+v (found %v, %v), want ticket %s in %s", c.phone, got, found, err, c.id, c.lang)
		}
	}

	// Replaying every event (a group created again, a bug) adds nothing.
	n := notify.NewNotifier(store, e.outbox, e.sessions)
	evs, err := feed.ReadSince(context.Background(), from, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if err := n.Handle(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// And a replica restarted under the same group resumes, not replays.
	e.StartNotifier(t, "replica-a")
	if got := e.waitMessages(t, zhPhone, 3); len(got) != 3 {
		t.Errorf("after replay: %d messages to the zh ticket, want 3", len(got))
	}
	if got := e.messagesTo(t, enPhone); len(got) != 3 {
		t.Errorf("after replay: %d messages to the en ticket, want 3", len(got))
	}
}

func TestNotifierSkipsOldEventsAndRatedTickets(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	store := redisstore.NewTicketStore(e.db)
	tk := MustTicket(t, store, newTicket(resident, "zh", true), accept, resolve("done"))
	n := notify.NewNotifier(store, e.outbox, e.sessions)

	old := hotline.FeedEvent{Event: &hotline.Event{Type: hotline.EventTicketResolved, TicketID: tk.ID,
		Version: tk.Version, At: time.Now().Add(-2 * notify.DefaultMaxAge)}}
	if err := n.Handle(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if ms := e.messagesTo(t, resident); len(ms) != 0 {
		t.Errorf("an old event sent %d messages", len(ms))
	}

	rated, err := store.UpdateTicket(context.Background(), tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
		t.Satisfaction = 5
		return &hotline.Event{Type: hotline.EventTicketRated, Actor: "resident"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := hotline.FeedEvent{Event: &hotline.Event{Type: hotline.EventTicketResolved, TicketID: rated.ID,
		Version: tk.Version, At: time.Now(), Note: "done"}}
	if err := n.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	if got := kinds(e.messagesTo(t, resident)); !slices.Equal(got, []string{notify.KindResolved}) {
		t.Errorf("a rated ticket got %v, want only the resolved message", got)
	}
}

func TestTexts(t *testing.T) {
	long := strings.Repeat("修", 100)
	if got := notify.ResolvedText("zh", "1600356", long); !strings.HasSuffix(got, "…") || len([]rune(got)) > 90 {
		t.Errorf("long note not cut: %q", got)
	}
	if got := notify.ResolvedText("en", "1600356", "call 021 5555 1234 or +8613912345678"); strings.Contains(got, "13912345678") || strings.Contains(got, "5555") {
		t.Errorf("number not masked: %q", got)
	}
	if got := notify.ResolvedText("en", "1600356", "fixed in room 302, 2 bulbs"); !strings.Contains(got, "room 302, 2 bulbs") {
		t.Errorf("short numbers masked: %q", got)
	}
	for in, want := range map[string]string{"": "zh", "zh": "zh", "en": "en", "EN": "en", "en-GB": "en", "fr": "zh"} {
		if got := notify.Language(in); got != want {
			t.Errorf("Language(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := notify.RatingKey("+8613800138000"), "sms:rating:+8613800138000"; got != want {
		t.Errorf("RatingKey = %q, want %q", got, want)
	}
	if got, want := notify.MessageKey("1600356", 4, "accepted"), "ticket:1600356:v4:accepted"; got != want {
		t.Errorf("MessageKey = %q, want %q", got, want)
	}
}

func ask(question string) hotline.TicketChange {
	return func(t *hotline.Ticket) (*hotline.Event, error) {
		return &hotline.Event{Type: hotline.EventTicketAsked, Actor: "u1", Note: question}, nil
	}
}

// A unit's question is texted to the resident, once, and the number's
// replies are recorded as awaited for that ticket; a ticket without
// consent gets nothing.
func TestNotifierAsksTheResident(t *testing.T) {
	e := newEnv(t, twiliofake.Config{})
	store := redisstore.NewTicketStore(e.db)
	e.StartNotifier(t, "replica-a")
	const phone, silent = "+8613800138011", "+8613800138012"
	tk := MustTicket(t, store, newTicket(phone, "", true), accept, ask("请问是几号楼？"))
	MustTicket(t, store, newTicket(silent, "", false), accept, ask("请问是几号楼？"))

	ms := e.waitMessages(t, phone, 2)
	if got := kinds(ms); !slices.Equal(got, []string{notify.KindAccepted, notify.KindQuestion}) {
		t.Fatalf("messages %v, want accepted and question", got)
	}
	q := ms[1]
	if q.Kind != notify.KindQuestion {
		q = ms[0]
	}
	if !strings.Contains(q.Body, "请问是几号楼？") || !strings.Contains(q.Body, tk.ID) || !strings.Contains(q.Body, "回复") {
		t.Errorf("question text %q: want the question, the ticket and how to answer", q.Body)
	}
	var awaited notify.AwaitingReply
	if ok, err := e.sessions.Load(context.Background(), notify.ReplyKey(phone), &awaited); err != nil || !ok || awaited.TicketID != tk.ID {
		t.Errorf("awaited reply %+v (found %v, %v), want ticket %s", awaited, ok, err, tk.ID)
	}
	if ms := e.messagesTo(t, silent); len(ms) != 0 {
		t.Errorf("a ticket without consent got %d messages", len(ms))
	}
}
