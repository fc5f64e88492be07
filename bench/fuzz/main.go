// Command fuzz runs every fuzz target of the module for a fixed budget, one
// after another, and prints what each did: its executions, the new
// interesting inputs it found and whether it failed. It exits 1 when any
// target failed (its failing input is then in that package's
// testdata/fuzz/<target>/, where go test runs it from then on).
//
//	go run ./bench/fuzz                    # every target, 20 s each
//	go run ./bench/fuzz -fuzztime 2m -run 'Project|Import'
//
// The targets are found with go test -list '^Fuzz' ./... and each is run
// with go test -run '^$' -fuzz '^Target$' -fuzztime BUDGET PKG, so what it
// runs is exactly what a developer would type. Every run is bounded: a
// target that has not finished within -timeout (building included) is
// stopped and counted as failed. docs/RELIABILITY.md, "Fuzzing".
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// target is one fuzz target and what its run did.
type target struct {
	Pkg, Name string
	Execs     int64 // -1: the run never reported any
	New       int64 // new interesting inputs found in this run
	Corpus    int64 // inputs in the corpus at the end (seeds, testdata, cache and new)
	Result    string
	Took      time.Duration
	Detail    string // why it failed: the failure's first lines, the failing input's file
}

func main() {
	fuzztime := flag.Duration("fuzztime", 20*time.Second, "how long each target is fuzzed")
	run := flag.String("run", "", "only the targets whose name matches this regular expression")
	pkgs := flag.String("pkg", "./...", "the packages to look for targets in")
	parallel := flag.Int("parallel", 0, "fuzzing processes per target (go test -parallel; 0 leaves go's default, GOMAXPROCS)")
	minimize := flag.Duration("fuzzminimizetime", 2*time.Second, "how long the fuzzer may spend making each new input smaller (go's default, 60s, would take a whole budget)")
	timeout := flag.Duration("timeout", 20*time.Minute, "the longest one target may take, building its test binary included")
	flag.Parse()

	var only *regexp.Regexp
	if *run != "" {
		var err error
		if only, err = regexp.Compile(*run); err != nil {
			fatalf("-run: %v", err)
		}
	}
	modPath, root, err := module()
	if err != nil {
		fatalf("%v", err)
	}
	targets, err := list(root, *pkgs)
	if err != nil {
		fatalf("%v", err)
	}
	var chosen []*target
	for _, t := range targets {
		if t.Result != "" || only == nil || only.MatchString(t.Name) {
			chosen = append(chosen, t)
		}
	}
	if len(chosen) == 0 {
		fatalf("no fuzz targets in %s%s", *pkgs, map[bool]string{true: " matching " + *run}[*run != ""])
	}
	fmt.Printf("%d fuzz targets, %v each, one after another\n", len(chosen), *fuzztime)

	start, failed := time.Now(), 0
	for i, t := range chosen {
		fmt.Printf("[%d/%d] %s %s … ", i+1, len(chosen), t.Pkg, t.Name)
		if t.Result == "" { // not already failed by the listing
			fuzz(root, t, *fuzztime, *minimize, *parallel, *timeout)
		}
		fmt.Printf("%s, %s executions, %d new, %v\n", t.Result, count(t.Execs), t.New, t.Took.Round(time.Second))
		if t.Result != "ok" && t.Result != "ok*" {
			failed++
			fmt.Println(indent(t.Detail))
		}
	}

	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "target\tpackage\texecutions\tnew interesting\tcorpus\tresult\t")
	var total int64
	for _, t := range chosen {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t\n", t.Name, relative(modPath, t.Pkg), count(t.Execs), t.New, t.Corpus, t.Result)
		total += max(t.Execs, 0)
	}
	w.Flush()
	fmt.Printf("\n%d targets, %s executions in all, %d failed; %v each, %v in all\n",
		len(chosen), count(total), failed, *fuzztime, time.Since(start).Round(time.Second))
	for _, t := range chosen {
		if t.Result == "ok*" {
			fmt.Println("ok*: go reported its own -fuzztime deadline as a failure, with no failing input (go.dev/issue/75804, Go 1.26)")
			break
		}
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fuzz: "+format+"\n", args...)
	os.Exit(2)
}

// module is the main module's import path and directory: go test runs
// there, so that ./... means the whole module wherever this is started.
func module() (path, dir string, err error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", "", fmt.Errorf("go list -m (run it from the repository): %w", err)
	}
	path, dir, ok := strings.Cut(strings.TrimSpace(string(out)), " ")
	if !ok || dir == "" {
		return "", "", errors.New("not inside a Go module: run it from the repository")
	}
	return path, dir, nil
}

// list finds the fuzz targets of pkgs. go test -list prints each
// package's matching names, then "ok <package> <time>"; a package that
// does not build (a colleague's change half made, in a shared checkout)
// is a "FAIL <package>" line, listed as a failed target of its own so
// that it is neither fuzzed nor forgotten.
func list(root, pkgs string) ([]*target, error) {
	cmd := exec.Command("go", "test", "-list", "^Fuzz", pkgs)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	targets, perr := parseList(out.String())
	switch {
	case perr != nil:
		return nil, perr
	case err != nil && len(targets) == 0:
		return nil, fmt.Errorf("go test -list '^Fuzz' %s: %v\n%s", pkgs, err, out.String())
	}
	return targets, nil
}

