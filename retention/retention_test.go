package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/retention"
)

// wednesday11 is a working Wednesday late morning on the Shanghai clock,
// when the demo street's committees are on duty: routing is the same on
// every run of the tests.
var wednesday11 = time.Date(2025, time.March, 12, 11, 0, 0, 0, dispatch.Shanghai)

// Street is the demo street on a real Redis: intake and dispatch on a
// fixed clock, and the stores the sweep works on.
type Street struct {
	DB       *redisstore.DB
	Tickets  *redisstore.TicketStore
	Intake   *intake.Service
	Dispatch *dispatch.Service
	Admin    *hotline.User
}

// MustStreet opens the demo street with a fresh key prefix.
func MustStreet(tb testing.TB) *Street {
	tb.Helper()
	client, prefix := redistest.New(tb)
	n, c := network.Demo()
	dir := hotline.NewStaticDirectory(n, c)
	db := redisstore.NewDB(client, prefix)
	tickets := redisstore.NewTicketStore(db)
	if err := redisstore.NewUnitIndex(db).IndexUnits(context.Background(), n); err != nil {
		tb.Fatal(err)
	}
	cfg := dispatch.DefaultConfig()
	compiled, err := cfg.Compile(c)
	if err != nil {
		tb.Fatal(err)
	}
	d := dispatch.New(compiled, tickets, redisstore.NewUnitIndex(db), redisstore.NewDeadlineQueue(db), dir, nil)
	d.Now = func() time.Time { return wednesday11 }
	in := intake.New(tickets, dir)
	in.Now = d.Now
	in.Place = d.PlaceNew
	return &Street{DB: db, Tickets: tickets, Intake: in, Dispatch: d,
		Admin: &hotline.User{ID: "u-admin", Username: "admin", Role: hotline.RoleAdmin}}
}

// Sweeper returns a sweep of the street for a period of 365 days, on the
// clock now.
func (st *Street) Sweeper(now func() time.Time) *retention.Sweeper {
	return &retention.Sweeper{Store: st.Tickets, Period: retention.DefaultPeriod, Locker: redisstore.NewLocker(st.DB), Now: now, Logger: quiet}
}

// quiet is the sweeps' logger in tests: their summaries are checked, not read.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// A resident's details, as they reach the hotline and its staff.
const (
	phone      = "13800138000"
	phoneE164  = "+8613800138000"
	otherPhone = "139 0013 9000"
	address    = "长寿路 101 号 3 室"
	recording  = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
	callSid    = "CA0123456789abcdef0123456789abcdef"
)

// personal lists what must not survive an erasure anywhere.
var personal = []string{phone, "138 0013 8000", otherPhone, "13900139000", "王阿姨", "张", "建国", "wang.ayi@example.cn",
	"101 号", "101号", "3 室", recording, "RE1", callSid, "李师傅"}

// MustServed files a meals request with every kind of personal detail by
// the web form, and works it to resolved with a note, a rating and its
// comment: the history of a real ticket.
func (st *Street) MustServed(tb testing.TB) *hotline.Ticket {
	tb.Helper()
	ctx := context.Background()
	lat, long := 31.239151, 121.434905 // inside 长寿路居委会 (c07)
	t, _, err := st.Intake.Submit(ctx, intake.Submission{
		Channel: hotline.ChannelWeb, ServiceCode: "elderly_meals",
		Description: "我叫张建国，独居老人王阿姨腿脚不便，住" + address + "，希望每天中午送餐上门，电话 " + phone,
		Lat:         &lat, Long: &long, Address: address,
		Phone: phone, FirstName: "建国", LastName: "张", Email: "wang.ayi@example.cn", Consent: true,
		MediaURL: recording, ExternalRef: callSid, Actor: "resident",
	}, "")
	if err != nil {
		tb.Fatal(err)
	}
	steps := []func() (*hotline.Ticket, error){
		func() (*hotline.Ticket, error) { return st.Dispatch.Accept(ctx, st.Admin, t.ID) },
		func() (*hotline.Ticket, error) {
			return st.Dispatch.Note(ctx, st.Admin, t.ID, "居民来电：联系儿子张建国，手机 "+otherPhone+"，邮箱 wang.ayi@example.cn")
		},
		func() (*hotline.Ticket, error) {
			return st.Dispatch.Resolve(ctx, st.Admin, t.ID, "已安排志愿者李师傅每天送餐到"+address)
		},
		func() (*hotline.Ticket, error) { return st.Dispatch.Rate(ctx, t.ID, 4, "谢谢李师傅", "resident") },
	}
	for i, step := range steps {
		if t, err = step(); err != nil {
			tb.Fatalf("step %d: %v", i, err)
		}
	}
	return t
}

