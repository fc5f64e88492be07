package main

// The soak is a command, so its test is in package main: an external test
// package cannot import a main package. It checks the accounting the
// soak's verdicts rest on; the soak itself is run by hand (see main.go).

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// MustBoard is a board that received msgs, as the server would send them.
func MustBoard(tb testing.TB, idx int, committee string, msgs ...string) *board {
	tb.Helper()
	b := &board{idx: idx, admin: committee == "", committee: committee, got: map[uint64]uint8{}, drops: map[string]int{}}
	for _, m := range msgs {
		if typ := b.handle([]byte(m)); typ == "" {
			tb.Fatalf("message not understood: %s", m)
		}
	}
	return b
}

// change is a ticket change as the live feed sends it (docs/API.md).
func change(id string, version int) string {
	return `{"type":"ticket.noted","ticket_id":"` + id + `","event":{"version":` + strconv.Itoa(version) + `},"position":"1-0.2-0"}`
}

func TestTallyCountsEveryChangeOncePerBoard(t *testing.T) {
	l := newLedger()
	l.ack("160011", "web", "c01", time.Millisecond)
	l.ack("160022", "sms", "", time.Millisecond)
	st := &storeView{created: 2, tickets: map[string]storedTicket{
		"160011": {version: 3, committee: "c01"},
		"160022": {version: 1, committee: "c02"},
	}}
	// The administrator's board sees both tickets; c01's board only the
	// first; c02's board the second, and it also got a change of the first
	// (routed to one of its units): allowed, not required.
	admin := MustBoard(t, 0, "", change("160011", 1), change("160011", 2), change("160011", 3), change("160022", 1))
	c01 := MustBoard(t, 1, "c01", change("160011", 1), change("160011", 2), change("160011", 3))
	c02 := MustBoard(t, 2, "c02", change("160022", 1), change("160011", 2))

	got := tallyRun(l, st, []*board{admin, c01, c02})
	if got.missed != 0 || got.twice != 0 || got.lost != 0 || got.unacked != 0 {
		t.Fatalf("missed %d, twice %d, lost %d, unacked %d; want all 0", got.missed, got.twice, got.lost, got.unacked)
	}
	if want := 4 + 3 + 1; got.expected != want {
		t.Errorf("expected %d changes, want %d", got.expected, want)
	}
	if want := 4 + 3 + 2; got.delivered != want {
		t.Errorf("delivered %d, want %d", got.delivered, want)
	}
	if errs := got.errors(); len(errs) != 0 {
		t.Errorf("errors %v, want none", errs)
	}
}

func TestTallyFindsMissedAndRepeatedChanges(t *testing.T) {
	l := newLedger()
	l.ack("160011", "web", "c01", time.Millisecond)
	st := &storeView{created: 1, tickets: map[string]storedTicket{"160011": {version: 3, committee: "c01"}}}
	// Version 2 never came; version 3 came twice (a resume that replayed
	// what the board had).
	b := MustBoard(t, 0, "", change("160011", 1), change("160011", 3), change("160011", 3))

	got := tallyRun(l, st, []*board{b})
	if got.missed != 1 || got.twice != 1 {
		t.Fatalf("missed %d, twice %d; want 1 and 1", got.missed, got.twice)
	}
	if errs := got.errors(); len(errs) != 2 {
		t.Errorf("errors %v, want two (missed, twice)", errs)
	}
}

func TestTallyFindsLostAndDuplicatedTickets(t *testing.T) {
	l := newLedger()
	l.ack("160011", "web", "c01", time.Millisecond) // acknowledged, then lost
	l.ack("160022", "web", "c01", time.Millisecond)
	// 160033 is in the store but nobody was given it: a duplicate, since
	// no request ended without an answer.
	st := &storeView{created: 2, tickets: map[string]storedTicket{
		"160022": {version: 1, committee: "c01"},
		"160033": {version: 1, committee: "c01"},
	}}
	got := tallyRun(l, st, nil)
	if got.lost != 1 || got.unacked != 1 {
		t.Fatalf("lost %d, unacked %d; want 1 and 1", got.lost, got.unacked)
	}
	if errs := got.errors(); len(errs) != 2 {
		t.Errorf("errors %v, want two (lost, duplicated)", errs)
	}

	// The same store after one request whose answer never came: the extra
	// ticket may be that request's, so it is no longer a duplicate.
	l.unknownOutcome()
	if errs := tallyRun(l, st, nil).errors(); len(errs) != 1 {
		t.Errorf("errors %v, want one (lost)", errs)
	}
}

