// Package phone serves the Twilio webhooks of the hotline's phone line:
// calls through a Mandarin/English voice menu (IVR) and two-way SMS. Each
// webhook is checked against its X-Twilio-Signature, answered in TwiML built
// with twilio-go's twiml package, and turned into tickets through
// intake.Service.Submit, so calls and messages are validated, placed and
// stored exactly like every other channel.
//
// # Mounting
//
//	line, err := phone.New(phone.Config{AuthToken: tok, PublicURL: "https://hotline.example.cn",
//		FromNumber: "+8621...", Hours: "daily 08:00-20:00"}, phone.Deps{...})
//	line.Register(mux) // POST /twilio/voice, /twilio/sms, /twilio/status, /twilio/recording
//
// PublicURL is the scheme and host (and any path prefix a proxy strips)
// under which Twilio reaches the hotline. A request's signature is checked
// against PublicURL + the request's path and query, never against r.Host;
// every action URL the line hands to Twilio is built from PublicURL too.
//
// # Webhooks (all POST, application/x-www-form-urlencoded, signed)
//
//	/twilio/voice                      the number's "a call comes in" webhook
//	/twilio/voice?step=STEP&lang=L&try=N  every IVR step; the line writes these URLs itself
//	/twilio/sms                        the number's "a message comes in" webhook
//	/twilio/status                     call status callbacks and SMS status callbacks
//	/twilio/recording                  the <Record> recording status callback
//
// Voice steps, in call order (lang is zh or en; try counts re-asks from 1):
//
//	(none) or start  the call arrives: greeting, emergencies to 110/120/119, "press 9 for English"
//	menu       Digits from the greeting (9 = English); asks for the category, or, outside
//	           opening hours, says so and asks for the description
//	category   Digits (1..N, # ends) or SpeechResult naming a category; asks for the
//	           committee unless the caller's number has one on record
//	committee  Digits (the committee's number 1..M in network order, # ends; 0 = don't know)
//	           or SpeechResult with an address placed by the gazetteer
//	describe   SpeechResult: the description; asks for a recording
//	record     the <Record> action (RecordingUrl, RecordingDuration): files the ticket,
//	           reads its number twice, sends it by SMS, hangs up
//
// Form fields read: AccountSid, CallSid, From, To, CallStatus, Direction,
// Digits, SpeechResult, Confidence (voice); MessageSid, From, To, Body,
// NumMedia, MediaUrl0 (SMS); CallSid, CallStatus, CallDuration or MessageSid,
// MessageStatus, ErrorCode (status); CallSid, RecordingSid, RecordingUrl,
// RecordingStatus, RecordingDuration (recording). Sign computes the signature
// a test or the simulator must send. docs/phone.md has the full description.
package phone

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/twilio/twilio-go/client"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/dispatch"
	"github.com/caojiadu/hotline/intake"
)

// The paths the line serves.
const (
	PathVoice     = "/twilio/voice"
	PathSMS       = "/twilio/sms"
	PathStatus    = "/twilio/status"
	PathRecording = "/twilio/recording"
)

// MaxBody bounds a webhook's form body. Twilio's largest (an SMS of 1600
// characters with ten media URLs and every field) is far below it.
const MaxBody = 64 << 10

// Actor is the actor of every ticket and change made by the phone line.
const Actor = "twilio"

// Defaults of Config's zero fields.
const (
	DefaultCallbackCategory = "callback"
	DefaultGeneralCategory  = "other"
	DefaultCallTTL          = 2 * time.Hour
	DefaultSMSTTL           = 24 * time.Hour
	// DefaultCallerTTL keeps the committee of a number for a bit more
	// than a year: residents call again with the same need each season.
	DefaultCallerTTL    = 400 * 24 * time.Hour
	DefaultMaxRecording = 120 * time.Second
	// replyTTL keeps the first answer to a webhook for its retries.
	replyTTL = 24 * time.Hour
	// callTicketTTL keeps "this call made that ticket" long after the
	// call's state is gone, for late recording and status callbacks.
	callTicketTTL = 7 * 24 * time.Hour
)

