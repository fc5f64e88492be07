package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

// forget is an erasure as the store sees it: the phone and the address go,
// and every note holding the phone loses it. It leaves the rest to package
// retention's rules, which have their own tests.
func forget(phone string) func(*hotline.Ticket, []*hotline.Event) (*hotline.Event, error) {
	return func(t *hotline.Ticket, evs []*hotline.Event) (*hotline.Event, error) {
		t.Contact.Phone, t.Location.Address = "", ""
		for _, e := range evs {
			e.Note = strings.ReplaceAll(e.Note, phone, "***")
		}
		return &hotline.Event{Type: hotline.EventTicketErased, Actor: "system", Note: "erased"}, nil
	}
}

// feedTickets returns the ticket id of every entry of every partition's feed.
func feedTickets(tb testing.TB, db *redisstore.DB) []string {
	tb.Helper()
	var out []string
	for p := range redisstore.Partitions {
		msgs, err := db.Client().XRange(context.Background(), fmt.Sprintf("%s:{p%d}:feed", db.Prefix(), p), "-", "+").Result()
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range msgs {
			id, _ := m.Values["t"].(string)
			out = append(out, id)
		}
	}
	return out
}

// A finished ticket's erasure rewrites the notes that held the phone
// under their own stream ids, keeps the other events' bytes, appends its
// event to the history and the feed, and keeps the resident's key for the
// grouping.
func TestEraseTicketRewritesItsHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		at := time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)
		phone := "+8613800138000"
		tk := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelSMS, ServiceCode: "elderly_meals",
			Description: "老人需要送餐", Location: hotline.Location{Address: "长寿路 1 号", Committee: "c03"},
			Contact: hotline.Contact{Phone: phone, Consent: true}, UnitID: "c03", Status: hotline.StatusRouted, CreatedAt: at}, "")
		MustUpdateTicket(t, s, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "twilio", Note: "短信补充 / by SMS: 回电 " + phone}, nil
		})
		MustUpdateTicket(t, s, tk.ID, setStatus(hotline.StatusAccepted, hotline.EventTicketAccepted))
		MustUpdateTicket(t, s, tk.ID, setStatus(hotline.StatusResolved, hotline.EventTicketResolved))
		before := MustEvents(t, s, tk.ID)
		window := func() map[string]hotline.NeedRecord { return scanAll(t, s, at, at.Add(time.Hour), 2000) }
		wantKey := window()[tk.ID].ResidentKey
		if wantKey == "" {
			t.Fatal("no resident key before the erasure")
		}
		feedBefore := feedLen(t, b.db)

		got, erased, err := s.EraseTicket(ctx, tk.ID, forget(phone))
		if err != nil || !erased {
			t.Fatalf("erase: %v, erased %v", err, erased)
		}
		found, err := s.FindTicket(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := asJSON(t, found), asJSON(t, got); g != w {
			t.Fatalf("stored ticket differs from the one returned:\n got %s\nwant %s", g, w)
		}
		if found.Contact.Phone != "" || found.Location.Address != "" || found.Version != 5 || found.Status != hotline.StatusResolved ||
			!found.UpdatedAt.Equal(MustFind(t, s, tk.ID).UpdatedAt) {
			t.Errorf("erased ticket %+v", found)
		}

		after := MustEvents(t, s, tk.ID)
		if len(after) != len(before)+1 {
			t.Fatalf("%d events after, %d before: want one more", len(after), len(before))
		}
		for i, e := range before {
			a := after[i]
			if a.Position != e.Position || a.Type != e.Type || a.Version != e.Version || !a.At.Equal(e.At) {
				t.Errorf("event %d moved or changed: %+v, was %+v", i, a, e)
			}
			if strings.Contains(a.Note, phone) {
				t.Errorf("event %d still holds the phone: %q", i, a.Note)
			}
		}
		if after[1].Note != "短信补充 / by SMS: 回电 ***" {
			t.Errorf("the SMS note reads %q", after[1].Note)
		}
		last := after[len(after)-1]
		if last.Type != hotline.EventTicketErased || last.Version != 5 || last.Status != hotline.StatusResolved ||
			last.TicketID != tk.ID || hotline.CompareStreamIDs(last.Position, after[len(after)-2].Position) <= 0 {
			t.Errorf("erasure event %+v", last)
		}
		if n := feedLen(t, b.db); n != feedBefore+1 {
			t.Errorf("feed holds %d entries, want %d: the erasure's own", n, feedBefore+1)
		}
		if got := window()[tk.ID].ResidentKey; got != wantKey {
			t.Errorf("resident key after the erasure %q, want %q as before", got, wantKey)
		}
		recs, err := s.NeedRecords(ctx, []string{tk.ID})
		if err != nil || len(recs) != 1 || recs[0].ResidentKey != wantKey {
			t.Errorf("NeedRecords after the erasure: %+v, %v", recs, err)
		}

		// An erasure that changes no event leaves the history's entries
		// alone and only appends its own.
		MustUpdateTicket(t, s, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "u1", Note: "回访：已满意"}, nil
		})
		before = MustEvents(t, s, tk.ID)
		if _, erased, err := s.EraseTicket(ctx, tk.ID, forget(phone)); err != nil || !erased {
			t.Fatalf("second erase: %v %v", err, erased)
		}
		after = MustEvents(t, s, tk.ID)
		if g, w := asJSON(t, after[:len(before)]), asJSON(t, before); g != w {
			t.Errorf("history changed by an erasure with nothing in it:\n got %s\nwant %s", g, w)
		}
		if got := window()[tk.ID].ResidentKey; got != wantKey {
			t.Errorf("resident key after the second erasure %q, want %q", got, wantKey)
		}
	})
}

