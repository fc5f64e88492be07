package hotline_test

import (
	"testing"

	"github.com/caojiadu/hotline"
)

func TestTicketIDCheckDigitCatchesTypos(t *testing.T) {
	id := hotline.TicketIDWithCheck("16003")
	if !hotline.ValidTicketID(id) {
		t.Fatalf("ValidTicketID(%q) = false, want true", id)
	}
	// Every single-digit change and every swap of neighbours is refused.
	for i := 0; i < len(id); i++ {
		for d := byte('0'); d <= '9'; d++ {
			if d == id[i] {
				continue
			}
			typo := id[:i] + string(d) + id[i+1:]
			if hotline.ValidTicketID(typo) {
				t.Errorf("typo %q of %q accepted", typo, id)
			}
		}
		if i+1 < len(id) && id[i] != id[i+1] {
			b := []byte(id)
			b[i], b[i+1] = b[i+1], b[i]
			if hotline.ValidTicketID(string(b)) {
				t.Errorf("swap %q of %q accepted", b, id)
			}
		}
	}
	for _, bad := range []string{"", "1", "12a4", "１２３"} {
		if hotline.ValidTicketID(bad) {
			t.Errorf("ValidTicketID(%q) = true", bad)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+8613812345678": "138****5678",
		"+862162345678":  "****5678",
		"+12025550123":   "120****0123",
		"+861234":        "****",
		"":               "****",
	} {
		if got := hotline.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPolygonContains(t *testing.T) {
	square := hotline.Polygon{{{121.0, 31.0}, {121.1, 31.0}, {121.1, 31.1}, {121.0, 31.1}, {121.0, 31.0}}}
	if !square.Contains(31.05, 121.05) {
		t.Error("centre not inside")
	}
	if square.Contains(31.2, 121.05) {
		t.Error("point north of the square inside")
	}
	holed := append(hotline.Polygon{}, square[0], []hotline.Point{{121.04, 31.04}, {121.06, 31.04}, {121.06, 31.06}, {121.04, 31.06}, {121.04, 31.04}})
	if holed.Contains(31.05, 121.05) {
		t.Error("point in the hole inside")
	}
}

func TestStatusTransitions(t *testing.T) {
	if !hotline.CanTransition(hotline.StatusNew, hotline.StatusRouted) {
		t.Error("new → routed refused")
	}
	if hotline.CanTransition(hotline.StatusClosed, hotline.StatusAccepted) {
		t.Error("closed → accepted allowed")
	}
}

func TestFeedPositionAdvancesAndRoundTrips(t *testing.T) {
	p := hotline.NewFeedPosition(3)
	if !p.Advance(1, "100-0") || p.Advance(1, "100-0") || p.Advance(1, "99-5") {
		t.Fatal("Advance must accept only ids after the current one")
	}
	if !p.Advance(1, "100-1") || p.Advance(5, "1-0") {
		t.Fatal("Advance: same-ms later seq accepted, unknown partition refused")
	}
	got, err := hotline.ParseFeedPosition(p.String(), 3)
	if err != nil || got.String() != "0-0.100-1.0-0" {
		t.Fatalf("round trip = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0-0.0-0", "a-b.0-0.0-0", "1.2.3"} {
		if _, err := hotline.ParseFeedPosition(bad, 3); hotline.ErrorCode(err) != hotline.EINVALID {
			t.Errorf("ParseFeedPosition(%q) err = %v", bad, err)
		}
	}
	if hotline.CompareStreamIDs("2-0", "10-0") != -1 {
		t.Error("stream ids must compare numerically")
	}
}
