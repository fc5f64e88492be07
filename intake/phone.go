package intake

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/caojiadu/hotline"
)

// DefaultRegion is the region assumed for numbers typed without a country
// code: the hotline serves a Shanghai street, so "13812345678" and
// "021-62345678" are Chinese numbers.
const DefaultRegion = "CN"

// maxPhoneInput bounds what we hand to the parser. A phone number with every
// separator a resident might type is far below it; anything longer is not a
// number and need not cost parser time.
const maxPhoneInput = 64

// phoneHint tells a resident what a usable number looks like. It is the one
// message every phone error carries, so that every channel says the same.
const phoneHint = "not a valid phone number; use 11 digits like 13812345678 or a landline like 021-62345678"

// NormalizePhone turns a number as a resident typed it into E.164, assuming
// region CN when it has no country code. Accepted, for example:
//
//	13812345678, 138 1234 5678, +86 138-1234-5678, 008613812345678,
//	021-62345678, １３８１２３４５６７８ (full-width, from Chinese input methods)
//
// all of which give +8613812345678 (or +862162345678 for the landline).
// An empty or unusable number is an EINVALID error whose message says what to
// type instead.
func NormalizePhone(raw string) (string, error) {
	s := strings.TrimSpace(foldWidth(raw))
	if s == "" {
		return "", hotline.Errorf(hotline.EINVALID, "phone: a phone number is required; use 11 digits like 13812345678")
	}
	if utf8.RuneCountInString(s) > maxPhoneInput || !utf8.ValidString(s) {
		return "", hotline.Errorf(hotline.EINVALID, "phone: %s", phoneHint)
	}
	for _, r := range s {
		// Letters are refused outright: the parser would read them as
		// keypad digits (1-800-FLOWERS), which no resident here means.
		if !strings.ContainsRune("0123456789+-() .", r) {
			return "", hotline.Errorf(hotline.EINVALID, "phone: %s", phoneHint)
		}
	}
	if e164, ok := mainlandMobile(s); ok {
		return e164, nil
	}
	n, err := phonenumbers.Parse(s, DefaultRegion)
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return "", hotline.Errorf(hotline.EINVALID, "phone: %s", phoneHint)
	}
	return phonenumbers.Format(n, phonenumbers.E164), nil
}

// foldWidth maps full-width digits, plus, hyphen, parentheses and the
// ideographic space (what a Chinese input method produces) to ASCII.
func foldWidth(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '０' && r <= '９':
			return '0' + (r - '０')
		case r == '＋':
			return '+'
		case r == '－' || r == '—' || r == '–' || r == '‐':
			return '-'
		case r == '（':
			return '('
		case r == '）':
			return ')'
		case r == '\u3000' || r == '\u00a0':
			return ' '
		}
		return r
	}, s)
}

// cnMobile is libphonenumber's own pattern for mainland mobile numbers,
// taken from the metadata the parser uses, so the fast path below accepts
// exactly the numbers the parser would call valid mobiles.
var cnMobile = sync.OnceValue(func() *regexp.Regexp {
	coll, err := phonenumbers.MetadataCollection()
	if err != nil {
		return nil
	}
	for _, m := range coll.GetMetadata() {
		if m.GetId() == "CN" {
			if p := m.GetMobile().GetNationalNumberPattern(); p != "" {
				return regexp.MustCompile("^(?:" + p + ")$")
			}
		}
	}
	return nil
})

// mainlandMobile is the fast path for what most residents type: an 11-digit
// mobile number, perhaps with +86 and separators. Full parsing costs tens of
// microseconds of backtracking regexps on every ticket; this costs one
// linear match. Anything else falls through to the parser.
func mainlandMobile(s string) (string, bool) {
	var b [16]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(b) {
				return "", false
			}
			b[n] = c
			n++
		case c == ' ' || c == '-':
		case c == '+' && i == 0:
		default:
			return "", false
		}
	}
	d := string(b[:n])
	if strings.HasPrefix(s, "+") {
		if !strings.HasPrefix(d, "86") {
			return "", false
		}
		d = d[2:]
	}
	re := cnMobile()
	if len(d) != 11 || d[0] != '1' || re == nil || !re.MatchString(d) {
		return "", false
	}
	return "+86" + d, true
}
