// Package twiliofake is a stand-in for Twilio's REST API, Messages resource
// only: it accepts messages the way Twilio does (same paths, basic auth,
// form fields, JSON answers and error shapes), keeps the latest ones in
// memory, and can post signed status callbacks back to the sender. Tests
// use it through twilio-go's real client (NewRestClient, Transport); the
// phone simulator serves it at run time when no Twilio account is
// configured. A Server is safe for concurrent use.
package twiliofake

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// apiVersion is the version segment of every Messages path.
const apiVersion = "2010-04-01"

const (
	// defaultKeep is how many messages a Server remembers by default: a
	// simulator's afternoon, a few MB at most.
	defaultKeep = 1000
	// defaultCallbackDelay spaces the callbacks of one message (accepted →
	// sent → delivered), roughly what a handset on a good network sees.
	defaultCallbackDelay = 100 * time.Millisecond
	// callbackQueue bounds the callbacks waiting to be posted; past it a
	// message still moves through its statuses but its callbacks are
	// dropped (and logged), so a dead webhook cannot grow memory.
	callbackQueue = 256
	// callbackWorkers post callbacks in parallel: one slow webhook does not
	// hold every other message's.
	callbackWorkers = 4
	// maxBody is the longest body Twilio accepts, in characters.
	maxBody = 1600
	// maxForm bounds a request body read by the fake.
	maxForm = 64 << 10
)

// Twilio error codes the fake answers with.
const (
	CodeAuthenticate       = 20003 // 401: wrong or missing credentials
	CodeNotFound           = 20404 // 404: no such resource
	CodeTooManyRequests    = 20429 // 429
	CodeInternal           = 20500 // 500
	CodeUnavailable        = 20503 // 503
	CodeInvalidTo          = 21211 // 400: the To number is not valid
	CodeBodyRequired       = 21602 // 400
	CodeFromRequired       = 21603 // 400: neither From nor MessagingServiceSid
	CodeToRequired         = 21604 // 400
	CodeInvalidCallbackURL = 21609 // 400
	CodeUnsubscribed       = 21610 // 400: the recipient replied STOP
	CodeBodyTooLong        = 21617 // 400
	CodeUnreachable        = 30003 // delivery: handset unreachable (status callback)
)

// Config sets up a Server.
type Config struct {
	// AccountSID and AuthToken are the credentials the fake accepts (HTTP
	// basic auth) and signs callbacks with. twilio-go refuses anything but
	// letters and digits in either before sending.
	AccountSID string
	AuthToken  string
	// Callbacks turns on status callbacks: after accepting a message with
	// a StatusCallback URL, the fake posts "sent" and then "delivered" (or
	// "undelivered" for a number set with Undeliverable) to it, signed
	// with X-Twilio-Signature. Off, messages still move through those
	// statuses, silently.
	Callbacks bool
	// CallbackDelay is the pause before each status change (0: 100 ms).
	CallbackDelay time.Duration
	// Keep is how many messages are remembered, oldest dropped first
	// (0: 1000).
	Keep int
	// HTTPClient posts the callbacks (nil: one with a 10 s timeout).
	HTTPClient *http.Client
	// OnMessage, when set, is called with a copy of a message when it is
	// accepted and after each status change, outside the Server's lock.
	// It must not block for long (it runs on the request or callback
	// goroutine); the simulator uses it to push messages to its page.
	OnMessage func(Message)
	// Logger receives warnings about callbacks that failed (sid and error,
	// no numbers or bodies). Nil means slog.Default().
	Logger *slog.Logger
}

// Message is one message the fake accepted, as it stands now.
type Message struct {
	SID                 string    `json:"sid"`
	AccountSID          string    `json:"account_sid"`
	To                  string    `json:"to"`
	From                string    `json:"from,omitempty"`
	MessagingServiceSID string    `json:"messaging_service_sid,omitempty"`
	Body                string    `json:"body"`
	StatusCallback      string    `json:"status_callback,omitempty"`
	Status              string    `json:"status"`
	ErrorCode           int       `json:"error_code,omitempty"`
	NumSegments         int       `json:"num_segments"`
	DateCreated         time.Time `json:"date_created"`
	DateUpdated         time.Time `json:"date_updated"`
	DateSent            time.Time `json:"date_sent,omitzero"`
}

