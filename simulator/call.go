package simulator

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
)

// Call statuses, as Twilio names them.
const (
	statusRinging    = "ringing"
	statusInProgress = "in-progress"
	statusCompleted  = "completed"
	statusNoAnswer   = "no-answer"
	statusBusy       = "busy"
	statusFailed     = "failed"
)

// Prompt is one thing the caller hears (or the simulator notes) during a
// call.
type Prompt struct {
	// Kind is "say" (words, in Text), "play" (an audio file, its URL in
	// Text), "pause" (silence, Text the seconds), "beep" (recording
	// starts), "note" (what the simulator cannot play, e.g. a transfer),
	// "error" (the hotline's answer was unusable; Twilio would apologise
	// and hang up), or, in a transcript, "caller" (what the caller did).
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Language string `json:"language,omitempty"` // Twilio's language, e.g. "cmn-CN", "en-US"
	Voice    string `json:"voice,omitempty"`
}

// Wait is what the call waits for from the caller.
type Wait struct {
	// Kind is "gather" (keys or speech) or "record" (a message).
	Kind string `json:"kind"`
	// Input lists what a gather takes: "dtmf", "speech" or both.
	Input []string `json:"input,omitempty"`
	// NumDigits ends a gather after that many keys (0: no limit).
	NumDigits int `json:"num_digits,omitempty"`
	// FinishOnKey ends the input without being part of it (gather: "#" by
	// default; record: any key by default; "" none).
	FinishOnKey string `json:"finish_on_key"`
	// Timeout is the seconds Twilio waits for input; MaxLength the longest
	// recording.
	Timeout   int    `json:"timeout,omitempty"`
	MaxLength int    `json:"max_length,omitempty"`
	Language  string `json:"language,omitempty"`
	// Action is the public URL the input goes to.
	Action string `json:"action"`
}

// Call is a call as the page sees it.
type Call struct {
	SID    string `json:"sid"`
	From   string `json:"from"`
	To     string `json:"to"`
	Status string `json:"status"`
	Ended  bool   `json:"ended"`
	// Prompts is what the last step said (the answer to a POST); a GET
	// answers the whole call in Transcript instead.
	Prompts    []Prompt `json:"prompts"`
	Transcript []Prompt `json:"transcript,omitempty"`
	// Wait is nil when the call waits for nothing (it has ended).
	Wait *Wait `json:"wait"`
	// TicketIDs are the ticket numbers heard so far in the call.
	TicketIDs []string `json:"ticket_ids"`
	// Webhooks are the requests made for the last step.
	Webhooks []Exchange `json:"webhooks"`
	// Error says why the last step went wrong, when it did.
	Error string `json:"error,omitempty"`
}

// call is one simulated call. step serialises the steps of the call (a
// real caller does one thing at a time) and guards everything but status,
// ended, hangingUp and lastUsed, which the Simulator's mu guards so that a
// hang-up can be told while a step is running.
type call struct {
	step sync.Mutex

	sid, from, to string // never change
	wait          *Wait
	waitVerb      verb
	rest          []verb // the verbs after the waiting one: what runs on silence
	doc           string // public URL of the document rest came from
	transcript    []Prompt
	ticketIDs     []string

	// guarded by Simulator.mu
	status    string
	ended     bool
	hangingUp bool
	lastUsed  time.Time
	answered  time.Time
	seq       int // status callback sequence number
}

// step is what one request of the page did.
type step struct {
	prompts  []Prompt
	webhooks []Exchange
	err      string
}

func (st *step) add(p Prompt) { st.prompts = append(st.prompts, p) }

// callParams are the parameters of every voice webhook for c.
func (s *Simulator) callParams(c *call, status string) url.Values {
	v := url.Values{}
	v.Set("AccountSid", s.cfg.AccountSID)
	v.Set("ApiVersion", apiVersion)
	v.Set("CallSid", c.sid)
	v.Set("CallStatus", status)
	v.Set("Direction", "inbound")
	v.Set("From", c.from)
	v.Set("Caller", c.from)
	v.Set("To", c.to)
	v.Set("Called", c.to)
	if r := region(c.from); r != "" {
		v.Set("FromCountry", r)
		v.Set("CallerCountry", r)
	}
	if r := region(c.to); r != "" {
		v.Set("ToCountry", r)
		v.Set("CalledCountry", r)
	}
	return v
}

