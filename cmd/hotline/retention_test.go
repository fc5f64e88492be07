package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/config"
	"github.com/caojiadu/hotline/redisstore"
	"github.com/caojiadu/hotline/retention"
)

// seedRetention stores three tickets of one resident: one closed 400 days
// ago (due), one closed yesterday and one still open since 400 days ago
// (neither due). It returns them in that order.
func seedRetention(t *testing.T, m *Main) []*hotline.Ticket {
	t.Helper()
	tickets := redisstore.NewTicketStore(m.store.DB)
	long, recent := time.Now().AddDate(0, 0, -400), time.Now().AddDate(0, 0, -1)
	var out []*hotline.Ticket
	for _, tk := range []*hotline.Ticket{
		{Status: hotline.StatusClosed, CreatedAt: long, ClosedAt: long},
		{Status: hotline.StatusClosed, CreatedAt: recent, ClosedAt: recent},
		{Status: hotline.StatusAccepted, CreatedAt: long},
	} {
		tk.Channel, tk.ServiceCode, tk.UnitID = hotline.ChannelVoice, "elderly_meals", "c07"
		tk.Description = "王阿姨想要送餐，电话 13800138000"
		tk.Location = hotline.Location{Address: "长寿路 101 号", Lat: 31.239151, Long: 121.434905, Committee: "c07"}
		tk.Contact = hotline.Contact{Phone: "+8613800138000", Consent: true}
		tk.ExternalRef = "CA0123456789abcdef0123456789abcdef"
		if _, err := tickets.CreateTicket(context.Background(), tk, ""); err != nil {
			t.Fatal(err)
		}
		out = append(out, tk)
	}
	return out
}

// `hotline erase` beside a running serve: a dry run lists what is due and
// changes nothing; the run erases the ticket whose period passed, and only
// it; a second run finds nothing; while a replica sweeps, it says so.
func TestEraseCommand(t *testing.T) {
	dir := t.TempDir()
	m := MustRunMainOn(t, dir, nil)
	seeded := seedRetention(t, m)
	due := seeded[0]
	tickets := redisstore.NewTicketStore(m.store.DB)
	find := func(id string) *hotline.Ticket {
		t.Helper()
		tk, err := tickets.FindTicket(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	erase := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"erase", "--data", dir}, args...), nil, &out, &errOut); err != nil {
			t.Fatalf("erase %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	expect := func(out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !regexp.MustCompile(w).MatchString(out) {
				t.Errorf("the summary lacks %s:\n%s", w, out)
			}
		}
	}

	out := erase("--dry-run")
	expect(out, `would erase \(dry run: nothing changed\): finished tickets last changed before \d{4}-\d\d-\d\d \d\d:\d\d \(365d ago\)`,
		`tickets read\s+1\n`, `tickets to erase\s+1\n`, `first tickets to erase\s+`+due.ID+`\n`)
	if strings.Contains(out, "feed") || find(due.ID).Contact.Phone == "" {
		t.Errorf("the dry run erased or trimmed:\n%s", out)
	}

	out = erase()
	t.Logf("hotline erase:\n%s", out)
	expect(out, `personal details erased: `, `tickets read\s+1\n`, `tickets erased\s+1\n`, `board feed entries dropped\s+\d+\n`, `time taken\s+\S+`)
	got := find(due.ID)
	if got.Contact.Phone != "" || got.Location.Address != "" || got.ExternalRef != "" || strings.Contains(got.Description, "13800138000") ||
		got.ErasedAt.IsZero() || got.Location.Committee != "c07" {
		t.Errorf("erased ticket %+v", got)
	}
	for _, tk := range seeded[1:] {
		if find(tk.ID).Contact.Phone == "" {
			t.Errorf("ticket %s (%s, changed %s) was erased before its time", tk.ID, tk.Status, tk.UpdatedAt.Format(time.DateOnly))
		}
	}
	expect(erase(), `tickets read\s+0\n`, `tickets erased\s+0\n`)

	// The scheduler's run: nothing left either.
	before := find(due.ID).Version
	m.eraseScheduled(context.Background(), newSweeper(m.store, m.Config.Retention, m.Logger))
	if v := find(due.ID).Version; v != before {
		t.Errorf("the scheduled run changed the erased ticket (version %d → %d)", before, v)
	}

	unlock, ok, err := redisstore.NewLocker(m.store.DB).Lock(context.Background(), retention.LockName, time.Minute)
	if err != nil || !ok {
		t.Fatalf("take the sweep's lock: %v %v", ok, err)
	}
	defer unlock()
	var sink bytes.Buffer
	err = run(context.Background(), []string{"erase", "--data", dir}, nil, &sink, &sink)
	if err == nil || !strings.Contains(err.Error(), "another replica is erasing personal details") {
		t.Fatalf("erase while another runs: %v", err)
	}
}

// The floor config checks is the sweep's, and a wrong [retention] key is
// refused with a message saying what to write.
func TestRetentionConfigIsCheckedClearly(t *testing.T) {
	if got := config.Default().Retention.PersonalData.Duration; got != retention.DefaultPeriod {
		t.Errorf("default personal_data %v, want the sweep's %v", got, retention.DefaultPeriod)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		file, want string
	}{
		{`personal_data = "89d"`, "retention.personal_data: 89d is too short: give at least 90d"},
		{`personal_data = "a year"`, `"a year" is neither days ("365d") nor a duration`},
		{`schedule = "at night"`, `retention.schedule: "at night" is not a cron schedule`},
		{`personal_data = "90d"`, ""},
	} {
		path := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(path, []byte("[retention]\n"+tc.file+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		m := NewMain()
		m.Environ = nil
		var errOut bytes.Buffer
		err := m.ParseFlags("serve", []string{"--config", path}, &errOut)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.file, err)
		case tc.want == "" && m.Config.Retention.PersonalData.Duration != retention.MinPeriod:
			t.Errorf("%s: read %v, want the floor %v", tc.file, m.Config.Retention.PersonalData.Duration, retention.MinPeriod)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error saying %q", tc.file, err, tc.want)
		}
	}
}