func TestBoardResumeKeepsThePosition(t *testing.T) {
	b := MustBoard(t, 0, "",
		`{"type":"hello","position":"5-0.7-0"}`,
		change("160011", 1),
		`{"type":"hello","position":"9-0.9-0","replayed":1}`)
	if b.position != "9-0.9-0" || b.replayed != 1 || b.hellos != 2 {
		t.Errorf("position %q, replayed %d, hellos %d; want 9-0.9-0, 1, 2", b.position, b.replayed, b.hellos)
	}
}

func TestJudge(t *testing.T) {
	o := options{warmup: 2 * time.Minute, heapSlack: 0.10, goSlack: 5}
	at := func(min int, liveMiB, inuseMiB int64, goroutines int) sample {
		return sample{at: time.Duration(min) * time.Minute, liveGC: liveMiB << 20, heapGC: inuseMiB << 20, rss: 3 * inuseMiB << 20, goroutines: goroutines}
	}
	// run is a sample a minute from the warm-up on, live heap, heap in
	// use and goroutines from f, after a start that is always smaller.
	run := func(minutes int, f func(m int) (live, inuse int64, goroutines int)) []sample {
		ss := []sample{at(0, 5, 8, 100)}
		for m := 2; m <= minutes; m++ {
			l, h, g := f(m)
			ss = append(ss, at(m, l, h, g))
		}
		return ss
	}
	for _, tc := range []struct {
		name    string
		samples []sample
		flat    bool
	}{
		{"steady", run(30, func(int) (int64, int64, int) { return 12, 20, 300 }), true},
		{"noisy but steady", run(30, func(m int) (int64, int64, int) { return 12 + int64(m%2), 20 + int64(m%3), 300 + 12*(m%2) }), true},
		{"live heap leaks 1 MiB a minute", run(30, func(m int) (int64, int64, int) { return 12 + int64(m), 20 + int64(m), 300 }), false},
		{"spans fill up, nothing more is held", run(30, func(m int) (int64, int64, int) { return 12, 20 + int64(m)/3, 300 }), true},
		{"a goroutine leaks a minute", run(30, func(m int) (int64, int64, int) { return 12, 20, 300 + m }), false},
		{"one spike at the end is not a trend", run(30, func(m int) (int64, int64, int) {
			if m == 30 {
				return 40, 60, 400
			}
			return 12, 20, 300
		}), true},
		{"a short run compares single samples", []sample{at(0, 10, 12, 180), at(2, 12, 20, 300), at(3, 15, 24, 300)}, false},
		{"no sample after the warm-up", []sample{at(0, 10, 12, 180), at(1, 12, 20, 300)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := judge(o, tc.samples); got.ok != tc.flat {
				t.Errorf("judge = %v, want flat %v", got, tc.flat)
			}
		})
	}
}

func TestChangeKeyKeepsTicketsApart(t *testing.T) {
	a, okA := changeKey("160011", 2)
	b, okB := changeKey("1600112", 1)
	if !okA || !okB || a == b {
		t.Errorf("changeKey(160011, 2) = %d, changeKey(1600112, 1) = %d: want two distinct keys", a, b)
	}
	if _, ok := changeKey("16001x", 1); ok {
		t.Error("changeKey accepted an id that is not digits")
	}
}

// The heap after GC comes from the MemStats that a text heap profile
// (/debug/pprof/heap?gc=1&debug=1) ends with.
func TestMemStatsFromTheHeapProfile(t *testing.T) {
	profile := "heap profile: 3: 1024 [9: 4096] @ heap/1048576\n" +
		"1: 512 [1: 512] @ 0x4a1b2c 0x4a1c3d\n" +
		"#\t0x4a1b2c\tmain.f+0x2c\t/x.go:10\n\n" +
		"# runtime.MemStats\n# Alloc = 13421772\n# HeapAlloc = 13421772\n# HeapInuse = 23592960\n# NumGC = 42\n"
	got, err := memStats(strings.NewReader(profile))
	if err != nil {
		t.Fatal(err)
	}
	if got["HeapInuse"] != 23592960 || got["HeapAlloc"] != 13421772 {
		t.Errorf("HeapInuse %d, HeapAlloc %d; want 23592960, 13421772", got["HeapInuse"], got["HeapAlloc"])
	}
}
