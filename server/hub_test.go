package server

import (
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// The hub's precomputed view must agree with CanSeeTicket for every user a
// unit of the demo street can have and every ticket it can hold, plus the
// rule CanSeeTicket does not have: a board sees a ticket leave its units.
func TestView_AgreesWithCanSeeTicket(t *testing.T) {
	n, _ := network.Demo()
	units := []string{""}
	for _, u := range n.Units {
		units = append(units, u.ID)
	}
	committees := []string{""}
	for _, a := range n.Areas {
		committees = append(committees, a.UnitID)
	}
	for _, role := range hotline.Roles {
		for _, own := range units {
			u := &hotline.User{Role: role, UnitID: own}
			v := newView(keyOf(u), n)
			for _, unit := range units {
				for _, committee := range committees {
					tk := &hotline.Ticket{UnitID: unit, Location: hotline.Location{Committee: committee}}
					s := hotline.Summarize(tk)
					if got, want := v.sees(&s, ""), u.CanSeeTicket(n, tk); got != want {
						t.Fatalf("%s of %q, ticket at %q in %q: view %v, CanSeeTicket %v", role, own, unit, committee, got, want)
					}
					if committee != "" && committee != "c02" {
						continue // from is independent of the area: two areas suffice
					}
					for _, from := range units {
						want := u.CanSeeTicket(n, tk) || (from != "" && u.CanSeeUnit(n, from))
						if got := v.sees(&s, from); got != want {
							t.Fatalf("%s of %q, ticket moved from %q to %q in %q: view %v, want %v", role, own, from, unit, committee, got, want)
						}
					}
				}
			}
		}
	}
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		own, pos, want string
		equal          bool
	}{
		{"1-0.5-0", "1-0.5-0", "1-0.5-0", true},
		{"1-0.5-0", "2-0.5-0", "2-0.5-0", true},
		{"3-0.5-0", "2-0.6-0", "3-0.6-0", false},
		{"0-0.9-1", "0-0.9-0", "0-0.9-1", false},
	} {
		own := hotline.FeedPosition(splitDots(tc.own))
		equal := merge(own, splitDots(tc.pos))
		if own.String() != tc.want || equal != tc.equal {
			t.Errorf("merge(%s, %s): got %s %v, want %s %v", tc.own, tc.pos, own, equal, tc.want, tc.equal)
		}
	}
}

func splitDots(s string) hotline.FeedPosition {
	p, err := hotline.ParseFeedPosition(s, 2)
	if err != nil {
		panic(err)
	}
	return p
}
