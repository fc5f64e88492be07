package dispatch

import (
	"fmt"
	"time"

	"github.com/caojiadu/hotline"
)

// Config is the [dispatch] section of config.example.toml. Durations are
// strings in ParseSpan's form ("30m", "4h", "1d"); in a limit counted in
// working time a day is a working day.
//
//	[dispatch]
//	working_hours = "mon-fri 08:30-17:30"   # ParseHours form, Shanghai clock
//	holidays = ["2025-10-01", "2025-10-02"] # no work on these dates
//	workdays = ["2025-09-28"]               # make-up working days (调休)
//	same_tier_first = true                  # a decline tries the next nearest unit of the tier before going up
//	volunteer_radius = 1000                 # metres around the resident to look for volunteer groups
//	wide_radius = 50000                     # metres for street and district units
//	poll_interval = "5s"                    # how often each replica looks for passed limits
//	lease = "1m"                            # how long a claimed limit is left to its replica
//	load_cache = "1s"                       # how long a unit's open-ticket count is reused by routing
//
//	[dispatch.limits]                       # every category without a rule of its own
//	accept = "1d"
//	resolve = "5d"
//	working = true
//
//	[dispatch.urgent]                       # categories marked urgent in the catalogue
//	accept = "30m"
//	resolve = "4h"
//	working = false
//
//	[[dispatch.category]]                   # overrides; tier 0 or left out: every tier
//	code = "elderly_meals"
//	tier = 1
//	accept = "2h"
//	resolve = "1d"
type Config struct {
	WorkingHours    string                `toml:"working_hours"`
	Holidays        []string              `toml:"holidays"`
	Workdays        []string              `toml:"workdays"`
	SameTierFirst   bool                  `toml:"same_tier_first"`
	VolunteerRadius float64               `toml:"volunteer_radius"`
	WideRadius      float64               `toml:"wide_radius"`
	PollInterval    string                `toml:"poll_interval"`
	Lease           string                `toml:"lease"`
	LoadCache       string                `toml:"load_cache"`
	Limits          LimitConfig           `toml:"limits"`
	Urgent          LimitConfig           `toml:"urgent"`
	Categories      []CategoryLimitConfig `toml:"category"`
}

// LimitConfig is one limit as written in the file. Working left out keeps
// the value of the rule it overrides (Limits for a category, or Urgent for
// an urgent one).
type LimitConfig struct {
	Accept  string `toml:"accept"`
	Resolve string `toml:"resolve"`
	Working *bool  `toml:"working"`
}

// CategoryLimitConfig overrides the limits of one category, at one tier or
// (Tier 0) at all of them. An empty Accept or Resolve keeps the inherited one.
type CategoryLimitConfig struct {
	Code    string `toml:"code"`
	Tier    int    `toml:"tier"`
	Accept  string `toml:"accept"`
	Resolve string `toml:"resolve"`
	Working *bool  `toml:"working"`
}

// Defaults applied by DefaultConfig and to zero fields by Compile.
const (
	DefaultVolunteerRadius = 1000   // metres: a ten-minute walk for an elderly resident
	DefaultWideRadius      = 50_000 // metres: all of Jing'an and then some
	DefaultPollInterval    = 5 * time.Second
	// DefaultLease must be longer than handling a batch of claims takes
	// (milliseconds each), or another replica would handle them again.
	DefaultLease = time.Minute
)

// DefaultConfig is the configuration config.example.toml documents.
func DefaultConfig() Config {
	yes, no := true, false
	return Config{
		WorkingHours:    DefaultWorkingHours,
		SameTierFirst:   true,
		VolunteerRadius: DefaultVolunteerRadius,
		WideRadius:      DefaultWideRadius,
		PollInterval:    "5s",
		Lease:           "1m",
		LoadCache:       "1s",
		Limits:          LimitConfig{Accept: "1d", Resolve: "5d", Working: &yes},
		Urgent:          LimitConfig{Accept: "30m", Resolve: "4h", Working: &no},
	}
}

// Compiled is a Config read into the values dispatch works with.
type Compiled struct {
	Calendar        *Calendar
	Limits          *Limits
	SameTierFirst   bool
	VolunteerRadius float64
	WideRadius      float64
	PollInterval    time.Duration
	Lease           time.Duration
	LoadCache       time.Duration
}

