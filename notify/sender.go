// Package notify sends the hotline's text messages: the Sender takes
// messages from the durable outbox and hands them to Twilio's REST API;
// the Notifier turns ticket events from the feed into messages to the
// resident (accepted, resolved, a rating request) in the outbox.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/twilio/twilio-go/client"
	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// MessageCreator is the part of twilio-go's REST client the Sender uses:
// (*twilio.RestClient).Api satisfies it.
type MessageCreator interface {
	CreateMessage(params *openapi.CreateMessageParams) (*openapi.ApiV2010Message, error)
}

// Twilio error codes the Sender acts on.
const (
	// CodeUnsubscribed (21610): the recipient replied STOP to our number;
	// Twilio refuses every message to it until they reply START.
	CodeUnsubscribed = 21610
	// Credentials twilio-go refuses before sending (letters and digits
	// only): a configuration mistake, not the message's fault.
	codeBadUsername = 21222
	codeBadPassword = 21224
)

// configCodes are Twilio's refusals that blame the sender settings (From
// missing, not a number of the account, not SMS-capable), not the
// message: retried like an outage, and logged as errors, so that fixing
// the settings lets the waiting messages go.
var configCodes = map[int]bool{
	codeBadUsername: true, codeBadPassword: true,
	21212: true, // invalid From number
	21603: true, // From (or MessagingServiceSid) required
	21606: true, // From is not an SMS-capable number of the account
	21659: true, // From is not a Twilio number
}

// Defaults of SenderConfig.
const (
	DefaultLease        = 30 * time.Second
	DefaultBatch        = 20
	DefaultPollInterval = time.Second
	DefaultBackoffMin   = 30 * time.Second
	DefaultBackoffMax   = 30 * time.Minute
	// DefaultMaxAttempts: with 30 s doubling to a 30 min ceiling, the
	// eighth failure comes after about 1 h 30 min of trying (30 s + 1 + 2 +
	// 4 + 8 + 16 + 30 min, plus jitter).
	DefaultMaxAttempts = 8
	// sendWorkers is how many messages of a batch go to Twilio at once.
	sendWorkers = 4
	// sendBudget is how long one send may take at most: twilio-go's HTTP
	// timeout (10 s) plus margin. A message whose lease has less than
	// this left is not sent but left to come back after its lease, so
	// that no second sender ever claims it while it is still in flight.
	sendBudget = 15 * time.Second
)

// StatusCallbackPath is where Twilio's message status callbacks arrive
// (handled by package phone).
const StatusCallbackPath = "/twilio/status"

// StatusCallbackURL is the status callback for a deployment reachable at
// publicURL (the [twilio] public_url setting), e.g.
// "https://hotline.example.org" → "https://hotline.example.org/twilio/status".
func StatusCallbackURL(publicURL string) string {
	if publicURL == "" {
		return ""
	}
	return strings.TrimRight(publicURL, "/") + StatusCallbackPath
}

// SenderConfig sets up a Sender.
type SenderConfig struct {
	// From is the sending number (E.164); MessagingServiceSID, when set,
	// is sent instead and Twilio picks the number from the service.
	From                string
	MessagingServiceSID string
	// StatusCallback is the URL Twilio posts delivery reports to
	// (StatusCallbackURL(public_url)); empty for none.
	StatusCallback string
	// Lease is how long a claimed message stays hidden from other
	// senders (0, and at least: 30 s); Batch the most messages claimed at once (0: 20);
	// PollInterval the pause when the outbox had nothing due (0: 1 s).
	Lease        time.Duration
	Batch        int
	PollInterval time.Duration
	// BackoffMin and BackoffMax bound the wait before a retry: BackoffMin
	// after the first failure, doubling up to BackoffMax, plus up to a
	// quarter of jitter (0: 30 s and 30 min). MaxAttempts failed attempts
	// end the message as failed (0: 8).
	BackoffMin  time.Duration
	BackoffMax  time.Duration
	MaxAttempts int
	// Logger receives what happened to each message (id, kind, sid,
	// Twilio's error code; never the number or body). Nil:
	// slog.Default().
	Logger *slog.Logger
}

