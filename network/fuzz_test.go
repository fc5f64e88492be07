package network_test

import (
	"strings"
	"testing"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/network"
)

// The network's files come from the street's staff (README.md): what they
// write is loaded, or refused with EINVALID and the line at fault, never a
// panic. FuzzLoadUnitsCSV and FuzzLoadAreas cover the units in CSV and the
// committee areas; these cover the rest.

func FuzzLoadGazetteer(f *testing.F) {
	f.Add(readFile(f, "demo/gazetteer.csv"))
	for _, s := range []string{
		"road,from,to,parity,committee\n长寿路,1,199,odd,c03\n长寿路,2,200,双号,c08\n叶家宅路,,,,c01\n江宁路, 2 , 300 , Even ,c09\n",
		"road,from,to,parity,committee\n长寿路,200,1,odd,c03\n长寿路,-1,99999999999999999999,any,c03\n",
		"road,from,to\n长寿路,1,2\n", "\ufeff# only a comment\n", "road,committee\n\"open,c01\n", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		entries, err := network.LoadGazetteer(strings.NewReader(text))
		if err != nil {
			if code := hotline.ErrorCode(err); code != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", text, err)
			}
			return
		}
		n := &hotline.Network{Gazetteer: entries}
		for _, e := range entries {
			if e.Road == "" || e.Committee == "" {
				t.Fatalf("%q: an entry without its road or committee: %+v", text, e)
			}
			n.CommitteeForAddress(e.Road + "12号") // must not panic
		}
		n.CommitteeForAddress(text)
	})
}

func FuzzLoadCatalogue(f *testing.F) {
	f.Add(readFile(f, "demo/catalogue.toml"))
	f.Add(goodCatalogue)
	f.Add(strings.Replace(goodCatalogue, "tiers = [2]", "tiers = [2, 4]", 1))
	f.Add("[[category]]\ncode = \"x\"\ntiers = [1]\n[[category]]\ncode = \"x\"\n")
	f.Add("[[category]]\ncode = 3\nsensitive = \"yes\"\ntiers = \"1\"\n")
	f.Add("category = 1")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := network.LoadCatalogue(strings.NewReader(text))
		if err != nil {
			if code := hotline.ErrorCode(err); code != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", text, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, cat := range c.Categories {
			if cat.Code == "" || seen[cat.Code] || len(cat.Tiers) == 0 {
				t.Fatalf("%q: category %+v is empty, repeated or has no tier", text, cat)
			}
			seen[cat.Code] = true
			if got, ok := c.Find(cat.Code); !ok || got.Code != cat.Code {
				t.Fatalf("%q: Find(%q) = %+v, %v", text, cat.Code, got, ok)
			}
		}
	})
}

func FuzzLoadUnitsTOML(f *testing.F) {
	f.Add(readFile(f, "demo/units.toml"))
	f.Add("[[unit]]\nid = \"c01\"\nkind = \"committee\"\ntier = 1\nname_zh = \"一居\"\nlat = 31.24\nlong = 121.43\nhours = \"mon-fri 08:30-17:00\"\n")
	f.Add("[[unit]]\nid = \"c01\"\nkind = \"committee\"\ntier = 2\nparent = \"c01\"\nlat = nan\nlong = inf\ncapacity = -1\n")
	f.Add("[[unit]]\nid = 1\n[[unit]]\n")
	f.Add("unit = []")
	f.Fuzz(func(t *testing.T, text string) {
		units, err := network.LoadUnits(strings.NewReader(text), "toml")
		if err != nil {
			if code := hotline.ErrorCode(err); code != hotline.EINVALID || hotline.ErrorMessage(err) == "" {
				t.Fatalf("%q: %v, want EINVALID with a message", text, err)
			}
			return
		}
		ids := map[string]bool{}
		for _, u := range units {
			if u.ID == "" || ids[u.ID] || u.Tier != u.Kind.Tier() {
				t.Fatalf("%q: unit %+v is unnamed, repeated or in the wrong tier", text, u)
			}
			ids[u.ID] = true
		}
		for _, u := range units {
			if u.ParentID != "" && !ids[u.ParentID] {
				t.Fatalf("%q: %q's parent %q does not exist", text, u.ID, u.ParentID)
			}
		}
	})
}
