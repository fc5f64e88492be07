package notify

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/caojiadu/hotline"
)

// Kinds of the messages the Notifier enqueues (hotline.OutboundMessage.Kind).
const (
	KindAccepted      = "accepted"
	KindResolved      = "resolved"
	KindRatingRequest = "rating_request"
	KindQuestion      = "question"
)

const (
	// RatingWait is how long a resident's reply counts as the rating asked
	// for (the sms:rating session's TTL).
	RatingWait = 7 * 24 * time.Hour
	// ReplyWait is how long a resident's messages count as the reply to a
	// unit's question (the sms:reply session's TTL).
	ReplyWait = 3 * 24 * time.Hour
	// DefaultMaxAge is how old an event may be and still be told: an
	// "accepted" text days late (a consumer group created again, a long
	// outage) confuses more than it helps.
	DefaultMaxAge = 24 * time.Hour
	// ratingDelay puts the rating request after the resolved message in
	// the outbox, so that the resident reads them in that order.
	ratingDelay = 10 * time.Second
)

// TicketFinder is the part of hotline.TicketStore the Notifier reads.
type TicketFinder interface {
	// FindTicket returns a ticket by id. Errors: ENOTFOUND, EUNAVAILABLE.
	FindTicket(ctx context.Context, id string) (*hotline.Ticket, error)
}

// AwaitingRating is what the Notifier stores in hotline.PhoneSessions
// under RatingKey(phone) when it asks the resident for a rating: the SMS
// webhook reads it to take the next "1".."5" reply as the rating of
// TicketID, answering in Language.
type AwaitingRating struct {
	TicketID string `json:"ticket_id"`
	Language string `json:"language"` // "zh" or "en"
	// RequestedAt is when the ticket was resolved; an older request never
	// replaces a newer one.
	RequestedAt time.Time `json:"requested_at"`
}

// RatingKey is the PhoneSessions key of the rating a number is asked for:
// "sms:rating:" and the number in E.164, e.g. "sms:rating:+8613800138000".
func RatingKey(phone string) string { return "sms:rating:" + phone }

// AwaitingReply is what the Notifier stores under ReplyKey(phone) when a
// unit asks the resident a question (ticket.asked): the SMS webhook adds
// the number's next messages to TicketID as notes.
type AwaitingReply struct {
	TicketID string `json:"ticket_id"`
	Language string `json:"language"`
	// AskedAt is when the question was asked; an older question never
	// replaces a newer one.
	AskedAt time.Time `json:"asked_at"`
}

// ReplyKey is the PhoneSessions key of the question a number is asked:
// "sms:reply:" and the number in E.164.
func ReplyKey(phone string) string { return "sms:reply:" + phone }

// MessageKey is the outbox key of the message of kind about version of
// ticket id, e.g. "ticket:1600356:v4:accepted": one message per change,
// however many replicas handle the event and however often it is replayed.
func MessageKey(ticketID string, version int64, kind string) string {
	return "ticket:" + ticketID + ":v" + strconv.FormatInt(version, 10) + ":" + kind
}

// Notifier turns ticket events into text messages to the resident, in the
// outbox: when a unit accepts the ticket, and when it is resolved (what
// was done, then a request to rate it 1-5). Only tickets with a phone
// number and the resident's consent get messages; the text holds the
// ticket number and nothing else personal.
//
// Staff notes (ticket.noted) are internal and not told; a unit that needs
// the resident's answer asks (ticket.asked): the question is texted and
// the resident's reply comes back to the ticket (ReplyKey).
type Notifier struct {
	tickets  TicketFinder
	outbox   hotline.Outbox
	sessions hotline.PhoneSessions
	// MaxAge is how old an event may be and still be told (0:
	// DefaultMaxAge).
	MaxAge time.Duration
	// Logger receives what was enqueued (ticket, kind, message id; never
	// the number). Nil: slog.Default().
	Logger *slog.Logger
	// now is the clock, replaced in tests.
	now func() time.Time
}

// NewNotifier returns a notifier that reads tickets from tickets, enqueues
// into outbox and records awaited ratings in sessions.
func NewNotifier(tickets TicketFinder, outbox hotline.Outbox, sessions hotline.PhoneSessions) *Notifier {
	return &Notifier{tickets: tickets, outbox: outbox, sessions: sessions, now: time.Now}
}

func (n *Notifier) logger() *slog.Logger {
	if n.Logger != nil {
		return n.Logger
	}
	return slog.Default()
}

// Handler returns Handle bound to ctx, in the shape a feed consumer
// takes: feed.Consume(ctx, "notify", consumer, n.Handler(ctx)).
func (n *Notifier) Handler(ctx context.Context) func(hotline.FeedEvent) error {
	return func(e hotline.FeedEvent) error { return n.Handle(ctx, e) }
}

