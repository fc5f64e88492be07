// Package intake turns what a resident said, on any channel (web form,
// Open311, phone call, SMS, walk-in), into a validated, located ticket with
// a first responsible unit, and stores it exactly once per idempotency key.
// Every channel goes through Submit so that they all accept and refuse the
// same things with the same messages.
package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/mail"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
)

// Limits on what a resident may send. The description limit matches the
// Open311 request schema (maxLength 4000); the others are generous for what
// the fields hold and keep one ticket well under the HTTP body limit.
const (
	MaxDescription = 4000 // runes
	MaxName        = 64   // runes, first and last name each
	MaxAddress     = 256  // runes
	MaxEmail       = 254  // bytes, the longest address SMTP carries
	MaxMediaURL    = 2048 // bytes
	MaxExternalRef = 128  // bytes
	MaxActor       = 64   // bytes

	// RouteSafetyNet is the first accept limit of every new ticket: the
	// time dispatch has to route it before the deadline queue does.
	RouteSafetyNet    = time.Minute
	MaxIdempotencyKey = 128 // printable ASCII characters
)

// Submission is one need as a channel received it, before validation.
type Submission struct {
	Channel     hotline.Channel
	ServiceCode string
	Description string
	Lat, Long   *float64 // nil when not given
	Address     string
	Phone       string // as typed by the resident
	FirstName   string
	LastName    string
	Email       string
	Consent     bool
	Language    string // "zh" default, or "en"
	MediaURL    string
	ExternalRef string
	// Actor is who filed it: "resident", a staff user id, "twilio".
	Actor string
}

// Service validates submissions and files them as tickets.
type Service struct {
	Tickets   hotline.TicketStore
	Directory hotline.Directory
	// Now is the clock; tests replace it.
	Now func() time.Time
	// OnCreated, when set, is called once for every ticket that was newly
	// stored (not for an idempotent retry), after the store confirmed it.
	// It runs on the caller's goroutine and must not block for long.
	OnCreated func(*hotline.Ticket)
	// Place, when set, routes the ticket before it is stored (dispatch's
	// PlaceNew), so it is written once, already routed, in the same atomic
	// step as its creation. When it fails the ticket is stored as new and
	// its one-minute accept limit hands it to the deadline queue.
	Place func(ctx context.Context, t *hotline.Ticket) error
	// Logger reports placement failures (no personal data).
	Logger *slog.Logger
}

// New returns a Service storing into tickets and locating with dir.
func New(tickets hotline.TicketStore, dir hotline.Directory) *Service {
	return &Service{Tickets: tickets, Directory: dir, Now: time.Now}
}

// Submit validates sub, places it in the network and stores it. With a
// non-empty idempotencyKey a retry returns the ticket of the first call with
// created=false.
//
// Errors: EINVALID (with per-field messages keyed by the Open311 field
// names, or a bad idempotency key), ECONFLICT (the key was first used for a
// different phone number), EUNAVAILABLE, EINTERNAL.
func (s *Service) Submit(ctx context.Context, sub Submission, idempotencyKey string) (*hotline.Ticket, bool, error) {
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return nil, false, err
	}
	net, cat := s.directory()
	t, err := s.build(sub, net, cat)
	if err != nil {
		return nil, false, err
	}
	key := ""
	if idempotencyKey != "" {
		// Keys are scoped by channel: two channels' clients choose keys
		// independently and must never receive each other's tickets.
		key = string(t.Channel) + ":" + idempotencyKey
	}
	if s.Place != nil {
		if err := s.Place(ctx, t); err != nil && s.Logger != nil {
			s.Logger.Warn("routing at intake failed; the deadline queue will route the ticket", "err", err)
		}
	}
	want := t.Contact.Phone
	created, err := s.Tickets.CreateTicket(ctx, t, key)
	if err != nil {
		var he *hotline.Error
		if !errors.As(err, &he) {
			err = hotline.Internal(err)
		}
		return nil, false, err
	}
	if !created && t.Contact.Phone != want {
		// Whoever replays a key gets the first ticket back. If they are
		// not the person who filed it (another phone number), that would
		// hand them someone else's need, so refuse instead.
		return nil, false, hotline.Errorf(hotline.ECONFLICT,
			"this idempotency key was already used for another request; use a new key for a new request")
	}
	if created && s.OnCreated != nil {
		s.OnCreated(t)
	}
	return t, created, nil
}

