package phone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/twilio/twilio-go/twiml"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/notify"
)

// maxSMS bounds the text taken from one message: Twilio's own limit for a
// concatenated message.
const maxSMS = 1600

// conversation is an SMS exchange with one number: the ticket its
// replies go to while it is open.
type conversation struct {
	TicketID string `json:"ticket_id"`
	Lang     string `json:"language"`
}

func conversationKey(phone string) string { return "sms:conv:" + phone }

// What an incoming message is taken to mean. The decision is remembered
// per MessageSid before anything is done, so a retry does the same thing
// even after the first delivery changed the conversation.
type smsIntent struct {
	Kind     string `json:"kind"`
	Lang     string `json:"lang"`
	TicketID string `json:"ticket_id,omitempty"`
	Score    int    `json:"score,omitempty"`
	Comment  string `json:"comment,omitempty"`
	Category string `json:"category,omitempty"`
	// Muted: the number opted out, so the line answers nothing (what it
	// says is still recorded).
	Muted bool `json:"muted,omitempty"`
	// Reply is Deps.Tasks' answer to a volunteer (kind task): the task
	// step is done while deciding, so a retry answers with it unchanged.
	Reply string `json:"reply,omitempty"`
}

const (
	smsStop      = "stop"
	smsStart     = "start"
	smsRate      = "rate"
	smsStatusOne = "status"
	smsStatusAll = "status_all"
	smsCorrect   = "correct"
	smsNote      = "note"
	smsNewTicket = "new"
	smsHelpKind  = "help"
	smsTask      = "task"
)

var stopWords = map[string]bool{
	"stop": true, "stopall": true, "unsubscribe": true, "cancel": true, "end": true, "quit": true,
	"退订": true, "取消": true, "退订短信": true,
}

var startWords = map[string]bool{"start": true, "unstop": true, "subscribe": true, "订阅": true, "恢复订阅": true}

var statusWords = map[string]bool{"查询": true, "查询进度": true, "进度": true, "状态": true, "status": true, "cx": true}

func (l *Line) handleSMS(ctx context.Context, r *http.Request, form url.Values) (reply, error) {
	sid := form.Get("MessageSid")
	if sid == "" {
		sid = form.Get("SmsSid")
	}
	if !sidOK(sid) {
		return reply{}, invalid("MessageSid is missing or malformed")
	}
	from := normalizeFrom(form.Get("From"))
	if from == "" || (l.cfg.FromNumber != "" && from == normalizeFrom(l.cfg.FromNumber)) {
		// Nobody to answer or file for (a withheld sender, our own number).
		l.log.Info("phone: SMS from an unusable number ignored", "message", sid)
		return l.messages("")
	}
	body := clip(strings.TrimSpace(form.Get("Body")), maxSMS)
	media := ""
	if n, _ := atoiSmall(form.Get("NumMedia")); n > 0 && usableURL(form.Get("MediaUrl0")) {
		media = form.Get("MediaUrl0")
	}

	msg, err := l.processSMS(ctx, sid, from, body, media)
	if err != nil {
		l.log.Error("phone: SMS failed", "message", sid, "from", hotline.MaskPhone(from), "err", err)
		p := smsSorry
		// Twilio does not deliver a message twice: while the store is
		// away the journal keeps it, and its replay acts on it and
		// answers by SMS.
		if hotline.ErrorCode(err) == hotline.EUNAVAILABLE && l.d.Journal != nil &&
			l.d.Journal.Append(JournalEntry{Kind: JournalSMS, At: l.now().UTC(), MessageSid: sid, From: from,
				To: form.Get("To"), Lang: detectLanguage(body), Body: body, MediaURL: media}) == nil {
			p = smsNotedLater
		}
		rep, xerr := l.messages(text(detectLanguage(body), p))
		if xerr != nil {
			return reply{}, xerr
		}
		return rep, nil
	}
	rep, err := l.messages(msg)
	if err != nil {
		return reply{}, err
	}
	return l.remember(ctx, "twilio:reply:"+sid, rep.xml)
}

