package dispatch_test

import (
	"testing"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
)

// FuzzParseHours reads any opening hours: a unit's in the network files, a
// volunteer's availability typed into the registration form or a CSV
// cell, the working hours of the configuration. Refused hours are EINVALID
// with a message; accepted ones read the same as hours and as a calendar,
// and a time limit in working time neither runs faster than the clock nor
// ends outside working time.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{"", dispatch.DefaultWorkingHours, "mon-fri 08:30-17:00", "mon-fri 13:00-21:00; sat 09:00-17:00",
		"daily 22:00-06:00", "fri-mon 08:00-11:30,13:00-17:00", "sat,sun 00:00-24:00", "sun 23:59-00:00", "sun 00:00-00:01",
		"mon 24:00-01:00", "mon 08:00-08:00", "Mon-FRI  08:30-17:00 ;;", "everyday 9:00-17:00", "mon 08:60-09:00",
		"mon-wed,fri 08:00-09:00", "mon--fri 08:00-09:00", "mon 08:00-", "daily -1:00-02:00", "daily +8:00-09:00",
	} {
		f.Add(s, int64(1741744800), uint16(60))
	}
	f.Fuzz(func(t *testing.T, s string, unix int64, minutes uint16) {
		h, err := dispatch.ParseHours(s)
		_, calErr := dispatch.NewCalendar(s, nil, nil)
		if err != nil {
			if hotline.ErrorCode(err) != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", s, err)
			}
			if calErr == nil {
				t.Fatalf("%q: refused as hours (%v), yet a calendar", s, err)
			}
			return
		}
		cal, err := dispatch.NewCalendar(s, nil, nil)
		if err != nil {
			t.Fatalf("%q: hours, yet no calendar: %v", s, err)
		}
		if cal.DayLength() <= 0 {
			t.Fatalf("%q: a working day of %v", s, cal.DayLength())
		}
		// Any second of the years around now.
		at := time.Unix(1_700_000_000+unix%(20*365*24*3600), 0)
		if h.Open(at) != cal.Working(at) {
			t.Fatalf("%q at %v: open %v, working %v", s, at, h.Open(at), cal.Working(at))
		}
		d := time.Duration(minutes) * time.Minute
		end := cal.Add(at, d)
		if end.Before(at.Add(d)) {
			t.Fatalf("%q: %v of working time from %v ends at %v, sooner than the clock", s, d, at, end)
		}
		// Add gives up walking after ten years (and counts wall time).
		if d > 0 && end.Sub(at) < 3000*24*time.Hour && !cal.Working(end.Add(-time.Nanosecond)) {
			t.Fatalf("%q: %v of working time from %v ends at %v, after a time that is not working", s, d, at, end)
		}
	})
}
