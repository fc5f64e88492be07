package phone

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twilio/twilio-go/twiml"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
)

// The voice steps (the step query parameter), in call order.
const (
	StepStart     = "start"
	StepMenu      = "menu"
	StepCategory  = "category"
	StepCommittee = "committee"
	StepDescribe  = "describe"
	StepRecord    = "record"
)

// maxTries is how often a menu asks before taking a default.
const maxTries = 3

// call is the menu state of one call, kept under its CallSid.
type call struct {
	From       string `json:"from,omitempty"` // E.164; "" when withheld or unusable
	Lang       string `json:"lang"`
	AfterHours bool   `json:"after_hours,omitempty"`
	Category   string `json:"category,omitempty"`
	// Committee is the caller's committee when known from their number's
	// record or chosen on the keypad (How says which); Address is a spoken
	// address for intake's gazetteer.
	Committee    string `json:"committee,omitempty"`
	How          string `json:"how,omitempty"`
	Address      string `json:"address,omitempty"`
	Description  string `json:"description,omitempty"`
	RecordingURL string `json:"recording_url,omitempty"`
	TicketID     string `json:"ticket_id,omitempty"`
}

// callTicket ties a call to its ticket for longer than the call's state.
type callTicket struct {
	TicketID string `json:"ticket_id"`
}

func callKey(sid string) string       { return "call:" + sid }
func callTicketKey(sid string) string { return "call:ticket:" + sid }
func callIdempotencyKey(sid string) string {
	return "twilio:call:" + sid
}

// voiceURL is the absolute URL of a step, as handed to Twilio and signed
// by it. url.Values.Encode sorts the keys, so one step has one spelling.
func (l *Line) voiceURL(step, lang string, try int) string {
	q := url.Values{"step": {step}, "lang": {lang}}
	if try > 1 {
		q.Set("try", strconv.Itoa(try))
	}
	return l.cfg.PublicURL + PathVoice + "?" + q.Encode()
}

func (l *Line) handleVoice(ctx context.Context, r *http.Request, form url.Values) (reply, error) {
	sid := form.Get("CallSid")
	if !sidOK(sid) {
		return reply{}, invalid("CallSid is missing or malformed")
	}
	q := r.URL.Query()
	step := q.Get("step")
	if step == "" {
		step = StepStart
	}
	switch step {
	case StepStart, StepMenu, StepCategory, StepCommittee, StepDescribe, StepRecord:
	default:
		return reply{}, invalid("unknown step %q; the steps are start, menu, category, committee, describe, record", clip(step, 32))
	}
	lang := q.Get("lang")
	switch lang {
	case "":
		lang = "zh"
	case "zh", "en":
	default:
		return reply{}, invalid("lang must be zh or en")
	}
	try := 1
	if s := q.Get("try"); s != "" {
		n, ok := atoiSmall(s)
		if !ok || n < 1 || n > maxTries {
			return reply{}, invalid("try must be a number from 1 to %d", maxTries)
		}
		try = n
	}

	xml, err := l.voiceStep(ctx, sid, step, lang, try, form)
	if err != nil {
		// The caller hears an apology; the answer is not remembered, so
		// a retry may still succeed. The status callback at the end of
		// the call files a callback ticket if none was filed, unless the
		// store is away: then the journal keeps the call, or, when it
		// cannot, the caller is asked to call again.
		l.log.Error("phone: voice step failed", "step", step, "call", sid, "err", err)
		p := voiceSorry
		switch {
		case hotline.ErrorCode(err) == hotline.EUNAVAILABLE && l.d.Journal != nil:
			if l.journalCall(sid, step, lang, form) {
				return l.voiceNotedReply()
			}
		case normalizeFrom(form.Get("From")) != "":
			p = voiceSorryCallback
		}
		out, xerr := twiml.Voice([]twiml.Element{l.say(lang, text(lang, p)), twiml.VoiceHangup{}})
		if xerr != nil {
			return reply{}, hotline.Internal(xerr)
		}
		return reply{xml: []byte(out)}, nil
	}
	return l.remember(ctx, voiceReplyKey(sid, step, r.URL.RawQuery, form), xml)
}

// voiceReplyKey names the answer to one step of one call with one input,
// so that a retry (same URL, same input) gets the stored answer.
func voiceReplyKey(sid, step, rawQuery string, form url.Values) string {
	return "twilio:reply:" + sid + ":" + step + ":" +
		shortHash(rawQuery, form.Get("Digits"), form.Get("SpeechResult"), form.Get("RecordingUrl"))
}

