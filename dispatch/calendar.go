package dispatch

import (
	"strings"
	"time"

	"github.com/caojiadu/hotline"
)

// DefaultWorkingHours are the street office's hours.
const DefaultWorkingHours = "mon-fri 08:30-17:30"

// Calendar is the street's working time: office hours on Shanghai's clock,
// public holidays that fall on working days, and the make-up working days
// (调休) that fall on weekends. Time limits "in working time" are counted on
// it, so a need filed on Friday evening with one working day to accept is
// due on Monday evening, not on Saturday.
type Calendar struct {
	hours    *Hours
	holidays map[date]bool
	workdays map[date]bool
	// makeUp is the day a make-up working day follows: China announces them
	// as "work as on a weekday", so they take the hours of the first
	// weekday that has any, Monday first.
	makeUp []span
}

type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) date {
	y, m, d := t.In(Shanghai).Date()
	return date{y, m, d}
}

// NewCalendar builds a calendar from working hours in the form of
// ParseHours (empty: every minute counts) and lists of dates "2006-01-02":
// holidays (no work though the hours say so) and make-up working days
// (work though the hours say not). Errors: EINVALID.
func NewCalendar(hours string, holidays, workdays []string) (*Calendar, error) {
	h, err := ParseHours(hours)
	if err != nil {
		return nil, err
	}
	c := &Calendar{hours: h, holidays: map[date]bool{}, workdays: map[date]bool{}}
	for _, d := range []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
		if sp := h.day(d); len(sp) > 0 {
			c.makeUp = sp
			break
		}
	}
	for _, s := range holidays {
		d, err := parseDate(s, "holidays")
		if err != nil {
			return nil, err
		}
		c.holidays[d] = true
	}
	for _, s := range workdays {
		d, err := parseDate(s, "workdays")
		if err != nil {
			return nil, err
		}
		if c.holidays[d] {
			return nil, hotline.Errorf(hotline.EINVALID, "workdays: %s is also listed as a holiday", strings.TrimSpace(s))
		}
		c.workdays[d] = true
	}
	return c, nil
}

// DefaultCalendar is Monday to Friday, 08:30 to 17:30, with no holidays.
func DefaultCalendar() *Calendar {
	c, err := NewCalendar(DefaultWorkingHours, nil, nil)
	if err != nil {
		panic(err) // the constant is valid; a test covers it
	}
	return c
}

func parseDate(s, field string) (date, error) {
	t, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(s), Shanghai)
	if err != nil {
		return date{}, hotline.Errorf(hotline.EINVALID, "%s: %q is not a date; write it like 2025-10-01", field, s)
	}
	return dateOf(t), nil
}

// spans returns the working spans of the day d falls on.
func (c *Calendar) spans(day date, wd time.Weekday) []span {
	switch {
	case c.hours.Always():
		return []span{{0, 24 * 60}}
	case c.holidays[day]:
		return nil
	case c.workdays[day] && len(c.hours.day(wd)) == 0:
		return c.makeUp
	}
	return c.hours.day(wd)
}

// Working reports whether t is in working time.
func (c *Calendar) Working(t time.Time) bool {
	lt := t.In(Shanghai)
	m := lt.Hour()*60 + lt.Minute()
	for _, sp := range c.spans(dateOf(lt), lt.Weekday()) {
		if m >= sp.from && m < sp.to {
			return true
		}
	}
	return false
}

// DayLength is the working time of an ordinary working day (9 h for the
// default hours): what "1 working day" means in a limit.
func (c *Calendar) DayLength() time.Duration {
	if c.hours.Always() {
		return 24 * time.Hour
	}
	var m int
	for _, sp := range c.makeUp {
		m += sp.to - sp.from
	}
	return time.Duration(m) * time.Minute
}

// maxCalendarDays bounds Add's walk: a calendar whose every day for ten
// years is a holiday is a configuration mistake, not a reason to hang.
const maxCalendarDays = 3660

// Add returns the instant d of working time after start. Time outside
// working hours does not count: from Friday 16:30, 2 h of working time ends
// on Monday at 09:30 (default hours). A start outside hours counts from the
// next opening; a result that lands exactly on a closing time is that
// closing time, not the next opening. d <= 0 returns start. The result is
// in start's location.
func (c *Calendar) Add(start time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return start
	}
	if c.hours.Always() {
		return start.Add(d)
	}
	cur := start.In(Shanghai)
	rem := d
	for range maxCalendarDays {
		y, m, dd := cur.Date()
		midnight := time.Date(y, m, dd, 0, 0, 0, 0, Shanghai)
		for _, sp := range c.spans(date{y, m, dd}, cur.Weekday()) {
			open := midnight.Add(time.Duration(sp.from) * time.Minute)
			shut := midnight.Add(time.Duration(sp.to) * time.Minute)
			if !shut.After(cur) {
				continue
			}
			from := cur
			if open.After(from) {
				from = open
			}
			if avail := shut.Sub(from); rem <= avail {
				return from.Add(rem).In(start.Location())
			} else {
				rem -= avail
			}
		}
		cur = time.Date(y, m, dd+1, 0, 0, 0, 0, Shanghai)
	}
	return start.Add(d)
}