// Config is the line's plain configuration (the caller reads files and
// environment; the line reads none).
type Config struct {
	// AuthToken is the Twilio auth token that signs webhooks.
	AuthToken string
	// PublicURL is where Twilio reaches the hotline, e.g.
	// "https://hotline.example.cn"; a trailing slash is dropped.
	PublicURL string
	// FromNumber is the line's own number (E.164); messages from it are ignored.
	FromNumber string
	// Hours is when the line is staffed, dispatch.ParseHours syntax in
	// Shanghai time ("daily 08:00-20:00"); empty means always.
	Hours string
	// CallbackCategory files missed and unfinished calls (default
	// "callback"); GeneralCategory takes what no keyword places (default
	// "other"). Both must be in the catalogue when used; a missing
	// callback category falls back to the general one.
	CallbackCategory string
	GeneralCategory  string
	// VoiceZH and VoiceEN choose Twilio's text-to-speech voices
	// (e.g. "Polly.Zhiyu"); empty leaves Twilio's default for the language.
	VoiceZH, VoiceEN string
	// CallTTL, SMSTTL and CallerTTL are how long a call's menu state, an
	// SMS conversation and a number's committee are kept.
	CallTTL, SMSTTL, CallerTTL time.Duration
	// MaxRecording bounds a voice message.
	MaxRecording time.Duration
}

// Rater records a resident's satisfaction rating (dispatch.Service.Rate):
// score 1..5, and a score of 2 or less reopens the ticket as a redo ticket.
type Rater interface {
	Rate(ctx context.Context, id string, score int, comment, actor string) (*hotline.Ticket, error)
}

// Tasks takes a volunteer's answer to a task offer by SMS
// (volunteers.Tasker.HandleSMS): handled is false when the message is not
// one, and the line goes on with it as usual; reply is the text to answer
// with. It must be idempotent: a retried webhook may ask again.
type Tasks interface {
	HandleSMS(ctx context.Context, from, body string) (reply string, handled bool, err error)
}

// Deps are the services the line works with.
type Deps struct {
	Intake    *intake.Service
	Tickets   hotline.TicketStore
	Directory hotline.Directory
	Outbox    hotline.Outbox
	OptOuts   hotline.OptOuts
	Sessions  hotline.PhoneSessions
	// Rater takes SMS ratings; without it a rating reply is kept as a note.
	Rater Rater
	// Tasks, when set, answers volunteers' replies to task offers
	// (volunteers.Tasker): it is asked about every message after STOP and
	// START and before ratings, conversations and new needs.
	Tasks Tasks
	// Journal, when set, records on the local disk the calls and messages
	// that come while the store cannot be reached, and RunJournal files
	// them when it answers again (journal.go). Without it such a caller
	// only hears an apology.
	Journal *Journal
	Logger  *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Line serves the Twilio webhooks. Build it with New; it is safe for
// concurrent use.
type Line struct {
	cfg       Config
	hours     *dispatch.Hours
	validator client.RequestValidator
	d         Deps
	log       *slog.Logger
}

// New checks the configuration and returns a Line.
// Errors: EINVALID naming the missing or bad setting.
func New(cfg Config, d Deps) (*Line, error) {
	cfg.PublicURL = strings.TrimRight(strings.TrimSpace(cfg.PublicURL), "/")
	if cfg.AuthToken == "" {
		return nil, hotline.Errorf(hotline.EINVALID, "phone: the Twilio auth token is required to check webhook signatures")
	}
	if u, err := url.Parse(cfg.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, hotline.Errorf(hotline.EINVALID, "phone: public URL %q: give the scheme and host Twilio calls, like https://hotline.example.cn", cfg.PublicURL)
	}
	hours, err := dispatch.ParseHours(cfg.Hours)
	if err != nil {
		return nil, err
	}
	if d.Intake == nil || d.Tickets == nil || d.Directory == nil || d.Outbox == nil || d.OptOuts == nil || d.Sessions == nil {
		return nil, hotline.Errorf(hotline.EINVALID, "phone: Intake, Tickets, Directory, Outbox, OptOuts and Sessions are required")
	}
	if cfg.CallbackCategory == "" {
		cfg.CallbackCategory = DefaultCallbackCategory
	}
	if cfg.GeneralCategory == "" {
		cfg.GeneralCategory = DefaultGeneralCategory
	}
	if cfg.CallTTL <= 0 {
		cfg.CallTTL = DefaultCallTTL
	}
	if cfg.SMSTTL <= 0 {
		cfg.SMSTTL = DefaultSMSTTL
	}
	if cfg.CallerTTL <= 0 {
		cfg.CallerTTL = DefaultCallerTTL
	}
	if cfg.MaxRecording <= 0 {
		cfg.MaxRecording = DefaultMaxRecording
	}
	log := d.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Line{cfg: cfg, hours: hours, validator: client.NewRequestValidator(cfg.AuthToken), d: d, log: log}, nil
}

// Register adds the four webhooks to mux.
func (l *Line) Register(mux *http.ServeMux) {
	mux.Handle("POST "+PathVoice, l.webhook(l.handleVoice))
	mux.Handle("POST "+PathSMS, l.webhook(l.handleSMS))
	mux.Handle("POST "+PathStatus, l.webhook(l.handleStatus))
	mux.Handle("POST "+PathRecording, l.webhook(l.handleRecording))
}

// Handler returns a handler serving only the four webhooks.
func (l *Line) Handler() http.Handler {
	mux := http.NewServeMux()
	l.Register(mux)
	return mux
}

// Sign returns the X-Twilio-Signature Twilio sends with a POST of form to
// fullURL (the exact URL configured or handed to Twilio, query included):
// base64(HMAC-SHA1(authToken, fullURL + every key and its value, keys in
// byte order)). Like twilio-go's validator it uses the first value of a
// repeated key; Twilio never repeats one.
func Sign(authToken, fullURL string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		b.WriteString(k)
		if v := form[k]; len(v) > 0 {
			b.WriteString(v[0])
		}
	}
	h := hmac.New(sha1.New, []byte(authToken))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// reply is a handler's answer: TwiML, or nothing (204).
type reply struct {
	xml []byte
}

// webhookFunc handles one verified webhook. A *hotline.Error with code
// EINVALID answers 400 with its message; other errors are the handler's
// to turn into TwiML (they reach here only as 500s).
type webhookFunc func(ctx context.Context, r *http.Request, form url.Values) (reply, error)

// webhook reads and verifies the form, then runs h.
func (l *Line) webhook(h webhookFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		form, status, msg := l.readForm(w, r)
		if status != 0 {
			http.Error(w, msg, status)
			return
		}
		rep, err := h(r.Context(), r, form)
		if err != nil {
			code := hotline.ErrorCode(err)
			if code == hotline.EINTERNAL || code == hotline.EUNAVAILABLE {
				l.log.Error("phone webhook failed", "path", r.URL.Path, "err", err)
			}
			http.Error(w, hotline.ErrorMessage(err), hotline.HTTPStatus(code))
			return
		}
		if rep.xml == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(rep.xml)
	})
}

