// Package hotline holds the domain of the resident-needs hotline: tickets,
// the three-tier service network, the service catalogue, staff users and the
// events that record every change. It imports only the standard library;
// storage (Redis), transport (HTTP, websockets, Twilio) and logic packages
// (intake, dispatch, volunteers) depend on it, never the other way round.
package hotline

import (
	"context"
	"strings"
	"time"
)

// Channel is how a contact reached the hotline.
type Channel string

const (
	ChannelVoice   Channel = "voice"
	ChannelSMS     Channel = "sms"
	ChannelWeb     Channel = "web"
	ChannelOpen311 Channel = "open311"
	ChannelWalkIn  Channel = "walk-in"
)

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	switch c {
	case ChannelVoice, ChannelSMS, ChannelWeb, ChannelOpen311, ChannelWalkIn:
		return true
	}
	return false
}

// Status is where a ticket stands in its lifecycle:
//
//	new → routed → accepted → in_progress → resolved → closed
//	any open status → cancelled; resolved/closed → reopened → routed …
type Status string

const (
	StatusNew        Status = "new"
	StatusRouted     Status = "routed"
	StatusAccepted   Status = "accepted"
	StatusInProgress Status = "in_progress"
	StatusResolved   Status = "resolved"
	StatusClosed     Status = "closed"
	StatusCancelled  Status = "cancelled"
	StatusReopened   Status = "reopened"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusNew, StatusRouted, StatusAccepted, StatusInProgress,
	StatusResolved, StatusClosed, StatusCancelled, StatusReopened}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, x := range Statuses {
		if s == x {
			return true
		}
	}
	return false
}

// Open reports whether work on the ticket is still expected. Open311 maps
// open statuses to "open" and the rest to "closed".
func (s Status) Open() bool {
	switch s {
	case StatusResolved, StatusClosed, StatusCancelled:
		return false
	}
	return true
}

var transitions = map[Status][]Status{
	StatusNew:        {StatusRouted, StatusAccepted, StatusCancelled},
	StatusRouted:     {StatusRouted, StatusAccepted, StatusCancelled},
	StatusAccepted:   {StatusRouted, StatusInProgress, StatusResolved, StatusCancelled},
	StatusInProgress: {StatusRouted, StatusResolved, StatusCancelled},
	StatusResolved:   {StatusClosed, StatusReopened},
	StatusClosed:     {StatusReopened},
	StatusCancelled:  {StatusReopened},
	StatusReopened:   {StatusRouted, StatusAccepted, StatusCancelled},
}

// CanTransition reports whether a ticket may move from one status to another.
// routed → routed is allowed: it is a reassignment or an escalation.
func CanTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Location is where the need is. A ticket may have a point, an address, or
// neither (then it waits in the street's intake queue to be placed by hand).
type Location struct {
	Address string  `json:"address,omitempty"`
	Lat     float64 `json:"lat,omitempty"`
	Long    float64 `json:"long,omitempty"`
	// Committee is the id of the neighbourhood committee whose area holds
	// the location, resolved by point-in-polygon or the gazetteer.
	Committee string `json:"committee,omitempty"`
}

// HasPoint reports whether the location carries coordinates. (0,0) is in
// the Gulf of Guinea, never in a Chinese street, so it means "none".
func (l Location) HasPoint() bool { return l.Lat != 0 || l.Long != 0 }

// Contact is the reporter's personal data. It is never logged in clear,
// never shown on Open311 and erased from closed tickets after retention.
type Contact struct {
	Phone     string `json:"phone,omitempty"` // E.164, e.g. +8613800138000
	FirstName string `json:"first_name,omitempty"`
	LastName  string `json:"last_name,omitempty"`
	Email     string `json:"email,omitempty"`
	// Consent is the resident's agreement to be contacted about the ticket.
	Consent bool `json:"consent"`
}

// Empty reports whether no personal data is held.
func (c Contact) Empty() bool {
	return c.Phone == "" && c.FirstName == "" && c.LastName == "" && c.Email == ""
}

// Name joins the names the way the resident gave them.
func (c Contact) Name() string {
	return strings.TrimSpace(strings.TrimSpace(c.LastName) + " " + strings.TrimSpace(c.FirstName))
}