func (l *Line) loadCall(ctx context.Context, sid string) (call, bool, error) {
	var c call
	found, err := l.d.Sessions.Load(ctx, callKey(sid), &c)
	return c, found, err
}

func (l *Line) saveCall(ctx context.Context, sid string, c call) error {
	return l.d.Sessions.Save(ctx, callKey(sid), c, l.cfg.CallTTL)
}

// voiceStep moves the call's state on by one step and returns the TwiML
// of the next. Each step only sets what its own input says, so running a
// step twice (a retry) leaves the state as running it once.
func (l *Line) voiceStep(ctx context.Context, sid, step, lang string, try int, form url.Values) ([]byte, error) {
	st, found, err := l.loadCall(ctx, sid)
	if err != nil {
		return nil, err
	}
	if !found {
		st = call{From: normalizeFrom(form.Get("From")), Lang: lang}
		st.AfterHours = !l.hours.Open(l.now())
	}
	if step != StepStart {
		st.Lang = lang
	}
	var verbs []twiml.Element
	switch step {
	case StepStart:
		verbs = l.greeting()
	case StepMenu:
		if strings.TrimSpace(form.Get("Digits")) == "9" {
			lang = "en"
			st.Lang = lang
		}
		// The greeting gave the emergency numbers in Mandarin only.
		emergency := ""
		if lang == "en" {
			emergency = text(lang, voiceEmergency)
		}
		if st.AfterHours {
			verbs = l.describePrompt(lang, emergency, text(lang, voiceClosed))
		} else {
			verbs = l.categoryPrompt(lang, 1, emergency)
		}
	case StepCategory:
		verbs, err = l.stepCategory(ctx, &st, lang, try, form)
	case StepCommittee:
		verbs = l.stepCommittee(&st, lang, try, form)
	case StepDescribe:
		st.Description = clip(strings.TrimSpace(form.Get("SpeechResult")), intake.MaxDescription)
		verbs = l.recordPrompt(lang)
	case StepRecord:
		if u := form.Get("RecordingUrl"); usableURL(u) && form.Get("RecordingDuration") != "0" {
			st.RecordingURL = u
		}
		verbs, err = l.stepRecord(ctx, sid, &st, lang)
	}
	if err != nil {
		return nil, err
	}
	if err := l.saveCall(ctx, sid, st); err != nil {
		return nil, err
	}
	out, err := twiml.Voice(verbs)
	if err != nil {
		return nil, hotline.Internal(err)
	}
	return []byte(out), nil
}

func (l *Line) say(lang, msg string) twiml.VoiceSay {
	voice := l.cfg.VoiceZH
	if lang == "en" {
		voice = l.cfg.VoiceEN
	}
	return twiml.VoiceSay{Message: msg, Language: sayLanguage(lang), Voice: voice}
}

// greeting answers a new call: emergencies first, then the choice of
// English. No key (or any other key) continues in Mandarin.
func (l *Line) greeting() []twiml.Element {
	next := l.voiceURL(StepMenu, "zh", 1)
	return []twiml.Element{
		twiml.VoiceGather{
			Input: "dtmf", NumDigits: "1", Timeout: "3", Action: next, Method: "POST",
			InnerElements: []twiml.Element{
				l.say("zh", text("zh", voiceGreeting)),
				l.say("en", text("en", voiceForEnglish)),
			},
		},
		twiml.VoiceRedirect{Url: next, Method: "POST"},
	}
}

// gather asks a question answered by keypad or voice. Up to nine choices
// take one key; more are ended by # or a pause.
func (l *Line) gather(lang, action string, choices int, hints []string, says ...string) []twiml.Element {
	g := twiml.VoiceGather{
		Input: "dtmf speech", Language: sayLanguage(lang), Action: action, Method: "POST",
		Timeout: "5", SpeechTimeout: "auto", FinishOnKey: "#",
		Hints: strings.Join(hints, ","),
	}
	if choices > 0 && choices <= 9 {
		g.NumDigits = "1"
	}
	for _, s := range says {
		if s != "" {
			g.InnerElements = append(g.InnerElements, l.say(lang, s))
		}
	}
	return []twiml.Element{g, twiml.VoiceRedirect{Url: action, Method: "POST"}}
}

func (l *Line) categoryPrompt(lang string, try int, before ...string) []twiml.Element {
	cats := l.menu()
	var b strings.Builder
	hints := make([]string, 0, len(cats))
	for i, c := range cats {
		b.WriteString(text(lang, voiceCategoryItem, i+1, c.Name(lang)))
		hints = append(hints, c.Name(lang))
	}
	says := append(before, text(lang, voiceCategoryAsk), b.String())
	return l.gather(lang, l.voiceURL(StepCategory, lang, try), len(cats), hints, says...)
}

