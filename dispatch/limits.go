package dispatch

import (
	"strconv"
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// Limit is how long a unit has to accept a ticket and to resolve it, both
// counted from the moment the ticket is routed to it.
type Limit struct {
	Accept  time.Duration
	Resolve time.Duration
	// Working counts both in the calendar's working time; otherwise they
	// are wall-clock durations (urgent needs do not wait for Monday).
	Working bool
}

// LimitKey selects an override: a category at one tier, or at every tier
// when Tier is 0.
type LimitKey struct {
	Category string
	Tier     hotline.Tier
}

// Limits are the time limits in force. For a category at a tier the most
// specific rule wins: an override for (category, tier), then for
// (category, any tier), then Urgent for urgent categories, then Default.
type Limits struct {
	Default   Limit
	Urgent    Limit
	Overrides map[LimitKey]Limit
}

// DefaultLimits follow Shanghai's street hotlines: contact within one
// working day and handle within five; urgent needs accepted within 30
// minutes and handled within 4 hours, wall clock. cal says how long a
// working day is.
func DefaultLimits(cal *Calendar) *Limits {
	day := cal.DayLength()
	return &Limits{
		Default: Limit{Accept: day, Resolve: 5 * day, Working: true},
		Urgent:  Limit{Accept: 30 * time.Minute, Resolve: 4 * time.Hour},
	}
}

// For returns the limit for category c handled at tier.
func (l *Limits) For(c hotline.Category, tier hotline.Tier) Limit {
	if lim, ok := l.Overrides[LimitKey{c.Code, tier}]; ok {
		return lim
	}
	if lim, ok := l.Overrides[LimitKey{c.Code, 0}]; ok {
		return lim
	}
	if c.Urgent {
		return l.Urgent
	}
	return l.Default
}

// Deadlines returns the accept and resolve limits of c at tier for a
// ticket routed at from.
func (l *Limits) Deadlines(cal *Calendar, c hotline.Category, tier hotline.Tier, from time.Time) (acceptBy, resolveBy time.Time) {
	lim := l.For(c, tier)
	if lim.Working {
		return cal.Add(from, lim.Accept), cal.Add(from, lim.Resolve)
	}
	return from.Add(lim.Accept), from.Add(lim.Resolve)
}

// ParseSpan reads a limit such as "30m", "4h", "1d" or "1d4h": Go's
// duration syntax plus a leading count of days, where a day is dayLength
// (a working day, 9 h by default, for limits counted in working time; 24 h
// otherwise). Errors: EINVALID.
func ParseSpan(s string, dayLength time.Duration) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := hotline.Errorf(hotline.EINVALID, "%q is not a duration; write it like 30m, 4h, 1d or 1d4h", s)
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		total = time.Duration(n * float64(dayLength))
		s = s[i+1:]
	}
	if s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, bad
		}
		total += d
	}
	if total <= 0 {
		return 0, hotline.Errorf(hotline.EINVALID, "%q: a limit must be longer than zero", s)
	}
	return total, nil
}