// Compile checks c and builds its calendar and limits. Empty fields take
// DefaultConfig's values. cat, when not nil, is used to refuse overrides
// for categories that do not exist. Errors: EINVALID naming the key.
func (c Config) Compile(cat *hotline.Catalogue) (*Compiled, error) {
	def := DefaultConfig()
	if c.WorkingHours == "" {
		c.WorkingHours = def.WorkingHours
	}
	cal, err := NewCalendar(c.WorkingHours, c.Holidays, c.Workdays)
	if err != nil {
		return nil, prefixErr("dispatch.working_hours/holidays/workdays", err)
	}
	out := &Compiled{Calendar: cal, SameTierFirst: c.SameTierFirst,
		VolunteerRadius: c.VolunteerRadius, WideRadius: c.WideRadius}
	if out.VolunteerRadius <= 0 {
		out.VolunteerRadius = DefaultVolunteerRadius
	}
	if out.WideRadius <= 0 {
		out.WideRadius = DefaultWideRadius
	}
	if out.PollInterval, err = spanOr(c.PollInterval, DefaultPollInterval, "dispatch.poll_interval"); err != nil {
		return nil, err
	}
	if out.Lease, err = spanOr(c.Lease, DefaultLease, "dispatch.lease"); err != nil {
		return nil, err
	}
	if out.LoadCache, err = spanOr(c.LoadCache, 0, "dispatch.load_cache"); err != nil {
		return nil, err
	}

	dl := DefaultLimits(cal)
	out.Limits = &Limits{Overrides: map[LimitKey]Limit{}}
	if out.Limits.Default, err = c.Limits.apply(dl.Default, cal, "dispatch.limits"); err != nil {
		return nil, err
	}
	if out.Limits.Urgent, err = c.Urgent.apply(dl.Urgent, cal, "dispatch.urgent"); err != nil {
		return nil, err
	}
	for i, o := range c.Categories {
		where := fmt.Sprintf("dispatch.category[%d]", i)
		category, found := cat.Find(o.Code)
		switch {
		case o.Code == "":
			return nil, hotline.Errorf(hotline.EINVALID, "%s: code is required", where)
		case cat != nil && !found:
			return nil, hotline.Errorf(hotline.EINVALID, "%s: no category %q in the catalogue", where, o.Code)
		case o.Tier < 0 || o.Tier > int(hotline.TierDistrict):
			return nil, hotline.Errorf(hotline.EINVALID, "%s: tier must be 1, 2, 3 or 0 for every tier", where)
		}
		base := out.Limits.Default
		if category.Urgent {
			base = out.Limits.Urgent
		}
		lim, err := LimitConfig{o.Accept, o.Resolve, o.Working}.apply(base, cal, where)
		if err != nil {
			return nil, err
		}
		out.Limits.Overrides[LimitKey{o.Code, hotline.Tier(o.Tier)}] = lim
	}
	return out, nil
}

func (lc LimitConfig) apply(base Limit, cal *Calendar, where string) (Limit, error) {
	lim := base
	if lc.Working != nil {
		lim.Working = *lc.Working
	}
	day := 24 * time.Hour
	if lim.Working {
		day = cal.DayLength()
	}
	var err error
	if lc.Accept != "" {
		if lim.Accept, err = ParseSpan(lc.Accept, day); err != nil {
			return lim, prefixErr(where+".accept", err)
		}
	}
	if lc.Resolve != "" {
		if lim.Resolve, err = ParseSpan(lc.Resolve, day); err != nil {
			return lim, prefixErr(where+".resolve", err)
		}
	}
	if lim.Resolve < lim.Accept {
		return lim, hotline.Errorf(hotline.EINVALID, "%s: resolve (%s) is shorter than accept (%s)", where, lim.Resolve, lim.Accept)
	}
	return lim, nil
}

func spanOr(s string, def time.Duration, where string) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := ParseSpan(s, 24*time.Hour)
	if err != nil {
		return 0, prefixErr(where, err)
	}
	return d, nil
}

func prefixErr(where string, err error) error {
	return hotline.Errorf(hotline.EINVALID, "%s: %s", where, hotline.ErrorMessage(err))
}
