package hotline_test

import (
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
)

// FuzzParseFeedPosition reads any since a board may send. What parses
// writes back as it came, names one stream id per partition, and orders
// like Redis does; what does not is EINVALID with a message.
func FuzzParseFeedPosition(f *testing.F) {
	zero := hotline.NewFeedPosition(16).String()
	for _, s := range []string{zero, "", "x", zero + ".0-0", strings.TrimSuffix(zero, ".0-0"),
		strings.Replace(zero, "0-0", "1796009881570-3", 2), strings.Replace(zero, "0-0", "18446744073709551615-18446744073709551615", 1),
		strings.Replace(zero, "0-0", "18446744073709551616-0", 1), strings.Replace(zero, "0-0", "-1-0", 1),
		strings.Replace(zero, "0-0", "1-", 1), strings.Replace(zero, "0-0", "+1-0", 1), strings.Replace(zero, "0-0", "0x1-0", 1),
		strings.Replace(zero, "0-0", "1_0-0", 1), strings.Replace(zero, "0-0", "00001-0", 1), strings.Repeat(".", 15)} {
		f.Add(s, 16)
	}
	f.Add("0-0", 1)
	f.Add("", 0)
	f.Add("0-0", -1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		pos, err := hotline.ParseFeedPosition(s, n)
		if err != nil {
			if hotline.ErrorCode(err) != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", s, err)
			}
			return
		}
		if len(pos) != n || pos.String() != s {
			t.Fatalf("%q for %d partitions: parsed as %d parts, written back as %q", s, n, len(pos), pos)
		}
		for i, id := range pos {
			// Only digits and one dash: a position goes into a board's
			// JSON unescaped (server.withPosition).
			ms, seq, ok := strings.Cut(id, "-")
			if !ok || strings.Trim(ms, "0123456789") != "" || strings.Trim(seq, "0123456789") != "" {
				t.Fatalf("%q: part %d %q is not ms-seq in digits", s, i, id)
			}
			if hotline.CompareStreamIDs(id, id) != 0 || hotline.CompareStreamIDs(id, "x") != 1 || hotline.CompareStreamIDs("x", id) != -1 {
				t.Fatalf("%q: part %d %q does not order as a stream id", s, i, id)
			}
			if pos.Copy().Advance(i, id) {
				t.Fatalf("%q: Advance to the id it is at, %q, moved partition %d", s, id, i)
			}
		}
	})
}

// FuzzValidTicketID reads any id a resident may key in or a client send
// in a path. An id is accepted only when it is digits whose last is the
// check digit of the others, so one mistyped digit is always refused.
func FuzzValidTicketID(f *testing.F) {
	for _, s := range []string{hotline.TicketIDWithCheck("16003"), "160035", "", "0", "00", "１２３", "12a4", "-1", "9999999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !hotline.ValidTicketID(s) {
			return
		}
		if len(s) < 2 || strings.Trim(s, "0123456789") != "" {
			t.Fatalf("%q accepted: not two or more ASCII digits", s)
		}
		if want := hotline.TicketIDWithCheck(s[:len(s)-1]); want != s {
			t.Fatalf("%q accepted; its check digit makes %q", s, want)
		}
		for d := byte('0'); d <= '9'; d++ {
			if typo := s[:len(s)-1] + string(d); d != s[len(s)-1] && hotline.ValidTicketID(typo) {
				t.Fatalf("%q and %q both accepted", s, typo)
			}
		}
	})
}
