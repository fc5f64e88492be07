package redisstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/redis/go-redis/v9"
)

// keysOfPartition returns n idempotency keys that CreateTicket puts in
// partition p (it hashes the key with FNV-32a).
func keysOfPartition(p, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		k := "k" + strconv.Itoa(i)
		h := fnv.New32a()
		h.Write([]byte(k))
		if int(h.Sum32()%redisstore.Partitions) == p {
			keys = append(keys, k)
		}
	}
	return keys
}

func scanAll(tb testing.TB, s *redisstore.TicketStore, from, to time.Time, size int) map[string]hotline.NeedRecord {
	tb.Helper()
	got := map[string]hotline.NeedRecord{}
	err := redisstore.ScanNeedsPaged(s, context.Background(), from, to, size, func(r hotline.NeedRecord) error {
		if _, dup := got[r.TicketID]; dup {
			tb.Errorf("ticket %s read twice", r.TicketID)
		}
		got[r.TicketID] = r
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// A need record carries the ticket's anonymous facts and a resident key in
// place of the phone number.
func TestScanNeedsRecords(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		at := time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC)
		full := MustCreateTicket(t, s, &hotline.Ticket{
			Channel: hotline.ChannelVoice, ServiceCode: "elderly_meals", Description: "老人需要送餐",
			Location: hotline.Location{Lat: 31.2401, Long: 121.4302, Committee: "c03", Address: "长寿路 1 号"},
			Contact:  hotline.Contact{Phone: "+8613800138000", FirstName: "阿婆"}, Language: "zh",
			Status: hotline.StatusResolved, UnitID: "c03", Tier: hotline.TierCommittee, Escalations: 1,
			OverdueNoted: true, Redo: true, Satisfaction: 4, CreatedAt: at, ResolvedAt: at.Add(26 * time.Hour),
		}, "")
		same := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelSMS, ServiceCode: "elderly_meals",
			Contact: hotline.Contact{Phone: "+8613800138000"}, CreatedAt: at.Add(time.Hour), MergedInto: full.ID}, "")
		other := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelSMS, ServiceCode: "facilities",
			Contact: hotline.Contact{Phone: "+8613900139000"}, CreatedAt: at.Add(2 * time.Hour)}, "")
		anon := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "facilities", CreatedAt: at.Add(3 * time.Hour)}, "")

		got := scanAll(t, s, at, at.Add(4*time.Hour), 2000)
		if len(got) != 4 {
			t.Fatalf("read %d records, want 4", len(got))
		}
		r := got[full.ID]
		want := hotline.NeedRecord{TicketID: full.ID, ServiceCode: "elderly_meals", Description: "老人需要送餐", Language: "zh",
			Committee: "c03", Lat: 31.2401, Long: 121.4302, CreatedAt: at, ResolvedAt: at.Add(26 * time.Hour),
			ResidentKey: r.ResidentKey, Status: hotline.StatusResolved, UnitID: "c03", Tier: hotline.TierCommittee,
			Escalations: 1, Overdue: true, Redo: true, Satisfaction: 4}
		if gj, wj := mustJSON(t, r), mustJSON(t, want); gj != wj {
			t.Errorf("record\n got %s\nwant %s", gj, wj)
		}
		if len(r.ResidentKey) != 16 || r.ResidentKey == "" {
			t.Errorf("resident key %q, want 16 hex digits", r.ResidentKey)
		}
		if got[same.ID].ResidentKey != r.ResidentKey || got[same.ID].MergedInto != full.ID {
			t.Errorf("same resident: %+v", got[same.ID])
		}
		if got[other.ID].ResidentKey == r.ResidentKey || got[other.ID].ResidentKey == "" {
			t.Errorf("another resident's key %q", got[other.ID].ResidentKey)
		}
		if got[anon.ID].ResidentKey != "" {
			t.Errorf("no phone, key %q, want none", got[anon.ID].ResidentKey)
		}
		for _, r := range got {
			b, _ := json.Marshal(r)
			for _, personal := range []string{"13800138000", "13900139000", "阿婆", "长寿路"} {
				if strings.Contains(string(b), personal) {
					t.Errorf("%q in a need record: %s", personal, b)
				}
			}
		}

		// NeedRecords reads by id, in order, leaving out the unknown.
		recs, err := s.NeedRecords(ctx, []string{other.ID, "nonsense", hotline.TicketIDWithCheck("99999"), full.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 2 || recs[0].TicketID != other.ID || recs[1].ResidentKey != r.ResidentKey {
			t.Fatalf("NeedRecords = %+v", recs)
		}
	})
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// The window is [from, to) to the nanosecond although the index holds
// milliseconds, and pages that end inside a run of tickets created in the
// same millisecond lose none and repeat none.
func TestScanNeedsWindowAndPages(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		keys := keysOfPartition(5, 23)
		var want []string
		for i, k := range keys {
			// Runs of 5 tickets share a millisecond; the runs are 1 ms apart.
			at := base.Add(time.Duration(i/5) * time.Millisecond)
			tk := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, ServiceCode: "facilities", CreatedAt: at}, k)
			want = append(want, tk.ID)
		}
		edge := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, CreatedAt: base.Add(10*time.Millisecond + 300*time.Microsecond)}, "")
		early := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, CreatedAt: base.Add(-time.Nanosecond)}, "")

		for _, size := range []int{1, 3, 5, 7, 2000} {
			got := scanAll(t, s, base, base.Add(10*time.Millisecond+300*time.Microsecond), size)
			var ids []string
			for id := range got {
				ids = append(ids, id)
			}
			slices.Sort(ids)
			w := slices.Sorted(slices.Values(want))
			if fmt.Sprint(ids) != fmt.Sprint(w) {
				t.Fatalf("pages of %d: read %d tickets %v, want %d %v (not %s at the end, nor %s before)", size, len(ids), ids, len(w), w, edge.ID, early.ID)
			}
		}
		n, err := s.CountNeeds(ctx, base, base.Add(10*time.Millisecond+300*time.Microsecond))
		if err != nil || n < len(want) || n > len(want)+1 {
			t.Fatalf("CountNeeds = %d, %v; want %d (or one more at the millisecond edge)", n, err, len(want))
		}
		if n, _ := s.CountNeeds(ctx, base, base); n != 0 {
			t.Fatalf("empty window counted %d", n)
		}
	})
}