// region is the country code Twilio reports for a number ("CN").
func region(e164 string) string {
	n, err := phonenumbers.Parse(e164, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}

type startRequest struct {
	From string `json:"from"`
}

// handleCallStart dials: POST /sim/calls {"from": "13800138000"}.
func (s *Simulator) handleCallStart(w http.ResponseWriter, r *http.Request) {
	var req startRequest
	if err := decode(r, &req); err != nil {
		server.Error(w, r, err)
		return
	}
	from, err := phoneParam("from", req.From)
	if err != nil {
		server.Error(w, r, err)
		return
	}
	c := &call{sid: newSID("CA"), from: from, to: s.cfg.HotlineNumber, status: statusRinging}
	c.step.Lock()
	defer c.step.Unlock()
	s.addCall(c)

	ctx, cancel := stepContext(r)
	defer cancel()
	st := &step{}
	voice := s.webhookURL(s.cfg.VoicePath)
	verbs, ok := s.fetch(ctx, c, st, http.MethodPost, voice, nil)
	if ok {
		s.mu.Lock()
		answered := c.status == statusRinging && !c.ended
		if answered && !rejects(verbs) {
			c.status = statusInProgress
			c.answered = s.now()
		}
		s.mu.Unlock()
		if answered {
			s.run(ctx, c, st, verbs, voice)
		}
	}
	writeJSON(w, http.StatusCreated, s.view(c, st))
}

// webhookWait is how long one step may take, all its webhooks together:
// Twilio waits 15 seconds for each answer.
const webhookWait = 30 * time.Second

// stepContext is the context of a step's webhooks. A page closed halfway
// does not cut the hotline's answer short (Twilio would not either), but a
// step never outlasts webhookWait.
func stepContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), webhookWait)
}

// rejects reports whether a first answer turns the call away.
func rejects(verbs []verb) bool {
	return len(verbs) > 0 && verbs[0].Name == "Reject"
}

// addCall remembers c, forgetting calls idle for long and, past MaxCalls,
// the least recently used one.
func (s *Simulator) addCall(c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	c.lastUsed = now
	for sid, o := range s.calls {
		if now.Sub(o.lastUsed) > callIdle {
			delete(s.calls, sid)
		}
	}
	for len(s.calls) >= s.cfg.MaxCalls {
		var oldest *call
		for _, o := range s.calls {
			if oldest == nil || o.lastUsed.Before(oldest.lastUsed) {
				oldest = o
			}
		}
		delete(s.calls, oldest.sid)
	}
	s.calls[c.sid] = c
}

// findCall returns the call sid, or a not-found error the page can show.
func (s *Simulator) findCall(sid string) (*call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.calls[sid]
	if !ok {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no such call (it may have been forgotten after %v idle or a restart); dial again", callIdle)
	}
	c.lastUsed = s.now()
	return c, nil
}

func (s *Simulator) handleCallGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.findCall(r.PathValue("sid"))
	if err != nil {
		server.Error(w, r, err)
		return
	}
	c.step.Lock()
	defer c.step.Unlock()
	v := s.view(c, &step{})
	v.Transcript = slices.Clone(c.transcript)
	writeJSON(w, http.StatusOK, v)
}

// inputRequest is what the caller does at a gather or a record: exactly
// one of pressing keys, saying (typing) words, or staying silent until the
// timeout.
type inputRequest struct {
	Digits  *string `json:"digits"`
	Speech  *string `json:"speech"`
	Silence bool    `json:"silence"`
}