func (l *Line) committeePrompt(lang string, try int, before ...string) []twiml.Element {
	cs := l.committees()
	var b strings.Builder
	for i, u := range cs {
		b.WriteString(text(lang, voiceCommitteeItem, i+1, u.Name(lang)))
	}
	says := append(before, text(lang, voiceCommitteeAsk), b.String())
	return l.gather(lang, l.voiceURL(StepCommittee, lang, try), len(cs), nil, says...)
}

func (l *Line) describePrompt(lang string, before ...string) []twiml.Element {
	action := l.voiceURL(StepDescribe, lang, 1)
	g := twiml.VoiceGather{
		Input: "speech", Language: sayLanguage(lang), Action: action, Method: "POST",
		Timeout: "6", SpeechTimeout: "auto",
	}
	for _, s := range append(before, text(lang, voiceDescribeAsk)) {
		if s != "" {
			g.InnerElements = append(g.InnerElements, l.say(lang, s))
		}
	}
	return []twiml.Element{g, twiml.VoiceRedirect{Url: action, Method: "POST"}}
}

func (l *Line) recordPrompt(lang string) []twiml.Element {
	action := l.voiceURL(StepRecord, lang, 1)
	return []twiml.Element{
		l.say(lang, text(lang, voiceRecordAsk)),
		twiml.VoiceRecord{
			Action: action, Method: "POST",
			RecordingStatusCallback: l.cfg.PublicURL + PathRecording, RecordingStatusCallbackMethod: "POST",
			MaxLength: strconv.Itoa(int(l.cfg.MaxRecording / time.Second)), PlayBeep: "true",
			Timeout: "5", FinishOnKey: "#", Trim: "trim-silence",
		},
		// An empty recording does not call the action: go on anyway.
		twiml.VoiceRedirect{Url: action, Method: "POST"},
	}
}

// stepCategory takes the caller's category by key or by voice, then asks
// for the committee unless the caller's number has one on record.
func (l *Line) stepCategory(ctx context.Context, st *call, lang string, try int, form url.Values) ([]twiml.Element, error) {
	cats := l.menu()
	idx := categoryChoice(cats, form)
	var said []string
	switch {
	case idx >= 0:
		st.Category = cats[idx].Code
		said = append(said, text(lang, voiceCategoryChosen, cats[idx].Name(lang)))
	case try < maxTries:
		return l.categoryPrompt(lang, try+1, text(lang, voiceNotUnderstood)), nil
	default:
		st.Category = l.category(l.cfg.GeneralCategory)
		c, _ := l.d.Directory.Catalogue().Find(st.Category)
		said = append(said, text(lang, voiceNotUnderstood), text(lang, voiceCategoryDefault, c.Name(lang)))
	}
	if st.Committee == "" && st.Address == "" && st.From != "" {
		rec, err := l.loadCaller(ctx, st.From)
		if err != nil {
			return nil, err
		}
		if u, ok := l.d.Directory.Network().Unit(rec.Committee); ok && u.Kind == hotline.KindCommittee {
			st.Committee, st.How = u.ID, howRecord
		}
	}
	if st.Committee != "" {
		if u, ok := l.d.Directory.Network().Unit(st.Committee); ok {
			said = append(said, text(lang, voiceCommitteeKnown, u.Name(lang)))
		}
		return l.describePrompt(lang, said...), nil
	}
	return l.committeePrompt(lang, 1, said...), nil
}

// categoryChoice is the index in cats of the category a caller chose by
// key or by voice, -1 when the input names none.
func categoryChoice(cats []hotline.Category, form url.Values) int {
	if d := digitsOnly(form.Get("Digits")); d != "" {
		if n, ok := atoiSmall(d); ok && n >= 1 && n <= len(cats) {
			return n - 1
		}
	} else if s := form.Get("SpeechResult"); s != "" {
		if n := spokenNumber(s); n >= 1 && n <= len(cats) {
			return n - 1
		}
		return guessCategory(s, cats)
	}
	return -1
}

// committeeNumber reads the committee step's input: the number keyed or
// said (0: don't know), -1 for none, and the words said.
func committeeNumber(form url.Values) (int, string) {
	n := -1
	speech := strings.TrimSpace(form.Get("SpeechResult"))
	if d := digitsOnly(form.Get("Digits")); d != "" {
		if v, ok := atoiSmall(d); ok {
			n = v
		}
	} else if speech != "" {
		n = spokenNumber(speech)
	}
	return n, speech
}

