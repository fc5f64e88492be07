package phone

import (
	"strings"
	"unicode"

	"github.com/caojiadu/hotline"
)

// guessCategory returns the index in cats of the category a text (an SMS
// or what a caller said) names best, or -1 when nothing fits. A category's
// own name counts most, then each of its keywords found in the text;
// ties go to the category listed first.
func guessCategory(s string, cats []hotline.Category) int {
	t := fold(s)
	if t == "" {
		return -1
	}
	best, bestScore := -1, 0
	for i, c := range cats {
		score := 0
		for _, name := range []string{c.NameZH, c.NameEN} {
			if n := fold(name); n != "" && strings.Contains(t, n) {
				score += 10
			}
		}
		for _, k := range c.Keywords {
			if k := fold(k); k != "" && strings.Contains(t, k) {
				// Longer keywords are more telling ("楼道灯" over "灯").
				score += 1 + len([]rune(k))/4
			}
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// fold lower-cases s, maps full-width forms to ASCII and drops spaces and
// punctuation, so "Corridor  light!" and "corridorlight" compare equal.
func fold(s string) string {
	var b strings.Builder
	for _, r := range foldWidthRune(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// foldWidthRune maps full-width ASCII (what Chinese input methods type)
// to ASCII.
func foldWidthRune(s string) []rune {
	rs := []rune(s)
	for i, r := range rs {
		if r >= '！' && r <= '～' {
			rs[i] = r - '！' + '!'
		} else if r == '\u3000' {
			rs[i] = ' '
		}
	}
	return rs
}

// digitsOnly returns s without spaces, '#' and '*' when what is left is
// all ASCII digits (full-width folded), else "".
func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range foldWidthRune(s) {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '#' || r == '*' || r == '-' || r == '.' || r == '。':
		default:
			return ""
		}
	}
	return b.String()
}

// spokenNumber reads a small number said or typed: "3", "三", "第三",
// "十二", "three", "number 3", "3号". It returns -1 when s is not one.
func spokenNumber(s string) int {
	t := fold(s)
	for _, p := range []string{"number", "no", "第", "按"} {
		t = strings.TrimPrefix(t, p)
	}
	for _, p := range []string{"号", "个"} {
		t = strings.TrimSuffix(t, p)
	}
	if t == "" {
		return -1
	}
	if n, ok := atoiSmall(t); ok {
		return n
	}
	if n, ok := englishNumbers[t]; ok {
		return n
	}
	return chineseNumber(t)
}

func atoiSmall(s string) (int, bool) {
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

var englishNumbers = map[string]int{
	"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
	"fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
}

var chineseDigits = map[rune]int{
	'零': 0, '〇': 0, '一': 1, '幺': 1, '二': 2, '两': 2, '三': 3, '四': 4,
	'五': 5, '六': 6, '七': 7, '八': 8, '九': 9,
}

// chineseNumber reads 0..99 in Chinese numerals: "三", "十", "十二", "二十一".
func chineseNumber(s string) int {
	rs := []rune(s)
	switch len(rs) {
	case 1:
		if rs[0] == '十' {
			return 10
		}
		if d, ok := chineseDigits[rs[0]]; ok {
			return d
		}
	case 2:
		if rs[0] == '十' {
			if d, ok := chineseDigits[rs[1]]; ok {
				return 10 + d
			}
		}
		if rs[1] == '十' {
			if d, ok := chineseDigits[rs[0]]; ok && d > 0 {
				return d * 10
			}
		}
	case 3:
		if rs[1] == '十' {
			a, ok1 := chineseDigits[rs[0]]
			b, ok2 := chineseDigits[rs[2]]
			if ok1 && ok2 && a > 0 {
				return a*10 + b
			}
		}
	}
	return -1
}

// detectLanguage guesses an SMS's language: Chinese when it has any Han
// character, English when it has Latin letters and no Han, else Chinese.
func detectLanguage(s string) string {
	latin := false
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return "zh"
		}
		if r < 0x80 && unicode.IsLetter(r) {
			latin = true
		}
	}
	if latin {
		return "en"
	}
	return "zh"
}
