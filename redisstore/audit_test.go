package redisstore_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
)

// MustRecordRead records e and fails the test on error.
func MustRecordRead(tb testing.TB, l *redisstore.AuditLog, e hotline.AuditEntry) *hotline.AuditEntry {
	tb.Helper()
	if err := l.RecordRead(context.Background(), &e); err != nil {
		tb.Fatalf("record %+v: %v", e, err)
	}
	if e.ID == "" || e.At.IsZero() {
		tb.Fatalf("recorded entry has id %q, at %v", e.ID, e.At)
	}
	return &e
}

func auditIDs(es []*hotline.AuditEntry) []string {
	ids := []string{}
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// Who read which ticket, what a person read, what was read in a period:
// each comes back newest first, exactly as recorded.
func TestAuditLog_RecordAndFind(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		l := redisstore.NewAuditLog(b.db)
		ctx := context.Background()
		a, c := hotline.TicketIDWithCheck("16003"), hotline.TicketIDWithCheck("16004")
		now := time.Now().UTC().Truncate(time.Millisecond)
		e1 := MustRecordRead(t, l, hotline.AuditEntry{At: now.Add(-3 * time.Second), UserID: "u1", Username: "li.ming",
			Role: hotline.RoleDispatcher, UnitID: "c01", TicketID: a, Fields: []string{hotline.AuditPhone}, Via: "GET /x"})
		e2 := MustRecordRead(t, l, hotline.AuditEntry{At: now.Add(-2 * time.Second), UserID: "u1", Username: "li.ming",
			Role: hotline.RoleDispatcher, UnitID: "c01", TicketID: c, Fields: []string{hotline.AuditAddress}, Via: "GET /x"})
		e3 := MustRecordRead(t, l, hotline.AuditEntry{At: now.Add(-time.Second), UserID: "u2", Username: "wang",
			Role: hotline.RoleCommittee, UnitID: "c02", TicketID: a, Fields: []string{hotline.AuditPhone, hotline.AuditRecording}, Via: "GET /x"})
		e4 := MustRecordRead(t, l, hotline.AuditEntry{At: now, UserID: "u3", Username: "social", Role: hotline.RoleSocialWorker,
			Fields: []string{hotline.AuditPhone}, Via: "GET /export.csv", Count: 120, Filter: "committee=c01"})

		for _, tc := range []struct {
			name string
			f    hotline.AuditFilter
			want []*hotline.AuditEntry
			more bool
		}{
			{"a ticket", hotline.AuditFilter{TicketID: a}, []*hotline.AuditEntry{e3, e1}, false},
			{"a reader", hotline.AuditFilter{UserID: "u1"}, []*hotline.AuditEntry{e2, e1}, false},
			{"a reader of a ticket", hotline.AuditFilter{TicketID: a, UserID: "u2"}, []*hotline.AuditEntry{e3}, false},
			{"the last days", hotline.AuditFilter{}, []*hotline.AuditEntry{e4, e3, e2, e1}, false},
			{"a period", hotline.AuditFilter{From: e2.At, To: e4.At}, []*hotline.AuditEntry{e3, e2}, false},
			{"a ticket in a period", hotline.AuditFilter{TicketID: a, From: e2.At}, []*hotline.AuditEntry{e3}, false},
			{"the newest two", hotline.AuditFilter{Limit: 2}, []*hotline.AuditEntry{e4, e3}, true},
			{"a day before", hotline.AuditFilter{From: now.Add(-48 * time.Hour), To: now.Add(-24 * time.Hour)}, nil, false},
			{"a ticket nobody read", hotline.AuditFilter{TicketID: hotline.TicketIDWithCheck("16005")}, nil, false},
			{"not a ticket id", hotline.AuditFilter{TicketID: "12"}, nil, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, more, err := l.FindReads(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := auditIDs(got), auditIDs(tc.want); !slices.Equal(g, w) || more != tc.more {
					t.Fatalf("got %v (more %v), want %v (more %v)", g, more, w, tc.more)
				}
				for i := range got {
					if g, w := asJSON(t, got[i]), asJSON(t, tc.want[i]); g != w {
						t.Errorf("entry read back differs:\n got %s\nwant %s", g, w)
					}
				}
			})
		}
	})
}

