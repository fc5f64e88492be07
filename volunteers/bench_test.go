package volunteers_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/internal/redistest"
	"github.com/caojiadu/hotline/network"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/volunteers"
	"github.com/redis/go-redis/v9"
)

// processCPU is the CPU time this process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time the Redis server used so far (INFO cpu).
func redisCPU(ctx context.Context, c redis.UniversalClient) time.Duration {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		return 0
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return time.Duration(total * float64(time.Second))
}

// dropPrefix deletes the keys under prefix (the test server may be shared
// through REDIS_URL: never FLUSHDB).
func dropPrefix(ctx context.Context, c redis.UniversalClient, prefix string) {
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		if keys = append(keys, iter.Val()); len(keys) == 1000 {
			c.Unlink(ctx, keys...)
			keys = keys[:0]
		}
	}
	if len(keys) > 0 {
		c.Unlink(ctx, keys...)
	}
}

// benchVolunteers is the registry size of the benchmarks: a city's, fifty
// times the street's 2,000.
const benchVolunteers = 100_000

// benchBox is the demo street's bounding box (its units' points).
type benchBox struct{ minLat, maxLat, minLong, maxLong float64 }

func demoBox() benchBox {
	n, _ := network.Demo()
	b := benchBox{90, -90, 180, -180}
	for _, u := range n.Units {
		if u.Lat == 0 && u.Long == 0 {
			continue
		}
		b.minLat, b.maxLat = min(b.minLat, u.Lat), max(b.maxLat, u.Lat)
		b.minLong, b.maxLong = min(b.minLong, u.Long), max(b.maxLong, u.Long)
	}
	return b
}

func (b benchBox) point(r *rand.Rand) (float64, float64) {
	return b.minLat + r.Float64()*(b.maxLat-b.minLat), b.minLong + r.Float64()*(b.maxLong-b.minLong)
}

var benchAvailability = []string{"", "", "mon-fri 18:00-21:00", "sat,sun 09:00-17:00", "daily 08:00-12:00",
	"mon-fri 09:00-17:00", "mon,wed,fri 14:00-18:00; sat 09:00-12:00", "daily 19:00-22:00", "tue,thu 08:00-20:00"}

// benchSkills are the demo catalogue's codes (less the callback queue).
func benchSkills() []string {
	_, cat := network.Demo()
	var out []string
	for _, c := range cat.Categories {
		if c.Code != "callback" {
			out = append(out, c.Code)
		}
	}
	return out
}

// randomVolunteer makes the i-th volunteer of a benchmark registry: one to
// three skills, a qualification for one in five (a tenth of those
// expired), Mandarin for nearly all, English or Shanghainese for some,
// one of a few weekly availabilities, nine in ten matchable.
func randomVolunteer(r *rand.Rand, i int, box benchBox, skills, committees []string) *hotline.Volunteer {
	v := &hotline.Volunteer{
		Name: fmt.Sprintf("志愿者%06d", i), Phone: fmt.Sprintf("+86139%08d", i),
		Committee: committees[r.IntN(len(committees))], Status: hotline.VolunteerActive, Source: "import",
		Availability: benchAvailability[r.IntN(len(benchAvailability))],
	}
	v.Lat, v.Long = box.point(r)
	for range 1 + r.IntN(3) {
		if k := skills[r.IntN(len(skills))]; !slices.Contains(v.Skills, k) {
			v.Skills = append(v.Skills, k)
		}
	}
	if r.IntN(5) == 0 {
		q := hotline.Qualification{Kind: volunteers.Qualifications[r.IntN(len(volunteers.Qualifications))].Code}
		if r.IntN(2) == 0 {
			q.Expires = time.Date(2026+r.IntN(4), time.Month(1+r.IntN(12)), 1, 0, 0, 0, 0, time.UTC)
		}
		v.Qualifications = []hotline.Qualification{q}
	}
	if r.IntN(20) != 0 {
		v.Languages = append(v.Languages, "zh")
	}
	if r.IntN(5) == 0 {
		v.Languages = append(v.Languages, "en")
	}
	if r.IntN(3) == 0 {
		v.Languages = append(v.Languages, "wuu")
	}
	switch r.IntN(10) {
	case 0:
		v.Status = hotline.VolunteerSuspended
	case 1:
		v.Status = hotline.VolunteerApproved
	}
	return v
}

func demoCommittees() []string {
	n, _ := network.Demo()
	var out []string
	for _, u := range n.Units {
		if u.Kind == hotline.KindCommittee {
			out = append(out, u.ID)
		}
	}
	return out
}

// benchRegistry is the 100,000-volunteer registry the matching benchmark
// searches, filled once per test binary (about ten seconds).
var (
	benchOnce    sync.Once
	benchService *volunteers.Service
	benchErr     error
	benchClient  *redis.Client
	benchPrefix  string
)

