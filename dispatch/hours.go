package dispatch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
)

// Shanghai is the street's time zone: opening hours and working time are
// read on its clock. China has kept no daylight saving time since 1991, so
// the fixed +08:00 fallback (for hosts without tzdata) is exact for every
// date the hotline will see.
var Shanghai = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}()

// Hours is a parsed opening-hours string such as "mon-fri 08:30-17:00" or
// "mon-fri 13:00-21:00; sat 09:00-17:00". The zero Hours is always open.
type Hours struct {
	// spans[d] are the open minutes of weekday d (time.Sunday = 0), as
	// half-open [from, to) minute-of-day pairs; a range that runs past
	// midnight ("22:00-06:00") is split over the two days.
	spans  [7][]span
	always bool
}

type span struct{ from, to int } // minutes since midnight, to <= 1440

// Always reports whether the hours put no limit on duty.
func (h *Hours) Always() bool { return h == nil || h.always }

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// ParseHours reads opening hours. The form is one or more rules separated
// by ";", each "DAYS TIMES":
//
//	DAYS   "daily", a day ("sat"), a range ("mon-fri", "fri-mon" wraps
//	       round the week) or a comma list of those ("sat,sun", "mon-wed,fri")
//	TIMES  "HH:MM-HH:MM", or a comma list of them ("08:00-11:30,13:00-17:00");
//	       an end before its start runs past midnight ("22:00-06:00"),
//	       "24:00" is the end of the day
//
// Case and extra spaces do not matter. The empty string means always open.
// Errors are EINVALID and quote the rule at fault.
func ParseHours(s string) (*Hours, error) {
	h := &Hours{}
	if strings.TrimSpace(s) == "" {
		h.always = true
		return h, nil
	}
	for _, rule := range strings.Split(s, ";") {
		rule = strings.ToLower(strings.TrimSpace(rule))
		if rule == "" {
			continue
		}
		fields := strings.Fields(rule)
		if len(fields) != 2 {
			return nil, hoursErr(s, rule, `write days then times, like "mon-fri 08:30-17:00"`)
		}
		days, err := parseDays(fields[0])
		if err != nil {
			return nil, hoursErr(s, rule, err.Error())
		}
		for _, tr := range strings.Split(fields[1], ",") {
			from, to, err := parseTimeRange(tr)
			if err != nil {
				return nil, hoursErr(s, rule, err.Error())
			}
			for d := range 7 {
				if !days[d] {
					continue
				}
				if to > from {
					h.spans[d] = append(h.spans[d], span{from, to})
					continue
				}
				// Past midnight: the evening on day d, the small hours
				// on the day after.
				h.spans[d] = append(h.spans[d], span{from, 24 * 60})
				if to > 0 {
					h.spans[(d+1)%7] = append(h.spans[(d+1)%7], span{0, to})
				}
			}
		}
	}
	empty := true
	for d := range h.spans {
		h.spans[d] = merge(h.spans[d])
		empty = empty && len(h.spans[d]) == 0
	}
	if empty {
		return nil, hoursErr(s, s, "no opening times")
	}
	return h, nil
}

// merge sorts a day's spans and joins those that overlap or touch, so
// that working time is never counted twice.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	var out []span
	for _, sp := range spans {
		if n := len(out); n > 0 && sp.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, sp.to)
			continue
		}
		out = append(out, sp)
	}
	return out
}

func hoursErr(all, rule, msg string) error {
	if all == rule {
		return hotline.Errorf(hotline.EINVALID, "hours %q: %s", all, msg)
	}
	return hotline.Errorf(hotline.EINVALID, "hours %q, rule %q: %s", all, rule, msg)
}

func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	if s == "daily" || s == "everyday" {
		for d := range days {
			days[d] = true
		}
		return days, nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := dayNames[a]
		if !ok {
			return days, fmt.Errorf("unknown day %q; use mon, tue, wed, thu, fri, sat, sun or daily", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[b]; !ok {
				return days, fmt.Errorf("unknown day %q; use mon, tue, wed, thu, fri, sat, sun or daily", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return days, nil
}

func parseTimeRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("times %q: write them as HH:MM-HH:MM, like 08:30-17:00", s)
	}
	if from, err = parseClock(a); err != nil {
		return 0, 0, err
	}
	if to, err = parseClock(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, fmt.Errorf("times %q: the range is empty", s)
	}
	if from == 24*60 {
		return 0, 0, fmt.Errorf("times %q: a range cannot start at 24:00", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || len(mm) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("time %q: use HH:MM on a 24-hour clock, like 08:30 or 17:00", s)
	}
	return h*60 + m, nil
}

// Open reports whether the hours include the instant t, read on
// Shanghai's clock.
func (h *Hours) Open(t time.Time) bool {
	if h.Always() {
		return true
	}
	lt := t.In(Shanghai)
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range h.spans[lt.Weekday()] {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// day returns the open spans of weekday d.
func (h *Hours) day(d time.Weekday) []span { return h.spans[d] }

// hoursCache keeps parsed hours by their text: routing asks about the same
// few strings for every ticket, and a network holds a bounded number of them.
var hoursCache sync.Map // string → *Hours, or error

// OnDuty reports whether unit u is on duty at t according to its Hours.
// Holidays do not apply: a unit's hours say when someone is there, and
// volunteer groups often serve on public holidays. Unparseable hours are
// an error (the unit is best treated as on duty, so that a typo does not
// silently hide it; the accept limit still guards the resident).
func OnDuty(u hotline.Unit, t time.Time) (bool, error) {
	h, err := cachedHours(u.Hours)
	if err != nil {
		return true, err
	}
	return h.Open(t), nil
}

func cachedHours(s string) (*Hours, error) {
	if v, ok := hoursCache.Load(s); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.(*Hours), nil
	}
	h, err := ParseHours(s)
	if err != nil {
		hoursCache.Store(s, err)
		return nil, err
	}
	hoursCache.Store(s, h)
	return h, nil
}