// MustEvents returns the ticket's history.
func (st *Street) MustEvents(tb testing.TB, id string) []*hotline.Event {
	tb.Helper()
	evs, err := st.Tickets.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

// MustTicket reads a ticket back.
func (st *Street) MustTicket(tb testing.TB, id string) *hotline.Ticket {
	tb.Helper()
	t, err := st.Tickets.FindTicket(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// ResidentKeys returns the resident key of every ticket the grouping reads.
func (st *Street) ResidentKeys(tb testing.TB) map[string]string {
	tb.Helper()
	keys := map[string]string{}
	err := st.Tickets.ScanNeeds(context.Background(), wednesday11.Add(-time.Hour), wednesday11.Add(time.Hour), func(r hotline.NeedRecord) error {
		keys[r.TicketID] = r.ResidentKey
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

// MustRun runs the sweep and fails the test on error.
func MustRun(tb testing.TB, s *retention.Sweeper, dryRun bool) *retention.Report {
	tb.Helper()
	r, err := s.Run(context.Background(), dryRun)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func asJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// holdsPersonal returns the first personal detail found in s.
func holdsPersonal(s string) string {
	for _, p := range personal {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

// A year after its last change, a served ticket loses who the resident
// is and where exactly they live, in the ticket and in its history; it
// keeps what the statistics and the grouping read. An open ticket and
// one finished more recently are left alone, and a second run changes
// nothing.
func TestSweepErasesAFinishedTicket(t *testing.T) {
	st := MustStreet(t)
	old := st.MustServed(t)
	time.Sleep(5 * time.Millisecond) // recent is changed after old's cutoff
	recent := st.MustServed(t)
	open := st.MustServed(t)
	if _, err := st.Dispatch.Reopen(context.Background(), st.Admin, open.ID, "居民说还没送到"); err != nil {
		t.Fatal(err)
	}
	open = st.MustTicket(t, open.ID)
	keysBefore := st.ResidentKeys(t)
	if keysBefore[old.ID] == "" || keysBefore[old.ID] != keysBefore[recent.ID] {
		t.Fatalf("resident keys before: %v", keysBefore)
	}
	untouched := map[string]string{}
	for _, tk := range []*hotline.Ticket{recent, open} {
		untouched[tk.ID] = asJSON(t, tk) + asJSON(t, st.MustEvents(t, tk.ID))
	}
	eventsBefore := st.MustEvents(t, old.ID)

	// The sweep's clock: one millisecond more than a year after old's
	// last change, so recent (changed 5 ms later) is not due yet.
	now := old.UpdatedAt.Add(retention.DefaultPeriod + time.Millisecond)
	sweep := st.Sweeper(func() time.Time { return now })
	r := MustRun(t, sweep, false)
	if r.Erased != 1 || r.Waiting != 1 || r.Read != 2 || r.Marked != 0 || r.Events != 3 {
		t.Errorf("report %+v: want 2 finished tickets read, old erased (3 notes changed), recent waiting", r)
	}

	got := st.MustTicket(t, old.ID)
	if got.Contact != (hotline.Contact{Consent: true}) || got.Location.Address != "" || got.MediaURL != "" || got.ExternalRef != "" {
		t.Errorf("erased ticket keeps contact %+v, address %q, media %q, ref %q", got.Contact, got.Location.Address, got.MediaURL, got.ExternalRef)
	}
	if p := holdsPersonal(asJSON(t, got)); p != "" {
		t.Errorf("erased ticket still holds %q: %s", p, asJSON(t, got))
	}
	if !strings.Contains(got.Description, "送餐上门") || !strings.Contains(got.Description, "某阿姨") || !strings.Contains(got.Description, "长寿路") {
		t.Errorf("the need's words are gone with the details: %q", got.Description)
	}
	if math.Abs(got.Location.Lat-31.239) > 1e-9 || math.Abs(got.Location.Long-121.435) > 1e-9 {
		t.Errorf("point %v,%v, want rounded to 31.239,121.435", got.Location.Lat, got.Location.Long)
	}
	// Where it stands, when and how well: all kept.
	kept := *old
	kept.Contact, kept.Location, kept.MediaURL, kept.ExternalRef = got.Contact, got.Location, got.MediaURL, got.ExternalRef
	kept.Description, kept.StatusNotes, kept.RouteReason = got.Description, got.StatusNotes, got.RouteReason
	kept.ErasedAt, kept.Version = now.UTC(), old.Version+1
	if g, w := asJSON(t, got), asJSON(t, &kept); g != w {
		t.Errorf("erasure changed more than the personal details:\n got %s\nwant %s", g, w)
	}
	if got.Location.Committee != "c07" || got.Satisfaction != 4 || got.Status != hotline.StatusResolved || got.Tier != hotline.TierCommittee {
		t.Errorf("facts lost: committee %q, satisfaction %d, status %s, tier %d", got.Location.Committee, got.Satisfaction, got.Status, got.Tier)
	}

	events := st.MustEvents(t, old.ID)
	if len(events) != len(eventsBefore)+1 {
		t.Fatalf("%d events, want %d and the erasure's", len(events), len(eventsBefore))
	}
	for i, e := range events {
		if p := holdsPersonal(e.Note); p != "" {
			t.Errorf("event %d (%s) still holds %q: %q", i, e.Type, p, e.Note)
		}
		if i < len(eventsBefore) && (e.Position != eventsBefore[i].Position || e.Type != eventsBefore[i].Type || !e.At.Equal(eventsBefore[i].At)) {
			t.Errorf("event %d moved: %+v, was %+v", i, e, eventsBefore[i])
		}
	}
	last := events[len(events)-1]
	if last.Type != hotline.EventTicketErased || !last.At.Equal(now) || last.Actor != retention.Actor || !strings.Contains(last.Note, "365") {
		t.Errorf("erasure event %+v", last)
	}
	if keys := st.ResidentKeys(t); keys[old.ID] != keysBefore[old.ID] || keys[recent.ID] != keysBefore[recent.ID] {
		t.Errorf("resident keys after the erasure %v, before %v: the grouping would count the resident twice", keys, keysBefore)
	}
	for id, was := range untouched {
		if now := asJSON(t, st.MustTicket(t, id)) + asJSON(t, st.MustEvents(t, id)); now != was {
			t.Errorf("ticket %s was not due and changed", id)
		}
	}

	// Again: nothing more to do, nothing written.
	snapshot := asJSON(t, st.MustTicket(t, old.ID)) + asJSON(t, st.MustEvents(t, old.ID))
	r = MustRun(t, sweep, false)
	if r.Erased != 0 || r.Marked != 0 || r.Read != 1 || r.Waiting != 1 {
		t.Errorf("second run %+v: want only recent read (still waiting)", r)
	}
	if again := asJSON(t, st.MustTicket(t, old.ID)) + asJSON(t, st.MustEvents(t, old.ID)); again != snapshot {
		t.Errorf("a second run changed the erased ticket")
	}

	// A note without personal details, a period ago: the ticket is read
	// again, found with nothing to erase and only marked.
	noted, err := st.Dispatch.Note(context.Background(), st.Admin, old.ID, "已电话回访，居民满意")
	if err != nil {
		t.Fatal(err)
	}
	later := noted.UpdatedAt.Add(retention.DefaultPeriod + time.Millisecond)
	if r := MustRun(t, st.Sweeper(func() time.Time { return later }), false); r.Erased != 1 || r.Marked != 1 {
		t.Errorf("sweep after a plain note %+v: want old marked, recent erased", r)
	}
	evs := st.MustEvents(t, old.ID)
	if last := evs[len(evs)-1]; last.Type != hotline.EventTicketNoted || last.Note != "已电话回访，居民满意" {
		t.Errorf("last event after marking %+v, want the note as written", last)
	}
	if r := MustRun(t, st.Sweeper(func() time.Time { return later }), false); r.Read != 0 {
		t.Errorf("sweep after marking %+v, want nothing read", r)
	}
}

// An erased ticket can be reopened and worked again; the new personal
// details it gathers are erased a period after it is finished again, and
// the resident is still counted once.
func TestAReopenedErasedTicketWorks(t *testing.T) {
	st := MustStreet(t)
	ctx := context.Background()
	tk := st.MustServed(t)
	key := st.ResidentKeys(t)[tk.ID]
	first := tk.UpdatedAt.Add(retention.DefaultPeriod + time.Millisecond)
	if r := MustRun(t, st.Sweeper(func() time.Time { return first }), false); r.Erased != 1 {
		t.Fatalf("first sweep %+v", r)
	}

	reopened, err := st.Dispatch.Reopen(ctx, st.Admin, tk.ID, "居民又来电，电话 "+phone+"，还需要送餐")
	if err != nil {
		t.Fatalf("reopen an erased ticket: %v", err)
	}
	if reopened.Status != hotline.StatusRouted || reopened.UnitID == "" {
		t.Errorf("reopened erased ticket is %s at %q, want routed to a unit (from its committee and rounded point)", reopened.Status, reopened.UnitID)
	}
	for _, step := range []func() (*hotline.Ticket, error){
		func() (*hotline.Ticket, error) { return st.Dispatch.Accept(ctx, st.Admin, tk.ID) },
		func() (*hotline.Ticket, error) { return st.Dispatch.Resolve(ctx, st.Admin, tk.ID, "已恢复送餐") },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	done := st.MustTicket(t, tk.ID)
	if done.Status != hotline.StatusResolved || st.ResidentKeys(t)[tk.ID] != key {
		t.Fatalf("worked again: %s, resident key %q, want resolved and %q", done.Status, st.ResidentKeys(t)[tk.ID], key)
	}

	// Not yet a period since it was finished again: waiting.
	if r := MustRun(t, st.Sweeper(func() time.Time { return first }), false); r.Erased != 0 || r.Waiting != 1 {
		t.Errorf("sweep before the second period %+v, want the ticket waiting", r)
	}
	second := done.UpdatedAt.Add(retention.DefaultPeriod + time.Millisecond)
	if r := MustRun(t, st.Sweeper(func() time.Time { return second }), false); r.Erased != 1 || r.Events != 1 {
		t.Errorf("second sweep %+v, want the reopening's note erased", r)
	}
	evs := st.MustEvents(t, tk.ID)
	erasures := 0
	for _, e := range evs {
		if strings.Contains(e.Note, phone) {
			t.Errorf("%s still holds the phone: %q", e.Type, e.Note)
		}
		if e.Type == hotline.EventTicketErased {
			erasures++
		}
	}
	if erasures != 2 || evs[len(evs)-1].Type != hotline.EventTicketErased {
		t.Errorf("%d erasure events, want 2, the last one last", erasures)
	}
	if got := st.ResidentKeys(t)[tk.ID]; got != key {
		t.Errorf("resident key after the second erasure %q, want %q", got, key)
	}
}

// Once the period has passed for everything, the live boards' feed holds
// nothing personal: the entries from when the tickets were worked are
// gone, and the erasures' own entries carry the erased summary.
func TestSweepLeavesNothingPersonalInTheFeed(t *testing.T) {
	st := MustStreet(t)
	var ids []string
	for range 3 {
		ids = append(ids, st.MustServed(t).ID)
	}
	if n := feedMatches(t, st.DB, ids); n == 0 {
		t.Fatal("the feed holds none of the tickets' entries before the sweep")
	}
	now := time.Now().Add(retention.DefaultPeriod + time.Second)
	r := MustRun(t, st.Sweeper(func() time.Time { return now }), false)
	if r.Erased != 3 || r.FeedTrimmed == 0 {
		t.Fatalf("report %+v: want 3 erased and the old feed trimmed", r)
	}
	if n := feedMatches(t, st.DB, ids); n != 3 {
		t.Errorf("%d feed entries of the tickets, want their 3 erasures", n)
	}
	for _, e := range feedAll(t, st.DB) {
		if p := holdsPersonal(e); p != "" {
			t.Errorf("a feed entry still holds %q: %s", p, e)
		}
		if strings.Contains(e, "31.239151") || strings.Contains(e, "121.434905") {
			t.Errorf("a feed entry holds the exact point: %s", e)
		}
	}
}

// feedAll returns every entry of every partition's feed as text.
func feedAll(tb testing.TB, db *redisstore.DB) []string {
	tb.Helper()
	var out []string
	for p := range redisstore.NewFeed(db).Partitions() {
		msgs, err := db.Client().XRange(context.Background(), fmt.Sprintf("%s:{p%d}:feed", db.Prefix(), p), "-", "+").Result()
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range msgs {
			out = append(out, fmt.Sprint(m.Values))
		}
	}
	return out
}

// feedMatches counts the feed entries of the tickets ids.
func feedMatches(tb testing.TB, db *redisstore.DB, ids []string) int {
	tb.Helper()
	n := 0
	for _, e := range feedAll(tb, db) {
		for _, id := range ids {
			if strings.Contains(e, `"ticket_id":"`+id+`"`) {
				n++
			}
		}
	}
	return n
}

// A dry run counts what a run would do and writes nothing; a run while
// another replica holds the lock does nothing and says so; two replicas
// sweeping at once erase each ticket once.
func TestSweepDryRunAndLock(t *testing.T) {
	st := MustStreet(t)
	ctx := context.Background()
	var tickets []*hotline.Ticket
	for range 4 {
		tickets = append(tickets, st.MustServed(t))
	}
	now := time.Now().Add(retention.DefaultPeriod + time.Second)
	clock := func() time.Time { return now }
	snapshot := func() string {
		var b strings.Builder
		for _, tk := range tickets {
			b.WriteString(asJSON(t, st.MustTicket(t, tk.ID)) + asJSON(t, st.MustEvents(t, tk.ID)))
		}
		return b.String() + fmt.Sprint(len(feedAll(t, st.DB)))
	}
	before := snapshot()

	unlock, ok, err := redisstore.NewLocker(st.DB).Lock(ctx, retention.LockName, time.Minute)
	if err != nil || !ok {
		t.Fatalf("take the lock: %v %v", ok, err)
	}
	if _, err := st.Sweeper(clock).Run(ctx, false); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("run while another replica holds the lock: %v, want conflict", err)
	}
	dry := MustRun(t, st.Sweeper(clock), true) // no lock needed
	if !dry.DryRun || dry.Erased != 4 || dry.Events != 12 || len(dry.Due) != 4 || dry.FeedTrimmed != 0 {
		t.Errorf("dry run %+v: want 4 tickets and 12 notes to erase, listed", dry)
	}
	if after := snapshot(); after != before {
		t.Error("the dry run or the locked-out run wrote something")
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	reports := make([]*retention.Report, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = st.Sweeper(clock).Run(ctx, false)
		}()
	}
	wg.Wait()
	erased := 0
	for i, err := range errs {
		switch {
		case err == nil:
			erased += reports[i].Erased
		case hotline.ErrorCode(err) != hotline.ECONFLICT:
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	if r := MustRun(t, st.Sweeper(clock), false); erased+r.Erased != 4 {
		t.Errorf("the replicas erased %d tickets and a last run %d, want 4 in all", erased, r.Erased)
	}
	for _, tk := range tickets {
		n := 0
		for _, e := range st.MustEvents(t, tk.ID) {
			if e.Type == hotline.EventTicketErased {
				n++
			}
		}
		if n != 1 {
			t.Errorf("ticket %s was erased %d times", tk.ID, n)
		}
	}
}

// A period shorter than the outbox keeps texts is refused.
func TestSweepRefusesAShortPeriod(t *testing.T) {
	s := &retention.Sweeper{Store: MustStreet(t).Tickets, Period: 30 * 24 * time.Hour}
	if _, err := s.Run(context.Background(), false); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("30 days: %v, want invalid", err)
	}
}
