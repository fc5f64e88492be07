package dispatch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// The 2025 National Day holiday as the State Council announced it: 1–8
// October off, Sunday 28 September and Saturday 11 October worked instead.
var (
	nationalDay = []string{"2025-10-01", "2025-10-02", "2025-10-03", "2025-10-06", "2025-10-07", "2025-10-08"}
	makeUpDays  = []string{"2025-09-28", "2025-10-11"}
)

func TestCalendar_Add(t *testing.T) {
	cal, err := dispatch.NewCalendar(dispatch.DefaultWorkingHours, nationalDay, makeUpDays)
	if err != nil {
		t.Fatal(err)
	}
	day := cal.DayLength()
	if day != 9*time.Hour {
		t.Fatalf("working day is %v, want 9h", day)
	}
	for _, tc := range []struct {
		name  string
		start time.Time
		d     time.Duration
		want  time.Time
	}{
		{"within the day", sh(2025, 3, 12, 9, 0), 2 * time.Hour, sh(2025, 3, 12, 11, 0)},
		{"one working day is the same time tomorrow", sh(2025, 3, 12, 11, 0), day, sh(2025, 3, 13, 11, 0)},
		{"overnight", sh(2025, 3, 12, 16, 30), 2 * time.Hour, sh(2025, 3, 13, 9, 30)},
		{"ends exactly at closing", sh(2025, 3, 12, 15, 30), 2 * time.Hour, sh(2025, 3, 12, 17, 30)},
		{"over the weekend", sh(2025, 3, 14, 16, 30), 2 * time.Hour, sh(2025, 3, 17, 9, 30)},
		{"filed on Saturday counts from Monday's opening", sh(2025, 3, 15, 10, 0), time.Hour, sh(2025, 3, 17, 9, 30)},
		{"filed before opening", sh(2025, 3, 12, 6, 0), time.Hour, sh(2025, 3, 12, 9, 30)},
		{"filed after closing", sh(2025, 3, 12, 20, 0), time.Hour, sh(2025, 3, 13, 9, 30)},
		{"five working days from Wednesday", sh(2025, 3, 12, 11, 0), 5 * day, sh(2025, 3, 19, 11, 0)},
		{"make-up Sunday before the holiday counts", sh(2025, 9, 26, 17, 0), time.Hour, sh(2025, 9, 28, 9, 0)},
		{"the holiday week does not count", sh(2025, 9, 30, 17, 0), time.Hour, sh(2025, 10, 9, 9, 0)},
		{"Thursday 9 October to the make-up Saturday", sh(2025, 10, 10, 16, 30), 2 * time.Hour, sh(2025, 10, 11, 9, 30)},
		{"zero is now", sh(2025, 3, 15, 10, 0), 0, sh(2025, 3, 15, 10, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cal.Add(tc.start, tc.d); !got.Equal(tc.want) {
				t.Errorf("Add(%v, %v) = %v, want %v", tc.start, tc.d, got.In(dispatch.Shanghai), tc.want)
			}
		})
	}
}

// A start given in UTC is read on Shanghai's clock and the answer comes
// back in the caller's zone.
func TestCalendar_AddKeepsTheCallersZone(t *testing.T) {
	cal := dispatch.DefaultCalendar()
	start := time.Date(2025, 3, 12, 8, 0, 0, 0, time.UTC) // 16:00 in Shanghai
	got := cal.Add(start, 2*time.Hour)
	if want := time.Date(2025, 3, 13, 1, 0, 0, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("got %v, want %v in UTC", got, want)
	}
}

