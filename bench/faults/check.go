package main

import (
	"context"
	"fmt"
	"regexp"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/redisstore"
)

var markerRE = regexp.MustCompile(`\[fault [wosv]-\d{6}\]`)

// store is what the store holds at the end, indexed the two ways a
// filing is found: by the marker in its description (web, Open311) and by
// its external reference (the CallSid or MessageSid of phone tickets).
type store struct {
	total    int
	byMarker map[string][]*hotline.Ticket
	byRef    map[string][]*hotline.Ticket
}

func readStore(ctx context.Context, tickets *redisstore.TicketStore) (*store, error) {
	s := &store{byMarker: map[string][]*hotline.Ticket{}, byRef: map[string][]*hotline.Ticket{}}
	const page = 1000
	seen := map[string]bool{}
	for offset := 0; ; offset += page {
		ts, total, err := tickets.FindTickets(ctx, hotline.TicketFilter{Offset: offset, Limit: page})
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if seen[t.ID] {
				continue
			}
			seen[t.ID] = true
			for _, m := range markerRE.FindAllString(t.Description, -1) {
				s.byMarker[m] = append(s.byMarker[m], t)
			}
			if t.ExternalRef != "" {
				s.byRef[t.ExternalRef] = append(s.byRef[t.ExternalRef], t)
			}
		}
		if offset+page >= total {
			s.total = len(seen)
			if len(seen) != total {
				return nil, fmt.Errorf("read %d distinct tickets of %d", len(seen), total)
			}
			return s, nil
		}
	}
}

// found returns the tickets stored for a filing.
func (s *store) found(f *filing) []*hotline.Ticket {
	if f.channel == "web" || f.channel == "open311" {
		return s.byMarker[f.marker]
	}
	return s.byRef[f.key]
}

// channelFigures are one channel's counts.
type channelFigures struct {
	filed, acked, viaJournal, promised int
	lost, duplicated, mismatched       int
	unacked, unackedStored             int
	journalStored                      int // journaled filings with their one ticket
	answers                            map[int]int
	noAnswer                           int
}

func tally(filings []*filing, s *store) (map[string]*channelFigures, []string) {
	out := map[string]*channelFigures{}
	for _, c := range channels {
		out[c] = &channelFigures{answers: map[int]int{}}
	}
	var problems []string
	for _, f := range filings {
		c := out[f.channel]
		c.filed++
		for code, n := range f.answers {
			c.answers[code] += n
		}
		c.noAnswer += f.errs
		got := s.found(f)
		if len(got) > 1 {
			c.duplicated += len(got) - 1
			problems = append(problems, fmt.Sprintf("%s %s (%s): %d tickets", f.channel, f.marker, f.key, len(got)))
		}
		if f.ack == "" {
			c.unacked++
			if len(got) > 0 {
				c.unackedStored++
			}
			continue
		}
		c.acked++
		switch f.ack {
		case ackJournal:
			c.viaJournal++
			if len(got) == 1 {
				c.journalStored++
			}
		case ackPromise:
			c.promised++
		}
		switch {
		case len(got) == 0:
			c.lost++
			problems = append(problems, fmt.Sprintf("%s %s (%s): acknowledged (%s %s) but not stored", f.channel, f.marker, f.key, f.ack, f.id))
		case f.id != "" && got[0].ID != f.id:
			c.mismatched++
			problems = append(problems, fmt.Sprintf("%s %s: acknowledged as %s, stored as %s", f.channel, f.marker, f.id, got[0].ID))
		}
	}
	return out, problems
}

// feedEntry is one feed entry a board may see.
type feedEntry struct {
	partition int
	streamID  string
}