// handleCallInput: POST /sim/calls/{sid}/input.
func (s *Simulator) handleCallInput(w http.ResponseWriter, r *http.Request) {
	c, err := s.findCall(r.PathValue("sid"))
	if err != nil {
		server.Error(w, r, err)
		return
	}
	var in inputRequest
	if err := decode(r, &in); err != nil {
		server.Error(w, r, err)
		return
	}
	n := 0
	if in.Digits != nil {
		n++
	}
	if in.Speech != nil {
		n++
	}
	if in.Silence {
		n++
	}
	if n != 1 {
		server.Error(w, r, hotline.Errorf(hotline.EINVALID,
			`send exactly one of {"digits": "1"}, {"speech": "words"} or {"silence": true}`))
		return
	}
	if !c.step.TryLock() {
		server.Error(w, r, hotline.Errorf(hotline.ECONFLICT, "the hotline is still answering the last input; wait for it"))
		return
	}
	defer c.step.Unlock()
	s.mu.Lock()
	ended := c.ended
	s.mu.Unlock()
	if ended || c.wait == nil {
		server.Error(w, r, hotline.Errorf(hotline.ECONFLICT, "the call has ended; dial again"))
		return
	}

	ctx, cancel := stepContext(r)
	defer cancel()
	st := &step{}
	switch c.wait.Kind {
	case "gather":
		err = s.gatherInput(ctx, c, st, in)
	case "record":
		err = s.recordInput(ctx, c, st, in)
	}
	if err != nil {
		server.Error(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.view(c, st))
}

// gatherInput answers a <Gather>.
func (s *Simulator) gatherInput(ctx context.Context, c *call, st *step, in inputRequest) error {
	g := c.wait
	takes := func(kind string) bool { return slices.Contains(g.Input, kind) }
	extra := url.Values{}
	switch {
	case in.Digits != nil:
		if !takes("dtmf") {
			return hotline.Errorf(hotline.EINVALID, "this question waits for speech, not keys: type what you would say")
		}
		d := strings.TrimSpace(*in.Digits)
		if d == "" || len(d) > 64 || strings.Trim(d, "0123456789*#") != "" {
			return hotline.Errorf(hotline.EINVALID, "digits: only the keys 0-9, * and # (up to 64)")
		}
		c.log(Prompt{Kind: "caller", Text: d})
		// Twilio stops listening at the finish key or after NumDigits
		// keys, and never reports the finish key itself.
		if g.FinishOnKey != "" {
			if i := strings.Index(d, g.FinishOnKey); i >= 0 {
				d = d[:i]
			}
		}
		if g.NumDigits > 0 && len(d) > g.NumDigits {
			d = d[:g.NumDigits]
		}
		if d == "" {
			return s.silence(ctx, c, st)
		}
		extra.Set("Digits", d)
		if g.FinishOnKey != "" && strings.Contains(*in.Digits, g.FinishOnKey) {
			extra.Set("FinishedOnKey", g.FinishOnKey)
		}
	case in.Speech != nil:
		if !takes("speech") {
			return hotline.Errorf(hotline.EINVALID, "this question waits for keys, not speech: press them on the keypad")
		}
		words := strings.Join(strings.Fields(*in.Speech), " ")
		if words == "" {
			return s.silence(ctx, c, st)
		}
		if utf8.RuneCountInString(words) > maxSpeech {
			return hotline.Errorf(hotline.EINVALID, "speech: at most %d characters", maxSpeech)
		}
		c.log(Prompt{Kind: "caller", Text: words})
		extra.Set("SpeechResult", words)
		extra.Set("Confidence", "0.9")
		if g.Language != "" {
			extra.Set("Language", g.Language)
		}
	default:
		return s.silence(ctx, c, st)
	}
	s.continueAt(ctx, c, st, g.Action, c.waitVerb.attr("method"), extra)
	return nil
}

// silence is the caller saying nothing until the timeout: a gather with
// actionOnEmptyResult posts its action anyway; otherwise, and after a
// record, Twilio goes on with the verbs after the waiting one.
func (s *Simulator) silence(ctx context.Context, c *call, st *step) error {
	c.log(Prompt{Kind: "caller", Text: "…"})
	if c.wait.Kind == "gather" && c.waitVerb.attr("actionOnEmptyResult") == "true" {
		s.continueAt(ctx, c, st, c.wait.Action, c.waitVerb.attr("method"), url.Values{})
		return nil
	}
	rest, doc := c.rest, c.doc
	c.wait, c.rest = nil, nil
	s.run(ctx, c, st, rest, doc)
	return nil
}

// recordInput answers a <Record>: the typed words are the message. The
// recording's URL points at the simulator, which serves the words back as
// text; the action, the recording status callback and (when asked for) the
// transcription callback are posted in the order Twilio posts them.
func (s *Simulator) recordInput(ctx context.Context, c *call, st *step, in inputRequest) error {
	if in.Speech == nil {
		// A key at once, or silence: an empty recording, which Twilio
		// does not post; it goes on with the next verb.
		return s.silence(ctx, c, st)
	}
	words := strings.Join(strings.Fields(*in.Speech), " ")
	if words == "" {
		return s.silence(ctx, c, st)
	}
	if utf8.RuneCountInString(words) > maxSpeech {
		return hotline.Errorf(hotline.EINVALID, "speech: at most %d characters", maxSpeech)
	}
	c.log(Prompt{Kind: "caller", Text: words})
	rv := c.waitVerb
	// About four syllables a second, which is four characters of Chinese.
	dur := utf8.RuneCountInString(words)/4 + 1
	if c.wait.MaxLength > 0 && dur > c.wait.MaxLength {
		dur = c.wait.MaxLength
	}
	recSID := newSID("RE")
	recURL := s.webhookURL("/sim/recordings/" + recSID)
	s.keepRecording(recSID, words)
	key := "#"
	if fk := c.wait.FinishOnKey; fk != "" && !strings.Contains(fk, "#") {
		key = fk[:1]
	}

	extra := url.Values{}
	extra.Set("RecordingUrl", recURL)
	extra.Set("RecordingSid", recSID)
	extra.Set("RecordingDuration", strconv.Itoa(dur))
	extra.Set("Digits", key)
	action := c.wait.Action
	doc := c.doc

	// The action first: its answer is what the caller hears next.
	verbs, next, ok := s.fetchAt(ctx, c, st, action, rv.attr("method"), extra)

	cb := rv.attr("recordingStatusCallback")
	if cb == "" {
		cb = s.cfg.RecordingPath
	}
	if target, err := resolve(doc, cb); err == nil {
		p := url.Values{}
		p.Set("AccountSid", s.cfg.AccountSID)
		p.Set("CallSid", c.sid)
		p.Set("RecordingSid", recSID)
		p.Set("RecordingUrl", recURL)
		p.Set("RecordingStatus", "completed")
		p.Set("RecordingDuration", strconv.Itoa(dur))
		p.Set("RecordingChannels", "1")
		p.Set("RecordingSource", "RecordVerb")
		p.Set("RecordingStartTime", s.now().UTC().Format(time.RFC1123Z))
		p.Set("ErrorCode", "0")
		ex, _, _ := s.post(ctx, twilioMethod(rv.attr("recordingStatusCallbackMethod")), target, p)
		st.webhooks = append(st.webhooks, ex)
	}
	if tcb := rv.attr("transcribeCallback"); tcb != "" {
		if target, err := resolve(doc, tcb); err == nil {
			p := s.callParams(c, statusInProgress)
			p.Set("TranscriptionSid", newSID("TR"))
			p.Set("TranscriptionText", words)
			p.Set("TranscriptionStatus", "completed")
			p.Set("TranscriptionType", "fast")
			p.Set("RecordingSid", recSID)
			p.Set("RecordingUrl", recURL)
			ex, _, _ := s.post(ctx, http.MethodPost, target, p)
			st.webhooks = append(st.webhooks, ex)
		}
	}
	if ok {
		s.run(ctx, c, st, verbs, next)
	}
	return nil
}

// continueAt posts the waiting verb's action and runs its answer.
func (s *Simulator) continueAt(ctx context.Context, c *call, st *step, action, method string, extra url.Values) {
	verbs, next, ok := s.fetchAt(ctx, c, st, action, method, extra)
	if ok {
		s.run(ctx, c, st, verbs, next)
	}
}

// twilioMethod is the method Twilio uses for a TwiML method attribute:
// GET when it says so, POST otherwise.
func twilioMethod(attr string) string {
	if strings.EqualFold(strings.TrimSpace(attr), http.MethodGet) {
		return http.MethodGet
	}
	return http.MethodPost
}

// fetchAt clears what the call waited for and fetches action (a public
// URL) with the call's parameters and extra.
func (s *Simulator) fetchAt(ctx context.Context, c *call, st *step, action, method string, extra url.Values) ([]verb, string, bool) {
	c.wait, c.rest = nil, nil
	verbs, ok := s.fetch(ctx, c, st, twilioMethod(method), action, extra)
	return verbs, action, ok
}

// fetch requests a TwiML document for the call. On failure the call ends
// the way Twilio ends it: an apology, then the hang-up.
func (s *Simulator) fetch(ctx context.Context, c *call, st *step, method, target string, extra url.Values) ([]verb, bool) {
	s.mu.Lock()
	status := c.status
	s.mu.Unlock()
	form := s.callParams(c, status)
	for k, vs := range extra {
		form[k] = vs
	}
	ex, body, err := s.post(ctx, method, target, form)
	var verbs []verb
	if err == nil {
		verbs, err = parseTwiML(body)
		if err != nil {
			ex.Error = err.Error()
		}
	}
	st.webhooks = append(st.webhooks, ex)
	if err != nil {
		st.err = ex.Error
		p := Prompt{Kind: "error", Text: "An application error has occurred. " + ex.Error}
		st.add(p)
		c.log(p)
		final := statusCompleted
		if status == statusRinging {
			final = statusFailed
		}
		s.end(ctx, c, st, final)
		return nil, false
	}
	return verbs, true
}

// run plays TwiML verbs until the call waits for the caller or ends.
// doc is the public URL the verbs came from, what relative URLs in them
// resolve against.
func (s *Simulator) run(ctx context.Context, c *call, st *step, verbs []verb, doc string) {
	hops := 0
	for i := 0; i < len(verbs); i++ {
		if s.hungUp(c) {
			return
		}
		v := verbs[i]
		switch v.Name {
		case "Say", "Play", "Pause":
			s.sound(c, st, v)
		case "Gather":
			for _, ch := range v.Children {
				s.sound(c, st, ch)
			}
			action, err := resolve(doc, v.attr("action"))
			if err != nil {
				s.fail(ctx, c, st, "<Gather> action: "+err.Error())
				return
			}
			input := strings.Fields(strings.ToLower(v.attr("input")))
			if len(input) == 0 {
				input = []string{"dtmf"}
			}
			finish := "#"
			if fk, ok := v.Attrs["finishOnKey"]; ok {
				finish = fk
			}
			c.wait = &Wait{Kind: "gather", Input: input, NumDigits: v.attrInt("numDigits", 0),
				FinishOnKey: finish, Timeout: v.attrInt("timeout", 5), Language: v.attr("language"), Action: action}
			c.waitVerb, c.rest, c.doc = v, verbs[i+1:], doc
			return
		case "Record":
			action, err := resolve(doc, v.attr("action"))
			if err != nil {
				s.fail(ctx, c, st, "<Record> action: "+err.Error())
				return
			}
			if v.attr("playBeep") != "false" {
				p := Prompt{Kind: "beep"}
				st.add(p)
				c.log(p)
			}
			finish := "1234567890*#"
			if fk, ok := v.Attrs["finishOnKey"]; ok {
				finish = fk
			}
			c.wait = &Wait{Kind: "record", FinishOnKey: finish, Timeout: v.attrInt("timeout", 5),
				MaxLength: v.attrInt("maxLength", 3600), Action: action}
			c.waitVerb, c.rest, c.doc = v, verbs[i+1:], doc
			return
		case "Hangup":
			s.end(ctx, c, st, statusCompleted)
			return
		case "Reject":
			final := statusNoAnswer
			if v.attr("reason") == "busy" {
				final = statusBusy
			}
			s.end(ctx, c, st, final)
			return
		case "Redirect":
			hops++
			if hops > maxHops {
				s.fail(ctx, c, st, fmt.Sprintf("more than %d redirects in a row", maxHops))
				return
			}
			target, err := resolve(doc, v.Text)
			if err != nil || v.Text == "" {
				s.fail(ctx, c, st, "<Redirect> without a usable URL")
				return
			}
			next, ok := s.fetch(ctx, c, st, twilioMethod(v.attr("method")), target, nil)
			if !ok {
				return
			}
			verbs, doc, i = next, target, -1
		case "Dial":
			number := v.Text
			for _, ch := range v.Children {
				if ch.Text != "" {
					number = ch.Text
				}
			}
			p := Prompt{Kind: "note", Text: "transfer: " + number}
			st.add(p)
			c.log(p)
			if a := v.attr("action"); a != "" {
				hops++
				if hops > maxHops {
					s.fail(ctx, c, st, fmt.Sprintf("more than %d documents in a row", maxHops))
					return
				}
				target, err := resolve(doc, a)
				if err != nil {
					s.fail(ctx, c, st, "<Dial> action: "+err.Error())
					return
				}
				// Nobody answers a simulated transfer.
				extra := url.Values{"DialCallStatus": {"no-answer"}, "DialCallDuration": {"0"}}
				next, ok := s.fetch(ctx, c, st, http.MethodPost, target, extra)
				if !ok {
					return
				}
				verbs, doc, i = next, target, -1
			}
		default:
			p := Prompt{Kind: "note", Text: "<" + v.Name + "> is not simulated"}
			st.add(p)
			c.log(p)
		}
	}
	// The end of the document ends the call.
	s.end(ctx, c, st, statusCompleted)
}

// sound adds what a <Say>, <Play> or <Pause> makes the caller hear.
func (s *Simulator) sound(c *call, st *step, v verb) {
	var p Prompt
	switch v.Name {
	case "Say":
		p = Prompt{Kind: "say", Text: v.Text, Language: v.attr("language"), Voice: v.attr("voice")}
		if p.Language == "" {
			p.Language = "en-US" // Twilio's default
		}
		if ids := ticketNumbers(v.Text); len(ids) > 0 {
			for _, id := range ids {
				if !slices.Contains(c.ticketIDs, id) {
					c.ticketIDs = append(c.ticketIDs, id)
				}
			}
		}
	case "Play":
		p = Prompt{Kind: "play", Text: v.Text}
		if d := v.attr("digits"); d != "" {
			p.Text = d
		}
	case "Pause":
		p = Prompt{Kind: "pause", Text: strconv.Itoa(v.attrInt("length", 1))}
	default:
		return
	}
	st.add(p)
	c.log(p)
}

// fail ends the call for TwiML the simulator (and Twilio) cannot follow.
func (s *Simulator) fail(ctx context.Context, c *call, st *step, why string) {
	st.err = why
	p := Prompt{Kind: "error", Text: "An application error has occurred. " + why}
	st.add(p)
	c.log(p)
	s.end(ctx, c, st, statusCompleted)
}

// hungUp reports whether the caller has hung up (or the call ended):
// Twilio stops executing TwiML then.
func (s *Simulator) hungUp(c *call) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.ended || c.hangingUp
}