// fn's error stops the scan and comes back as it is.
func TestScanNeedsStopsOnError(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		s := redisstore.NewTicketStore(b.db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := range 30 {
			MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, CreatedAt: base.Add(time.Duration(i) * time.Second)}, "")
		}
		stop := errors.New("enough")
		calls := 0
		err := redisstore.ScanNeedsPaged(s, context.Background(), base, base.Add(time.Hour), 2, func(hotline.NeedRecord) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Fatalf("err %v after %d calls, want the fn's error after 3", err, calls)
		}
	})
}

// BenchmarkScanNeeds streams stored tickets of realistic size (about
// 900 bytes of JSON each, contact included). SCAN_NEEDS_N sets how many
// (default 100,000); they are written straight into the ticket hashes and
// created indexes, which is all ScanNeeds reads. It reports tickets/s,
// the CPU seconds of this process per million tickets, and the highest
// Go heap seen during the scans (sampled every 10 ms): flat, whatever n.
func BenchmarkScanNeeds(b *testing.B) {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("SCAN_NEEDS_N")); err == nil && v > 0 {
		n = v
	}
	c, prefix := redistest.New(b)
	db := redisstore.NewDB(c, prefix)
	s := redisstore.NewTicketStore(db)
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	step := 365 * 24 * time.Hour / time.Duration(n)
	pipe := c.Pipeline()
	for i := range n {
		num := int64(1000*redisstore.Partitions + i)
		id := hotline.TicketIDWithCheck(strconv.FormatInt(num, 10))
		p := int(num % redisstore.Partitions)
		at := base.Add(time.Duration(i) * step)
		t := hotline.Ticket{ID: id, Channel: hotline.ChannelVoice, ServiceCode: "elderly_meals",
			Description: "独居老人王阿姨腿脚不便，希望社区每天中午送一份午餐到家，家住三楼没有电梯。",
			Location:    hotline.Location{Address: "长寿路 123 弄 4 号 302 室", Lat: 31.24 + float64(i%100)/10000, Long: 121.43, Committee: "c03"},
			Contact:     hotline.Contact{Phone: fmt.Sprintf("+86138%08d", i%50000), FirstName: "阿姨", LastName: "王", Consent: true},
			Language:    "zh", CreatedBy: "twilio", ExternalRef: "CA0123456789abcdef0123456789abcdef",
			Status: hotline.StatusClosed, UnitID: "c03-meals", RouteReason: "nearest volunteer group handling elderly_meals",
			StatusNotes: "已安排志愿者每日送餐", Tier: hotline.TierCommittee, AcceptBy: at.Add(time.Hour), ResolveBy: at.Add(48 * time.Hour),
			CreatedAt: at, UpdatedAt: at.Add(30 * time.Hour), AcceptedAt: at.Add(20 * time.Minute),
			ResolvedAt: at.Add(26 * time.Hour), ClosedAt: at.Add(30 * time.Hour), Satisfaction: 5, Version: 6}
		d, _ := json.Marshal(&t)
		tkey := fmt.Sprintf("%s:{p%d}:t:%s", prefix, p, id)
		pipe.HSet(ctx, tkey, "v", 6, "d", d)
		pipe.ZAdd(ctx, fmt.Sprintf("%s:{p%d}:idx:created", prefix, p), redis.Z{Score: float64(at.UnixMilli()), Member: id})
		if pipe.Len() >= 2000 {
			if _, err := pipe.Exec(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
		}
	}()
	cpu0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		got := 0
		if err := s.ScanNeeds(ctx, base, base.Add(366*24*time.Hour), func(hotline.NeedRecord) error {
			got++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("read %d of %d", got, n)
		}
	}
	cpu := cpuTime() - cpu0
	close(stop)
	<-sampled
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
	b.ReportMetric(cpu.Seconds()/(float64(n)*float64(b.N)/1e6), "cpu-s/Mticket")
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
}

