package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
)

// NewTicket returns a plausible ticket as intake would hand it to the store.
func NewTicket() *hotline.Ticket {
	return &hotline.Ticket{
		Channel:     hotline.ChannelWeb,
		ServiceCode: "home_repair",
		Description: "楼道灯坏了",
		Location:    hotline.Location{Address: "长寿路 123 号", Lat: 31.2397123, Long: 121.4331987, Committee: "c01"},
		Contact:     hotline.Contact{Phone: "+8613800138000", LastName: "王", Consent: true},
		Language:    "zh",
	}
}

// MustCreateTicket stores t and fails the test on error.
func MustCreateTicket(tb testing.TB, s *redisstore.TicketStore, t *hotline.Ticket, key string) *hotline.Ticket {
	tb.Helper()
	if _, err := s.CreateTicket(context.Background(), t, key); err != nil {
		tb.Fatalf("create ticket: %v", err)
	}
	return t
}

// MustUpdateTicket applies change and fails the test on error.
func MustUpdateTicket(tb testing.TB, s *redisstore.TicketStore, id string, change hotline.TicketChange) *hotline.Ticket {
	tb.Helper()
	t, err := s.UpdateTicket(context.Background(), id, change)
	if err != nil {
		tb.Fatalf("update ticket %s: %v", id, err)
	}
	return t
}

// MustEvents returns the ticket's history and fails the test on error.
func MustEvents(tb testing.TB, s *redisstore.TicketStore, id string) []*hotline.Event {
	tb.Helper()
	evs, err := s.TicketEvents(context.Background(), id)
	if err != nil {
		tb.Fatalf("events of %s: %v", id, err)
	}
	return evs
}

func asJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// feedLen counts the entries of every partition's feed.
func feedLen(tb testing.TB, db *redisstore.DB) int64 {
	tb.Helper()
	var n int64
	for p := range redisstore.Partitions {
		k := fmt.Sprintf("%s:{p%d}:feed", db.Prefix(), p)
		l, err := db.Client().XLen(context.Background(), k).Result()
		if err != nil {
			tb.Fatal(err)
		}
		n += l
	}
	return n
}

func route(unit string) hotline.TicketChange {
	return func(t *hotline.Ticket) (*hotline.Event, error) {
		from := t.UnitID
		t.UnitID, t.Status = unit, hotline.StatusRouted
		return &hotline.Event{Type: hotline.EventTicketRouted, Actor: "system", UnitID: unit, FromUnitID: from}, nil
	}
}

func setStatus(s hotline.Status, typ string) hotline.TicketChange {
	return func(t *hotline.Ticket) (*hotline.Event, error) {
		t.Status = s
		return &hotline.Event{Type: typ, Actor: "u1", UnitID: t.UnitID}, nil
	}
}

func TestCreateAndFindTicket(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		tk := NewTicket()
		created, err := s.CreateTicket(ctx, tk, "")
		if err != nil {
			t.Fatal(err)
		}
		if !created {
			t.Error("created = false on a first create")
		}
		if !hotline.ValidTicketID(tk.ID) {
			t.Errorf("id %q has no valid check digit", tk.ID)
		}
		if got, want := tk.Version, int64(1); got != want {
			t.Errorf("version = %d, want %d", got, want)
		}
		if got, want := tk.Status, hotline.StatusNew; got != want {
			t.Errorf("status = %q, want %q", got, want)
		}
		if tk.CreatedAt.IsZero() || !tk.UpdatedAt.Equal(tk.CreatedAt) {
			t.Errorf("created_at %v, updated_at %v: want both set and equal", tk.CreatedAt, tk.UpdatedAt)
		}

		got, err := s.FindTicket(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := asJSON(t, got), asJSON(t, tk); g != w {
			t.Errorf("found ticket differs from created one:\n got %s\nwant %s", g, w)
		}

		evs := MustEvents(t, s, tk.ID)
		if len(evs) != 1 {
			t.Fatalf("got %d events, want 1", len(evs))
		}
		ev := evs[0]
		if ev.Type != hotline.EventTicketCreated || ev.TicketID != tk.ID || ev.Version != 1 ||
			ev.Status != hotline.StatusNew || ev.Position == "" || !ev.At.Equal(tk.CreatedAt) {
			t.Errorf("created event = %+v", ev)
		}
		if got, want := feedLen(t, b.db), int64(1); got != want {
			t.Errorf("feed holds %d entries, want %d", got, want)
		}
	})
}

func TestCreateTicketRejectsUnknownStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		tk := NewTicket()
		tk.Status = "lost"
		_, err := redisstore.NewTicketStore(b.db).CreateTicket(context.Background(), tk, "")
		AssertCode(t, err, hotline.EINVALID)
		if _, ok := hotline.ErrorFields(err)["status"]; !ok {
			t.Errorf("fields %v: want a message for status", hotline.ErrorFields(err))
		}
	})
}

// Ids are numbered per partition from 1000: the first ticket of partition
// p is 1000*16+p plus its check digit, e.g. "160035" for partition 3.
func TestTicketIDsEncodeTheirPartition(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		seen := map[string]bool{}
		for range 40 {
			tk := MustCreateTicket(t, s, NewTicket(), "")
			if seen[tk.ID] {
				t.Fatalf("id %s handed out twice", tk.ID)
			}
			seen[tk.ID] = true
			n, err := strconv.Atoi(tk.ID[:len(tk.ID)-1])
			if err != nil || n < 16000 {
				t.Fatalf("id %s: number part %d, want ≥ 16000", tk.ID, n)
			}
			k := fmt.Sprintf("%s:{p%d}:t:%s", b.db.Prefix(), n%redisstore.Partitions, tk.ID)
			if exists, _ := b.db.Client().Exists(context.Background(), k).Result(); exists != 1 {
				t.Errorf("ticket %s not stored under %s", tk.ID, k)
			}
		}
	})
}

func TestCreateTicketIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		first := MustCreateTicket(t, s, NewTicket(), "sms:SM0123")

		retry := NewTicket()
		retry.Description = "a second, different description"
		created, err := s.CreateTicket(ctx, retry, "sms:SM0123")
		if err != nil {
			t.Fatal(err)
		}
		if created {
			t.Error("created = true on a retry with the same key")
		}
		if g, w := asJSON(t, retry), asJSON(t, first); g != w {
			t.Errorf("retry answered another ticket:\n got %s\nwant %s", g, w)
		}

		_, total, err := s.FindTickets(ctx, hotline.TicketFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 {
			t.Errorf("%d tickets stored, want 1", total)
		}
		if got := len(MustEvents(t, s, first.ID)); got != 1 {
			t.Errorf("%d events, want 1", got)
		}
		if got := feedLen(t, b.db); got != 1 {
			t.Errorf("feed holds %d entries, want 1", got)
		}

		other := MustCreateTicket(t, s, NewTicket(), "sms:SM9999")
		if other.ID == first.ID {
			t.Error("a different key returned the same ticket")
		}
	})
}

func TestCreateTicketConcurrentSameKey(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		const n = 50
		var wg sync.WaitGroup
		ids := make([]string, n)
		createdCount := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				tk := NewTicket()
				createdCount[i], errs[i] = s.CreateTicket(ctx, tk, "twilio:CA42")
				ids[i] = tk.ID
			})
		}
		wg.Wait()
		created := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			if createdCount[i] {
				created++
			}
			if ids[i] != ids[0] {
				t.Errorf("create %d got id %s, create 0 got %s", i, ids[i], ids[0])
			}
		}
		if created != 1 {
			t.Errorf("%d calls created a ticket, want exactly 1", created)
		}
		_, total, err := s.FindTickets(ctx, hotline.TicketFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 {
			t.Errorf("%d tickets stored, want 1", total)
		}
		if got := len(MustEvents(t, s, ids[0])); got != 1 {
			t.Errorf("%d events, want 1", got)
		}
	})
}