// Ticket is one resident contact and the work done on it.
type Ticket struct {
	ID          string   `json:"id"`
	Channel     Channel  `json:"channel"`
	ServiceCode string   `json:"service_code"`
	Description string   `json:"description"`
	Location    Location `json:"location"`
	Contact     Contact  `json:"contact"`
	// Language is the resident's language: "zh" (default) or "en".
	Language string `json:"language,omitempty"`
	MediaURL string `json:"media_url,omitempty"`
	// CreatedBy is who filed it: "resident", a staff user id, "twilio".
	CreatedBy string `json:"created_by,omitempty"`
	// ExternalRef ties the ticket to its source, e.g. a Twilio CallSid.
	ExternalRef string `json:"external_ref,omitempty"`

	Status Status `json:"status"`
	// UnitID is the unit responsible now; RouteReason says why it was chosen.
	UnitID      string `json:"unit_id,omitempty"`
	RouteReason string `json:"route_reason,omitempty"`
	StatusNotes string `json:"status_notes,omitempty"`
	// MergedInto is set on a duplicate merged into another ticket.
	MergedInto string `json:"merged_into,omitempty"`

	// Tier is the tier of the responsible unit (0 while unplaced).
	Tier Tier `json:"tier,omitempty"`
	// AcceptBy and ResolveBy are the time limits in force for the
	// responsible unit; dispatch sets them when it routes the ticket.
	AcceptBy  time.Time `json:"accept_by,omitzero"`
	ResolveBy time.Time `json:"resolve_by,omitzero"`
	// Declined lists the units that declined the ticket or let its accept
	// limit pass; routing does not offer it to them again.
	Declined []string `json:"declined,omitempty"`
	// Escalations counts the moves up a tier.
	Escalations int `json:"escalations,omitempty"`
	// OverdueNoted is set once the resolve limit has passed and the
	// overdue event was recorded, so the deadline fires only once.
	OverdueNoted bool `json:"overdue_noted,omitempty"`
	// Redo marks a ticket reopened after a low satisfaction rating.
	Redo bool `json:"redo,omitempty"`

	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
	AcceptedAt time.Time `json:"accepted_at,omitzero"`
	ResolvedAt time.Time `json:"resolved_at,omitzero"`
	ClosedAt   time.Time `json:"closed_at,omitzero"`
	// ErasedAt is when the resident's personal details were last erased
	// from the finished ticket, once the retention period had passed
	// (docs/RETENTION.md); zero while they are held.
	ErasedAt time.Time `json:"erased_at,omitzero"`

	// Satisfaction is the resident's rating 1..5, 0 when not rated.
	Satisfaction int `json:"satisfaction,omitempty"`

	// Version counts the changes; each change appends exactly one event.
	Version int64 `json:"version"`
}

// NextDeadline is the time limit the ticket waits on now, zero when none:
// the accept limit while it waits for a unit to accept, the resolve limit
// while a unit works on it (until the overdue event is recorded).
func (t *Ticket) NextDeadline() time.Time {
	switch t.Status {
	case StatusNew, StatusRouted, StatusReopened:
		return t.AcceptBy
	case StatusAccepted, StatusInProgress:
		if !t.OverdueNoted {
			return t.ResolveBy
		}
	}
	return time.Time{}
}

// TicketFilter selects tickets. Zero fields do not filter.
type TicketFilter struct {
	IDs         []string
	ServiceCode string
	Statuses    []Status
	// Units restricts to tickets whose responsible unit is one of these;
	// "" among them selects tickets not yet placed in any unit.
	Units []string
	// Committee restricts to tickets located in this committee's area.
	Committee string
	From, To  time.Time // created_at in [From, To)
	Offset    int
	Limit     int // 0 means the store's default (100); capped at 1000
}

// TicketChange is one change to a ticket, applied by TicketStore.UpdateTicket.
// It mutates the ticket it is given (a fresh copy at the current version)
// and returns the event that records the change, or an error to abort. It
// may run several times when another writer gets there first, so it must
// have no effect outside the ticket; a nil event is an EINTERNAL error.
type TicketChange func(t *Ticket) (*Event, error)

// TicketStore keeps tickets and their event history.
type TicketStore interface {
	// CreateTicket assigns t.ID, t.Version=1, stores t and appends a
	// "ticket.created" event in one atomic step. With a non-empty
	// idempotencyKey, a second call with the same key stores nothing and
	// returns the first ticket with created=false.
	// Errors: EINVALID, EUNAVAILABLE, EINTERNAL.
	CreateTicket(ctx context.Context, t *Ticket, idempotencyKey string) (created bool, err error)

	// FindTicket returns a ticket by id. Errors: ENOTFOUND, EUNAVAILABLE.
	FindTicket(ctx context.Context, id string) (*Ticket, error)

	// FindTickets returns tickets matching f, newest first, and the total
	// number that matched before Offset/Limit. Errors: EUNAVAILABLE.
	FindTickets(ctx context.Context, f TicketFilter) ([]*Ticket, int, error)

	// UpdateTicket applies change to the current ticket and stores the
	// result together with the returned event atomically; it retries when
	// another writer got there first. Errors: ENOTFOUND, ECONFLICT (retries
	// exhausted), whatever change returns, EUNAVAILABLE.
	UpdateTicket(ctx context.Context, id string, change TicketChange) (*Ticket, error)

	// TicketEvents returns the ticket's full history, oldest first.
	// Errors: ENOTFOUND, EUNAVAILABLE.
	TicketEvents(ctx context.Context, id string) ([]*Event, error)
}
