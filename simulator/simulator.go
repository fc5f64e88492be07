// Package simulator plays the part of a phone for the hotline's trial
// page (static/phone.html): it dials the hotline, presses keys, says
// (types) words, records (types) a message, hangs up, and sends and
// receives SMS, by calling the hotline's real Twilio webhooks with the
// requests Twilio would send, signed with X-Twilio-Signature. What the
// page shows is therefore what a real caller would hear and read.
//
// The webhooks are invoked in process, through the handler given to New
// (the whole server handler, middleware included), with a request whose
// URL is the public URL Twilio would call and whose signature is computed
// over that URL, exactly as Twilio computes it. The alternative, a loopback
// HTTP request to the public URL, would need the public URL to be reachable
// from the server itself (it is often a proxy or tunnel in front of it, or
// https terminated elsewhere) and would fail for a server that listens on a
// port chosen at start; the in-process request still passes every check a
// real request passes, the signature check included, because the webhook
// rebuilds the URL it verifies from its own configuration, never from the
// request.
//
// It is a trial tool: every call and conversation is kept in memory, with
// bounds, and forgotten on restart. Mount it only where nobody but testers
// can reach it (cmd/hotline turns it on for the embedded default store).
package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/caojiadu/hotline"
	"github.com/caojiadu/hotline/intake"
	"github.com/caojiadu/hotline/phone"
	"github.com/caojiadu/hotline/server"
	"github.com/caojiadu/hotline/twiliofake"
)

// The webhook paths, relative to the public URL: package phone's.
const (
	DefaultVoicePath     = phone.PathVoice
	DefaultSMSPath       = phone.PathSMS
	DefaultStatusPath    = phone.PathStatus
	DefaultRecordingPath = phone.PathRecording
)

// DefaultHotlineNumber is the number dialled when Config names none:
// Twilio's documented test number, which reaches nobody.
const DefaultHotlineNumber = "+15005550006"

// DefaultPhone is the caller's number the page offers: a well-known
// placeholder mainland mobile.
const DefaultPhone = "+8613800138000"

// Bounds of what is kept in memory. A trial afternoon stays far below them;
// past them the least recently used call or conversation is forgotten.
const (
	defaultMaxCalls  = 64
	maxThreads       = 256 // phones with an SMS conversation
	maxThreadLen     = 100 // messages kept per phone
	maxRecordings    = 256
	maxTranscriptLen = 400 // lines kept per call
	callIdle         = 30 * time.Minute
	maxHops          = 20 // TwiML documents fetched for one step (Redirect loops)
	maxSpeech        = 500
	maxSMSBody       = 1600 // Twilio's limit, in characters
)

// e164 is a number as Twilio writes it: +, then up to 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{2,14}$`)

// apiVersion is what Twilio sends as ApiVersion.
const apiVersion = "2010-04-01"

// Config sets up a Simulator.
type Config struct {
	// AuthToken is the [twilio] auth_token the webhooks check signatures
	// with. Required.
	AuthToken string
	// PublicURL is the scheme, host and optional path prefix Twilio calls
	// the webhooks at (the [http] public_url), e.g.
	// "https://hotline.example.org". Required.
	PublicURL string
	// HotlineNumber is the number the simulated phone dials and texts (the
	// Twilio number, E.164). Empty: DefaultHotlineNumber.
	HotlineNumber string
	// AccountSID is sent as AccountSid. Empty: a random "AC…" one.
	AccountSID string
	// The webhook paths under PublicURL; empty means the Default… ones.
	VoicePath, SMSPath, StatusPath, RecordingPath string
	// MaxCalls bounds the calls kept (0: 64).
	MaxCalls int
	// Logger receives warnings about failed callbacks (no numbers, no
	// words). Nil: slog.Default().
	Logger *slog.Logger
}

// Inbox is where the SMS the hotline sent through Twilio's REST API can be
// read back: a *twiliofake.Server. Nil means only the replies given inline
// (TwiML <Message>) are shown.
type Inbox interface {
	MessagesTo(phone string) []twiliofake.Message
}