// processSMS decides what a message means, remembers the decision under
// its sid and carries it out, returning the text to answer with ("" for
// none, as to an opted-out number). Every step is idempotent per sid, so
// a retried webhook or a replay from the journal does it once.
func (l *Line) processSMS(ctx context.Context, sid, from, body, media string) (string, error) {
	in, err := l.decideSMS(ctx, from, body, media)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(in)
	if err != nil {
		return "", hotline.Internal(err)
	}
	stored, _, err := l.d.Sessions.Remember(ctx, "twilio:intent:"+sid, b, replyTTL)
	if err != nil {
		return "", err
	}
	if err := json.Unmarshal(stored, &in); err != nil {
		return "", hotline.Internal(err)
	}
	msg, err := l.doSMS(ctx, sid, from, body, media, in)
	if err != nil || in.Muted {
		return "", err
	}
	return msg, nil
}

// messages renders an inline SMS reply; "" answers with no message.
func (l *Line) messages(body string) (reply, error) {
	var verbs []twiml.Element
	if body != "" {
		verbs = []twiml.Element{twiml.MessagingMessage{Body: body}}
	}
	out, err := twiml.Messages(verbs)
	if err != nil {
		return reply{}, hotline.Internal(err)
	}
	return reply{xml: []byte(out)}, nil
}

// decideSMS reads what a message means from the number's state: opt-out
// words, a rating when one is awaited, a category correction or a note for
// the open conversation, a status query, else a new need.
func (l *Line) decideSMS(ctx context.Context, from, body, media string) (smsIntent, error) {
	word := strings.ToLower(strings.Trim(strings.TrimSpace(string(foldWidthRune(body))), ".!。！ "))
	var conv conversation
	hasConv, err := l.d.Sessions.Load(ctx, conversationKey(from), &conv)
	if err != nil {
		return smsIntent{}, err
	}
	lang := detectLanguage(body)
	if hasConv && conv.Lang != "" && !hasLetters(body) {
		lang = conv.Lang
	}
	in := smsIntent{Lang: lang}
	if stopWords[word] || startWords[word] {
		// STOP and START are the same words in every language: answer
		// in the conversation's language when there is one.
		if hasConv && conv.Lang != "" {
			in.Lang = conv.Lang
		}
		in.Kind = smsStop
		if startWords[word] {
			in.Kind = smsStart
		}
		return in, nil
	}
	out, err := l.d.OptOuts.OptedOut(ctx, from)
	if err != nil {
		return smsIntent{}, err
	}
	in.Muted = out

	// A volunteer's answer to a task offer. Tasks acts as it decides (it
	// is idempotent on the assignment); its reply is kept in the intent,
	// so a retry of this message answers the same whatever Tasks says then.
	if l.d.Tasks != nil {
		reply, handled, err := l.d.Tasks.HandleSMS(ctx, from, body)
		if err != nil {
			return smsIntent{}, err
		}
		if handled {
			in.Kind, in.Reply = smsTask, reply
			return in, nil
		}
	}

	// notify records the rating it asked for (notify.RatingKey).
	var rating notify.AwaitingRating
	if ok, err := l.d.Sessions.Load(ctx, notify.RatingKey(from), &rating); err != nil {
		return smsIntent{}, err
	} else if ok && rating.TicketID != "" {
		if score, comment, ok := parseRating(body); ok {
			in.Kind, in.TicketID, in.Score, in.Comment = smsRate, rating.TicketID, score, comment
			if rating.Language != "" {
				in.Lang = rating.Language
			}
			return in, nil
		}
	}

	var open *hotline.Ticket
	if hasConv && conv.TicketID != "" {
		t, err := l.d.Tickets.FindTicket(ctx, conv.TicketID)
		switch {
		case err == nil && t.Status.Open() && t.Contact.Phone == from:
			open = t
		case err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND:
			return smsIntent{}, err
		}
	}
	// A unit asked the resident a question (notify.ReplyKey): the answer
	// goes to that ticket, unless a conversation about another is open.
	asked := false
	if open == nil {
		var awaited notify.AwaitingReply
		if ok, err := l.d.Sessions.Load(ctx, notify.ReplyKey(from), &awaited); err != nil {
			return smsIntent{}, err
		} else if ok && awaited.TicketID != "" {
			t, err := l.d.Tickets.FindTicket(ctx, awaited.TicketID)
			switch {
			case err == nil && t.Status.Open() && t.Contact.Phone == from:
				open, asked = t, true
				if awaited.Language != "" && !hasLetters(body) {
					in.Lang = awaited.Language
				}
			case err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND:
				return smsIntent{}, err
			}
		}
	}
	if asked && (body != "" || media != "") {
		// An answer may well hold numbers ("12号楼602室"): it is the
		// answer, not a menu choice or a ticket id.
		in.Kind, in.TicketID = smsNote, open.ID
		return in, nil
	}
	digits := digitsOnly(body)
	if open != nil && digits != "" && media == "" {
		if n, ok := atoiSmall(digits); ok && n >= 1 && n <= len(l.menu()) {
			in.Kind, in.TicketID, in.Category = smsCorrect, open.ID, l.menu()[n-1].Code
			return in, nil
		}
	}
	if id, ok := statusQuery(body); ok {
		in.Kind, in.TicketID = smsStatusOne, id
		if id == "" {
			in.Kind = smsStatusAll
			if open != nil {
				in.Kind, in.TicketID = smsStatusOne, open.ID
			}
		}
		return in, nil
	}
	if open != nil && (body != "" || media != "") {
		in.Kind, in.TicketID = smsNote, open.ID
		return in, nil
	}
	if (body == "" && media == "") || digits != "" {
		in.Kind = smsHelpKind
		return in, nil
	}
	in.Kind = smsNewTicket
	cats := l.menu()
	in.Category = l.category(l.cfg.GeneralCategory)
	if i := guessCategory(body, cats); i >= 0 {
		in.Category = cats[i].Code
	}
	return in, nil
}

