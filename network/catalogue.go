package network

import (
	"fmt"
	"io"

	"github.com/caojiadu/hotline"
)

// LoadCatalogue reads the service catalogue: TOML with one [[category]]
// table per category, in display order. Errors: EINVALID naming the line
// and field.
func LoadCatalogue(r io.Reader) (*hotline.Catalogue, error) {
	const name = "catalogue.toml"
	data, err := readAll(r, name)
	if err != nil {
		return nil, err
	}
	c, _, err := decodeCatalogue(data, name)
	return c, err
}

func decodeCatalogue(data []byte, name string) (*hotline.Catalogue, []string, error) {
	var c hotline.Catalogue
	if err := decodeTOML(data, name, "category", &c); err != nil {
		return nil, nil, err
	}
	where := tableLines(data, "category", name, len(c.Categories))
	for i, x := range c.Categories {
		if x.Code != "" {
			where[i] += fmt.Sprintf(" (category %q)", x.Code)
		}
	}
	var p problems
	checkCatalogue(&p, c.Categories, &sources{catalogueFile: name, categories: where})
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	return &c, where, nil
}