// end ends the call with a final status and posts the status callback,
// once.
func (s *Simulator) end(ctx context.Context, c *call, st *step, final string) {
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		return
	}
	c.ended, c.status = true, final
	s.mu.Unlock()
	c.wait, c.rest = nil, nil
	st.webhooks = append(st.webhooks, s.statusCallback(ctx, c, final))
}

// statusCallback posts the call's final status to the status webhook.
func (s *Simulator) statusCallback(ctx context.Context, c *call, final string) Exchange {
	p := s.callParams(c, final)
	s.mu.Lock()
	answered, seq := c.answered, c.seq
	c.seq++
	s.mu.Unlock()
	dur := 0
	if !answered.IsZero() {
		dur = int(s.now().Sub(answered).Round(time.Second) / time.Second)
	}
	p.Set("CallDuration", strconv.Itoa(dur))
	p.Set("Duration", strconv.Itoa((dur+59)/60))
	p.Set("Timestamp", s.now().UTC().Format(time.RFC1123Z))
	p.Set("CallbackSource", "call-progress-events")
	p.Set("SequenceNumber", strconv.Itoa(seq))
	ex, _, err := s.post(ctx, http.MethodPost, s.webhookURL(s.cfg.StatusPath), p)
	if err != nil {
		s.log.Warn("simulator: status callback", "call", c.sid, "err", err)
	}
	return ex
}

