package simulator

import (
	"strings"
	"unicode"

	"github.com/caojiadu/hotline"
)

// ticketWords introduce a ticket number in what the hotline says or
// texts. Only a number right after one of them counts, so that "press 1"
// or the hotline's own phone number is not taken for a ticket.
var ticketWords = []string{"编号", "单号", "受理号", "ticket", "reference", "number"}

// spokenDigits maps the Chinese characters a prompt may spell digits with
// (to make a voice read them one by one) to ASCII digits.
var spokenDigits = map[rune]rune{
	'零': '0', '〇': '0', '一': '1', '幺': '1', '二': '2', '两': '2', '三': '3', '四': '4',
	'五': '5', '六': '6', '七': '7', '八': '8', '九': '9',
}

// ticketNumbers finds the ticket numbers a prompt or message reads out:
// after a ticket word, the first run of digits, which may be spaced or
// separated for reading ("1 6 0 0 3 5", "1600-35", "一六零零三五"), whose
// Damm check digit holds. Mobile numbers and numbers starting with 0 (a
// landline) are never ticket numbers.
func ticketNumbers(text string) []string {
	runes := []rune(strings.ToLower(text))
	for i, r := range runes {
		if d, ok := spokenDigits[r]; ok {
			runes[i] = d
		} else if r >= '０' && r <= '９' {
			runes[i] = '0' + (r - '０')
		}
	}
	norm := string(runes)
	var out []string
	for _, w := range ticketWords {
		for from := 0; ; {
			i := strings.Index(norm[from:], w)
			if i < 0 {
				break
			}
			from += i + len(w)
			if id := firstDigitRun(norm[from:]); isTicketNumber(id) && !contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// firstDigitRun returns the first digits of s, within a short distance,
// joined across the spaces, dots and dashes put between them for reading.
func firstDigitRun(s string) string {
	var b strings.Builder
	skipped := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && (unicode.IsSpace(r) || strings.ContainsRune("-‐–—,，、.·", r)):
			// a separator inside the number
		case b.Len() > 0:
			return strings.TrimSpace(b.String())
		default:
			skipped++
			if skipped > 12 { // "编号是：" or "number is " then the digits
				return ""
			}
		}
	}
	return b.String()
}

func isTicketNumber(id string) bool {
	if len(id) < 4 || id[0] == '0' || !hotline.ValidTicketID(id) {
		return false
	}
	mobile := len(id) == 11 && id[0] == '1' && id[1] >= '3'
	return !mobile
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
