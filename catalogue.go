package hotline

// Category is one kind of need in the service catalogue.
type Category struct {
	Code          string   `json:"code" toml:"code"`
	NameZH        string   `json:"name_zh" toml:"name_zh"`
	NameEN        string   `json:"name_en" toml:"name_en"`
	DescriptionZH string   `json:"description_zh,omitempty" toml:"description_zh"`
	DescriptionEN string   `json:"description_en,omitempty" toml:"description_en"`
	Group         string   `json:"group" toml:"group"`
	Keywords      []string `json:"keywords,omitempty" toml:"keywords"`
	// Tiers lists the tiers that can handle the category (1 committee and
	// volunteer groups, 2 street service center and organizations, 3 district).
	Tiers []Tier `json:"tiers" toml:"tiers"`
	// Sensitive categories (counselling, disability, disputes, …) never show
	// their description or exact location publicly.
	Sensitive bool `json:"sensitive,omitempty" toml:"sensitive"`
	// Urgent categories get time limits in minutes or hours, not days.
	Urgent bool `json:"urgent,omitempty" toml:"urgent"`
}

// Name returns the category's name in lang ("en" or Chinese by default).
func (c Category) Name(lang string) string {
	if lang == "en" && c.NameEN != "" {
		return c.NameEN
	}
	return c.NameZH
}

// HandledAt reports whether tier t can handle the category.
func (c Category) HandledAt(t Tier) bool {
	for _, x := range c.Tiers {
		if x == t {
			return true
		}
	}
	return false
}

// Catalogue is the list of categories, in display order.
type Catalogue struct {
	Categories []Category `json:"categories" toml:"category"`
}

// Find returns the category with code, or false.
func (c *Catalogue) Find(code string) (Category, bool) {
	if c == nil {
		return Category{}, false
	}
	for _, x := range c.Categories {
		if x.Code == code {
			return x, true
		}
	}
	return Category{}, false
}