// Server is the fake API, an http.Handler. Create it with New; Close stops
// its callback workers.
type Server struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client

	mu            sync.Mutex
	msgs          []*Message // oldest first, at most cfg.Keep
	bySID         map[string]*Message
	failN         int
	failStatus    int
	refused       map[string]bool
	undeliverable map[string]int // number → error code
	requests      int

	startOnce sync.Once
	jobs      chan string // sids whose status should move on
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New returns a fake for cfg's account.
func New(cfg Config) *Server {
	if cfg.Keep <= 0 {
		cfg.Keep = defaultKeep
	}
	if cfg.CallbackDelay <= 0 {
		cfg.CallbackDelay = defaultCallbackDelay
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger,
		client:        cfg.HTTPClient,
		bySID:         map[string]*Message{},
		refused:       map[string]bool{},
		undeliverable: map[string]int{},
		jobs:          make(chan string, callbackQueue),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		s.client = &http.Client{
			Timeout: 10 * time.Second,
			// Twilio does not follow redirects from a callback URL either.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s
}

// Close stops the callback workers, dropping the callbacks not yet posted,
// and waits for those being posted. The Server still answers requests.
func (s *Server) Close() {
	s.cancel()
	s.wg.Wait()
}

// FailNext makes the next n API requests fail with HTTP status (e.g. 500,
// 503 or 429) and Twilio's error body for it, before anything is stored.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failN, s.failStatus = n, status
}

// Refuse makes the fake refuse messages to phone with error 21610
// (unsubscribed recipient, HTTP 400), as Twilio does after a STOP.
func (s *Server) Refuse(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refused[phone] = true
}

// Unrefuse undoes Refuse (the resident replied START).
func (s *Server) Unrefuse(phone string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refused, phone)
}

// Undeliverable makes messages to phone be accepted but end "undelivered"
// with errorCode (0: 30003, unreachable) in their last status callback.
func (s *Server) Undeliverable(phone string, errorCode int) {
	if errorCode == 0 {
		errorCode = CodeUnreachable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.undeliverable[phone] = errorCode
}

// Messages returns copies of the remembered messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Message, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = *m
	}
	return out
}

// MessagesTo returns copies of the remembered messages to phone, oldest
// first.
func (s *Server) MessagesTo(phone string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.msgs {
		if m.To == phone {
			out = append(out, *m)
		}
	}
	return out
}

// Message returns the remembered message sid.
func (s *Server) Message(sid string) (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.bySID[sid]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Requests counts the API requests received (failed ones included).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Reset forgets every message, failure and refused number.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.msgs, s.bySID = nil, map[string]*Message{}
	s.failN, s.failStatus = 0, 0
	s.refused, s.undeliverable = map[string]bool{}, map[string]int{}
	s.requests = 0
}