func matchRegistry(b *testing.B) *volunteers.Service {
	benchOnce.Do(func() {
		// Not redistest.New: its client closes with the first run of the
		// benchmark, and the registry serves every run.
		opt, err := redis.ParseURL(redistest.URL(b))
		if err != nil {
			benchErr = err
			return
		}
		benchClient, benchPrefix = redis.NewClient(opt), fmt.Sprintf("benchmatch%d", time.Now().UnixNano())
		db := redisstore.NewDB(benchClient, benchPrefix)
		store := redisstore.NewVolunteerStore(db)
		n, cat := network.Demo()
		r := rand.New(rand.NewPCG(1, 2))
		box, skills, committees := demoBox(), benchSkills(), demoCommittees()
		ctx := context.Background()
		for i := 0; i < benchVolunteers && benchErr == nil; i += 1000 {
			batch := make([]*hotline.Volunteer, 1000)
			for j := range batch {
				batch[j] = randomVolunteer(r, i+j, box, skills, committees)
			}
			var errs []error
			if errs, benchErr = store.PutVolunteers(ctx, batch); benchErr == nil {
				for _, e := range errs {
					if e != nil {
						benchErr = e
						break
					}
				}
			}
		}
		// A tenth of the volunteers carry an open task: the load read is
		// real work, against the real assignment store.
		asg := redisstore.NewAssignmentStore(db)
		all, _, _ := store.FindVolunteers(ctx, hotline.VolunteerFilter{Limit: 1000})
		for i, v := range all {
			if i%10 == 0 && benchErr == nil {
				benchErr = asg.CreateAssignment(ctx, &hotline.Assignment{TicketID: fmt.Sprint("t", i), VolunteerID: v.ID,
					Status: hotline.AssignmentAccepted, OfferedAt: time.Now()})
			}
		}
		benchService = &volunteers.Service{Store: store, Assignments: asg,
			Directory: hotline.NewStaticDirectory(n, cat), Logger: slog.New(slog.DiscardHandler)}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchService
}

// BenchmarkMatch measures one Match call (five suggestions) for a ticket
// of a random category at a random point of the street and a random hour
// of the week, against 100,000 volunteers in real Redis; it reports the
// p50 and p99 of the calls.
//
//	go test -run '^$' -bench Match -benchtime 2000x ./volunteers/
func BenchmarkMatch(b *testing.B) {
	s := matchRegistry(b)
	r := rand.New(rand.NewPCG(3, 4))
	box, skills := demoBox(), benchSkills()
	week := time.Date(2026, 11, 30, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	ctx := context.Background()
	times := make([]time.Duration, 0, b.N)
	found := 0
	cpu0, redis0 := processCPU(), redisCPU(ctx, benchClient)
	b.ResetTimer()
	for range b.N {
		lat, long := box.point(r)
		t := &hotline.Ticket{ID: "1", ServiceCode: skills[r.IntN(len(skills))], Language: "zh",
			Location: hotline.Location{Lat: lat, Long: long}}
		if r.IntN(10) == 0 {
			t.Language = "en"
		}
		at := week.Add(time.Duration(r.IntN(7*24*60)) * time.Minute)
		start := time.Now()
		sg, err := s.Match(ctx, t, at, 5)
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		found += len(sg)
	}
	b.StopTimer()
	// CPU per call hardly depends on what else the machine runs, unlike
	// the wall-clock percentiles on a shared 2-core box.
	b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "go-cpu-µs/op")
	b.ReportMetric(float64((redisCPU(ctx, benchClient)-redis0).Microseconds())/float64(b.N), "redis-cpu-µs/op")
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(found)/float64(b.N), "suggestions/op")
}

// benchCSV is a 100,000-row CSV of the columns Import reads.
func benchCSV() []byte {
	r := rand.New(rand.NewPCG(5, 6))
	box, skills, committees := demoBox(), benchSkills(), demoCommittees()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := make([]string, len(volunteers.Columns))
	for i, c := range volunteers.Columns {
		header[i] = c.Code
	}
	w.Write(header)
	for i := range benchVolunteers {
		v := randomVolunteer(r, i, box, skills, committees)
		var quals []string
		for _, q := range v.Qualifications {
			if q.Expires.IsZero() {
				quals = append(quals, q.Kind)
			} else {
				quals = append(quals, q.Kind+":"+q.Expires.Format("2006-01-02"))
			}
		}
		if len(v.Languages) == 0 {
			v.Languages = []string{"wuu"}
		}
		w.Write([]string{v.Name, v.Phone[3:], v.Committee, "", strings.Join(v.Skills, ";"), strings.Join(quals, ";"),
			strings.Join(v.Languages, ";"), v.Availability, "", string(v.Status), "general", "", ""})
	}
	w.Flush()
	return buf.Bytes()
}

// BenchmarkImport measures importing a 100,000-row CSV into an empty
// registry in real Redis, then importing it again (every row unchanged).
//
//	go test -run '^$' -bench Import -benchtime 1x ./volunteers/
func BenchmarkImport(b *testing.B) {
	data := benchCSV()
	n, cat := network.Demo()
	ctx := context.Background()
	var first, again time.Duration
	for range b.N {
		b.StopTimer()
		c, prefix := redistest.New(b)
		s := &volunteers.Service{Store: redisstore.NewVolunteerStore(redisstore.NewDB(c, prefix)),
			Directory: hotline.NewStaticDirectory(n, cat), Logger: slog.New(slog.DiscardHandler)}
		b.StartTimer()
		start := time.Now()
		rep, err := s.Import(ctx, socialWorker, bytes.NewReader(data))
		first += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Created != benchVolunteers {
			b.Fatalf("created %d of %d: %v", rep.Created, benchVolunteers, rep.Rejected[:min(5, len(rep.Rejected))])
		}
		start = time.Now()
		rep, err = s.Import(ctx, socialWorker, bytes.NewReader(data))
		again += time.Since(start)
		if err != nil || rep.Unchanged != benchVolunteers {
			b.Fatalf("re-import: %+v, %v", rep.Unchanged, err)
		}
		b.StopTimer()
		dropPrefix(ctx, c, prefix) // the next run, and the other benchmarks, start clean
		b.StartTimer()
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "import-s")
	b.ReportMetric(float64(benchVolunteers)*float64(b.N)/first.Seconds(), "rows/s")
	b.ReportMetric(again.Seconds()/float64(b.N), "reimport-s")
}