// Sender sends the outbox's due messages through Twilio. Any number of
// Senders (one per replica) may run on one outbox: a claim is a lease, and
// a message is marked sent as soon as Twilio accepted it, so in normal
// operation each message is sent once. (A send whose answer is lost, e.g.
// a timeout after Twilio accepted it, is retried and may arrive twice:
// delivery is at least once.)
type Sender struct {
	outbox  hotline.Outbox
	optOuts hotline.OptOuts
	api     MessageCreator
	cfg     SenderConfig
	log     *slog.Logger
	// now is the clock, replaced in tests.
	now func() time.Time
}

// NewSender returns a sender of outbox's messages through api (a
// twilio-go client's Api), skipping numbers in optOuts.
func NewSender(outbox hotline.Outbox, optOuts hotline.OptOuts, api MessageCreator, cfg SenderConfig) *Sender {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	// Sends start only in the lease's first part (see sendBudget): a lease
	// shorter than twice the budget would leave too little of it.
	cfg.Lease = max(cfg.Lease, 2*sendBudget)
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = DefaultBackoffMax
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Sender{outbox: outbox, optOuts: optOuts, api: api, cfg: cfg, log: log, now: time.Now}
}

// Run sends due messages until ctx ends, then returns nil once the sends
// in flight are recorded. It polls every PollInterval while the outbox
// has nothing due and goes on at once after a full batch.
func (s *Sender) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if n := s.RunOnce(ctx); n >= s.cfg.Batch {
			continue
		}
		t := time.NewTimer(s.cfg.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
	return nil
}

// RunOnce claims one batch of due messages and handles each (sends it,
// suppresses it, schedules its retry or ends it as failed). It returns how
// many it claimed; a failed claim is logged and counts 0.
func (s *Sender) RunOnce(ctx context.Context) int {
	claimed := s.now()
	msgs, err := s.outbox.Claim(ctx, claimed, s.cfg.Lease, s.cfg.Batch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("notify: cannot claim messages", "err", err)
		}
		return 0
	}
	// Past this, a send could still be in flight when the lease ends.
	latest := claimed.Add(s.cfg.Lease - sendBudget)
	work := make(chan *hotline.OutboundMessage)
	var wg sync.WaitGroup
	for range min(sendWorkers, len(msgs)) {
		wg.Go(func() {
			for m := range work {
				s.handle(ctx, m, latest)
			}
		})
	}
	for _, m := range msgs {
		work <- m
	}
	close(work)
	wg.Wait()
	return len(msgs)
}

