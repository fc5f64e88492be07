package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/grouping"
	"github.com/caojiadu/hotline/redisstore"
)

// seedNeeds stores half a year of two recurring needs (meals for elderly
// people living alone in c01, broken stairwell lights in c05: three
// tickets a month each, from different residents) and returns how many
// tickets it stored.
func seedNeeds(t *testing.T, m *Main) int {
	t.Helper()
	ctx := context.Background()
	tickets := redisstore.NewTicketStore(m.store.DB)
	meals := []string{"独居老人腿脚不便，希望能上门送餐", "家里老人一个人住，做饭困难，能不能每天送饭上门",
		"社区能不能安排送餐，老人八十多岁一个人在家吃饭成问题", "想问问有没有上门送餐，老人独居"}
	lights := []string{"楼道灯坏了，晚上上下楼黑乎乎的", "我们这栋楼的楼梯灯不亮了", "楼道里的灯一直不亮，请派电工来换一下"}
	c01, _ := m.Directory.Network().Unit("c01")
	c05, _ := m.Directory.Network().Unit("c05")
	now, n := time.Now(), 0
	for month := 6; month >= 1; month-- {
		for i := range 3 {
			at := now.AddDate(0, -month, i*7)
			for _, tk := range []*hotline.Ticket{
				{ServiceCode: "elderly_meals", Description: meals[(month+i)%len(meals)], Status: hotline.StatusResolved, UnitID: "c01-meals",
					Location: hotline.Location{Lat: c01.Lat, Long: c01.Long, Committee: "c01"}, Contact: hotline.Contact{Phone: fmt.Sprintf("+86137000%05d", n)}},
				{ServiceCode: "facilities", Description: lights[(month+i)%len(lights)], Status: hotline.StatusClosed, UnitID: "c05",
					Location: hotline.Location{Lat: c05.Lat, Long: c05.Long, Committee: "c05"}, Contact: hotline.Contact{Phone: fmt.Sprintf("+86139000%05d", n)}},
			} {
				tk.Channel, tk.CreatedAt = hotline.ChannelVoice, at
				if _, err := tickets.CreateTicket(ctx, tk, ""); err != nil {
					t.Fatal(err)
				}
				n++
			}
		}
	}
	return n
}

// `hotline group` beside a running serve: it reads the tickets of the
// window, writes the drafts the service then shows, and says what it did.
func TestGroupCommandWritesDrafts(t *testing.T) {
	dir := t.TempDir()
	m := MustRunMainOn(t, dir, func(m *Main) { m.Config.Projects.Enabled = false })
	if m.Server.Projects == nil || m.Projects == nil || m.ProjectJob == nil {
		t.Fatal("the projects service is not wired into the server")
	}
	stored := seedNeeds(t, m)

	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"group", "--since", "400d", "--data", dir}, nil, &out, &errOut); err != nil {
		t.Fatalf("group: %v\n%s", err, errOut.String())
	}
	summary := out.String()
	for _, want := range []string{
		fmt.Sprintf(`tickets read\s+%d\n`, stored), `groups\s+\d+\n`, `recurring\s+2\n`, `new drafts\s+2\n`,
		`continued\s+0\n`, `retired\s+0\n`, `kept \(people's projects\)\s+0\n`, `time taken\s+\S+`,
	} {
		if !regexp.MustCompile(want).MatchString(summary) {
			t.Errorf("the summary lacks %s:\n%s", want, summary)
		}
	}
	// stderr is no terminal here: plain progress lines, ending at the total.
	if !strings.Contains(errOut.String(), fmt.Sprintf("reading tickets: %d of %d (100%%)", stored, stored)) {
		t.Errorf("progress on stderr:\n%s", errOut.String())
	}

	social := &hotline.User{ID: "u-social", Role: hotline.RoleSocialWorker, UnitID: "center"}
	drafts, err := m.Projects.List(context.Background(), social, hotline.ProjectFilter{Statuses: []hotline.ProjectStatus{hotline.ProjectDraft}})
	if err != nil {
		t.Fatal(err)
	}
	codes := map[string]int{}
	for _, d := range drafts {
		codes[d.ServiceCode] = d.Evidence.Tickets
	}
	if len(drafts) != 2 || codes["elderly_meals"] != 18 || codes["facilities"] != 18 {
		t.Fatalf("drafts after the run: %v, want 18 meals and 18 lights tickets", codes)
	}
	last, err := m.Projects.LastRun(context.Background(), social)
	if err != nil || last.Trigger != "manual" || last.New != 2 {
		t.Fatalf("last run %+v, %v", last, err)
	}

	// Again: the same drafts continue, nothing new.
	out.Reset()
	if err := run(context.Background(), []string{"group", "--since", "400d", "--data", dir}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`new drafts\s+0\n`).MatchString(out.String()) || !regexp.MustCompile(`continued\s+2\n`).MatchString(out.String()) {
		t.Fatalf("second run:\n%s", out.String())
	}

	err = run(context.Background(), []string{"group", "--since", "a while", "--data", dir}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("a bad --since: %v", err)
	}

	// While a replica runs the job, the command says so and does nothing.
	unlock, ok, err := redisstore.NewLocker(m.store.DB).Lock(context.Background(), "grouping", time.Minute)
	if err != nil || !ok {
		t.Fatalf("take the job's lock: %v %v", ok, err)
	}
	defer unlock()
	err = run(context.Background(), []string{"group", "--data", dir}, nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "another replica is running the grouping job") {
		t.Fatalf("group while another runs: %v", err)
	}
}

