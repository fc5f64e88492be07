package retention_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/retention"
)

// benchTickets is how many finished tickets each benchmark round stores:
// about half a year of a street's tickets.
const benchTickets = 5000

// seedFinished stores n tickets closed 400 days ago, each with a contact,
// an address, a description with a phone in it and a note with another
// (four events in all), and returns the store.
func seedFinished(b *testing.B, n int) *redisstore.TicketStore {
	b.Helper()
	client, prefix := redistest.New(b)
	s := redisstore.NewTicketStore(redisstore.NewDB(client, prefix))
	ctx := context.Background()
	at := time.Now().AddDate(0, 0, -400)
	for i := range n {
		tk := &hotline.Ticket{Channel: hotline.ChannelVoice, ServiceCode: "elderly_meals", Status: hotline.StatusRouted, UnitID: "c07",
			Description: fmt.Sprintf("王阿姨腿脚不便，想每天中午送餐，电话 1380013%04d", i%10000),
			Location:    hotline.Location{Address: fmt.Sprintf("长寿路 %d 号", i%300), Lat: 31.2391, Long: 121.4349, Committee: "c07"},
			Contact:     hotline.Contact{Phone: fmt.Sprintf("+86138001%05d", i), Consent: true}, CreatedAt: at, UpdatedAt: at}
		if _, err := s.CreateTicket(ctx, tk, ""); err != nil {
			b.Fatal(err)
		}
		for _, ev := range []*hotline.Event{
			{Type: hotline.EventTicketNoted, Actor: "u1", Note: "居民儿子来电，手机 139 0013 9000"},
			{Type: hotline.EventTicketResolved, Actor: "u1", Status: hotline.StatusResolved, Note: "已安排送餐"},
			{Type: hotline.EventTicketClosed, Actor: "u1", Status: hotline.StatusClosed},
		} {
			if _, err := s.UpdateTicket(ctx, tk.ID, func(t *hotline.Ticket) (*hotline.Event, error) {
				if ev.Status != "" {
					t.Status = ev.Status
				}
				return ev, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return s
}

// BenchmarkSweep is the cost of the nightly sweep: "erase" the first run
// over benchTickets due tickets, "rerun" a run over as many tickets erased
// before (what every later night pays for the erased archive).
//
//	go test -run '^$' -bench Sweep -benchtime 1x ./retention/
func BenchmarkSweep(b *testing.B) {
	// A clock a day later than the real one: the tickets' UpdatedAt is
	// when they were seeded (the store sets it), so this makes them due.
	clock := func() time.Time { return time.Now().Add(retention.DefaultPeriod + 24*time.Hour) }
	b.Run("erase", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			s := seedFinished(b, benchTickets)
			b.StartTimer()
			r, err := (&retention.Sweeper{Store: s, Period: retention.DefaultPeriod, Now: clock, Logger: quiet}).Run(context.Background(), false)
			if err != nil {
				b.Fatal(err)
			}
			if r.Erased != benchTickets {
				b.Fatalf("erased %d of %d", r.Erased, benchTickets)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchTickets), "µs/ticket")
	})
	b.Run("rerun", func(b *testing.B) {
		s := seedFinished(b, benchTickets)
		sweep := &retention.Sweeper{Store: s, Period: retention.DefaultPeriod, Now: clock, Logger: quiet}
		if _, err := sweep.Run(context.Background(), false); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			r, err := sweep.Run(context.Background(), false)
			if err != nil {
				b.Fatal(err)
			}
			if r.Erased != 0 || r.Read != 0 {
				b.Fatalf("rerun %+v", r)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*benchTickets), "µs/ticket")
	})
}