// readForm reads the body (bounded), parses it as a form and checks its
// signature. A non-zero status is the refusal to send.
func (l *Line) readForm(w http.ResponseWriter, r *http.Request) (url.Values, int, string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, http.StatusUnsupportedMediaType, "send the webhook as application/x-www-form-urlencoded, as Twilio does"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("the form is larger than %d bytes", MaxBody)
		}
		return nil, http.StatusBadRequest, "could not read the body"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, http.StatusBadRequest, "the body is not a valid form"
	}
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		return nil, http.StatusForbidden, "missing X-Twilio-Signature"
	}
	params := make(map[string]string, len(form))
	for k, v := range form {
		params[k] = v[0]
	}
	if !l.validator.Validate(l.cfg.PublicURL+r.URL.RequestURI(), params, sig) {
		return nil, http.StatusForbidden, "invalid X-Twilio-Signature"
	}
	return form, 0, ""
}

// sidOK accepts Twilio's ids (two letters and 32 hex digits) and anything
// shaped like them: ASCII letters and digits, short enough for a key.
func sidOK(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func invalid(format string, args ...any) error {
	return hotline.Errorf(hotline.EINVALID, format, args...)
}

func (l *Line) now() time.Time {
	if l.d.Now != nil {
		return l.d.Now()
	}
	return time.Now()
}

// remember stores the first answer under key and returns whichever answer
// came first, so that a retried webhook gets byte-identical TwiML.
func (l *Line) remember(ctx context.Context, key string, xml []byte) (reply, error) {
	stored, _, err := l.d.Sessions.Remember(ctx, key, xml, replyTTL)
	if err != nil {
		// This answer is still right for this request; only a retry
		// could now get a different one.
		l.log.Warn("phone: could not keep a webhook's answer for its retries", "err", err)
		return reply{xml: xml}, nil
	}
	return reply{xml: stored}, nil
}

// catalogue returns the categories a resident may choose by number, in
// catalogue order: all but the callback category, which only the line
// itself files.
func (l *Line) menu() []hotline.Category {
	cat := l.d.Directory.Catalogue()
	if cat == nil {
		return nil
	}
	out := make([]hotline.Category, 0, len(cat.Categories))
	for _, c := range cat.Categories {
		if c.Code != l.cfg.CallbackCategory {
			out = append(out, c)
		}
	}
	return out
}

// committees returns the committees a caller may dial, numbered 1..M in
// the network's order (c01..c14 are 1..14 in the demo street).
func (l *Line) committees() []hotline.Unit {
	n := l.d.Directory.Network()
	if n == nil {
		return nil
	}
	var out []hotline.Unit
	for _, u := range n.Units {
		if u.Kind == hotline.KindCommittee {
			out = append(out, u)
		}
	}
	return out
}

// category returns the code to file under: want when the catalogue has
// it, else the general category.
func (l *Line) category(want string) string {
	if _, ok := l.d.Directory.Catalogue().Find(want); ok {
		return want
	}
	return l.cfg.GeneralCategory
}

// caller is what the line keeps about a number for a long time: the
// committee of its last placed ticket and its latest tickets, for status
// queries.
type caller struct {
	Committee string   `json:"committee,omitempty"`
	Tickets   []string `json:"tickets,omitempty"` // newest first
}

const maxCallerTickets = 5

func callerKey(phone string) string { return "phone:caller:" + phone }

func (l *Line) loadCaller(ctx context.Context, phone string) (caller, error) {
	var c caller
	if phone == "" {
		return c, nil
	}
	_, err := l.d.Sessions.Load(ctx, callerKey(phone), &c)
	return c, err
}

// NoteTicket records what a ticket tells about its contact's number: its
// committee, for the next call's menu, and the ticket, for SMS status
// queries. The line calls it for its own tickets; the wiring may call it
// from intake's OnCreated so web tickets teach the phone line too.
func (l *Line) NoteTicket(ctx context.Context, t *hotline.Ticket) error {
	phone := t.Contact.Phone
	if phone == "" {
		return nil
	}
	c, err := l.loadCaller(ctx, phone)
	if err != nil {
		return err
	}
	if t.Location.Committee != "" {
		c.Committee = t.Location.Committee
	}
	ids := []string{t.ID}
	for _, id := range c.Tickets {
		if id != t.ID && len(ids) < maxCallerTickets {
			ids = append(ids, id)
		}
	}
	c.Tickets = ids
	return l.d.Sessions.Save(ctx, callerKey(phone), c, l.cfg.CallerTTL)
}

// submit files a ticket through intake. committee, when set and intake
// found none from the address, becomes the ticket's committee before
// routing (how says why, for the route reason). Then the number's record
// learns the ticket.
func (l *Line) submit(ctx context.Context, sub intake.Submission, key, committee, how string) (*hotline.Ticket, bool, error) {
	svc := *l.d.Intake
	if committee != "" {
		next := svc.Place
		n := l.d.Directory.Network()
		svc.Place = func(ctx context.Context, t *hotline.Ticket) error {
			if t.Location.Committee == "" && !t.Location.HasPoint() {
				if u, ok := n.Unit(committee); ok && u.Kind == hotline.KindCommittee {
					t.Location.Committee = u.ID
					t.UnitID = u.ID
					t.RouteReason = fmt.Sprintf("位于%s辖区（%s）/ in the area of %s (%s)", u.NameZH, howZH[how], u.Name("en"), how)
				}
			}
			if next != nil {
				return next(ctx, t)
			}
			return nil
		}
	}
	t, created, err := svc.Submit(ctx, sub, key)
	if err != nil {
		return nil, false, err
	}
	if err := l.NoteTicket(ctx, t); err != nil {
		l.log.Warn("phone: could not note the caller's ticket", "ticket", t.ID, "err", err)
	}
	return t, created, nil
}

var howZH = map[string]string{
	howRecord: "来电号码登记的居委会",
	howKeypad: "来电者按键选择",
}

const (
	howRecord = "the committee on record for the caller's number"
	howKeypad = "chosen by the caller on the keypad"
)

// normalizeFrom returns the E.164 form of a caller's number, or "" for a
// withheld or unusable one ("anonymous", "+266696687", a short code).
func normalizeFrom(raw string) string {
	p, err := intake.NormalizePhone(raw)
	if err != nil {
		return ""
	}
	return p
}

// enqueueTicketNumber sends the ticket's number by SMS through the outbox
// (once per ticket: the key makes it idempotent).
func (l *Line) enqueueTicketNumber(ctx context.Context, t *hotline.Ticket, lang string) {
	if t.Contact.Phone == "" {
		return
	}
	m := &hotline.OutboundMessage{
		Key:      "ticket:" + t.ID + ":ticket_number",
		To:       t.Contact.Phone,
		Body:     text(lang, smsTicketNumber, t.ID),
		TicketID: t.ID,
		Kind:     "ticket_number",
	}
	if _, err := l.d.Outbox.Enqueue(ctx, m); err != nil {
		l.log.Warn("phone: could not enqueue the ticket number SMS", "ticket", t.ID, "to", hotline.MaskPhone(t.Contact.Phone), "err", err)
	}
}