func hasLetters(s string) bool {
	for _, r := range s {
		if r > 0x7f || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return true
		}
	}
	return false
}

// statusQuery recognises "160035", "查询 160035", "status", "查询": a
// ticket id (valid check digit) or "" for "my tickets".
func statusQuery(body string) (string, bool) {
	t := strings.TrimSpace(string(foldWidthRune(body)))
	lower := strings.ToLower(t)
	for w := range statusWords {
		if len(lower) == len(t) && strings.HasPrefix(lower, w) {
			rest := strings.TrimSpace(strings.Trim(t[len(w):], ":：# "))
			if rest == "" {
				return "", true
			}
			if d := digitsOnly(rest); d != "" && hotline.ValidTicketID(d) {
				return d, true
			}
		}
	}
	// Ticket ids are long; a short number is a menu choice, not an id.
	// A long one with a wrong check digit is answered as not found.
	if d := digitsOnly(t); len(d) >= 4 && len(d) <= 20 {
		return d, true
	}
	return "", false
}

// parseRating reads "5", "5 很满意", "２，还行": a score 1..5 first, then
// an optional comment.
func parseRating(body string) (int, string, bool) {
	rs := foldWidthRune(strings.TrimSpace(body))
	if len(rs) == 0 || rs[0] < '1' || rs[0] > '5' {
		return 0, "", false
	}
	if len(rs) > 1 && rs[1] >= '0' && rs[1] <= '9' {
		return 0, "", false
	}
	comment := strings.TrimSpace(strings.TrimLeft(string(rs[1:]), " ,.;:，。；：、分-"))
	return int(rs[0] - '0'), comment, true
}

// errUnchanged aborts a ticket change that has nothing to do.
var errUnchanged = errors.New("phone: nothing to change")

// errTooLate aborts a category correction of an accepted ticket.
var errTooLate = errors.New("phone: ticket already accepted")