// ServeHTTP answers POST /2010-04-01/Accounts/{AccountSid}/Messages.json
// and GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+apiVersion+"/Accounts/")
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound, "The requested resource "+r.URL.Path+" was not found")
		return
	}
	account, resource, _ := strings.Cut(rest, "/")
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth || !hmac.Equal([]byte(user), []byte(s.cfg.AccountSID)) ||
		!hmac.Equal([]byte(pass), []byte(s.cfg.AuthToken)) || account != s.cfg.AccountSID {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, CodeAuthenticate, "Authenticate")
		return
	}
	s.mu.Lock()
	s.requests++
	if s.failN > 0 {
		s.failN--
		status := s.failStatus
		s.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, failCode(status), http.StatusText(status))
		return
	}
	s.mu.Unlock()

	switch {
	case resource == "Messages.json":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
			return
		}
		s.create(w, r, account)
	case strings.HasPrefix(resource, "Messages/") && strings.HasSuffix(resource, ".json") &&
		!strings.Contains(strings.TrimSuffix(strings.TrimPrefix(resource, "Messages/"), ".json"), "/"):
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
			return
		}
		sid := strings.TrimSuffix(strings.TrimPrefix(resource, "Messages/"), ".json")
		m, ok := s.Message(sid)
		if !ok {
			writeError(w, http.StatusNotFound, CodeNotFound, "The requested resource "+r.URL.Path+" was not found")
			return
		}
		writeJSON(w, http.StatusOK, resourceJSON(&m))
	default:
		writeError(w, http.StatusNotFound, CodeNotFound, "The requested resource "+r.URL.Path+" was not found")
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, account string) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 20001, "Invalid request body")
		return
	}
	to := r.PostForm.Get("To")
	from := r.PostForm.Get("From")
	service := r.PostForm.Get("MessagingServiceSid")
	body := r.PostForm.Get("Body")
	callback := r.PostForm.Get("StatusCallback")
	switch {
	case to == "":
		writeError(w, http.StatusBadRequest, CodeToRequired, "A 'To' phone number is required.")
		return
	case !validE164(to):
		writeError(w, http.StatusBadRequest, CodeInvalidTo, "Invalid 'To' Phone Number: "+to)
		return
	case from == "" && service == "":
		writeError(w, http.StatusBadRequest, CodeFromRequired, "A 'From' phone number is required.")
		return
	case body == "":
		writeError(w, http.StatusBadRequest, CodeBodyRequired, "Message body is required.")
		return
	case utf8.RuneCountInString(body) > maxBody:
		writeError(w, http.StatusBadRequest, CodeBodyTooLong, "The concatenated message body exceeds the 1600 character limit.")
		return
	}
	if callback != "" {
		u, err := url.Parse(callback)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			writeError(w, http.StatusBadRequest, CodeInvalidCallbackURL, "The StatusCallback URL "+callback+" is not a valid URL.")
			return
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	m := &Message{
		SID: newSID("SM"), AccountSID: account, To: to, From: from, MessagingServiceSID: service,
		Body: body, StatusCallback: callback, Status: "queued", NumSegments: segments(body),
		DateCreated: now, DateUpdated: now,
	}
	if from == "" {
		// A Messaging Service picks the sender later: Twilio answers
		// "accepted" with no from.
		m.Status = "accepted"
	}
	s.mu.Lock()
	if s.refused[to] {
		s.mu.Unlock()
		writeError(w, http.StatusBadRequest, CodeUnsubscribed, "Attempt to send to unsubscribed recipient")
		return
	}
	s.msgs = append(s.msgs, m)
	s.bySID[m.SID] = m
	if over := len(s.msgs) - s.cfg.Keep; over > 0 {
		for _, old := range s.msgs[:over] {
			delete(s.bySID, old.SID)
		}
		s.msgs = slices.Delete(s.msgs, 0, over)
	}
	snapshot := *m
	s.mu.Unlock()

	writeJSON(w, http.StatusCreated, resourceJSON(&snapshot))
	s.notify(snapshot)
	s.schedule(m.SID)
}

// schedule queues sid to move through sent and delivered.
func (s *Server) schedule(sid string) {
	s.startOnce.Do(func() {
		for range callbackWorkers {
			s.wg.Add(1)
			go s.work()
		}
	})
	select {
	case s.jobs <- sid:
	case <-s.ctx.Done():
	default:
		s.log.Warn("twiliofake: status queue full, message stays queued", "sid", sid)
	}
}

func (s *Server) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.ctx.Done():
			return
		case sid := <-s.jobs:
			s.progress(sid)
		}
	}
}

// progress moves a message to sent, then to delivered (or undelivered),
// posting a callback after each change when callbacks are on.
func (s *Server) progress(sid string) {
	for _, step := range []string{"sent", "delivered"} {
		t := time.NewTimer(s.cfg.CallbackDelay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.mu.Lock()
		m, ok := s.bySID[sid]
		if !ok {
			s.mu.Unlock()
			return // forgotten (Reset or evicted)
		}
		m.Status = step
		m.DateUpdated = time.Now().UTC().Truncate(time.Second)
		if step == "sent" {
			m.DateSent = m.DateUpdated
			if m.From == "" {
				m.From = "+15005550006" // the service's sender pool, as far as the fake goes
			}
		}
		if code, bad := s.undeliverable[m.To]; bad && step == "delivered" {
			m.Status, m.ErrorCode = "undelivered", code
		}
		snapshot := *m
		s.mu.Unlock()
		s.notify(snapshot)
		if s.cfg.Callbacks && snapshot.StatusCallback != "" {
			s.postCallback(&snapshot)
		}
	}
}

func (s *Server) notify(m Message) {
	if s.cfg.OnMessage != nil {
		s.cfg.OnMessage(m)
	}
}

// CallbackParams returns the form fields Twilio posts to a message's
// status callback URL for its current status.
func CallbackParams(m *Message) url.Values {
	v := url.Values{}
	v.Set("AccountSid", m.AccountSID)
	v.Set("ApiVersion", apiVersion)
	v.Set("From", m.From)
	v.Set("To", m.To)
	v.Set("MessageSid", m.SID)
	v.Set("SmsSid", m.SID)
	v.Set("MessageStatus", m.Status)
	v.Set("SmsStatus", m.Status)
	if m.MessagingServiceSID != "" {
		v.Set("MessagingServiceSid", m.MessagingServiceSID)
	}
	if m.ErrorCode != 0 {
		v.Set("ErrorCode", strconv.Itoa(m.ErrorCode))
	}
	return v
}

func (s *Server) postCallback(m *Message) {
	form := CallbackParams(m)
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, m.StatusCallback, strings.NewReader(form.Encode()))
	if err != nil {
		s.log.Warn("twiliofake: status callback", "sid", m.SID, "err", err)
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "TwilioProxy/1.1")
	req.Header.Set("I-Twilio-Idempotency-Token", newSID(""))
	req.Header.Set("X-Twilio-Signature", Signature(s.cfg.AuthToken, m.StatusCallback, form))
	resp, err := s.client.Do(req)
	if err != nil {
		if s.ctx.Err() == nil {
			s.log.Warn("twiliofake: status callback", "sid", m.SID, "err", err)
		}
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		s.log.Warn("twiliofake: status callback refused", "sid", m.SID, "status", resp.StatusCode)
	}
}