// Simulator is the JSON API of the phone page, an http.Handler to mount
// at /sim/ (every route it serves starts with /sim/). Create it with New.
type Simulator struct {
	cfg      Config
	base     *url.URL // PublicURL, without a trailing slash in its path
	webhooks http.Handler
	inbox    Inbox
	log      *slog.Logger
	mux      *http.ServeMux
	now      func() time.Time

	mu         sync.Mutex
	calls      map[string]*call
	threads    map[string]*thread
	recordings map[string]string // RecordingSid → the words "recorded"
	recOrder   []string          // RecordingSids, oldest first
}

// New returns a simulator that calls the webhooks served by webhooks (the
// server's whole handler, so that its middleware and the signature check
// run as for Twilio) and reads the REST API's messages from inbox (may be
// nil). It refuses to run without an auth token and a public URL: it
// could not sign, and the webhooks would refuse every request.
func New(cfg Config, webhooks http.Handler, inbox Inbox) (*Simulator, error) {
	if cfg.AuthToken == "" {
		return nil, errors.New("simulator: no Twilio auth token to sign requests with (set [twilio] auth_token)")
	}
	if cfg.PublicURL == "" {
		return nil, errors.New("simulator: no public URL to sign requests for (set [http] public_url)")
	}
	base, err := url.Parse(cfg.PublicURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" ||
		base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, fmt.Errorf("simulator: public URL %q is not an http(s) URL like https://hotline.example.org", cfg.PublicURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = ""
	if webhooks == nil {
		return nil, errors.New("simulator: no webhook handler")
	}
	switch n := strings.TrimSpace(cfg.HotlineNumber); {
	case n == "":
		cfg.HotlineNumber = DefaultHotlineNumber
	case e164.MatchString(n):
		// Twilio's own spelling of the number, whatever its kind (a
		// service number a resident's parser would refuse).
		cfg.HotlineNumber = n
	default:
		e, err := intake.NormalizePhone(n)
		if err != nil {
			return nil, fmt.Errorf("simulator: hotline number %q: %v", cfg.HotlineNumber, hotline.ErrorMessage(err))
		}
		cfg.HotlineNumber = e
	}
	if cfg.AccountSID == "" {
		cfg.AccountSID = newSID("AC")
	}
	for _, p := range []*string{&cfg.VoicePath, &cfg.SMSPath, &cfg.StatusPath, &cfg.RecordingPath} {
		if *p != "" && !strings.HasPrefix(*p, "/") {
			return nil, fmt.Errorf("simulator: webhook path %q does not start with /", *p)
		}
	}
	def := func(p *string, d string) {
		if *p == "" {
			*p = d
		}
	}
	def(&cfg.VoicePath, DefaultVoicePath)
	def(&cfg.SMSPath, DefaultSMSPath)
	def(&cfg.StatusPath, DefaultStatusPath)
	def(&cfg.RecordingPath, DefaultRecordingPath)
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = defaultMaxCalls
	}
	s := &Simulator{
		cfg:        cfg,
		base:       base,
		webhooks:   webhooks,
		inbox:      inbox,
		log:        cfg.Logger,
		now:        time.Now,
		calls:      map[string]*call{},
		threads:    map[string]*thread{},
		recordings: map[string]string{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /sim/config", s.handleConfig)
	s.mux.HandleFunc("POST /sim/calls", s.handleCallStart)
	s.mux.HandleFunc("GET /sim/calls/{sid}", s.handleCallGet)
	s.mux.HandleFunc("POST /sim/calls/{sid}/input", s.handleCallInput)
	s.mux.HandleFunc("POST /sim/calls/{sid}/hangup", s.handleCallHangup)
	s.mux.HandleFunc("POST /sim/sms", s.handleSMS)
	s.mux.HandleFunc("GET /sim/inbox", s.handleInbox)
	s.mux.HandleFunc("GET /sim/recordings/{sid}", s.handleRecording)
	s.mux.HandleFunc("/sim/", func(w http.ResponseWriter, r *http.Request) {
		server.Error(w, r, hotline.Errorf(hotline.ENOTFOUND, "no such simulator endpoint: %s %s", r.Method, r.URL.Path))
	})
	return s, nil
}

// ServeHTTP serves the /sim/ API.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Never cached: every answer is the state of a call right now.
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// HotlineNumber is the number the simulated phone calls and texts.
func (s *Simulator) HotlineNumber() string { return s.cfg.HotlineNumber }

// webhookURL is the public URL of a webhook path.
func (s *Simulator) webhookURL(path string) string {
	u := *s.base
	u.Path = s.base.Path + path
	return u.String()
}

// ConfigView is what GET /sim/config answers: what the page needs to
// start.
type ConfigView struct {
	HotlineNumber string `json:"hotline_number"`
	DefaultPhone  string `json:"default_phone"`
	VoiceURL      string `json:"voice_url"`
	SMSURL        string `json:"sms_url"`
	RESTMessages  bool   `json:"rest_messages"` // messages sent through the REST API are shown too
}

func (s *Simulator) handleConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, ConfigView{
		HotlineNumber: s.cfg.HotlineNumber,
		DefaultPhone:  DefaultPhone,
		VoiceURL:      s.webhookURL(s.cfg.VoicePath),
		SMSURL:        s.webhookURL(s.cfg.SMSPath),
		RESTMessages:  s.inbox != nil,
	})
}

// Exchange is one request the simulator made to the hotline on the
// phone's behalf, for the page's "what happened" detail.
type Exchange struct {
	Method string `json:"method"`
	URL    string `json:"url"` // the public URL signed
	Status int    `json:"status"`
	// Error says why the answer could not be used (refused, not TwiML).
	Error string `json:"error,omitempty"`
}

// post sends form to the webhook at the public URL target as Twilio would
// (method POST with the form as body, or GET with it in the query), signed,
// through the webhook handler, and returns the exchange and the body of a
// 2xx answer. A non-2xx answer is an error, worded for a developer.
func (s *Simulator) post(ctx context.Context, method, target string, form url.Values) (Exchange, []byte, error) {
	ex := Exchange{Method: method, URL: target}
	u, err := url.Parse(target)
	if err != nil {
		ex.Error = fmt.Sprintf("not a URL: %q", target)
		return ex, nil, errors.New(ex.Error)
	}
	local, ok := s.localPath(u)
	if !ok {
		ex.Error = fmt.Sprintf("%s is outside the hotline's public URL %s; the simulator only calls the hotline itself", target, s.base)
		return ex, nil, errors.New(ex.Error)
	}
	var body io.Reader
	signed, query := target, u.RawQuery
	params := form
	if method == http.MethodGet {
		// Twilio puts a GET's parameters in the query and signs the whole
		// URL with no body parameters.
		q := u.Query()
		for k, vs := range form {
			for _, v := range vs {
				q.Add(k, v)
			}
		}
		query = q.Encode()
		full := *u
		full.RawQuery = query
		signed, ex.URL = full.String(), full.String()
		params = nil
	} else {
		body = strings.NewReader(form.Encode())
	}
	reqURL := &url.URL{Scheme: s.base.Scheme, Host: s.base.Host, Path: local, RawQuery: query}
	req, err := http.NewRequestWithContext(ctx, method, reqURL.String(), body)
	if err != nil {
		ex.Error = err.Error()
		return ex, nil, err
	}
	req.RequestURI = reqURL.RequestURI()
	req.RemoteAddr = "127.0.0.1:0"
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "TwilioProxy/1.1 (hotline simulator)")
	req.Header.Set("I-Twilio-Idempotency-Token", newSID(""))
	req.Header.Set("X-Twilio-Signature", phone.Sign(s.cfg.AuthToken, signed, params))
	if s.base.Scheme == "https" {
		req.Header.Set("X-Forwarded-Proto", "https")
	}

	rec := newRecorder(maxTwiML)
	if err := s.serve(rec, req); err != nil {
		ex.Status = http.StatusInternalServerError
		ex.Error = err.Error()
		return ex, nil, err
	}
	ex.Status = rec.code
	if rec.code < 200 || rec.code > 299 {
		ex.Error = fmt.Sprintf("the hotline answered %d %s", rec.code, http.StatusText(rec.code))
		if rec.code == http.StatusForbidden || rec.code == http.StatusUnauthorized {
			ex.Error += " (is the signature refused? the simulator and the webhooks must share the auth token and public URL)"
		}
		return ex, nil, errors.New(ex.Error)
	}
	if rec.overflow {
		ex.Error = fmt.Sprintf("the answer is longer than %d bytes", maxTwiML)
		return ex, nil, errors.New(ex.Error)
	}
	return ex, rec.body.Bytes(), nil
}