// Handle enqueues the messages event e calls for. It is idempotent: every
// message has a key made of the ticket, the version the event produced
// and the kind. It returns an error only when the event should be handled
// again (the store was unavailable); anything else is logged and dropped.
func (n *Notifier) Handle(ctx context.Context, e hotline.FeedEvent) error {
	ev := e.Event
	if ev == nil || (ev.Type != hotline.EventTicketAccepted && ev.Type != hotline.EventTicketResolved && ev.Type != hotline.EventTicketAsked) {
		return nil
	}
	maxAge := n.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if !ev.At.IsZero() && n.now().Sub(ev.At) > maxAge {
		n.logger().Info("notify: event too old to tell", "ticket", ev.TicketID, "type", ev.Type, "at", ev.At)
		return nil
	}
	t, err := n.tickets.FindTicket(ctx, ev.TicketID)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil
	}
	if err != nil {
		return err
	}
	// The ticket as it stands now decides whether to write at all: a
	// resident who withdrew consent since gets nothing.
	if t.Contact.Phone == "" || !t.Contact.Consent {
		return nil
	}
	lang := Language(t.Language)
	switch ev.Type {
	case hotline.EventTicketAccepted:
		return n.enqueue(ctx, t, ev, KindAccepted, AcceptedText(lang, t.ID), time.Time{})
	case hotline.EventTicketAsked:
		if err := n.awaitReply(ctx, t, ev, lang); err != nil {
			return err
		}
		return n.enqueue(ctx, t, ev, KindQuestion, QuestionText(lang, t.ID, ev.Note), time.Time{})
	case hotline.EventTicketResolved:
		if err := n.enqueue(ctx, t, ev, KindResolved, ResolvedText(lang, t.ID, ev.Note), time.Time{}); err != nil {
			return err
		}
		if t.Satisfaction > 0 {
			return nil // rated already (a replay after the reply)
		}
		if err := n.awaitRating(ctx, t, ev, lang); err != nil {
			return err
		}
		return n.enqueue(ctx, t, ev, KindRatingRequest, RatingRequestText(lang, t.ID), n.now().Add(ratingDelay))
	}
	return nil
}

func (n *Notifier) enqueue(ctx context.Context, t *hotline.Ticket, ev *hotline.Event, kind, body string, at time.Time) error {
	m := &hotline.OutboundMessage{
		Key: MessageKey(t.ID, ev.Version, kind), To: t.Contact.Phone, Body: body,
		TicketID: t.ID, Kind: kind, NextAt: at,
	}
	created, err := n.outbox.Enqueue(ctx, m)
	if err != nil {
		if hotline.ErrorCode(err) == hotline.EUNAVAILABLE {
			return err
		}
		n.logger().Error("notify: cannot enqueue", "ticket", t.ID, "kind", kind, "err", err)
		return nil
	}
	if created {
		n.logger().Info("notify: enqueued", "ticket", t.ID, "kind", kind, "message", m.ID)
	}
	return nil
}

// awaitRating records that the ticket's number is asked for a rating,
// unless a later request for that number is recorded already.
func (n *Notifier) awaitRating(ctx context.Context, t *hotline.Ticket, ev *hotline.Event, lang string) error {
	at := ev.At
	if at.IsZero() {
		at = n.now()
	}
	ttl := RatingWait - n.now().Sub(at)
	if ttl <= 0 {
		return nil
	}
	key := RatingKey(t.Contact.Phone)
	var cur AwaitingRating
	found, err := n.sessions.Load(ctx, key, &cur)
	if err != nil {
		return err
	}
	if found && cur.TicketID != t.ID && cur.RequestedAt.After(at) {
		return nil
	}
	return n.sessions.Save(ctx, key, AwaitingRating{TicketID: t.ID, Language: lang, RequestedAt: at}, ttl)
}

// awaitReply records that the number's next messages answer the question
// of ticket t, unless a later question to that number is recorded already.
func (n *Notifier) awaitReply(ctx context.Context, t *hotline.Ticket, ev *hotline.Event, lang string) error {
	at := ev.At
	if at.IsZero() {
		at = n.now()
	}
	ttl := ReplyWait - n.now().Sub(at)
	if ttl <= 0 {
		return nil
	}
	key := ReplyKey(t.Contact.Phone)
	var cur AwaitingReply
	found, err := n.sessions.Load(ctx, key, &cur)
	if err != nil {
		return err
	}
	if found && cur.TicketID != t.ID && cur.AskedAt.After(at) {
		return nil
	}
	return n.sessions.Save(ctx, key, AwaitingReply{TicketID: t.ID, Language: lang, AskedAt: at}, ttl)
}
