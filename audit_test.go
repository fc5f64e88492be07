package hotline_test

import (
	"testing"

	"github.com/caojiadu/hotline"
)

// The board shows where in the street, never which door.
func TestMaskAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                           "",
		"长寿路 100 号 3 室":              "长寿路 ***",
		"长寿路123弄4号502室":              "长寿路***",
		"长寿路":                        "长寿路",
		"四川北路 1 号":                   "四川北路 ***",
		"万航渡路 ８８８ 号":                 "万航渡路 ***",
		"静安区胶州路 58 号":                "静安区胶州路 ***",
		"100 Changshou Road":         "*** Changshou Road",
		"Flat 3, 100 Changshou Road": "Flat ***, *** Changshou Road",
		"曹家渡花苑三号楼":                   "曹家渡花苑***号楼",
		"曹家渡花苑":                      "曹***",
	} {
		if got := hotline.MaskAddress(in); got != want {
			t.Errorf("MaskAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "",
		"zhang.san@example.com": "z***@example.com",
		"张@例子.中国":               "张***@例子.中国",
		"not-an-address":        "***",
		"@example.com":          "***",
	} {
		if got := hotline.MaskEmail(in); got != want {
			t.Errorf("MaskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
