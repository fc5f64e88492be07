package dispatch

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
)

// Rates are the figures China's 12345 hotlines judge dispatch by, for one
// unit, one tier or everything, over a period.
//
// They count offers: each time a ticket is routed to a unit (automatically,
// by escalation or by hand) is one offer to that unit, so a unit that
// declines or lets a ticket lapse is judged on it too. An offer still
// inside its limit with no outcome yet is left out of that rate's
// denominator: it has not failed.
type Rates struct {
	// Offers is how many times tickets were routed to the unit(s).
	Offers int `json:"offers"`
	// Accepted of them, AcceptedInTime within the accept limit, out of
	// ResponseBase (offers accepted, moved on, or past their limit).
	Accepted       int `json:"accepted"`
	AcceptedInTime int `json:"accepted_in_time"`
	ResponseBase   int `json:"response_base"`
	// Resolved offers out of ResolutionBase (resolved, moved on or
	// closed, or past the resolve limit).
	Resolved       int `json:"resolved"`
	ResolutionBase int `json:"resolution_base"`
	// Satisfied (rating 4 or 5) of the Rated resolutions.
	Rated     int `json:"rated"`
	Satisfied int `json:"satisfied"`
	// The three rates, 0..1; nil when there is nothing to divide by.
	ResponseRate     *float64 `json:"response_rate"`
	ResolutionRate   *float64 `json:"resolution_rate"`
	SatisfactionRate *float64 `json:"satisfaction_rate"`
	// Medians from routing to the unit until it accepted, and until it
	// resolved, in seconds (wall clock); nil when none.
	MedianAcceptSeconds  *float64 `json:"median_accept_seconds"`
	MedianResolveSeconds *float64 `json:"median_resolve_seconds"`

	accept, resolve []time.Duration
}

// UnitRates are the rates of one unit.
type UnitRates struct {
	UnitID string       `json:"unit_id"`
	NameZH string       `json:"name_zh"`
	NameEN string       `json:"name_en"`
	Tier   hotline.Tier `json:"tier"`
	Rates
}

// TierRates are the rates of one tier.
type TierRates struct {
	Tier hotline.Tier `json:"tier"`
	Rates
}

// Stats are the rates over a period, per unit (ordered by tier, then id),
// per tier and for all of them together.
type Stats struct {
	From  time.Time   `json:"from"`
	To    time.Time   `json:"to"`
	Unit  string      `json:"unit,omitempty"`
	Units []UnitRates `json:"units"`
	Tiers []TierRates `json:"tiers"`
	All   Rates       `json:"all"`
}

// offer is one routing of a ticket to a unit and what came of it.
type offer struct {
	unit       string
	at         time.Time
	acceptedAt time.Time
	resolvedAt time.Time
	ended      bool // the ticket moved on, or was closed or cancelled
	last       bool // the ticket's latest offer
}

// statsWorkers bounds the concurrent history reads of Stats.
const statsWorkers = 8

// Stats computes the rates for tickets created in [from, to), for unit and
// every unit below it, or for the whole network when unit is "". Offers are
// read from each ticket's history; limits are today's (Limits, Calendar)
// applied to the moment of each offer. Errors: EINVALID (from after to),
// EUNAVAILABLE.
func (s *Service) Stats(ctx context.Context, from, to time.Time, unit string) (*Stats, error) {
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return nil, hotline.Errorf(hotline.EINVALID, "the period is empty: from must be before to")
	}
	n := s.network()
	var scope map[string]bool
	if unit != "" {
		if _, ok := n.Unit(unit); !ok {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no unit %q", unit)
		}
		scope = map[string]bool{}
		for _, id := range n.Subtree(unit) {
			scope[id] = true
		}
	}

	tickets, err := s.allTickets(ctx, hotline.TicketFilter{From: from, To: to})
	if err != nil {
		return nil, err
	}
	histories := make([][]*hotline.Event, len(tickets))
	errs := make([]error, len(tickets))
	var wg sync.WaitGroup
	sem := make(chan struct{}, statsWorkers)
	for i, t := range tickets {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			histories[i], errs[i] = s.Tickets.TicketEvents(ctx, t.ID)
		}()
	}
	wg.Wait()

	lim, cal := s.limits()
	now := s.now()
	cat := s.Directory.Catalogue()
	units := map[string]*UnitRates{}
	tiers := map[hotline.Tier]*TierRates{}
	out := &Stats{From: from, To: to, Unit: unit, Units: []UnitRates{}, Tiers: []TierRates{}}
	for i, t := range tickets {
		if errs[i] != nil {
			if hotline.ErrorCode(errs[i]) == hotline.ENOTFOUND {
				continue
			}
			return nil, errs[i]
		}
		c, _ := cat.Find(t.ServiceCode)
		for _, o := range offers(histories[i]) {
			if scope != nil && !scope[o.unit] {
				continue
			}
			u, _ := n.Unit(o.unit)
			tier := u.Kind.Tier()
			ur := units[o.unit]
			if ur == nil {
				ur = &UnitRates{UnitID: o.unit, NameZH: u.NameZH, NameEN: u.NameEN, Tier: tier}
				units[o.unit] = ur
			}
			tr := tiers[tier]
			if tr == nil {
				tr = &TierRates{Tier: tier}
				tiers[tier] = tr
			}
			acceptBy, resolveBy := lim.Deadlines(cal, c, tier, o.at)
			for _, r := range []*Rates{&ur.Rates, &tr.Rates, &out.All} {
				r.add(o, t, acceptBy, resolveBy, now)
			}
		}
	}
	for _, ur := range units {
		ur.finish()
		out.Units = append(out.Units, *ur)
	}
	slices.SortFunc(out.Units, func(a, b UnitRates) int {
		if a.Tier != b.Tier {
			return int(a.Tier - b.Tier)
		}
		if a.UnitID < b.UnitID {
			return -1
		}
		return 1
	})
	for _, tier := range []hotline.Tier{hotline.TierCommittee, hotline.TierStreet, hotline.TierDistrict} {
		if tr := tiers[tier]; tr != nil {
			tr.finish()
			out.Tiers = append(out.Tiers, *tr)
		}
	}
	out.All.finish()
	return out, nil
}

