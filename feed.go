package hotline

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// TicketSummary is what a live board needs to show a ticket in its queue
// and on its map without fetching it: no contact details.
type TicketSummary struct {
	ID          string    `json:"id"`
	Status      Status    `json:"status"`
	Channel     Channel   `json:"channel"`
	ServiceCode string    `json:"service_code"`
	Excerpt     string    `json:"excerpt,omitempty"` // the description's first 80 characters
	UnitID      string    `json:"unit_id,omitempty"`
	Tier        Tier      `json:"tier,omitempty"`
	Committee   string    `json:"committee,omitempty"`
	Lat         float64   `json:"lat,omitempty"`
	Long        float64   `json:"long,omitempty"`
	RouteReason string    `json:"route_reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	AcceptBy    time.Time `json:"accept_by,omitzero"`
	ResolveBy   time.Time `json:"resolve_by,omitzero"`
	Escalations int       `json:"escalations,omitempty"`
	Redo        bool      `json:"redo,omitempty"`
	MergedInto  string    `json:"merged_into,omitempty"`
	Version     int64     `json:"version"`
}

// Summarize returns the board's view of t.
func Summarize(t *Ticket) TicketSummary {
	ex := t.Description
	if utf8.RuneCountInString(ex) > 80 {
		r := []rune(ex)
		ex = string(r[:80]) + "…"
	}
	return TicketSummary{
		ID: t.ID, Status: t.Status, Channel: t.Channel, ServiceCode: t.ServiceCode, Excerpt: ex,
		UnitID: t.UnitID, Tier: t.Tier, Committee: t.Location.Committee,
		Lat: t.Location.Lat, Long: t.Location.Long, RouteReason: t.RouteReason,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, AcceptBy: t.AcceptBy, ResolveBy: t.ResolveBy,
		Escalations: t.Escalations, Redo: t.Redo, MergedInto: t.MergedInto, Version: t.Version,
	}
}

// FeedEvent is one entry of the event feed that live boards follow: the
// event, the ticket as it stood right after it, and where the entry sits.
// The feed is split into partitions (streams); within a partition, and so
// for any one ticket, entries are in the order the changes happened.
type FeedEvent struct {
	Partition int           `json:"-"`
	StreamID  string        `json:"-"` // the entry's id in its partition's stream
	Event     *Event        `json:"event"`
	Ticket    TicketSummary `json:"ticket"`
}

// FeedPosition is a place in the whole feed: for each partition, the id of
// the last entry already seen ("0-0" for none). A board that reconnects
// with the position of the last message it got receives exactly the
// entries after it, in every partition.
type FeedPosition []string

// NewFeedPosition returns the position before any entry of n partitions.
func NewFeedPosition(n int) FeedPosition {
	p := make(FeedPosition, n)
	for i := range p {
		p[i] = "0-0"
	}
	return p
}

// String encodes the position as the partitions' ids joined by ".", e.g.
// "1796009881570-0.0-0.…": opaque to clients, who only echo it back.
func (p FeedPosition) String() string { return strings.Join(p, ".") }

// ParseFeedPosition decodes String's form for n partitions.
// Errors: EINVALID.
func ParseFeedPosition(s string, n int) (FeedPosition, error) {
	parts := strings.Split(s, ".")
	if len(parts) != n {
		return nil, Errorf(EINVALID, "position: want %d parts, got %d; reconnect without since to reload", n, len(parts))
	}
	for _, x := range parts {
		if _, _, ok := parseStreamID(x); !ok {
			return nil, Errorf(EINVALID, "position: %q is not a stream id", x)
		}
	}
	return FeedPosition(parts), nil
}

// Copy returns an independent copy.
func (p FeedPosition) Copy() FeedPosition { return append(FeedPosition(nil), p...) }

// Advance moves partition to id and reports true when id is after the
// position there; false means the entry was already seen (a duplicate to
// drop, as happens where a replayed history meets the live tail).
func (p FeedPosition) Advance(partition int, id string) bool {
	if partition < 0 || partition >= len(p) || CompareStreamIDs(id, p[partition]) <= 0 {
		return false
	}
	p[partition] = id
	return true
}

// CompareStreamIDs orders two Redis stream ids ("ms-seq"): -1, 0 or 1.
// A malformed id sorts before every well-formed one.
func CompareStreamIDs(a, b string) int {
	am, as, aok := parseStreamID(a)
	bm, bs, bok := parseStreamID(b)
	switch {
	case !aok && !bok:
		return 0
	case !aok:
		return -1
	case !bok:
		return 1
	case am != bm:
		return cmpU(am, bm)
	}
	return cmpU(as, bs)
}

func cmpU(a, b uint64) int {
	if a < b {
		return -1
	} else if a > b {
		return 1
	}
	return 0
}

func parseStreamID(s string) (ms, seq uint64, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil
}

// Feed is the log of every ticket change, as live boards read it.
type Feed interface {
	// Partitions is the number of partitions (fixed for a deployment).
	Partitions() int
	// Head returns the position after the newest entry of every partition:
	// where a board that has just loaded the current tickets starts.
	// Errors: EUNAVAILABLE.
	Head(ctx context.Context) (FeedPosition, error)
	// ReadSince returns up to limit entries after pos, in order within each
	// partition. Errors: EGONE when entries after pos were already trimmed
	// from a partition (the board must reload), EINVALID, EUNAVAILABLE.
	ReadSince(ctx context.Context, pos FeedPosition, limit int) ([]FeedEvent, error)
	// Tail calls fn for every entry after from, in order within each
	// partition, as entries arrive, until ctx ends. fn must not block for
	// long: it is called from the reading goroutines. Errors: whatever ends
	// it other than ctx (EUNAVAILABLE after retries are exhausted).
	Tail(ctx context.Context, from FeedPosition, fn func(FeedEvent)) error
}

// DeadlineQueue hands out tickets whose time limit has passed. The store
// keeps each ticket's NextDeadline in the queue in the same atomic step as
// every change to the ticket.
type DeadlineQueue interface {
	// ClaimDue returns up to max ids of tickets whose deadline is at or
	// before now, and pushes each one's deadline to now+lease, so that no
	// other replica claims it meanwhile; a claim whose handler dies comes
	// due again after the lease. Handling a ticket changes it (which resets
	// its deadline) or calls Reschedule. Errors: EUNAVAILABLE.
	ClaimDue(ctx context.Context, now time.Time, lease time.Duration, max int) ([]string, error)
	// Reschedule puts the ticket's current NextDeadline back in the queue
	// (or takes it out when it has none). Errors: ENOTFOUND, EUNAVAILABLE.
	Reschedule(ctx context.Context, id string) error
}

// UnitDistance is a unit found near a point.
type UnitDistance struct {
	UnitID   string
	Distance float64 // metres
}

// UnitIndex answers routing's questions about units: which are near, and
// how many open tickets each holds.
type UnitIndex interface {
	// IndexUnits replaces the geographic index with the units of n.
	// Errors: EUNAVAILABLE.
	IndexUnits(ctx context.Context, n *Network) error
	// NearbyUnits returns up to count units of tier that handle category,
	// within radius metres of (lat, long), nearest first.
	// Errors: EUNAVAILABLE.
	NearbyUnits(ctx context.Context, category string, tier Tier, lat, long, radius float64, count int) ([]UnitDistance, error)
	// OpenLoads returns how many open tickets each unit holds.
	// Errors: EUNAVAILABLE.
	OpenLoads(ctx context.Context, unitIDs []string) (map[string]int, error)
}