// cpuTime is the user and system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A unit's scan reads the tickets that unit holds now, in the window.
func TestScanUnitNeeds(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		s := redisstore.NewTicketStore(b.db)
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		var org []string
		for i := range 6 {
			unit := "org-elderly"
			if i%2 == 1 {
				unit = "c01"
			}
			tk := MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, UnitID: unit, Status: hotline.StatusRouted,
				CreatedAt: base.Add(time.Duration(i) * time.Hour)}, "")
			if unit == "org-elderly" {
				org = append(org, tk.ID)
			}
		}
		MustCreateTicket(t, s, &hotline.Ticket{Channel: hotline.ChannelWeb, UnitID: "org-elderly", CreatedAt: base.Add(-time.Hour)}, "")
		// One moves from c01 to the organization.
		var moved string
		_ = s.ScanNeeds(ctx, base, base.Add(2*time.Hour), func(r hotline.NeedRecord) error {
			if r.UnitID == "c01" {
				moved = r.TicketID
			}
			return nil
		})
		MustUpdateTicket(t, s, moved, func(tk *hotline.Ticket) (*hotline.Event, error) {
			tk.UnitID = "org-elderly"
			return &hotline.Event{Type: hotline.EventTicketRouted}, nil
		})
		var got []string
		if err := s.ScanUnitNeeds(ctx, "org-elderly", base, base.Add(24*time.Hour), func(r hotline.NeedRecord) error {
			got = append(got, r.TicketID)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := append(org, moved)
		slices.Sort(got)
		slices.Sort(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("org-elderly's tickets %v, want %v", got, want)
		}
		AssertCode(t, s.ScanUnitNeeds(ctx, "", base, base.Add(time.Hour), func(hotline.NeedRecord) error { return nil }), hotline.EINVALID)
	})
}