// MustFind returns a ticket and fails the test on error.
func MustFind(tb testing.TB, s *redisstore.TicketStore, id string) *hotline.Ticket {
	tb.Helper()
	t, err := s.FindTicket(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// ScanFinished reads the finished tickets created before the cutoff,
// across pages of tickets created in the same millisecond, and skips the
// ones erased or marked at their version until they change.
func TestScanFinishedSkipsErasedTickets(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		// One partition, one millisecond, more than two pages of resolved
		// tickets (500 a page), a few closed, cancelled and open ones.
		var want []string
		for i, key := range keysOfPartition(3, 1100) {
			st := hotline.StatusResolved
			switch {
			case i%100 == 7:
				st = hotline.StatusAccepted // open: never read
			case i%50 == 1:
				st = hotline.StatusClosed
			case i%50 == 2:
				st = hotline.StatusCancelled
			}
			tk := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "facilities", Status: st,
				Contact: hotline.Contact{Phone: "+86139001" + fmt.Sprintf("%05d", i)}, CreatedAt: at}, key)
			if st.Open() {
				continue
			}
			want = append(want, tk.ID)
		}
		late := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "facilities",
			Status: hotline.StatusClosed, CreatedAt: at.Add(time.Hour)}, "")
		scan := func(before time.Time) []string {
			t.Helper()
			var ids []string
			if err := s.ScanFinished(ctx, before, func(tk *hotline.Ticket) error {
				ids = append(ids, tk.ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			return ids
		}
		slices.Sort(want)
		if got := scan(at.Add(time.Millisecond)); !slices.Equal(got, want) {
			t.Fatalf("scan read %d tickets, want the %d finished ones (first extra or missing: %v)", len(got), len(want), firstDiff(got, want))
		}
		if got := scan(at); len(got) != 0 {
			t.Errorf("a cutoff at the creation read %d tickets, want none (created before is strict)", len(got))
		}
		if got := scan(at.Add(2 * time.Hour)); !slices.Contains(got, late.ID) || len(got) != len(want)+1 {
			t.Errorf("a later cutoff read %d tickets, want %d with %s", len(got), len(want)+1, late.ID)
		}

		// Erased (with its event) or marked (nothing to erase): skipped.
		erased, marked := want[0], want[1]
		if _, ok, err := s.EraseTicket(ctx, erased, forget("")); err != nil || !ok {
			t.Fatalf("erase %s: %v %v", erased, ok, err)
		}
		if _, ok, err := s.EraseTicket(ctx, marked, func(*hotline.Ticket, []*hotline.Event) (*hotline.Event, error) { return nil, nil }); err != nil || ok {
			t.Fatalf("mark %s: %v %v", marked, ok, err)
		}
		if v := MustFind(t, s, marked).Version; v != 1 {
			t.Errorf("marking changed the version to %d", v)
		}
		got := scan(at.Add(time.Millisecond))
		if slices.Contains(got, erased) || slices.Contains(got, marked) || len(got) != len(want)-2 {
			t.Errorf("after erasing %s and marking %s the scan read %d tickets, want %d without them", erased, marked, len(got), len(want)-2)
		}
		// Changed since: read again.
		MustUpdateTicket(t, s, erased, setStatus(hotline.StatusClosed, hotline.EventTicketClosed))
		if got := scan(at.Add(time.Millisecond)); !slices.Contains(got, erased) {
			t.Errorf("a ticket changed after its erasure is not read again")
		}

		stop := fmt.Errorf("enough")
		n := 0
		err := s.ScanFinished(ctx, at.Add(time.Millisecond), func(*hotline.Ticket) error {
			if n++; n == 3 {
				return stop
			}
			return nil
		})
		if err != stop || n != 3 {
			t.Errorf("scan stopped by its callback: %v after %d", err, n)
		}
	})
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] + " / " + b[i]
		}
	}
	return fmt.Sprintf("lengths %d / %d", len(a), len(b))
}