// once claims a one-time action for a message (a note, a rating); release
// gives the claim back when the action failed, so a retry can do it.
func (l *Line) once(ctx context.Context, key string) (first bool, release func(), err error) {
	_, first, err = l.d.Sessions.Remember(ctx, "twilio:once:"+key, []byte("1"), replyTTL)
	return first, func() { _ = l.d.Sessions.Delete(context.WithoutCancel(ctx), "twilio:once:"+key) }, err
}

// doSMS carries out an intent; every branch is idempotent per MessageSid.
func (l *Line) doSMS(ctx context.Context, sid, from, body, media string, in smsIntent) (string, error) {
	lang := in.Lang
	switch in.Kind {
	case smsStop:
		return text(lang, smsStopped), l.d.OptOuts.OptOut(ctx, from)
	case smsStart:
		return text(lang, smsStarted), l.d.OptOuts.OptIn(ctx, from)
	case smsRate:
		return l.rate(ctx, sid, from, body, in)
	case smsStatusOne:
		return l.statusOf(ctx, from, in.TicketID, lang)
	case smsStatusAll:
		return l.statusAll(ctx, from, lang)
	case smsCorrect:
		return l.correct(ctx, from, in)
	case smsNote:
		return l.note(ctx, sid, from, body, media, in)
	case smsHelpKind:
		return text(lang, smsHelp), nil
	case smsTask:
		return in.Reply, nil
	case smsNewTicket:
		return l.newSMSTicket(ctx, sid, from, body, media, in)
	}
	return "", hotline.Internal(fmt.Errorf("phone: unknown SMS intent %q", in.Kind))
}

func (l *Line) newSMSTicket(ctx context.Context, sid, from, body, media string, in smsIntent) (string, error) {
	rec, err := l.loadCaller(ctx, from)
	if err != nil {
		return "", err
	}
	sub := intake.Submission{
		Channel: hotline.ChannelSMS, ServiceCode: in.Category, Description: body, Phone: from,
		Consent: true, Language: in.Lang, MediaURL: media, ExternalRef: sid, Actor: Actor,
	}
	t, _, err := l.submit(ctx, sub, "twilio:sms:"+sid, rec.Committee, howRecord)
	if err != nil {
		return "", err
	}
	if err := l.d.Sessions.Save(ctx, conversationKey(from), conversation{TicketID: t.ID, Lang: in.Lang}, l.cfg.SMSTTL); err != nil {
		return "", err
	}
	c, _ := l.d.Directory.Catalogue().Find(t.ServiceCode)
	return text(in.Lang, smsNew, t.ID, c.Name(in.Lang), categoryList(in.Lang, l.menu())), nil
}

func (l *Line) note(ctx context.Context, sid, from, body, media string, in smsIntent) (string, error) {
	first, release, err := l.once(ctx, sid+":note")
	if err != nil {
		return "", err
	}
	if first {
		note := "短信补充 / by SMS: " + body
		if media != "" {
			note += " " + media
		}
		_, err := l.d.Tickets.UpdateTicket(ctx, in.TicketID, func(t *hotline.Ticket) (*hotline.Event, error) {
			return &hotline.Event{Type: hotline.EventTicketNoted, Actor: Actor, Note: note}, nil
		})
		if err != nil {
			release()
			return "", err
		}
	}
	if err := l.d.Sessions.Save(ctx, conversationKey(from), conversation{TicketID: in.TicketID, Lang: in.Lang}, l.cfg.SMSTTL); err != nil {
		return "", err
	}
	return text(in.Lang, smsNoted, in.TicketID), nil
}