func TestCalendar_LunchBreakAndWorking(t *testing.T) {
	cal, err := dispatch.NewCalendar("mon-fri 08:30-11:30,13:00-17:00", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cal.DayLength(), 7*time.Hour; got != want {
		t.Errorf("day length %v, want %v", got, want)
	}
	if got, want := cal.Add(sh(2025, 3, 12, 11, 0), time.Hour), sh(2025, 3, 12, 13, 30); !got.Equal(want) {
		t.Errorf("over lunch: got %v, want %v", got, want)
	}
	if cal.Working(sh(2025, 3, 12, 12, 0)) || !cal.Working(sh(2025, 3, 12, 13, 0)) {
		t.Error("Working is wrong around lunch")
	}
}

func TestNewCalendar_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name               string
		hours              string
		holidays, workdays []string
		want               string
	}{
		{"bad hours", "mon-fri 8-17", nil, nil, "HH:MM"},
		{"bad holiday", dispatch.DefaultWorkingHours, []string{"1 Oct"}, nil, `holidays: "1 Oct" is not a date`},
		{"both", dispatch.DefaultWorkingHours, []string{"2025-10-01"}, []string{"2025-10-01"}, "also listed as a holiday"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dispatch.NewCalendar(tc.hours, tc.holidays, tc.workdays)
			if hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want invalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseHours(t *testing.T) {
	wed := func(h, m int) time.Time { return sh(2025, 3, 12, h, m) }
	sat := func(h, m int) time.Time { return sh(2025, 3, 15, h, m) }
	sun := func(h, m int) time.Time { return sh(2025, 3, 16, h, m) }
	for _, tc := range []struct {
		hours  string
		open   []time.Time
		closed []time.Time
	}{
		{"", []time.Time{wed(3, 0), sun(23, 59)}, nil},
		{"mon-fri 08:30-17:00", []time.Time{wed(8, 30), wed(16, 59)}, []time.Time{wed(8, 29), wed(17, 0), sat(10, 0)}},
		{"daily 07:00-19:00", []time.Time{sat(7, 0), sun(18, 59)}, []time.Time{wed(19, 0)}},
		{"sat,sun 09:00-12:00", []time.Time{sat(9, 0), sun(11, 0)}, []time.Time{wed(10, 0), sat(12, 0)}},
		{"sat-sun 09:00-16:00", []time.Time{sun(15, 0)}, []time.Time{wed(10, 0)}},
		{"mon-fri 13:00-21:00; sat 09:00-17:00", []time.Time{wed(20, 0), sat(9, 0)}, []time.Time{wed(12, 0), sun(10, 0)}},
		{"fri-mon 10:00-11:00", []time.Time{sun(10, 30)}, []time.Time{wed(10, 30)}},
		{"daily 22:00-06:00", []time.Time{wed(23, 0), wed(5, 59)}, []time.Time{wed(6, 0), wed(12, 0)}},
		{"MON-FRI  08:00-12:00,13:00-24:00", []time.Time{wed(23, 59)}, []time.Time{wed(12, 30)}},
	} {
		t.Run(tc.hours, func(t *testing.T) {
			h, err := dispatch.ParseHours(tc.hours)
			if err != nil {
				t.Fatal(err)
			}
			for _, at := range tc.open {
				if !h.Open(at) {
					t.Errorf("closed at %v, want open", at)
				}
			}
			for _, at := range tc.closed {
				if h.Open(at) {
					t.Errorf("open at %v, want closed", at)
				}
			}
		})
	}
}

func TestParseHours_Errors(t *testing.T) {
	for _, tc := range []struct{ hours, want string }{
		{"monday-friday", "write days then times"},
		{"mon-fry 08:00-17:00", `unknown day "fry"`},
		{"mon-fri 8.00-17.00", "HH:MM"},
		{"mon-fri 08:00-25:00", `time "25:00"`},
		{"mon-fri 08:00", "HH:MM-HH:MM"},
		{"mon-fri 08:00-08:00", "empty"},
		{"mon-fri 08:00-17:00; sat 9-12", `rule "sat 9-12"`},
		{";", "no opening times"},
	} {
		t.Run(tc.hours, func(t *testing.T) {
			_, err := dispatch.ParseHours(tc.hours)
			if hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want invalid mentioning %q", err, tc.want)
			}
		})
	}
}

// Every unit of the demo street has hours that parse.
func TestOnDuty_DemoHoursParse(t *testing.T) {
	st := MustStreetNetworkOnly(t)
	for _, u := range st.Units {
		if _, err := dispatch.OnDuty(u, wednesday11); err != nil {
			t.Errorf("%s: %v", u.ID, err)
		}
	}
}

func TestConfig_Compile(t *testing.T) {
	_, cat := demo()
	yes := true
	c, err := dispatch.DefaultConfig().Compile(cat)
	if err != nil {
		t.Fatal(err)
	}
	meals, _ := cat.Find("elderly_meals")
	safety, _ := cat.Find("building_safety")
	if got := c.Limits.For(meals, hotline.TierCommittee); got != (dispatch.Limit{Accept: 9 * time.Hour, Resolve: 45 * time.Hour, Working: true}) {
		t.Errorf("default limit %+v", got)
	}
	if got := c.Limits.For(safety, hotline.TierDistrict); got != (dispatch.Limit{Accept: 30 * time.Minute, Resolve: 4 * time.Hour}) {
		t.Errorf("urgent limit %+v", got)
	}
	if c.PollInterval != 5*time.Second || c.Lease != time.Minute || c.VolunteerRadius != 1000 || !c.SameTierFirst {
		t.Errorf("defaults %+v", c)
	}

	cfg := dispatch.DefaultConfig()
	cfg.Categories = []dispatch.CategoryLimitConfig{
		{Code: "elderly_meals", Tier: 1, Accept: "2h", Resolve: "1d", Working: &yes},
		{Code: "building_safety", Resolve: "6h"},
	}
	c, err = cfg.Compile(cat)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Limits.For(meals, hotline.TierCommittee); got != (dispatch.Limit{Accept: 2 * time.Hour, Resolve: 9 * time.Hour, Working: true}) {
		t.Errorf("meals at tier 1: %+v", got)
	}
	if got := c.Limits.For(meals, hotline.TierStreet); got.Accept != 9*time.Hour {
		t.Errorf("meals at tier 2 should keep the default: %+v", got)
	}
	if got := c.Limits.For(safety, hotline.TierDistrict); got != (dispatch.Limit{Accept: 30 * time.Minute, Resolve: 6 * time.Hour}) {
		t.Errorf("building safety inherits urgency: %+v", got)
	}

	for _, tc := range []struct {
		change func(*dispatch.Config)
		want   string
	}{
		{func(c *dispatch.Config) { c.Limits.Accept = "one day" }, "dispatch.limits.accept"},
		{func(c *dispatch.Config) { c.Urgent.Resolve = "10m" }, "resolve (10m0s) is shorter than accept"},
		{func(c *dispatch.Config) { c.Categories = []dispatch.CategoryLimitConfig{{Code: "nope"}} }, `no category "nope"`},
		{func(c *dispatch.Config) { c.Categories = []dispatch.CategoryLimitConfig{{Code: "legal", Tier: 4}} }, "tier must be"},
		{func(c *dispatch.Config) { c.Lease = "-1m" }, "dispatch.lease"},
		{func(c *dispatch.Config) { c.WorkingHours = "weekdays" }, "dispatch.working_hours"},
	} {
		cfg := dispatch.DefaultConfig()
		tc.change(&cfg)
		if _, err := cfg.Compile(cat); hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want invalid mentioning %q", err, tc.want)
		}
	}
}

func TestParseSpan(t *testing.T) {
	day := 9 * time.Hour
	for in, want := range map[string]time.Duration{
		"30m": 30 * time.Minute, "4h": 4 * time.Hour, "1d": day, "5d": 5 * day, "1d4h": day + 4*time.Hour, "0.5d": day / 2,
	} {
		if got, err := dispatch.ParseSpan(in, day); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "d", "-1h", "1x", "1d-2h"} {
		if _, err := dispatch.ParseSpan(in, day); err == nil {
			t.Errorf("ParseSpan(%q) accepted", in)
		}
	}
}