// The scheduler's run records a cron run, and a second one moments later
// is skipped: every replica's scheduler fires at the same minute.
func TestScheduledGroupingRunsOnce(t *testing.T) {
	m := MustRunMainOn(t, t.TempDir(), func(m *Main) { m.Config.Projects.Enabled = false })
	seedNeeds(t, m)
	ctx := context.Background()
	m.groupScheduled(ctx)
	m.groupScheduled(ctx)
	runs, err := redisstore.NewProjectStore(m.store.DB).Runs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Trigger != "cron" || runs[0].New != 2 {
		t.Fatalf("runs %+v, want one cron run with two new drafts", runs)
	}
}

// A serve with the job enabled schedules it and still shuts down at once.
func TestServeSchedulesTheGroupingJob(t *testing.T) {
	m := MustRunMainOn(t, t.TempDir(), func(m *Main) { m.Config.Projects.Schedule = "*/5 * * * *" })
	done := make(chan error, 1)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("close waited on the scheduler")
	}
}

// The [projects] keys have package grouping's defaults.
func TestProjectsConfigDefaultsAreTheGroupings(t *testing.T) {
	c := config.Default().Projects
	d := grouping.Options{}.WithDefaults()
	if got := groupingOptions(c); got != (grouping.Options{Similarity: d.Similarity, NeighbourMetres: d.NeighbourMetres,
		MinMonths: d.MinMonths, MinResidents: d.MinResidents, MinTickets: d.MinTickets, CostPerPersonTime: d.CostPerPersonTime}) {
		t.Fatalf("config defaults %+v, grouping's %+v", got, d)
	}
	if !c.Enabled || c.Schedule != "0 2 * * *" || c.Window.Duration != 365*24*time.Hour {
		t.Fatalf("projects defaults %+v", c)
	}
}

// A wrong [projects] key is refused with a message saying what to write.
func TestProjectsConfigIsCheckedClearly(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		file, env, field, says string
	}{
		"schedule":  {file: `schedule = "at two"`, field: "projects.schedule", says: `"0 2 * * *"`},
		"window":    {file: `window = "a year"`, says: "365d"},
		"short":     {file: `window = "12h"`, field: "projects.window", says: "at least 1d"},
		"similar":   {file: `similarity = 1.5`, field: "projects.similarity", says: "at most 1"},
		"cost":      {file: `cost_per_person_time = 0.0`, field: "projects.cost_per_person_time", says: "more than 0"},
		"months":    {file: `min_months = 0`, field: "projects.min_months", says: "at least 1"},
		"env float": {env: "HOTLINE_PROJECTS_NEIGHBOUR_METRES=far", says: "want a number"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".toml")
			if err := os.WriteFile(path, []byte("[projects]\n"+tc.file+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var env []string
			if tc.env != "" {
				env = []string{tc.env}
			}
			_, err := config.Load(path, env)
			msg := fmt.Sprint(err, hotline.ErrorFields(err))
			if err == nil || !strings.Contains(msg, tc.says) || (tc.field != "" && hotline.ErrorFields(err)[tc.field] == "") {
				t.Fatalf("err %v (fields %v): want %s named, saying %q", err, hotline.ErrorFields(err), tc.field, tc.says)
			}
		})
	}
	c, err := config.Load("", []string{"HOTLINE_PROJECTS_WINDOW=90d", "HOTLINE_PROJECTS_SIMILARITY=0.45", "HOTLINE_PROJECTS_ENABLED=false"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Projects.Window.Duration != 90*24*time.Hour || c.Projects.Similarity != 0.45 || c.Projects.Enabled {
		t.Fatalf("environment overrides: %+v", c.Projects)
	}
	if d, err := config.ParseWindow("36h"); err != nil || d != 36*time.Hour {
		t.Fatalf("ParseWindow(36h) = %v, %v", d, err)
	}
}