// Signature computes X-Twilio-Signature for a POST of params to fullURL,
// as Twilio does and twilio-go's RequestValidator checks it: the URL
// followed by each parameter's name and value, names sorted, HMAC-SHA1
// keyed with the auth token, base64. (For a repeated name Twilio
// concatenates every value; the validator only uses the first, so the
// fake sends no repeated names.)
func Signature(authToken, fullURL string, params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(fullURL)
	for _, k := range keys {
		for _, v := range params[k] {
			b.WriteString(k)
			b.WriteString(v)
		}
	}
	h := hmac.New(sha1.New, []byte(authToken))
	h.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// failCode is Twilio's error code for an injected HTTP failure.
func failCode(status int) int {
	switch status {
	case http.StatusTooManyRequests:
		return CodeTooManyRequests
	case http.StatusServiceUnavailable:
		return CodeUnavailable
	case http.StatusUnauthorized:
		return CodeAuthenticate
	case http.StatusNotFound:
		return CodeNotFound
	}
	if status >= 500 {
		return CodeInternal
	}
	return 20000 + status%1000
}

// validE164 accepts "+" followed by 8 to 15 digits, the first not zero.
func validE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	if !ok || len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return false
	}
	for _, c := range d {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// segments counts SMS parts: GSM-7 fits 160 characters in one part and 153
// per part of a longer one; anything else (Chinese) goes as UCS-2, 70 and
// 67. Non-ASCII is taken as UCS-2, which overcounts a few GSM-7 symbols.
func segments(body string) int {
	n := utf8.RuneCountInString(body)
	single, multi := 160, 153
	for _, r := range body {
		if r > 0x7f {
			single, multi = 70, 67
			break
		}
	}
	if n <= single {
		return 1
	}
	return (n + multi - 1) / multi
}

func newSID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// rfc2822 is how Twilio writes dates in its JSON.
const rfc2822 = "Mon, 02 Jan 2006 15:04:05 -0700"

// resourceJSON renders m the way Twilio renders a Message resource.
func resourceJSON(m *Message) map[string]any {
	uri := "/" + apiVersion + "/Accounts/" + m.AccountSID + "/Messages/" + m.SID
	var from, service, dateSent, errorCode, errorMessage any
	if m.From != "" {
		from = m.From
	}
	if m.MessagingServiceSID != "" {
		service = m.MessagingServiceSID
	}
	if !m.DateSent.IsZero() {
		dateSent = m.DateSent.Format(rfc2822)
	}
	if m.ErrorCode != 0 {
		errorCode, errorMessage = m.ErrorCode, "Unreachable destination handset"
	}
	return map[string]any{
		"account_sid":           m.AccountSID,
		"api_version":           apiVersion,
		"body":                  m.Body,
		"date_created":          m.DateCreated.Format(rfc2822),
		"date_sent":             dateSent,
		"date_updated":          m.DateUpdated.Format(rfc2822),
		"direction":             "outbound-api",
		"error_code":            errorCode,
		"error_message":         errorMessage,
		"from":                  from,
		"messaging_service_sid": service,
		"num_media":             "0",
		"num_segments":          strconv.Itoa(m.NumSegments),
		"price":                 nil,
		"price_unit":            "USD",
		"sid":                   m.SID,
		"status":                m.Status,
		"subresource_uris":      map[string]string{"media": uri + "/Media.json"},
		"to":                    m.To,
		"uri":                   uri + ".json",
	}
}

// writeError writes Twilio's error body: code, message, more_info, status.
func writeError(w http.ResponseWriter, status, code int, message string) {
	writeJSON(w, status, map[string]any{
		"code":      code,
		"message":   message,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		"status":    status,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
