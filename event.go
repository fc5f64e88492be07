package hotline

import "time"

// Event types. A board message's "type" is one of these.
const (
	EventTicketCreated   = "ticket.created"
	EventTicketRouted    = "ticket.routed"
	EventTicketAccepted  = "ticket.accepted"
	EventTicketDeclined  = "ticket.declined"
	EventTicketEscalated = "ticket.escalated"
	EventTicketStarted   = "ticket.in_progress"
	EventTicketResolved  = "ticket.resolved"
	EventTicketClosed    = "ticket.closed"
	EventTicketCancelled = "ticket.cancelled"
	EventTicketReopened  = "ticket.reopened"
	EventTicketNoted     = "ticket.noted"
	// EventTicketAsked is a question a unit sent the resident by SMS; the
	// resident's reply comes back as a note.
	EventTicketAsked   = "ticket.asked"
	EventTicketMerged  = "ticket.merged"
	EventTicketUpdated = "ticket.updated"
	EventTicketRated   = "ticket.rated"
	EventTicketOverdue = "ticket.overdue"
	// EventTicketErased records that the resident's personal details were
	// erased from a finished ticket after the retention period, and from
	// its history's notes (docs/RETENTION.md).
	EventTicketErased = "ticket.erased"
)

// Event records one change to a ticket. Events are appended to the ticket's
// stream in the same atomic step as the change, so the stream replays exactly
// what happened.
type Event struct {
	// Position is the event's place in the stream it was read from (a
	// Redis stream id), set by the store when it is read back: the ticket's
	// own stream for TicketEvents, the partition feed for the live board.
	Position string    `json:"position,omitempty"`
	Type     string    `json:"type"`
	TicketID string    `json:"ticket_id"`
	At       time.Time `json:"at"`
	// Actor is who made the change: a user id, "resident", "system", or a
	// channel such as "twilio".
	Actor string `json:"actor"`
	// Version is the ticket's version after the change.
	Version int64  `json:"version"`
	Status  Status `json:"status,omitempty"`
	UnitID  string `json:"unit_id,omitempty"`
	// FromUnitID is the previous responsible unit on routing changes.
	FromUnitID string `json:"from_unit_id,omitempty"`
	Note       string `json:"note,omitempty"`
}