// stepCommittee takes the committee's number on the keypad (0: don't
// know), or a spoken number or address.
func (l *Line) stepCommittee(st *call, lang string, try int, form url.Values) []twiml.Element {
	cs := l.committees()
	n, speech := committeeNumber(form)
	switch {
	case n == 0:
		st.Committee, st.How, st.Address = "", "", ""
		return l.describePrompt(lang, text(lang, voiceCommitteeNone))
	case n >= 1 && n <= len(cs):
		u := cs[n-1]
		st.Committee, st.How, st.Address = u.ID, howKeypad, ""
		return l.describePrompt(lang, text(lang, voiceCommitteeChosen, u.Name(lang)))
	case n < 0 && speech != "":
		if u, ok := l.d.Directory.Network().CommitteeForAddress(speech); ok {
			st.Committee, st.How = "", ""
			st.Address = clip(speech, intake.MaxAddress)
			return l.describePrompt(lang, text(lang, voiceCommitteeChosen, u.Name(lang)))
		}
	}
	if try < maxTries {
		return l.committeePrompt(lang, try+1, text(lang, voiceNotUnderstood))
	}
	st.Committee, st.How, st.Address = "", "", ""
	return l.describePrompt(lang, text(lang, voiceCommitteeNone))
}

// stepRecord files the ticket, reads its number back twice and sends it
// by SMS.
func (l *Line) stepRecord(ctx context.Context, sid string, st *call, lang string) ([]twiml.Element, error) {
	cats := l.menu()
	code := st.Category
	if code == "" {
		// After hours nobody chose: the description decides.
		code = l.category(l.cfg.GeneralCategory)
		if i := guessCategory(st.Description, cats); i >= 0 {
			code = cats[i].Code
		}
	}
	desc := st.Description
	if desc == "" && st.RecordingURL == "" {
		desc = text(lang, descNoWords)
	}
	sub := intake.Submission{
		Channel: hotline.ChannelVoice, ServiceCode: code, Description: desc, Address: st.Address,
		Phone: st.From, Consent: true, Language: lang, MediaURL: st.RecordingURL,
		ExternalRef: sid, Actor: Actor,
	}
	t, err := l.fileCall(ctx, sid, st, sub)
	if err != nil {
		return nil, err
	}
	digits := spokenDigits(t.ID)
	says := []string{text(lang, voiceTicketNumber, digits, digits)}
	if t.Contact.Phone != "" {
		l.enqueueTicketNumber(ctx, t, lang)
		says = append(says, text(lang, voiceBySMS))
	}
	says = append(says, text(lang, voiceGoodbye))
	var verbs []twiml.Element
	for _, s := range says {
		verbs = append(verbs, l.say(lang, s))
	}
	return append(verbs, twiml.VoiceHangup{}), nil
}

// fileCall submits the call's ticket under the call's idempotency key and
// ties the call to it. Whichever of the last step and the status callback
// comes first files it; the other gets the same ticket.
func (l *Line) fileCall(ctx context.Context, sid string, st *call, sub intake.Submission) (*hotline.Ticket, error) {
	t, _, err := l.submit(ctx, sub, callIdempotencyKey(sid), st.Committee, st.How)
	if err != nil {
		return nil, err
	}
	st.TicketID = t.ID
	if err := l.d.Sessions.Save(ctx, callTicketKey(sid), callTicket{TicketID: t.ID}, callTicketTTL); err != nil {
		return nil, err
	}
	return t, nil
}

// usableURL reports whether s looks like a link Twilio gave (http or https
// with a host, not too long for a ticket's media URL).
func usableURL(s string) bool {
	if s == "" || len(s) > intake.MaxMediaURL {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil &&
		!strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e })
}

// clip shortens s to at most n runes (and valid UTF-8).
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// callbackDescription says what is known of an unfinished call.
func (l *Line) callbackDescription(st call, status string) string {
	lang := st.Lang
	parts := []string{text(lang, descCallback), text(lang, descCallbackStatus, status)}
	if c, ok := l.d.Directory.Catalogue().Find(st.Category); ok && st.Category != "" {
		parts = append(parts, text(lang, descCallbackChose, c.Name(lang)))
	}
	if st.Description != "" {
		parts = append(parts, text(lang, descCallbackSaid, st.Description))
	}
	return clip(strings.Join(parts, " "), intake.MaxDescription)
}

// shortHash is a short, stable name for arbitrary text in a key.
func shortHash(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