// serve runs the webhook handler, turning a panic that escaped it (a bare
// handler without the server's middleware) into an error.
func (s *Simulator) serve(w http.ResponseWriter, r *http.Request) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("the webhook handler panicked: %v", v)
		}
	}()
	s.webhooks.ServeHTTP(w, r)
	return nil
}

// localPath returns the path the server sees for a public URL under
// PublicURL (its path prefix, if any, removed as the proxy in front would),
// and false for any other URL.
func (s *Simulator) localPath(u *url.URL) (string, bool) {
	if !strings.EqualFold(u.Scheme, s.base.Scheme) || !strings.EqualFold(u.Host, s.base.Host) || u.User != nil {
		return "", false
	}
	p := u.Path
	if s.base.Path != "" {
		rest, ok := strings.CutPrefix(p, s.base.Path)
		if !ok || (rest != "" && rest[0] != '/') {
			return "", false
		}
		p = rest
	}
	if p == "" {
		p = "/"
	}
	return p, true
}

// resolve resolves a URL from TwiML (an action, a Redirect) against the
// URL of the document it came from, as Twilio does.
func resolve(doc, ref string) (string, error) {
	d, err := url.Parse(doc)
	if err != nil {
		return "", err
	}
	r, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", fmt.Errorf("%q is not a URL", ref)
	}
	return d.ResolveReference(r).String(), nil
}

