package main

import (
	"strings"
	"testing"
)

// What go test -list '^Fuzz' ./... printed for this module, cut short,
// with a package that did not build.
const listOutput = `FuzzParseFeedPosition
FuzzValidTicketID
ok  	github.com/caojiadu/hotline	0.011s
?   	github.com/caojiadu/hotline/bench/fuzz	[no test files]
FuzzLoad
ok  	github.com/caojiadu/hotline/config	0.020s
ok  	github.com/caojiadu/hotline/memlimit	0.009s
# github.com/caojiadu/hotline/phone
phone/voice.go:12:2: undefined: x
FAIL	github.com/caojiadu/hotline/phone [build failed]
FuzzImport
ok  	github.com/caojiadu/hotline/volunteers	0.031s
`

func TestParseList(t *testing.T) {
	targets, err := parseList(listOutput)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range targets {
		got = append(got, relative("github.com/caojiadu/hotline", x.Pkg)+" "+x.Name+" "+x.Result)
	}
	want := []string{". FuzzParseFeedPosition ", ". FuzzValidTicketID ", "config FuzzLoad ",
		"phone (package) BUILD FAIL", "volunteers FuzzImport "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if _, err := parseList("FuzzOrphan\n"); err == nil {
		t.Error("a target without its package's ok line was taken")
	}
}

func TestParseRun(t *testing.T) {
	lines := strings.Split(`fuzz: elapsed: 0s, gathering baseline coverage: 0/14 completed
fuzz: elapsed: 1s, gathering baseline coverage: 14/14 completed, now fuzzing with 2 workers
fuzz: elapsed: 3s, execs: 2899 (962/sec), new interesting: 1 (total: 15)
fuzz: elapsed: 21s, execs: 28820 (551/sec), new interesting: 34 (total: 50)
PASS`, "\n")
	tg := &target{}
	parseRun(tg, lines)
	if tg.Execs != 28820 || tg.New != 34 || tg.Corpus != 50 {
		t.Errorf("got %+v", tg)
	}
	parseRun(tg, lines[:2])
	if tg.Execs != -1 || count(tg.Execs) != "-" {
		t.Errorf("baseline only: got %+v", tg)
	}
	if got := count(1234567); got != "1,234,567" {
		t.Errorf("count: %s", got)
	}
}

func TestDeadlineRace(t *testing.T) {
	race := strings.Split(`fuzz: elapsed: 3m1s, execs: 989601 (0/sec), new interesting: 350 (total: 483)
--- FAIL: FuzzWebhookSignature (180.92s)
    context deadline exceeded
FAIL
exit status 1`, "\n")
	if !deadlineRace(race) {
		t.Error("go.dev/issue/75804 not recognised")
	}
	crash := strings.Split(`--- FAIL: FuzzBoardSince (28.70s)
    fuzzing process hung or terminated unexpectedly: exit status 2
    Failing input written to testdata/fuzz/FuzzBoardSince/318f59ec2865629a
    To re-run:
    go test -run=FuzzBoardSince/318f59ec2865629a
FAIL`, "\n")
	if deadlineRace(crash) {
		t.Error("a crash taken for the deadline race")
	}
	withInput := append(append([]string{}, race[:3]...), "    Failing input written to testdata/fuzz/F/1")
	if deadlineRace(withInput) {
		t.Error("a failure that wrote an input taken for the deadline race")
	}
	if got := failure(crash); !strings.HasPrefix(got, "--- FAIL: FuzzBoardSince") || !strings.Contains(got, "318f59ec2865629a") {
		t.Errorf("failure: %q", got)
	}
}