// handleCallHangup: POST /sim/calls/{sid}/hangup. A call still ringing
// ends as no-answer at once; otherwise the hang-up waits for the step in
// flight (whose remaining TwiML is then skipped) and ends the call as
// completed.
func (s *Simulator) handleCallHangup(w http.ResponseWriter, r *http.Request) {
	c, err := s.findCall(r.PathValue("sid"))
	if err != nil {
		server.Error(w, r, err)
		return
	}
	s.mu.Lock()
	if c.ended {
		s.mu.Unlock()
		c.step.Lock()
		defer c.step.Unlock()
		writeJSON(w, http.StatusOK, s.view(c, &step{}))
		return
	}
	if c.status == statusRinging {
		// The first webhook is still out: Twilio reports the call as not
		// answered. The step in flight owns the transcript; this answer
		// reads only what never changes.
		c.ended, c.status = true, statusNoAnswer
		s.mu.Unlock()
		ctx, cancel := stepContext(r)
		defer cancel()
		ex := s.statusCallback(ctx, c, statusNoAnswer)
		writeJSON(w, http.StatusOK, Call{SID: c.sid, From: c.from, To: c.to, Status: statusNoAnswer, Ended: true,
			Prompts: []Prompt{}, TicketIDs: []string{}, Webhooks: []Exchange{ex}})
		return
	}
	c.hangingUp = true
	s.mu.Unlock()

	c.step.Lock()
	defer c.step.Unlock()
	ctx, cancel := stepContext(r)
	defer cancel()
	st := &step{}
	if !c.endedLocked(s) {
		c.log(Prompt{Kind: "caller", Text: "hangup"})
		s.end(ctx, c, st, statusCompleted)
	}
	writeJSON(w, http.StatusOK, s.view(c, st))
}

// endedLocked reports whether c has ended.
func (c *call) endedLocked(s *Simulator) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.ended
}

// log adds a line to the call's transcript, keeping the latest lines.
func (c *call) log(p Prompt) {
	c.transcript = append(c.transcript, p)
	if len(c.transcript) > maxTranscriptLen {
		c.transcript = slices.Delete(c.transcript, 0, len(c.transcript)-maxTranscriptLen)
	}
}

// view is the page's picture of c after st. The caller holds c.step.
func (s *Simulator) view(c *call, st *step) Call {
	s.mu.Lock()
	status, ended := c.status, c.ended
	s.mu.Unlock()
	v := Call{SID: c.sid, From: c.from, To: c.to, Status: status, Ended: ended,
		Prompts: st.prompts, TicketIDs: slices.Clone(c.ticketIDs), Webhooks: st.webhooks, Error: st.err}
	if v.Prompts == nil {
		v.Prompts = []Prompt{}
	}
	if v.TicketIDs == nil {
		v.TicketIDs = []string{}
	}
	if v.Webhooks == nil {
		v.Webhooks = []Exchange{}
	}
	if !ended && c.wait != nil {
		w := *c.wait
		v.Wait = &w
	}
	return v
}