// Many dispatchers noting the same ticket at once: every successful update
// is kept (none overwrites another) and each left exactly one event.
func TestUpdateTicketConcurrentNoLostUpdate(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		tk := MustCreateTicket(t, s, NewTicket(), "")
		const workers, each = 20, 5
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			succeeded int
		)
		for range workers {
			wg.Go(func() {
				for range each {
					_, err := s.UpdateTicket(ctx, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
						t.StatusNotes += "."
						return &hotline.Event{Type: hotline.EventTicketNoted, Actor: "u1"}, nil
					})
					mu.Lock()
					if err == nil {
						succeeded++
					} else if hotline.ErrorCode(err) != hotline.ECONFLICT {
						t.Errorf("update: %v", err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if succeeded == 0 {
			t.Fatal("no update succeeded")
		}
		t.Logf("%d of %d updates succeeded, the rest ran out of retries", succeeded, workers*each)
		got, err := s.FindTicket(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(1 + succeeded); got.Version != want {
			t.Errorf("version = %d, want %d (1 + %d successful updates)", got.Version, want, succeeded)
		}
		if len(got.StatusNotes) != succeeded {
			t.Errorf("notes record %d updates, %d succeeded: an update was lost", len(got.StatusNotes), succeeded)
		}
		evs := MustEvents(t, s, tk.ID)
		if int64(len(evs)) != got.Version {
			t.Errorf("%d events for version %d", len(evs), got.Version)
		}
		for i, ev := range evs {
			if ev.Version != int64(i+1) {
				t.Errorf("event %d has version %d, want %d", i, ev.Version, i+1)
			}
		}
		if got, want := feedLen(t, b.db), int64(len(evs)); got != want {
			t.Errorf("feed holds %d entries, want %d", got, want)
		}
	})
}

// A ticket's stream replays its life: routed, accepted, worked on, resolved,
// each event carrying the version and status it produced.
func TestTicketEventsReplayHistory(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		tk := MustCreateTicket(t, s, NewTicket(), "")
		MustUpdateTicket(t, s, tk.ID, route("c01"))
		MustUpdateTicket(t, s, tk.ID, route("sc"))
		MustUpdateTicket(t, s, tk.ID, setStatus(hotline.StatusAccepted, hotline.EventTicketAccepted))
		MustUpdateTicket(t, s, tk.ID, setStatus(hotline.StatusInProgress, hotline.EventTicketStarted))
		last := MustUpdateTicket(t, s, tk.ID, setStatus(hotline.StatusResolved, hotline.EventTicketResolved))

		if got, want := last.Version, int64(6); got != want {
			t.Errorf("version = %d, want %d", got, want)
		}
		if !last.UpdatedAt.After(last.CreatedAt) && !last.UpdatedAt.Equal(last.CreatedAt) {
			t.Errorf("updated_at %v before created_at %v", last.UpdatedAt, last.CreatedAt)
		}
		type step struct {
			Type     string
			Status   hotline.Status
			UnitID   string
			FromUnit string
			Version  int64
		}
		want := []step{
			{hotline.EventTicketCreated, hotline.StatusNew, "", "", 1},
			{hotline.EventTicketRouted, hotline.StatusRouted, "c01", "", 2},
			{hotline.EventTicketRouted, hotline.StatusRouted, "sc", "c01", 3},
			{hotline.EventTicketAccepted, hotline.StatusAccepted, "sc", "", 4},
			{hotline.EventTicketStarted, hotline.StatusInProgress, "sc", "", 5},
			{hotline.EventTicketResolved, hotline.StatusResolved, "sc", "", 6},
		}
		evs := MustEvents(t, s, tk.ID)
		var got []step
		positions := map[string]bool{}
		for _, ev := range evs {
			got = append(got, step{ev.Type, ev.Status, ev.UnitID, ev.FromUnitID, ev.Version})
			if ev.TicketID != tk.ID || ev.At.IsZero() || ev.Position == "" || positions[ev.Position] {
				t.Errorf("event %+v: want ticket id, time and a fresh position", ev)
			}
			positions[ev.Position] = true
		}
		if !slices.Equal(got, want) {
			t.Errorf("history:\n got %+v\nwant %+v", got, want)
		}
	})
}

func TestUpdateTicketPassesChangeErrorThrough(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		tk := MustCreateTicket(t, s, NewTicket(), "")
		refusal := hotline.Errorf(hotline.ECONFLICT, "a new ticket cannot be resolved")
		_, err := s.UpdateTicket(context.Background(), tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
			t.Status = hotline.StatusResolved
			return nil, refusal
		})
		if err != refusal {
			t.Errorf("err = %v, want the change's own error", err)
		}
		got, err := s.FindTicket(context.Background(), tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != 1 || got.Status != hotline.StatusNew {
			t.Errorf("ticket changed after a refused change: version %d, status %s", got.Version, got.Status)
		}
		if n := len(MustEvents(t, s, tk.ID)); n != 1 {
			t.Errorf("%d events after a refused change, want 1", n)
		}
	})
}