// readFeed returns every entry of the feed after from, keyed as the
// boards key what they get ("ticket v<version>").
func readFeed(ctx context.Context, feed *redisstore.Feed, from hotline.FeedPosition) (map[string]feedEntry, map[string]hotline.FeedEvent, error) {
	cur := from.Copy()
	entries := map[string]feedEntry{}
	events := map[string]hotline.FeedEvent{}
	for range 10000 {
		evs, err := feed.ReadSince(ctx, cur, 1000)
		if err != nil {
			return nil, nil, err
		}
		if len(evs) == 0 {
			return entries, events, nil
		}
		for _, e := range evs {
			cur.Advance(e.Partition, e.StreamID)
			if e.Event == nil {
				continue
			}
			k := fmt.Sprintf("%s v%d", e.Event.TicketID, e.Event.Version)
			entries[k] = feedEntry{partition: e.Partition, streamID: e.StreamID}
			events[k] = e
		}
	}
	return nil, nil, fmt.Errorf("the feed did not end")
}

// sees is what the live board shows a user (server/hub.go's view): the
// tickets of their unit and below, those located in their committees'
// areas, and a ticket leaving their units.
func sees(u *hotline.User, n *hotline.Network, e hotline.FeedEvent) bool {
	if u.Role == hotline.RoleAdmin {
		return true
	}
	units := map[string]bool{}
	for _, id := range n.Subtree(u.UnitID) {
		units[id] = true
	}
	own, _ := n.Unit(u.UnitID)
	s := e.Ticket
	switch {
	case s.UnitID == "" && own.Tier >= hotline.TierStreet:
		return true
	case s.UnitID != "" && units[s.UnitID]:
		return true
	case u.Role != hotline.RoleVolunteer && s.Committee != "" && units[s.Committee]:
		return true
	}
	return e.Event.FromUnitID != "" && units[e.Event.FromUnitID]
}

// boardFigures are one board's counts against the feed.
type boardFigures struct {
	expected, delivered, missed, duplicated int
	coveredByReload, unexpected, outOfOrder int
	examples                                []string
}

// check compares what b received with the feed entries after its first
// position up to head that its user may see. An entry skipped by a reload
// instruction counts as covered (the board reloads), not as missed.
func check(b *board, n *hotline.Network, entries map[string]feedEntry, events map[string]hotline.FeedEvent, head hotline.FeedPosition) boardFigures {
	b.mu.Lock()
	defer b.mu.Unlock()
	var f boardFigures
	inReload := func(e feedEntry) bool {
		for _, r := range b.reloads {
			if hotline.CompareStreamIDs(e.streamID, r.from[e.partition]) > 0 && hotline.CompareStreamIDs(e.streamID, r.to[e.partition]) <= 0 {
				return true
			}
		}
		return false
	}
	for k, e := range entries {
		if hotline.CompareStreamIDs(e.streamID, b.start[e.partition]) <= 0 || hotline.CompareStreamIDs(e.streamID, head[e.partition]) > 0 {
			continue
		}
		if !sees(b.user, n, events[k]) {
			continue
		}
		f.expected++
		switch {
		case b.got[k] > 0:
			f.delivered++
		case inReload(e):
			f.coveredByReload++
		default:
			f.missed++
			if len(f.examples) < 5 {
				f.examples = append(f.examples, "missed "+k)
			}
		}
	}
	for k, times := range b.got {
		if times > 1 {
			f.duplicated += times - 1
			if len(f.examples) < 10 {
				f.examples = append(f.examples, fmt.Sprintf("%s delivered %d times", k, times))
			}
		}
		e, ok := entries[k]
		if !ok || !sees(b.user, n, events[k]) || hotline.CompareStreamIDs(e.streamID, b.start[e.partition]) <= 0 {
			f.unexpected++
			if len(f.examples) < 10 {
				f.examples = append(f.examples, "unexpected "+k)
			}
		}
	}
	// Within a partition, entries must arrive in the feed's order.
	last := map[int]string{}
	for _, k := range b.order {
		e, ok := entries[k]
		if !ok {
			continue
		}
		if prev, ok := last[e.partition]; ok && hotline.CompareStreamIDs(e.streamID, prev) <= 0 {
			f.outOfOrder++
		}
		last[e.partition] = e.streamID
	}
	return f
}

// caughtUp reports whether b has every entry up to head it should have.
func caughtUp(b *board, n *hotline.Network, entries map[string]feedEntry, events map[string]hotline.FeedEvent, head hotline.FeedPosition) bool {
	f := check(b, n, entries, events, head)
	return f.missed == 0
}
