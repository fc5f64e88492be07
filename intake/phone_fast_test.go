package intake

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

// The fast path must agree with the full parser on every number it takes.
func TestMainlandMobileFastPathAgreesWithTheParser(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	taken := 0
	for i := 0; i < 20000; i++ {
		d := fmt.Sprintf("1%010d", rng.Int64N(1e10))
		forms := []string{d, "+86" + d, "+86 " + d[:3] + "-" + d[3:7] + "-" + d[7:], d[:3] + " " + d[3:7] + " " + d[7:]}
		for _, in := range forms {
			got, ok := mainlandMobile(in)
			if !ok {
				continue
			}
			taken++
			n, err := phonenumbers.Parse(in, DefaultRegion)
			if err != nil || !phonenumbers.IsValidNumber(n) {
				t.Fatalf("fast path took %q, the parser refuses it", in)
			}
			if want := phonenumbers.Format(n, phonenumbers.E164); got != want {
				t.Fatalf("fast path %q → %q, parser → %q", in, got, want)
			}
		}
	}
	if taken < 10000 {
		t.Fatalf("fast path took only %d numbers: it is not doing its job", taken)
	}
	for _, in := range []string{"+1 2025550123", "021-62345678", "0086 138 1234 5678", "1381234567", "+8613812345678x"} {
		if got, ok := mainlandMobile(in); ok {
			t.Errorf("fast path took %q → %q", in, got)
		}
	}
}
