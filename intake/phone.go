package intake

import (
	"strings"
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