// recorder is a minimal ResponseWriter keeping the status and at most max
// bytes of the body.
type recorder struct {
	header   http.Header
	code     int
	body     bytes.Buffer
	max      int
	overflow bool
}

func newRecorder(max int) *recorder { return &recorder{header: http.Header{}, max: max} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	if room := r.max - r.body.Len(); len(p) > room {
		r.overflow = true
		if room > 0 {
			r.body.Write(p[:room])
		}
		return len(p), nil
	}
	r.body.Write(p)
	return len(p), nil
}

// newSID returns prefix followed by 32 random hex digits, the shape of
// every Twilio SID (CA… calls, SM… messages, RE… recordings).
func newSID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// decode reads a JSON request body into v, refusing unknown fields so a
// typo is told rather than ignored.
func decode(r *http.Request, v any) error {
	d := json.NewDecoder(r.Body)
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return hotline.Errorf(hotline.EINVALID, "the request has no JSON body")
		}
		return hotline.Errorf(hotline.EINVALID, "the request body is not the JSON expected: %v", err)
	}
	if d.More() {
		return hotline.Errorf(hotline.EINVALID, "the request body holds more than one JSON value")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the client went away; nothing to tell it
	}
}

// phoneParam normalises a number typed on the page to E.164, refusing an
// unusable one with the intake's own words.
func phoneParam(field, raw string) (string, error) {
	n, err := intake.NormalizePhone(raw)
	if err != nil {
		msg := strings.TrimPrefix(hotline.ErrorMessage(err), "phone: ")
		return "", &hotline.Error{Code: hotline.EINVALID, Message: field + ": " + msg,
			Fields: map[string]string{field: msg}}
	}
	return n, nil
}
