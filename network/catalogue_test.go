package network_test

import (
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

const goodCatalogue = `
[[category]]
code = "facilities"
name_zh = "公共设施"
name_en = "Public facilities"
description_zh = "楼道灯坏了等"
description_en = "A broken corridor light and the like"
group = "community"
keywords = ["楼道灯", "corridor light"]
tiers = [1, 3]

[[category]]
code = "counselling"
name_zh = "心理咨询"
tiers = [2]
sensitive = true
`

func TestLoadCatalogue(t *testing.T) {
	c, err := network.LoadCatalogue(strings.NewReader(goodCatalogue))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(c.Categories), 2; got != want {
		t.Fatalf("got %d categories, want %d", got, want)
	}
	got, _ := c.Find("facilities")
	if got.NameEN != "Public facilities" || got.Group != "community" || len(got.Keywords) != 2 ||
		!got.HandledAt(hotline.TierCommittee) || got.HandledAt(hotline.TierStreet) || !got.HandledAt(hotline.TierDistrict) {
		t.Errorf("facilities: got %+v", got)
	}
	if got, _ := c.Find("counselling"); !got.Sensitive || got.Urgent {
		t.Errorf("counselling: got %+v", got)
	}
	if got := c.Categories[0].Code; got != "facilities" {
		t.Errorf("display order: got %q first, want facilities", got)
	}
}

func TestLoadCatalogue_Refusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		text  string
		wants []string
	}{
		{"duplicate code", goodCatalogue + "\n[[category]]\ncode = \"facilities\"\nname_zh = \"又一个\"\ntiers = [1]\n",
			[]string{`catalogue.toml line 18 (category "facilities"): code "facilities" is already used by catalogue.toml line 2`}},
		{"tier out of range", strings.Replace(goodCatalogue, "tiers = [2]", "tiers = [2, 4]", 1),
			[]string{`catalogue.toml line 12 (category "counselling")`, "tier 4 must be 1 (committee), 2 (street) or 3 (district)"}},
		{"no tiers", strings.Replace(goodCatalogue, "tiers = [2]", "tiers = []", 1), []string{"line 12", "tiers is empty"}},
		{"misspelt key", strings.Replace(goodCatalogue, "sensitive", "sensitve", 1), []string{`unknown key "category.sensitve"`}},
		{"bad code", strings.Replace(goodCatalogue, `"counselling"`, `"Counselling!"`, 1), []string{"line 12", `code "Counselling!"`}},
		{"empty", "# nothing yet\n", []string{"catalogue.toml: there are no categories"}},
		{"no name", strings.Replace(goodCatalogue, `name_zh = "心理咨询"`, "", 1), []string{"line 12", "name_zh is missing"}},
		{"wrong type", strings.Replace(goodCatalogue, "sensitive = true", `sensitive = "yes"`, 1), []string{"catalogue.toml line 16", "sensitive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := network.LoadCatalogue(strings.NewReader(tc.text))
			wantInvalid(t, err, tc.wants...)
			if c != nil {
				t.Error("got a catalogue with the error")
			}
		})
	}
}