// correct changes the category of a ticket nobody has accepted yet. The
// responsible unit sees the change on its board; should it not handle the
// new category it declines and dispatch routes the ticket by its new one.
func (l *Line) correct(ctx context.Context, from string, in smsIntent) (string, error) {
	c, ok := l.d.Directory.Catalogue().Find(in.Category)
	if !ok {
		return "", hotline.Internal(fmt.Errorf("phone: category %q left the catalogue", in.Category))
	}
	_, err := l.d.Tickets.UpdateTicket(ctx, in.TicketID, func(t *hotline.Ticket) (*hotline.Event, error) {
		if t.Contact.Phone != from {
			return nil, errUnchanged
		}
		switch t.Status {
		case hotline.StatusNew, hotline.StatusRouted, hotline.StatusReopened:
		default:
			return nil, errTooLate
		}
		if t.ServiceCode == c.Code {
			return nil, errUnchanged
		}
		old := t.ServiceCode
		t.ServiceCode = c.Code
		return &hotline.Event{Type: hotline.EventTicketUpdated, Actor: Actor, UnitID: t.UnitID,
			Note: fmt.Sprintf("居民短信更正类别：%s → %s / category corrected by the resident by SMS: %s → %s", old, c.Code, old, c.Code)}, nil
	})
	switch {
	case errors.Is(err, errTooLate):
		return text(in.Lang, smsTooLate, in.TicketID), nil
	case err != nil && !errors.Is(err, errUnchanged):
		return "", err
	}
	return text(in.Lang, smsCorrected, in.TicketID, c.Name(in.Lang)), nil
}

func (l *Line) rate(ctx context.Context, sid, from, body string, in smsIntent) (string, error) {
	if l.d.Rater == nil {
		// Nobody takes ratings: keep the words on the ticket.
		return l.note(ctx, sid, from, body, "", smsIntent{TicketID: in.TicketID, Lang: in.Lang})
	}
	first, release, err := l.once(ctx, sid+":rate")
	if err != nil {
		return "", err
	}
	redo := in.TicketID
	if first {
		t, err := l.d.Rater.Rate(ctx, in.TicketID, in.Score, in.Comment, Actor)
		switch {
		case err == nil:
			if t != nil {
				redo = t.ID
			}
		case hotline.ErrorCode(err) == hotline.ECONFLICT:
			// Rated already (another message got there first).
		default:
			release()
			return "", err
		}
		if err := l.d.Sessions.Delete(ctx, notify.RatingKey(from)); err != nil {
			return "", err
		}
	}
	if in.Score <= 2 {
		return text(in.Lang, smsRedo, in.Score, redo), nil
	}
	return text(in.Lang, smsRated, in.Score), nil
}

// statusOf answers for one ticket, only when it was filed from this number.
func (l *Line) statusOf(ctx context.Context, from, id, lang string) (string, error) {
	if !hotline.ValidTicketID(id) {
		return text(lang, smsNotFound, id), nil
	}
	t, err := l.d.Tickets.FindTicket(ctx, id)
	if err != nil {
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			return text(lang, smsNotFound, id), nil
		}
		return "", err
	}
	if t.Contact.Phone != from {
		return text(lang, smsNotFound, id), nil
	}
	return l.statusLine(t, lang), nil
}

func (l *Line) statusLine(t *hotline.Ticket, lang string) string {
	c, _ := l.d.Directory.Catalogue().Find(t.ServiceCode)
	name := c.Name(lang)
	if name == "" {
		name = t.ServiceCode
	}
	return text(lang, smsStatus, t.ID, name, statusName(lang, t.Status))
}

// statusAll answers for the number's latest tickets (at most three).
func (l *Line) statusAll(ctx context.Context, from, lang string) (string, error) {
	rec, err := l.loadCaller(ctx, from)
	if err != nil {
		return "", err
	}
	var lines []string
	for _, id := range rec.Tickets {
		if len(lines) == 3 {
			break
		}
		t, err := l.d.Tickets.FindTicket(ctx, id)
		if err != nil {
			if hotline.ErrorCode(err) == hotline.ENOTFOUND {
				continue
			}
			return "", err
		}
		if t.Contact.Phone == from {
			lines = append(lines, l.statusLine(t, lang))
		}
	}
	if len(lines) == 0 {
		return text(lang, smsNoTickets), nil
	}
	return strings.Join(lines, "\n"), nil
}