func parseList(out string) ([]*target, error) {
	var names []string
	var targets []*target
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 1 && strings.HasPrefix(fields[0], "Fuzz"):
			names = append(names, fields[0])
		case len(fields) >= 2 && fields[0] == "ok":
			for _, n := range names {
				targets = append(targets, &target{Pkg: fields[1], Name: n})
			}
			names = nil
		case len(fields) >= 2 && fields[0] == "FAIL":
			targets = append(targets, &target{Pkg: fields[1], Name: "(package)", Execs: -1, Result: "BUILD FAIL",
				Detail: "go test -list '^Fuzz' " + fields[1] + ": " + strings.Join(fields[2:], " ")})
			names = nil
		}
	}
	if len(names) > 0 {
		return nil, fmt.Errorf("go test -list: targets %v without their package in:\n%s", names, out)
	}
	return targets, nil
}

// progress is the fuzzer's status line, e.g.
// "fuzz: elapsed: 21s, execs: 123456 (5874/sec), new interesting: 12 (total: 40)".
var progress = regexp.MustCompile(`^fuzz: elapsed: \S+, execs: (\d+) \(\S+/sec\), new interesting: (\d+) \(total: (\d+)\)`)

// fuzz runs one target and fills in what it did.
func fuzz(root string, t *target, budget, minimize time.Duration, parallel int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"test", "-run", "^$", "-fuzz", "^" + t.Name + "$", "-fuzztime", budget.String(),
		"-fuzzminimizetime", minimize.String(),
		// go test's own timeout stops a target that hangs on one input.
		"-timeout", (budget + 10*time.Minute).String()}
	if parallel > 0 {
		args = append(args, "-parallel", strconv.Itoa(parallel))
	}
	cmd := exec.CommandContext(ctx, "go", append(args, t.Pkg)...)
	cmd.Dir = root
	// Its own process group, so that on timeout the test binary and its
	// fuzzing workers go too, not only the go command.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		io.Copy(io.Discard, pr)
	}()
	start := time.Now()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	<-done
	t.Took = time.Since(start)
	parseRun(t, lines)
	switch {
	case ctx.Err() != nil:
		t.Result = "TIMEOUT"
		t.Detail = fmt.Sprintf("stopped after %v\n%s", timeout, tail(lines, 20))
	case err != nil && deadlineRace(lines):
		// Go 1.26's fuzzing coordinator can report its own -fuzztime
		// deadline as a failure as it stops the workers (go.dev/issue/75804,
		// fixed in Go 1.27): no input failed and none was written.
		t.Result = "ok*"
		return
	case err != nil:
		t.Result = "FAIL"
		t.Detail = failure(lines)
	default:
		t.Result = "ok"
		return
	}
	if f, err := os.CreateTemp("", "fuzz-"+t.Name+"-*.log"); err == nil {
		f.WriteString(strings.Join(lines, "\n") + "\n")
		f.Close()
		t.Detail += "\n(the whole output: " + f.Name() + ")"
	}
	if strings.Contains(t.Detail, "hung or terminated unexpectedly") {
		// go discards a fuzzing worker's own output: say what it may be.
		t.Detail += "\n(a worker that exits 2 panicked outside the fuzz function, or ran one input for 10 s, which go takes for a hang)"
	}
}

// parseRun takes the last progress line's figures (the fuzzer prints one
// every few seconds and one at the end).
func parseRun(t *target, lines []string) {
	t.Execs = -1
	for _, l := range lines {
		if m := progress.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			t.Execs, _ = strconv.ParseInt(m[1], 10, 64)
			t.New, _ = strconv.ParseInt(m[2], 10, 64)
			t.Corpus, _ = strconv.ParseInt(m[3], 10, 64)
		}
	}
}

// deadlineRace reports whether a failed run is only go.dev/issue/75804:
// its one message is "context deadline exceeded" and no failing input
// was written.
func deadlineRace(lines []string) bool {
	var msgs []string
	for i, l := range lines {
		if strings.Contains(l, "Failing input written to") {
			return false
		}
		if strings.HasPrefix(l, "--- FAIL") {
			for _, m := range lines[i+1:] {
				if !strings.HasPrefix(m, "    ") {
					break
				}
				msgs = append(msgs, strings.TrimSpace(m))
			}
		}
	}
	return len(msgs) == 1 && msgs[0] == "context deadline exceeded"
}

// failure keeps what says why a run failed: from the first "--- FAIL"
// on (the test's messages, where the failing input was written and how to
// run it again), or the end of the output when there is none.
func failure(lines []string) string {
	for i, l := range lines {
		if strings.HasPrefix(l, "--- FAIL") {
			return strings.Join(lines[i:min(len(lines), i+40)], "\n")
		}
	}
	return tail(lines, 20)
}

func tail(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}

// count writes n with thousands separators; -1 (no figures) as "-".
func count(n int64) string {
	if n < 0 {
		return "-"
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// relative names a package of the module as a path from its root: "."
// for the root package, "server" for …/server.
func relative(modPath, pkg string) string {
	if pkg == modPath {
		return "."
	}
	return strings.TrimPrefix(pkg, modPath+"/")
}
