package hotline

import "sync/atomic"

// Directory hands out the network and catalogue currently in force. Readers
// must treat what they get as read-only; a reload swaps in new values.
type Directory interface {
	Network() *Network
	Catalogue() *Catalogue
}

// StaticDirectory is a Directory whose contents can be swapped atomically.
type StaticDirectory struct {
	n atomic.Pointer[Network]
	c atomic.Pointer[Catalogue]
}

// NewStaticDirectory returns a directory holding n and c.
func NewStaticDirectory(n *Network, c *Catalogue) *StaticDirectory {
	d := &StaticDirectory{}
	d.Set(n, c)
	return d
}

// Set replaces the network and catalogue.
func (d *StaticDirectory) Set(n *Network, c *Catalogue) {
	if n == nil {
		n = &Network{}
	}
	if c == nil {
		c = &Catalogue{}
	}
	d.n.Store(n)
	d.c.Store(c)
}

func (d *StaticDirectory) Network() *Network     { return d.n.Load() }
func (d *StaticDirectory) Catalogue() *Catalogue { return d.c.Load() }

// PublicTicket returns a copy of t that is safe to show to anyone: no
// contact details, no external references and, for a sensitive category,
// no description and no exact location (only the committee it lies in), as
// FixMyStreet does with non-public reports.
func PublicTicket(t *Ticket, c Category) *Ticket {
	p := *t
	p.Contact = Contact{}
	p.ExternalRef = ""
	if c.Sensitive {
		p.Description = ""
		p.MediaURL = ""
		p.Location = Location{Committee: t.Location.Committee}
	}
	return &p
}