func TestUnknownOrMalformedTicketIDIsNotFound(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		real := MustCreateTicket(t, s, NewTicket(), "")
		swapped := real.ID[:len(real.ID)-1] + string('0'+(real.ID[len(real.ID)-1]-'0'+1)%10)
		ids := map[string]string{
			"empty":              "",
			"letters":            "abc",
			"wrong check digit":  swapped,
			"well formed, never": hotline.TicketIDWithCheck("99999999"),
			"too long":           "123456789012345678901",
			"key injection":      "1*",
		}
		noop := func(*hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted}, nil
		}
		for name, id := range ids {
			t.Run(name, func(t *testing.T) {
				_, err := s.FindTicket(ctx, id)
				AssertCode(t, err, hotline.ENOTFOUND)
				_, err = s.TicketEvents(ctx, id)
				AssertCode(t, err, hotline.ENOTFOUND)
				_, err = s.UpdateTicket(ctx, id, noop)
				AssertCode(t, err, hotline.ENOTFOUND)
			})
		}
	})
}

func TestFindTickets(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		day := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		// Fixtures: name → ticket, created one hour apart in this order.
		fixtures := []struct {
			name, service, committee, unit string
			status                         hotline.Status
		}{
			{"lamp", "home_repair", "c01", "", hotline.StatusNew},
			{"meal", "meal_delivery", "c01", "c01", hotline.StatusRouted},
			{"pipe", "home_repair", "c02", "c02", hotline.StatusRouted},
			{"visit", "elderly_visit", "c02", "vg1", hotline.StatusAccepted},
			{"dispute", "dispute", "", "sc", hotline.StatusResolved},
			{"door", "home_repair", "c01", "c01", hotline.StatusResolved},
		}
		byName := map[string]string{}
		for i, f := range fixtures {
			tk := NewTicket()
			tk.ServiceCode, tk.Location.Committee = f.service, f.committee
			tk.CreatedAt = day.Add(time.Duration(i) * time.Hour)
			MustCreateTicket(t, s, tk, "")
			if f.unit != "" {
				MustUpdateTicket(t, s, tk.ID, route(f.unit))
			}
			if f.status != hotline.StatusNew && f.status != hotline.StatusRouted {
				MustUpdateTicket(t, s, tk.ID, setStatus(f.status, "ticket."+string(f.status)))
			}
			byName[f.name] = tk.ID
		}

		scenarios := []struct {
			name      string
			filter    hotline.TicketFilter
			want      []string // newest first
			wantTotal int
		}{
			{"everything, newest first", hotline.TicketFilter{},
				[]string{"door", "dispute", "visit", "pipe", "meal", "lamp"}, 6},
			{"one status", hotline.TicketFilter{Statuses: []hotline.Status{hotline.StatusRouted}},
				[]string{"pipe", "meal"}, 2},
			{"two statuses", hotline.TicketFilter{Statuses: []hotline.Status{hotline.StatusNew, hotline.StatusResolved}},
				[]string{"door", "dispute", "lamp"}, 3},
			{"unit", hotline.TicketFilter{Units: []string{"c01"}}, []string{"door", "meal"}, 2},
			{"units of a subtree", hotline.TicketFilter{Units: []string{"c02", "vg1", "sc"}},
				[]string{"dispute", "visit", "pipe"}, 3},
			{"unplaced only", hotline.TicketFilter{Units: []string{""}}, []string{"lamp"}, 1},
			{"committee", hotline.TicketFilter{Committee: "c02"}, []string{"visit", "pipe"}, 2},
			{"service code", hotline.TicketFilter{ServiceCode: "home_repair"}, []string{"door", "pipe", "lamp"}, 3},
			{"committee and status", hotline.TicketFilter{Committee: "c01", Statuses: []hotline.Status{hotline.StatusResolved}},
				[]string{"door"}, 1},
			{"date range is [from, to)", hotline.TicketFilter{From: day.Add(time.Hour), To: day.Add(3 * time.Hour)},
				[]string{"pipe", "meal"}, 2},
			{"from only", hotline.TicketFilter{From: day.Add(4 * time.Hour)}, []string{"door", "dispute"}, 2},
			{"to a nanosecond after", hotline.TicketFilter{To: day.Add(time.Nanosecond)}, []string{"lamp"}, 1},
			{"offset and limit", hotline.TicketFilter{Offset: 1, Limit: 2}, []string{"dispute", "visit"}, 6},
			{"offset past the end", hotline.TicketFilter{Offset: 10}, nil, 6},
			{"ids", hotline.TicketFilter{IDs: []string{byName["meal"], byName["lamp"], "12345", hotline.TicketIDWithCheck("777777")}},
				[]string{"meal", "lamp"}, 2},
			{"ids and status", hotline.TicketFilter{IDs: []string{byName["meal"], byName["lamp"]}, Statuses: []hotline.Status{hotline.StatusNew}},
				[]string{"lamp"}, 1},
			{"nothing matches", hotline.TicketFilter{Units: []string{"nobody"}}, nil, 0},
		}
		for _, sc := range scenarios {
			t.Run(sc.name, func(t *testing.T) {
				got, total, err := s.FindTickets(ctx, sc.filter)
				if err != nil {
					t.Fatal(err)
				}
				var gotIDs, wantIDs []string
				for _, tk := range got {
					gotIDs = append(gotIDs, tk.ID)
				}
				for _, n := range sc.want {
					wantIDs = append(wantIDs, byName[n])
				}
				if !slices.Equal(gotIDs, wantIDs) {
					t.Errorf("ids = %v, want %v (%v)", gotIDs, wantIDs, sc.want)
				}
				if total != sc.wantTotal {
					t.Errorf("total = %d, want %d", total, sc.wantTotal)
				}
			})
		}

		// Re-routing moves the ticket from one unit's index to the other.
		MustUpdateTicket(t, s, byName["meal"], route("c02"))
		got, _, err := s.FindTickets(ctx, hotline.TicketFilter{Units: []string{"c01"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != byName["door"] {
			t.Errorf("after re-routing, unit c01 holds %v, want only door", got)
		}
		idx := fmt.Sprintf("%s:{p*}:idx:unit:c01", b.db.Prefix())
		var members int64
		for p := range redisstore.Partitions {
			k := fmt.Sprintf("%s:{p%d}:idx:unit:c01", b.db.Prefix(), p)
			n, err := b.db.Client().ZCard(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			members += n
		}
		if members != 1 {
			t.Errorf("%s holds %d members, want 1", idx, members)
		}
	})
}

func TestFindTicketsLimitDefaultsAndCap(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		ctx := context.Background()
		for range 105 {
			MustCreateTicket(t, s, NewTicket(), "")
		}
		got, total, err := s.FindTickets(ctx, hotline.TicketFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 100 || total != 105 {
			t.Errorf("default page: %d tickets of %d, want 100 of 105", len(got), total)
		}
		got, _, err = s.FindTickets(ctx, hotline.TicketFilter{Limit: 5000})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 105 {
			t.Errorf("limit 5000: %d tickets, want all 105", len(got))
		}
	})
}

// The create script computes the Damm check digit in Lua; it must agree
// with hotline.TicketIDWithCheck for every number, on both servers.
func TestLuaCheckDigitMatchesGo(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		var numbers []string
		for n := range 20000 {
			numbers = append(numbers, strconv.Itoa(n))
		}
		r := rand.New(rand.NewPCG(1, 2))
		for range 5000 {
			numbers = append(numbers, strconv.FormatUint(r.Uint64N(1<<53), 10))
		}
		got, err := redisstore.LuaTicketIDsWithCheck(context.Background(), b.db.Client(), numbers)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(numbers) {
			t.Fatalf("got %d ids for %d numbers", len(got), len(numbers))
		}
		for i, n := range numbers {
			if want := hotline.TicketIDWithCheck(n); got[i] != want {
				t.Fatalf("number %s: Lua gives %s, Go gives %s", n, got[i], want)
			}
		}
	})
}

func BenchmarkCreateTicket(b *testing.B) {
	c, prefix := redistest.New(b)
	s := redisstore.NewTicketStore(redisstore.NewDB(c, prefix))
	ctx := context.Background()
	b.Run("no key", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := s.CreateTicket(ctx, NewTicket(), ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("idempotency key", func(b *testing.B) {
		var n int64
		var mu sync.Mutex
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				n++
				key := "bench:" + strconv.FormatInt(n, 10)
				mu.Unlock()
				if _, err := s.CreateTicket(ctx, NewTicket(), key); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
