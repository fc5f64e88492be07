package hotline

// Ticket ids are decimal digits with a trailing Damm check digit, e.g.
// "160035": short enough to read over the phone digit by digit, keyable on a
// phone's keypad, and a single mistyped or swapped digit is always caught.
// The store hands out the number part (see redisstore: the number modulo the
// partition count names the Redis partition that holds the ticket).

// dammTable is the quasigroup of order 10 used by the Damm algorithm.
var dammTable = [10][10]byte{
	{0, 3, 1, 7, 5, 9, 8, 6, 4, 2},
	{7, 0, 9, 2, 1, 5, 4, 8, 6, 3},
	{4, 2, 0, 6, 8, 7, 1, 3, 5, 9},
	{1, 7, 5, 0, 9, 8, 3, 4, 2, 6},
	{6, 1, 2, 3, 0, 4, 5, 9, 7, 8},
	{3, 6, 7, 4, 2, 0, 9, 5, 8, 1},
	{5, 8, 6, 9, 7, 2, 0, 1, 3, 4},
	{8, 9, 4, 5, 3, 6, 2, 0, 1, 7},
	{9, 4, 3, 8, 6, 1, 7, 2, 0, 5},
	{2, 5, 8, 1, 4, 3, 6, 7, 9, 0},
}

func damm(digits string) (byte, bool) {
	var interim byte
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		interim = dammTable[interim][c-'0']
	}
	return interim, true
}

// TicketIDWithCheck appends the Damm check digit to a decimal number string.
func TicketIDWithCheck(number string) string {
	d, _ := damm(number)
	return number + string('0'+d)
}

// ValidTicketID reports whether id is all digits, of a plausible length, and
// its check digit matches. It lets every channel refuse a mistyped id at once.
func ValidTicketID(id string) bool {
	if len(id) < 2 || len(id) > 20 {
		return false
	}
	d, ok := damm(id)
	return ok && d == 0
}

// MaskPhone shows an E.164 number the way Chinese services do, keeping the
// first three and last four digits of the national number: +8613812345678 →
// "138****5678". Shorter numbers keep only their last four digits.
func MaskPhone(e164 string) string {
	n := e164
	if len(n) > 3 && n[:3] == "+86" {
		n = n[3:]
	} else if len(n) > 0 && n[0] == '+' {
		n = n[1:]
	}
	if len(n) >= 11 {
		return n[:3] + "****" + n[len(n)-4:]
	}
	if len(n) > 4 {
		return "****" + n[len(n)-4:]
	}
	return "****"
}