// handle decides one claimed message. Its records use a context that
// outlives ctx: a message Twilio accepted must be marked sent even when
// the sender is shutting down, or it would be sent again.
func (s *Sender) handle(ctx context.Context, m *hotline.OutboundMessage, latest time.Time) {
	if ctx.Err() != nil || s.now().After(latest) {
		return // left leased: it comes due again when the lease ends
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	log := s.log.With("message", m.ID, "kind", m.Kind, "ticket", m.TicketID)

	out, err := s.optOuts.OptedOut(ctx, m.To)
	if err != nil {
		log.Warn("notify: cannot check the opt-out list; the message waits for its lease", "err", err)
		return
	}
	if out {
		s.record(log, "finish", s.outbox.Finish(rctx, m.ID, hotline.MessageSuppressed, "the number opted out"))
		log.Info("notify: suppressed, the number opted out")
		return
	}

	p := &openapi.CreateMessageParams{}
	p.SetTo(m.To)
	p.SetBody(m.Body)
	if s.cfg.MessagingServiceSID != "" {
		p.SetMessagingServiceSid(s.cfg.MessagingServiceSID)
	} else {
		p.SetFrom(s.cfg.From)
	}
	if s.cfg.StatusCallback != "" {
		p.SetStatusCallback(s.cfg.StatusCallback)
	}
	res, err := s.api.CreateMessage(p)
	if err == nil && (res == nil || res.Sid == nil || *res.Sid == "") {
		err = errors.New("twilio accepted the message without a sid")
	}
	if err == nil {
		s.markSent(rctx, log, m.ID, *res.Sid)
		return
	}

	var rest *client.TwilioRestError
	if errors.As(err, &rest) && !retryable(rest) {
		reason := fmt.Sprintf("twilio %d: %s", rest.Code, rest.Message)
		if rest.Code == CodeUnsubscribed {
			// Twilio knows the number sent STOP; so should we, so that
			// later messages are suppressed without asking it.
			s.record(log, "opt out", s.optOuts.OptOut(rctx, m.To))
		}
		s.record(log, "finish", s.outbox.Finish(rctx, m.ID, hotline.MessageFailed, reason))
		log.Warn("notify: refused by twilio", "code", rest.Code, "status", rest.Status)
		return
	}
	reason := errorReason(err)
	attempt := m.Attempts + 1
	if attempt >= s.cfg.MaxAttempts {
		s.record(log, "finish", s.outbox.Finish(rctx, m.ID, hotline.MessageFailed,
			fmt.Sprintf("gave up after %d attempts: %s", attempt, reason)))
		log.Error("notify: gave up", "attempts", attempt, "err", reason)
		return
	}
	at := s.now().Add(s.backoff(attempt))
	s.record(log, "retry", s.outbox.Retry(rctx, m.ID, at, reason))
	lvl := slog.LevelWarn
	if rest != nil && (rest.Status == 401 || rest.Status == 403 || configCodes[rest.Code]) {
		lvl = slog.LevelError // no message will go until the account settings are fixed
	}
	log.Log(ctx, lvl, "notify: send failed, will retry", "attempt", attempt, "at", at, "err", reason)
}

// markSent records Twilio's acceptance, trying a few times: a message
// sent but not marked would be sent again after its lease.
func (s *Sender) markSent(ctx context.Context, log *slog.Logger, id, sid string) {
	var err error
	for i := range 4 {
		if err = s.outbox.MarkSent(ctx, id, sid); err == nil || hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
			break
		}
		time.Sleep(time.Duration(100<<i) * time.Millisecond)
	}
	if err != nil {
		log.Error("notify: sent but not marked; it may be sent again", "sid", sid, "err", err)
		return
	}
	log.Info("notify: sent", "sid", sid)
}

func (s *Sender) record(log *slog.Logger, what string, err error) {
	if err != nil {
		log.Warn("notify: cannot record "+what, "err", err)
	}
}

// backoff is the wait before attempt+1 after attempt failures (from 1):
// BackoffMin doubling up to BackoffMax, plus up to a quarter of jitter so
// that messages failed together do not return together.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffMax
	if attempt-1 < 30 {
		d = min(s.cfg.BackoffMin<<(attempt-1), s.cfg.BackoffMax)
	}
	return d + rand.N(d/4+1)
}

// retryable says whether Twilio's refusal may pass by itself: rate
// limiting, its own failures, and account-level problems (credentials,
// sender settings) that an operator fixes without the message being at
// fault. Any other
// 4xx is about the message (invalid or unsubscribed number, body) and
// would fail again.
func retryable(e *client.TwilioRestError) bool {
	switch {
	case e.Status == 429 || e.Status >= 500:
		return true
	case e.Status == 401 || e.Status == 403:
		return true
	}
	return configCodes[e.Code]
}

// errorReason is a short reason for the outbox record, without the body
// or number.
func errorReason(err error) string {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		return "twilio " + strconv.Itoa(rest.Status) + "/" + strconv.Itoa(rest.Code) + ": " + rest.Message
	}
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
