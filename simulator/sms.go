package simulator

import (
	"bytes"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/server"
)

// SMS is one text message of a phone's conversation with the hotline.
type SMS struct {
	SID  string    `json:"sid"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Body string    `json:"body"`
	At   time.Time `json:"at"`
	// Direction is "in" for a message the phone received, "out" for one
	// it sent.
	Direction string `json:"direction"`
	// Via is how it travelled: "phone" (typed on the simulator), "reply"
	// (a TwiML <Message> answering it), "rest" (sent by the hotline
	// through the REST API).
	Via string `json:"via"`
	// Status is the REST message's delivery status ("queued", "sent",
	// "delivered"…), empty for the others.
	Status    string   `json:"status,omitempty"`
	TicketIDs []string `json:"ticket_ids"`
}

// thread is the SMS a phone sent and the inline replies it got.
type thread struct {
	msgs     []SMS
	lastUsed time.Time
}

// keep appends m to phone's thread, within the bounds.
func (s *Simulator) keep(phone string, m SMS) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.threads[phone]
	if t == nil {
		if len(s.threads) >= maxThreads {
			var oldest string
			var at time.Time
			for p, o := range s.threads {
				if oldest == "" || o.lastUsed.Before(at) {
					oldest, at = p, o.lastUsed
				}
			}
			delete(s.threads, oldest)
		}
		t = &thread{}
		s.threads[phone] = t
	}
	t.lastUsed = s.now()
	t.msgs = append(t.msgs, m)
	if len(t.msgs) > maxThreadLen {
		t.msgs = slices.Delete(t.msgs, 0, len(t.msgs)-maxThreadLen)
	}
}

type smsRequest struct {
	From string `json:"from"`
	Body string `json:"body"`
}

// SMSResult answers POST /sim/sms: the message sent and the replies
// the hotline gave inline.
type SMSResult struct {
	Sent     SMS        `json:"sent"`
	Replies  []SMS      `json:"replies"`
	Webhooks []Exchange `json:"webhooks"`
	Error    string     `json:"error,omitempty"`
}

// handleSMS sends a text: POST /sim/sms {"from": "13800138000", "body": "…"}.
func (s *Simulator) handleSMS(w http.ResponseWriter, r *http.Request) {
	var req smsRequest
	if err := decode(r, &req); err != nil {
		server.Error(w, r, err)
		return
	}
	from, err := phoneParam("from", req.From)
	if err != nil {
		server.Error(w, r, err)
		return
	}
	body := strings.TrimSpace(req.Body)
	switch {
	case body == "":
		server.Error(w, r, &hotline.Error{Code: hotline.EINVALID, Message: "body: type a message first",
			Fields: map[string]string{"body": "type a message first"}})
		return
	case utf8.RuneCountInString(body) > maxSMSBody:
		server.Error(w, r, &hotline.Error{Code: hotline.EINVALID, Message: "body: at most 1600 characters",
			Fields: map[string]string{"body": "at most 1600 characters"}})
		return
	}

	sid := newSID("SM")
	to := s.cfg.HotlineNumber
	sent := SMS{SID: sid, From: from, To: to, Body: body, At: s.now(), Direction: "out", Via: "phone",
		TicketIDs: ticketNumbers(body)}
	s.keep(from, sent)

	form := url.Values{}
	form.Set("AccountSid", s.cfg.AccountSID)
	form.Set("ApiVersion", apiVersion)
	form.Set("MessageSid", sid)
	form.Set("SmsSid", sid)
	form.Set("SmsMessageSid", sid)
	form.Set("SmsStatus", "received")
	form.Set("From", from)
	form.Set("To", to)
	form.Set("Body", body)
	form.Set("NumMedia", "0")
	form.Set("NumSegments", "1")
	if rg := region(from); rg != "" {
		form.Set("FromCountry", rg)
	}
	if rg := region(to); rg != "" {
		form.Set("ToCountry", rg)
	}

	ctx, cancel := stepContext(r)
	defer cancel()
	res := SMSResult{Sent: sent, Replies: []SMS{}}
	target := s.webhookURL(s.cfg.SMSPath)
	method := http.MethodPost
	for hop := 0; hop <= maxHops; hop++ {
		ex, answer, err := s.post(ctx, method, target, form)
		if err == nil && len(bytes.TrimSpace(answer)) == 0 {
			// No reply (204, or an empty body): Twilio sends nothing back.
			res.Webhooks = append(res.Webhooks, ex)
			break
		}
		var verbs []verb
		if err == nil {
			verbs, err = parseTwiML(answer)
			if err != nil {
				ex.Error = err.Error()
			}
		}
		res.Webhooks = append(res.Webhooks, ex)
		if err != nil {
			res.Error = ex.Error
			break
		}
		next := ""
		for _, v := range verbs {
			if v.Name == "Redirect" {
				next = strings.TrimSpace(v.Text)
				method = twilioMethod(v.attr("method"))
				break
			}
			if v.Name != "Message" && v.Name != "Sms" {
				continue
			}
			m := SMS{SID: newSID("SM"), From: to, To: from, Body: messageBody(v), At: s.now(),
				Direction: "in", Via: "reply"}
			if a := v.attr("from"); a != "" {
				m.From = a
			}
			if a := v.attr("to"); a != "" {
				if n, err := phoneParam("to", a); err == nil {
					m.To = n
				}
			}
			m.TicketIDs = ticketNumbers(m.Body)
			s.keep(m.To, m)
			if m.To == from {
				res.Replies = append(res.Replies, m)
			}
		}
		if next == "" {
			break
		}
		if hop == maxHops {
			res.Error = "more than 20 redirects in a row"
			break
		}
		if target, err = resolve(target, next); err != nil {
			res.Error = "<Redirect> without a usable URL"
			break
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// InboxView answers GET /sim/inbox: a phone's conversation with the hotline.
type InboxView struct {
	Phone    string `json:"phone"`
	Messages []SMS  `json:"messages"` // oldest first
}

// maxInbox is how many messages GET /sim/inbox answers, the latest.
const maxInbox = 200

// handleInbox: GET /sim/inbox?phone=13800138000 → the messages the phone
// sent and received, inline replies and REST messages merged, newest last.
func (s *Simulator) handleInbox(w http.ResponseWriter, r *http.Request) {
	phone, err := phoneParam("phone", r.URL.Query().Get("phone"))
	if err != nil {
		server.Error(w, r, err)
		return
	}
	s.mu.Lock()
	var msgs []SMS
	if t := s.threads[phone]; t != nil {
		msgs = slices.Clone(t.msgs)
	}
	s.mu.Unlock()
	if s.inbox != nil {
		for _, m := range s.inbox.MessagesTo(phone) {
			from := m.From
			if from == "" {
				from = s.cfg.HotlineNumber
			}
			msgs = append(msgs, SMS{SID: m.SID, From: from, To: m.To, Body: m.Body, At: m.DateCreated,
				Direction: "in", Via: "rest", Status: m.Status, TicketIDs: ticketNumbers(m.Body)})
		}
	}
	slices.SortStableFunc(msgs, func(a, b SMS) int { return a.At.Compare(b.At) })
	if len(msgs) > maxInbox {
		msgs = msgs[len(msgs)-maxInbox:]
	}
	for i := range msgs {
		if msgs[i].TicketIDs == nil {
			msgs[i].TicketIDs = []string{}
		}
	}
	if msgs == nil {
		msgs = []SMS{}
	}
	writeJSON(w, http.StatusOK, InboxView{Phone: phone, Messages: msgs})
}

// keepRecording remembers the words of a simulated recording, the oldest
// forgotten past maxRecordings.
func (s *Simulator) keepRecording(sid, words string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recordings[sid] = words
	s.recOrder = append(s.recOrder, sid)
	for len(s.recOrder) > maxRecordings {
		delete(s.recordings, s.recOrder[0])
		s.recOrder = s.recOrder[1:]
	}
}

// handleRecording serves a simulated recording, which is the words typed
// for it, as text: GET /sim/recordings/RE…[.mp3|.wav]. Whoever follows
// the RecordingUrl (staff, the hotline fetching the media) gets something
// harmless instead of audio.
func (s *Simulator) handleRecording(w http.ResponseWriter, r *http.Request) {
	sid := r.PathValue("sid")
	if i := strings.IndexByte(sid, '.'); i >= 0 {
		sid = sid[:i]
	}
	s.mu.Lock()
	words, ok := s.recordings[sid]
	s.mu.Unlock()
	if !ok {
		server.Error(w, r, hotline.Errorf(hotline.ENOTFOUND, "no such simulated recording (only the latest %d are kept)", maxRecordings))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("（模拟录音 simulated recording）" + words + "\n"))
}