func (s *Service) directory() (*hotline.Network, *hotline.Catalogue) {
	var n *hotline.Network
	var c *hotline.Catalogue
	if s.Directory != nil {
		n, c = s.Directory.Network(), s.Directory.Catalogue()
	}
	if n == nil {
		n = &hotline.Network{}
	}
	if c == nil {
		c = &hotline.Catalogue{}
	}
	return n, c
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// build validates sub field by field and returns the ticket to store.
func (s *Service) build(sub Submission, net *hotline.Network, cat *hotline.Catalogue) (*hotline.Ticket, error) {
	fe := hotline.FieldErrors{}
	t := &hotline.Ticket{Status: hotline.StatusNew}

	if !sub.Channel.Valid() {
		fe.Add("channel", "unknown channel; use one of voice, sms, web, open311, walk-in")
	}
	t.Channel = sub.Channel

	code := strings.TrimSpace(sub.ServiceCode)
	if code == "" {
		fe.Add("service_code", "choose a service; service_code is required")
	} else if _, ok := cat.Find(code); !ok {
		fe.Add("service_code", fmt.Sprintf("unknown service %q; choose one of the codes in the service list", clip(code, 64)))
	}
	t.ServiceCode = code

	t.MediaURL = strings.TrimSpace(sub.MediaURL)
	hasMedia := t.MediaURL != "" && validMediaURL(t.MediaURL)
	if t.MediaURL != "" && !hasMedia {
		fe.Add("media_url", "not a usable link; give a full http:// or https:// address of at most 2048 characters")
	}

	t.Description = cleanText(sub.Description, true)
	switch n := utf8.RuneCountInString(t.Description); {
	case n == 0 && !hasMedia:
		// A voice ticket carries its recording instead of words; any
		// other channel must say what is needed.
		fe.Add("description", "describe the need in a few words; description is required")
	case n > MaxDescription:
		fe.Add("description", fmt.Sprintf("too long (%d characters); shorten it to at most %d", n, MaxDescription))
	}

	switch {
	case sub.Lat == nil && sub.Long == nil:
	case sub.Lat == nil:
		fe.Add("lat", "give lat together with long, or neither")
	case sub.Long == nil:
		fe.Add("long", "give long together with lat, or neither")
	default:
		lat, long := *sub.Lat, *sub.Long
		ok := true
		if math.IsNaN(lat) || lat < -90 || lat > 90 {
			fe.Add("lat", "latitude must be a number between -90 and 90, like 31.2365")
			ok = false
		}
		if math.IsNaN(long) || long < -180 || long > 180 {
			fe.Add("long", "longitude must be a number between -180 and 180, like 121.4252")
			ok = false
		}
		// (0,0) is what clients send when they have no fix; it is
		// never in the street, so it counts as no point (Location.HasPoint).
		if ok {
			t.Location.Lat, t.Location.Long = lat, long
		}
	}

	t.Location.Address = oneLine(sub.Address)
	if n := utf8.RuneCountInString(t.Location.Address); n > MaxAddress {
		fe.Add("address_string", fmt.Sprintf("too long (%d characters); shorten it to at most %d", n, MaxAddress))
	}

	if strings.TrimSpace(sub.Phone) != "" {
		p, err := NormalizePhone(sub.Phone)
		if err != nil {
			fe.Add("phone", phoneHint)
		}
		t.Contact.Phone = p
	}
	t.Contact.FirstName = oneLine(sub.FirstName)
	if utf8.RuneCountInString(t.Contact.FirstName) > MaxName {
		fe.Add("first_name", fmt.Sprintf("too long; use at most %d characters", MaxName))
	}
	t.Contact.LastName = oneLine(sub.LastName)
	if utf8.RuneCountInString(t.Contact.LastName) > MaxName {
		fe.Add("last_name", fmt.Sprintf("too long; use at most %d characters", MaxName))
	}
	t.Contact.Email = strings.TrimSpace(sub.Email)
	if t.Contact.Email != "" && !validEmail(t.Contact.Email) {
		fe.Add("email", "not a valid email address; use the form name@example.com")
	}
	t.Contact.Consent = sub.Consent

	switch lang := strings.ToLower(strings.TrimSpace(sub.Language)); {
	case lang == "" || lang == "zh" || strings.HasPrefix(lang, "zh-") || strings.HasPrefix(lang, "zh_"):
		t.Language = "zh"
	case lang == "en" || strings.HasPrefix(lang, "en-") || strings.HasPrefix(lang, "en_"):
		t.Language = "en"
	default:
		fe.Add("language", "use zh for Chinese or en for English")
	}

	t.ExternalRef = strings.TrimSpace(sub.ExternalRef)
	if len(t.ExternalRef) > MaxExternalRef || !printableASCII(t.ExternalRef) {
		fe.Add("external_ref", fmt.Sprintf("use at most %d printable ASCII characters", MaxExternalRef))
	}
	if len(sub.Actor) > MaxActor || !printableASCII(sub.Actor) {
		fe.Add("actor", fmt.Sprintf("use at most %d printable ASCII characters", MaxActor))
	}

	if err := fe.Err(); err != nil {
		return nil, err
	}

	place(t, net)
	now := s.now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	t.CreatedBy = sub.Actor
	// Dispatch routes a ticket right after it is stored. Should this
	// process die in between, the deadline queue still hands the ticket to
	// whichever replica is alive within a minute: no need is left unrouted.
	t.AcceptBy = now.Add(RouteSafetyNet)
	return t, nil
}

// place resolves the committee whose area holds the ticket and makes it, or
// failing that the street's intake queue, the first responsible unit. A map
// point is trusted over a typed address: it comes from the device, the
// address from memory. A point outside every area still lets the address
// try.
func place(t *hotline.Ticket, net *hotline.Network) {
	var (
		c   hotline.Unit
		ok  bool
		how string
	)
	if t.Location.HasPoint() {
		c, ok = net.CommitteeAt(t.Location.Lat, t.Location.Long)
		how = "按定位 / by map point"
	}
	if !ok && t.Location.Address != "" {
		c, ok = net.CommitteeForAddress(t.Location.Address)
		how = "按地址 / by address"
	}
	if ok {
		t.Location.Committee = c.ID
		t.UnitID = c.ID
		t.RouteReason = fmt.Sprintf("位于%s辖区 / in the area of %s (%s)", c.NameZH, c.Name("en"), how)
		return
	}
	if sc, found := net.ServiceCenter(); found {
		t.UnitID = sc.ID
	}
	t.RouteReason = "无可用位置：街道受理队列，由调度员人工分派 / no usable location: street intake queue for a dispatcher to place by hand"
}

func checkIdempotencyKey(k string) error {
	if len(k) > MaxIdempotencyKey || !printableASCII(k) {
		return hotline.Errorf(hotline.EINVALID,
			"Idempotency-Key: use at most %d printable ASCII characters, e.g. a UUID", MaxIdempotencyKey)
	}
	return nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cleanText drops invalid UTF-8, control characters and bidirectional
// overrides (which can make a description display differently from what it
// says), keeps line breaks and tabs when multiline, and trims the ends.
func cleanText(s string, multiline bool) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			if multiline {
				return r
			}
			return ' '
		case r == '\r':
			if multiline {
				return '\n'
			}
			return ' '
		case unicode.IsControl(r), isBidiControl(r), r == utf8.RuneError:
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// oneLine cleans a single-line field and collapses runs of white space, so
// "长寿路  123 号" and "长寿路 123 号" are stored alike.
func oneLine(s string) string {
	return strings.Join(strings.Fields(cleanText(s, false)), " ")
}

func isBidiControl(r rune) bool {
	return (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') ||
		r == '\u200e' || r == '\u200f' || r == '\u061c'
}

func validEmail(s string) bool {
	if len(s) > MaxEmail {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") &&
		!strings.HasSuffix(domain, ".") && !strings.ContainsAny(s, " \"\\[]")
}

func validMediaURL(s string) bool {
	if len(s) > MaxMediaURL || !printableASCII(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil
}

// clip shortens s to at most n runes for echoing it back in a message.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
