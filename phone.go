package hotline

import (
	"context"
	"time"
)

// The phone line: calls and text messages through Twilio (package phone),
// resident notifications through a durable outbox, opt-outs and the short
// conversation state of calls and SMS exchanges. The Redis implementations
// are in redisstore.

// MessageStatus is where an outgoing SMS stands. The first three are the
// outbox's own; the rest are Twilio's (from the REST answer and the status
// callback).
type MessageStatus string

const (
	MessageQueued      MessageStatus = "queued"      // waiting in the outbox (also between retries)
	MessageSuppressed  MessageStatus = "suppressed"  // not sent: the number opted out
	MessageFailed      MessageStatus = "failed"      // given up: refused by Twilio or out of attempts
	MessageSent        MessageStatus = "sent"        // accepted by Twilio
	MessageDelivered   MessageStatus = "delivered"   // the handset has it (status callback)
	MessageUndelivered MessageStatus = "undelivered" // the carrier could not deliver it (status callback)
)

// Final reports whether the outbox is done with a message in this status.
func (s MessageStatus) Final() bool {
	return s != MessageQueued
}

// OutboundMessage is one SMS to a resident (or a volunteer), kept in the
// outbox from the moment it is decided until Twilio reports its delivery.
type OutboundMessage struct {
	ID string `json:"id"`
	// Key makes enqueueing idempotent: a second message with the same key
	// is not stored (e.g. "ticket:160035:v4:accepted").
	Key      string `json:"key"`
	To       string `json:"to"` // E.164
	Body     string `json:"body"`
	TicketID string `json:"ticket_id,omitempty"`
	// Kind says why it is sent: "ticket_number", "accepted", "resolved",
	// "rating_request", "reply", "status", "volunteer_task".
	Kind   string        `json:"kind"`
	Status MessageStatus `json:"status"`
	// Attempts counts the sends tried; NextAt is when the next may go.
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at,omitzero"`
	// SID is Twilio's MessageSid once Twilio accepted the message.
	SID       string    `json:"sid,omitempty"`
	Error     string    `json:"error,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Outbox keeps outgoing messages durably until they are sent, and records
// what became of them. Every replica sends from the same outbox; a claim
// is a lease, so a message is sent by one replica at a time and one whose
// sender died is sent again after the lease.
type Outbox interface {
	// Enqueue stores m (ID, Status queued, CreatedAt, NextAt now when
	// zero) unless a message with m.Key was stored before, in which case
	// m is set to that one and created is false.
	// Errors: EINVALID (no To, Body or Key), EUNAVAILABLE.
	Enqueue(ctx context.Context, m *OutboundMessage) (created bool, err error)
	// Claim leases up to n queued messages whose NextAt is at or before
	// now, until now+lease, earliest first.
	Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*OutboundMessage, error)
	// MarkSent records Twilio's acceptance (status sent, sid) and ends the lease.
	MarkSent(ctx context.Context, id, sid string) error
	// Retry puts a message back for another attempt at at, with why the
	// last one failed; Attempts goes up by one.
	Retry(ctx context.Context, id string, at time.Time, reason string) error
	// Finish ends a message that will not be sent (suppressed or failed).
	Finish(ctx context.Context, id string, status MessageStatus, reason string) error
	// RecordStatus records a status callback for the message Twilio knows
	// as sid. Errors: ENOTFOUND for an unknown sid.
	RecordStatus(ctx context.Context, sid string, status MessageStatus, errorCode string) error
	// FindMessage returns one message. Errors: ENOTFOUND.
	FindMessage(ctx context.Context, id string) (*OutboundMessage, error)
	// MessagesTo lists the latest messages to a number, newest first.
	MessagesTo(ctx context.Context, phone string, limit int) ([]*OutboundMessage, error)
}

// OptOuts records the numbers that asked for no more messages (STOP, 退订).
type OptOuts interface {
	OptOut(ctx context.Context, phone string) error
	OptIn(ctx context.Context, phone string) error
	OptedOut(ctx context.Context, phone string) (bool, error)
}

// PhoneSessions keeps the short-lived state of calls and SMS conversations
// (an IVR call by its CallSid, an SMS exchange by the resident's number)
// and the answers already given to Twilio's webhooks, so that a retried
// webhook gets the same answer and changes nothing.
type PhoneSessions interface {
	// Load decodes the JSON stored under key into v; false when there is none.
	Load(ctx context.Context, key string, v any) (bool, error)
	// Save stores v as JSON under key for ttl.
	Save(ctx context.Context, key string, v any, ttl time.Duration) error
	// Delete forgets key.
	Delete(ctx context.Context, key string) error
	// Remember stores reply under key unless one is stored already, and
	// returns the stored reply and whether it is this one: the first
	// answer to a webhook is the answer to all its retries.
	Remember(ctx context.Context, key string, reply []byte, ttl time.Duration) (stored []byte, first bool, err error)
}
