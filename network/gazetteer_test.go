package network_test

import (
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

func TestLoadGazetteer(t *testing.T) {
	text := "road,from,to,parity,committee\n" +
		"# 长寿路: the north side is c03, the south side c08\n" +
		"长寿路,1,199,odd,c03\n" +
		"长寿路,2,200,双号,c08\n" +
		"叶家宅路,,,,c01\n" +
		"江宁路, 2 , 300 , Even ,c09\n"
	entries, err := network.LoadGazetteer(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want := []hotline.GazetteerEntry{
		{Road: "长寿路", From: 1, To: 199, Parity: "odd", Committee: "c03"},
		{Road: "长寿路", From: 2, To: 200, Parity: "even", Committee: "c08"},
		{Road: "叶家宅路", Committee: "c01"},
		{Road: "江宁路", From: 2, To: 300, Parity: "even", Committee: "c09"},
	}
	if len(entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(entries), len(want))
	}
	for i := range want {
		if entries[i] != want[i] {
			t.Errorf("entry %d: got %+v, want %+v", i, entries[i], want[i])
		}
	}

	n := &hotline.Network{Gazetteer: entries, Units: []hotline.Unit{
		{ID: "c01", Kind: hotline.KindCommittee}, {ID: "c03", Kind: hotline.KindCommittee},
		{ID: "c08", Kind: hotline.KindCommittee}, {ID: "c09", Kind: hotline.KindCommittee},
	}}
	for address, want := range map[string]string{
		"长寿路123号": "c03",
		"长寿路124号": "c08",
		"叶家宅路88弄": "c01",
		"江宁路151号": "",
	} {
		if got, _ := n.CommitteeForAddress(address); got.ID != want {
			t.Errorf("%s: got %q, want %q", address, got.ID, want)
		}
	}
}

func TestLoadGazetteer_Refusals(t *testing.T) {
	const header = "road,from,to,parity,committee\n"
	for _, tc := range []struct {
		name  string
		text  string
		wants []string
	}{
		{"missing committee column", "road,from,to\n长寿路,1,2\n", []string{"gazetteer.csv line 1", `column "committee" is missing`}},
		{"bad parity", header + "长寿路,1,99,left,c01\n", []string{"gazetteer.csv line 2", `parity "left"`}},
		{"from after to", header + "长寿路,99,1,odd,c01\n", []string{"line 2", "from 99 is greater than to 1"}},
		{"not a number", header + "长寿路,1,九十九,odd,c01\n", []string{"line 2", `to "九十九" is not a whole number`}},
		{"negative", header + "长寿路,-5,9,,c01\n", []string{"line 2", "cannot be negative"}},
		{"no road", header + ",1,9,,c01\n", []string{"line 2", "road is missing"}},
		{"no committee", header + "长寿路,1,9,,\n", []string{"line 2", "committee is missing"}},
		{"space in road", header + "长寿 路,1,9,,c01\n", []string{"line 2", "contains a space"}},
		{"parity on a whole road", header + "长寿路,,,odd,c01\n", []string{"line 2", "parity \"odd\" would be ignored"}},
		{"overlap", header + "长寿路,1,99,odd,c01\n长寿路,51,151,,c02\n",
			[]string{"gazetteer.csv line 3", "长寿路 51-151 overlaps gazetteer.csv line 2 (1-99)"}},
		{"shadowed by a whole road", header + "长寿路,,,,c01\n长寿路,1,99,odd,c02\n",
			[]string{"gazetteer.csv line 3", "never used", "already gives the whole of 长寿路 to c01"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := network.LoadGazetteer(strings.NewReader(tc.text))
			wantInvalid(t, err, tc.wants...)
		})
	}
}

func TestLoadGazetteer_OppositeSidesMayShareNumbers(t *testing.T) {
	text := "road,from,to,parity,committee\n长寿路,1,199,odd,c03\n长寿路,2,200,even,c08\n长寿路,201,399,,c02\n"
	if _, err := network.LoadGazetteer(strings.NewReader(text)); err != nil {
		t.Fatal(err)
	}
}
