package retention

import (
	"math"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/grouping"
)

// What an erasure does to a ticket (docs/RETENTION.md says why):
//
//   - contact: phone, names and email go; the consent flag stays;
//   - location: the address goes, the committee stays, and the map point is
//     rounded to 0.001° (pointPlaces), about 110 m north–south and 95 m
//     east–west at Shanghai's latitude: a block of a few hundred
//     households, enough for a map of where needs are, not for a door;
//   - the recording or photo link (MediaURL) and the CallSid/MessageSid
//     (ExternalRef), which lead to the caller's voice, number and words in
//     Twilio's logs, go;
//   - the description, the status notes, the routing reason and every
//     event's note keep their words with names, numbers, door numbers,
//     e-mail addresses, links and the resident's own names and number
//     taken out (EraseText), because the nightly grouping reads what
//     people need from them;
//   - everything else (category, committee, unit, tier, status, times,
//     satisfaction, escalations, language, channel) is not about who the
//     resident is and stays, for the statistics and the grouping.

// pointPlaces is how many decimal places of a coordinate an erasure keeps.
const pointPlaces = 3

// coarse rounds a coordinate to pointPlaces decimal places.
func coarse(x float64) float64 {
	const f = 1000 // 10^pointPlaces
	return math.Round(x*f) / f
}

// Erase takes the resident's personal details out of t, as above, and
// reports whether anything changed. Erasing an erased ticket changes
// nothing.
func Erase(t *hotline.Ticket) bool {
	before := *t
	known := Known(t.Contact)
	t.Contact = hotline.Contact{Consent: t.Contact.Consent}
	t.Location.Address = ""
	if t.Location.HasPoint() {
		t.Location.Lat, t.Location.Long = coarse(t.Location.Lat), coarse(t.Location.Long)
	}
	t.MediaURL, t.ExternalRef = "", ""
	t.Description = EraseText(t.Description, known...)
	t.StatusNotes = EraseText(t.StatusNotes, known...)
	t.RouteReason = EraseText(t.RouteReason, known...)
	return !reflect.DeepEqual(before, *t)
}

// EraseEvent takes personal details out of an event's note (EraseText,
// with the resident's known details) and reports whether it changed.
// Notes are where a ticket's history holds a resident's words: SMS they
// sent, staff notes of a call, the link to a recording.
func EraseEvent(e *hotline.Event, known ...string) bool {
	note := EraseText(e.Note, known...)
	if note == e.Note {
		return false
	}
	e.Note = note
	return true
}

// Known lists what a contact tells of the resident, to be taken out of
// free text wherever it appears: the names as a whole in either order and
// each name of two characters or more (a one-character surname alone
// would take 张 out of 一张床), the e-mail address, and the phone as
// stored (E.164) and as dialled at home (without +86). Longest first, so
// a whole name goes before its parts.
func Known(c hotline.Contact) []string {
	first, last := strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
	var out []string
	add := func(s string, minRunes int) {
		if utf8.RuneCountInString(s) >= minRunes && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if first != "" && last != "" {
		for _, n := range []string{last + first, last + " " + first, first + " " + last, first + last} {
			add(n, 2)
		}
	}
	add(first, 2)
	add(last, 2)
	add(strings.TrimSpace(c.Email), 3)
	if p := strings.TrimSpace(c.Phone); p != "" {
		add(p, 5)
		add(strings.TrimPrefix(p, "+86"), 5)
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

var (
	// reLink is a web link: a recording, a photo, a shared location.
	reLink = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+`)
	// reEmail is an e-mail address.
	reEmail = regexp.MustCompile(`[\w.%+-]+@[\w-]+(?:\.[\w-]+)+`)
	// reStamp is a date or a time as the service writes them in notes
	// ("超过办结时限 … (2026-03-05 15:04)"): not about anyone, and
	// grouping.Anonymise would take its digits for a phone number.
	reStamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?`)
)

// What stands where a link, a number or an address, and a name were:
// the marks grouping.Anonymise leaves.
const (
	linkErased   = "[链接已删除 / link removed]"
	numberErased = "***"
	nameErased   = "某"
)

// EraseText takes names, phone numbers, identity card numbers, door
// numbers (grouping.Anonymise), e-mail addresses, links and the known
// details of the resident (Known) out of a text, leaving the words of the
// need, and the service's own dates and times, as they were.
// EraseText(EraseText(s)) == EraseText(s).
func EraseText(s string, known ...string) string {
	if s == "" {
		return s
	}
	s = reLink.ReplaceAllString(s, linkErased)
	for _, k := range known {
		if strings.ContainsAny(k, "0123456789@") {
			s = strings.ReplaceAll(s, k, numberErased)
		} else {
			s = strings.ReplaceAll(s, k, nameErased)
		}
	}
	s = reEmail.ReplaceAllString(s, numberErased)
	var b strings.Builder
	last := 0
	for _, m := range reStamp.FindAllStringIndex(s, -1) {
		b.WriteString(grouping.Anonymise(s[last:m[0]]))
		b.WriteString(s[m[0]:m[1]])
		last = m[1]
	}
	b.WriteString(grouping.Anonymise(s[last:]))
	return b.String()
}