// An erasure may not move a ticket; one of a missing ticket is not found.
func TestEraseTicketRefusesToMoveTheTicket(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		tk := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "facilities", Status: hotline.StatusClosed, UnitID: "c01"}, "")
		for name, change := range map[string]func(*hotline.Ticket){
			"status":    func(t *hotline.Ticket) { t.Status = hotline.StatusReopened },
			"unit":      func(t *hotline.Ticket) { t.UnitID = "c02" },
			"committee": func(t *hotline.Ticket) { t.Location.Committee = "c02" },
			"created":   func(t *hotline.Ticket) { t.CreatedAt = t.CreatedAt.Add(time.Second) },
		} {
			_, _, err := s.EraseTicket(ctx, tk.ID, func(t *hotline.Ticket, _ []*hotline.Event) (*hotline.Event, error) {
				change(t)
				return &hotline.Event{Type: hotline.EventTicketErased}, nil
			})
			if hotline.ErrorCode(err) != hotline.EINTERNAL {
				t.Errorf("%s: err %v, want internal", name, err)
			}
		}
		if v := MustFind(t, s, tk.ID).Version; v != 1 {
			t.Errorf("refused erasures stored version %d", v)
		}
		for _, id := range []string{hotline.TicketIDWithCheck("99999999"), "12"} {
			if _, _, err := s.EraseTicket(ctx, id, forget("")); hotline.ErrorCode(err) != hotline.ENOTFOUND {
				t.Errorf("erase %s: %v, want not found", id, err)
			}
		}
	})
}

// TrimFeed drops the entries written before the time given, in every
// partition, and nothing after it.
func TestTrimFeedByTime(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		old := Busy(t, s, 40)
		time.Sleep(5 * time.Millisecond) // the next entries get later stream ids
		mid := time.Now()
		time.Sleep(5 * time.Millisecond)
		written := feedLen(t, b.db)
		fresh := Busy(t, s, 10)
		total := feedLen(t, b.db)

		n, err := s.TrimFeed(ctx, mid)
		if err != nil {
			t.Fatal(err)
		}
		if left := feedLen(t, b.db); n != written || left != total-written {
			t.Errorf("trimmed %d of %d entries, %d left: want the %d written before the cutoff gone, the %d after kept", n, total, left, written, total-written)
		}
		for _, id := range feedTickets(t, b.db) {
			if !slices.ContainsFunc(fresh, func(tk *hotline.Ticket) bool { return tk.ID == id }) {
				t.Errorf("an entry of %s, written before the cutoff, is still there", id)
			}
		}
		_ = old
		if n, err := s.TrimFeed(ctx, mid); err != nil || n != 0 {
			t.Errorf("trimming again: %d, %v; want nothing", n, err)
		}
	})
}