// Many entries of one reader page through the stream; a limit is a limit.
func TestAuditLog_Pages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		l := redisstore.NewAuditLog(b.db)
		id := hotline.TicketIDWithCheck("16003")
		var want []string
		for i := range 1200 {
			e := MustRecordRead(t, l, hotline.AuditEntry{UserID: "busy", Role: hotline.RoleDispatcher,
				TicketID: id, Fields: []string{hotline.AuditPhone}, Via: "GET /x", Count: i})
			want = append(want, e.ID)
		}
		slices.Reverse(want)
		got, more, err := l.FindReads(context.Background(), hotline.AuditFilter{UserID: "busy", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if g := auditIDs(got); !more || !slices.Equal(g, want[:1000]) {
			t.Errorf("got %d entries (more %v), want the newest 1000 in order", len(g), more)
		}
		got, _, err = l.FindReads(context.Background(), hotline.AuditFilter{UserID: "busy", Limit: 5000})
		if err != nil || len(got) != 1000 {
			t.Errorf("a limit over 1000: %d entries, %v; want 1000", len(got), err)
		}
	})
}

// Entries without a reader or what was shown are refused; so is a period
// too long to read day by day.
func TestAuditLog_Refuses(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		l := redisstore.NewAuditLog(b.db)
		ctx := context.Background()
		for name, e := range map[string]hotline.AuditEntry{
			"no reader": {Fields: []string{hotline.AuditPhone}},
			"no fields": {UserID: "u1"},
			"bad id":    {UserID: "u1", Fields: []string{hotline.AuditPhone}, TicketID: "123"},
		} {
			t.Run(name, func(t *testing.T) { AssertCode(t, l.RecordRead(ctx, &e), hotline.EINVALID) })
		}
		now := time.Now()
		_, _, err := l.FindReads(ctx, hotline.AuditFilter{From: now.AddDate(-2, 0, 0), To: now})
		AssertCode(t, err, hotline.EINVALID)
		_, _, err = l.FindReads(ctx, hotline.AuditFilter{From: now, To: now.Add(-time.Hour)})
		AssertCode(t, err, hotline.EINVALID)
		// A reader's whole history has no period limit.
		if _, _, err := l.FindReads(ctx, hotline.AuditFilter{UserID: "u1", From: now.AddDate(-3, 0, 0)}); err != nil {
			t.Fatal(err)
		}
	})
}

// Every key of an entry expires: the day's stream after the retention
// from its day, the ticket's and the reader's after it from their last
// entry (docs/redis-keys.md).
func TestAuditLog_Expires(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		l := redisstore.NewAuditLog(b.db)
		l.Retention = 30 * 24 * time.Hour
		ctx := context.Background()
		id := hotline.TicketIDWithCheck("16003")
		e := MustRecordRead(t, l, hotline.AuditEntry{UserID: "u1", TicketID: id, Fields: []string{hotline.AuditAddress}, Via: "GET /x"})
		day := e.At.In(time.FixedZone("CST", 8*3600)).Format("20060102")
		for key, max := range map[string]time.Duration{
			b.db.Prefix() + ":{audit}:day:" + day: l.Retention + 24*time.Hour,
			b.db.Prefix() + ":{audit}:t:" + id:    l.Retention,
			b.db.Prefix() + ":{audit}:u:u1":       l.Retention,
		} {
			ttl, err := b.db.Client().PTTL(ctx, key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl < l.Retention-time.Minute || ttl > max {
				t.Errorf("%s expires in %v, want %v to %v", key, ttl, l.Retention, max)
			}
		}
	})
}

// BenchmarkAuditLog_RecordRead is what recording costs a disclosure: one
// MULTI of three XADDs and their expiries, in the request.
func BenchmarkAuditLog_RecordRead(b *testing.B) {
	client, prefix := redistest.New(b)
	l := redisstore.NewAuditLog(redisstore.NewDB(client, prefix))
	id := hotline.TicketIDWithCheck("16003")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e := hotline.AuditEntry{UserID: "u1", Username: "li.ming", Role: hotline.RoleDispatcher, UnitID: "c01",
			TicketID: id, Fields: []string{hotline.AuditPhone, hotline.AuditAddress}, Via: "GET /api/v1/tickets/{id}/contact"}
		if err := l.RecordRead(ctx, &e); err != nil {
			b.Fatal(err)
		}
	}
}