// allTickets pages through every ticket matching f.
func (s *Service) allTickets(ctx context.Context, f hotline.TicketFilter) ([]*hotline.Ticket, error) {
	const page = 1000 // the store's cap
	seen := map[string]bool{}
	var out []*hotline.Ticket
	f.Limit = page
	for {
		ts, total, err := s.Tickets.FindTickets(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			// Paging a list that changes underneath may show a ticket
			// twice; count it once.
			if !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
		f.Offset += len(ts)
		if len(ts) == 0 || f.Offset >= total {
			return out, nil
		}
	}
}

// offers reads a ticket's history into its offers.
func offers(events []*hotline.Event) []offer {
	var out []offer
	cur := -1
	end := func() {
		if cur >= 0 {
			out[cur].ended = true
		}
		cur = -1
	}
	for _, e := range events {
		switch e.Type {
		case hotline.EventTicketRouted, hotline.EventTicketEscalated:
			end()
			out = append(out, offer{unit: e.UnitID, at: e.At})
			cur = len(out) - 1
		case hotline.EventTicketAccepted:
			if cur >= 0 && out[cur].unit == e.UnitID && out[cur].acceptedAt.IsZero() {
				out[cur].acceptedAt = e.At
			}
		case hotline.EventTicketResolved:
			if cur >= 0 && out[cur].resolvedAt.IsZero() {
				out[cur].resolvedAt = e.At
			}
		case hotline.EventTicketReopened, hotline.EventTicketCancelled, hotline.EventTicketMerged, hotline.EventTicketClosed:
			end()
		}
	}
	if len(out) > 0 {
		out[len(out)-1].last = true
	}
	return out
}

func (r *Rates) add(o offer, t *hotline.Ticket, acceptBy, resolveBy, now time.Time) {
	r.Offers++
	accepted := !o.acceptedAt.IsZero()
	if accepted || o.ended || !acceptBy.After(now) {
		r.ResponseBase++
	}
	if accepted {
		r.Accepted++
		r.accept = append(r.accept, o.acceptedAt.Sub(o.at))
		if !o.acceptedAt.After(acceptBy) {
			r.AcceptedInTime++
		}
	}
	resolved := !o.resolvedAt.IsZero()
	if resolved || o.ended || !resolveBy.After(now) {
		r.ResolutionBase++
	}
	if resolved {
		r.Resolved++
		r.resolve = append(r.resolve, o.resolvedAt.Sub(o.at))
		// The rating is the resident's verdict on the last resolution.
		if o.last && t.Satisfaction > 0 {
			r.Rated++
			if t.Satisfaction >= 4 {
				r.Satisfied++
			}
		}
	}
}

func (r *Rates) finish() {
	r.ResponseRate = ratio(r.AcceptedInTime, r.ResponseBase)
	r.ResolutionRate = ratio(r.Resolved, r.ResolutionBase)
	r.SatisfactionRate = ratio(r.Satisfied, r.Rated)
	r.MedianAcceptSeconds = median(r.accept)
	r.MedianResolveSeconds = median(r.resolve)
}

func ratio(a, b int) *float64 {
	if b == 0 {
		return nil
	}
	v := float64(a) / float64(b)
	return &v
}

// median is the middle duration (the mean of the two middle ones for an
// even count), in seconds.
func median(ds []time.Duration) *float64 {
	if len(ds) == 0 {
		return nil
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	m := ds[len(ds)/2]
	if len(ds)%2 == 0 {
		m = (ds[len(ds)/2-1] + ds[len(ds)/2]) / 2
	}
	v := m.Seconds()
	return &v
}
