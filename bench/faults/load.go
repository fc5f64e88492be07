package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caojiadu/hotline/phone"
)

// The channels, in the order the load takes turns between them.
var channels = []string{"web", "open311", "sms", "voice"}

// How an acknowledgement came.
const (
	ackTicket  = "ticket"  // a ticket id in the answer
	ackJournal = "journal" // told the call or message is noted (the phone journal)
	ackPromise = "promise" // a caller told "we have your number and will call back"
)

// filing is one need filed through one channel, retried until acknowledged
// or out of time, as a real client would.
type filing struct {
	n       int
	channel string
	marker  string // in the description: "[fault w-000012]"
	key     string // idempotency key, MessageSid or CallSid
	// what came of it
	ack      string // "", ackTicket, ackJournal or ackPromise
	id       string // the ticket id acknowledged, when the answer had one
	attempts int
	answers  map[int]int // HTTP status → count, of every attempt
	errs     int         // attempts without an HTTP answer
}

// load files needs at a steady rate from every channel, round-robin over
// the replicas, and keeps what each filing got.
type load struct {
	replicas  []*replica
	token     string
	publicURL string
	apiKey    string
	// staff accepts some web tickets, so that the boards also see changes
	// of existing tickets (UpdateTicket), not only creations.
	staff *staffClient

	client   *http.Client // keep-alive, for web and the webhooks
	open311  *http.Client // one connection per request, each from its own loopback address
	deadline time.Duration

	mu      sync.Mutex
	filings []*filing
	rr      atomic.Uint64
	sem     chan struct{}
	wg      sync.WaitGroup
	accepts atomic.Int64

	logMu    sync.Mutex
	attempts []attempt
}

// attempt is one request of the load and what came of it, for the
// figures of each fault's window.
type attempt struct {
	at      time.Time
	channel string
	outcome string // the HTTP status, "none" (no answer), "kept" (the journal's answer)
}

// note records an attempt of f.
func (l *load) note(f *filing, code int, err error) {
	f.note(code, err)
	outcome := strconv.Itoa(code)
	if err != nil {
		outcome = "none"
	}
	l.record(f.channel, outcome)
}

func (l *load) record(channel, outcome string) {
	l.logMu.Lock()
	l.attempts = append(l.attempts, attempt{at: time.Now(), channel: channel, outcome: outcome})
	l.logMu.Unlock()
}

func newLoad(replicas []*replica, token, publicURL, apiKey string, staff *staffClient) *load {
	open311Transport := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 5 * time.Second}
			if ip, ok := ctx.Value(sourceIP{}).(net.IP); ok {
				d.LocalAddr = &net.TCPAddr{IP: ip}
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	return &load{
		replicas: replicas, token: token, publicURL: publicURL, apiKey: apiKey, staff: staff,
		client:   &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		open311:  &http.Client{Timeout: 20 * time.Second, Transport: open311Transport},
		deadline: 90 * time.Second,
		sem:      make(chan struct{}, 600),
	}
}

// sourceIP carries the loopback address an Open311 request leaves from:
// Open311 allows each client address 20 writes a minute (per replica), and
// the load is many clients, not one.
type sourceIP struct{}

// run files rate needs a second until ctx ends, then waits for the ones
// under way.
func (l *load) run(ctx context.Context, rate float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			l.wg.Wait()
			return
		case <-tick.C:
		}
		f := &filing{n: n, channel: channels[n%len(channels)], answers: map[int]int{}}
		f.marker = fmt.Sprintf("[fault %c-%06d]", f.channel[0], n)
		l.mu.Lock()
		l.filings = append(l.filings, f)
		l.mu.Unlock()
		l.sem <- struct{}{}
		l.wg.Add(1)
		go func() {
			defer func() { <-l.sem; l.wg.Done() }()
			l.file(f)
		}()
	}
}

// replica picks the next replica, round-robin: a load balancer.
func (l *load) replica() *replica {
	return l.replicas[int(l.rr.Add(1))%len(l.replicas)]
}

func (l *load) file(f *filing) {
	until := time.Now().Add(l.deadline)
	switch f.channel {
	case "web":
		l.fileWeb(f, until)
		if f.ack == ackTicket && f.n%10 == 0 && l.staff != nil {
			if l.staff.accept(f.id, until) {
				l.accepts.Add(1)
			}
		}
	case "open311":
		l.fileOpen311(f, until)
	case "sms":
		l.fileSMS(f, until)
	case "voice":
		l.fileCall(f, until)
	}
}

// backoff sleeps a little longer after each failed attempt (at most 2 s).
func backoff(attempt int) {
	d := time.Duration(100<<min(attempt, 4)) * time.Millisecond
	time.Sleep(min(d, 2*time.Second))
}

var descriptions = []struct{ code, text string }{
	{"facilities", "楼道灯坏了，晚上上下楼看不见"},
	{"elderly_meals", "独居老人腿脚不便，希望每天能送午餐"},
	{"home_repair", "厨房水管漏水，需要上门维修"},
	{"sanitation", "小区门口的垃圾好几天没人清运"},
	{"policy", "想咨询居家养老补贴怎么申请"},
}

// do sends one request and returns the status and body; err is a
// transport failure (no answer).
func do(c *http.Client, req *http.Request) (int, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

func (f *filing) note(code int, err error) {
	f.attempts++
	if err != nil {
		f.errs++
		return
	}
	f.answers[code]++
}

func (l *load) fileWeb(f *filing, until time.Time) {
	d := descriptions[f.n%len(descriptions)]
	f.key = "fault-" + f.marker[7:15]
	body, _ := json.Marshal(map[string]any{
		"service_code": d.code, "description": d.text + " " + f.marker,
		"address_string": fmt.Sprintf("长寿路 %d 号", 1+f.n%300), "phone": fmt.Sprintf("138%08d", f.n), "consent": true,
	})
	for a := 0; time.Now().Before(until); a++ {
		req, _ := http.NewRequest(http.MethodPost, l.replica().url()+"/api/v1/tickets", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", f.key)
		code, b, err := do(l.client, req)
		l.note(f, code, err)
		if err == nil && (code == http.StatusCreated || code == http.StatusOK) {
			var v struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(b, &v) == nil && v.ID != "" {
				f.ack, f.id = ackTicket, v.ID
				return
			}
		}
		backoff(a)
	}
}

func (l *load) fileOpen311(f *filing, until time.Time) {
	d := descriptions[f.n%len(descriptions)]
	f.key = "fault-" + f.marker[7:15]
	form := url.Values{"api_key": {l.apiKey}, "service_code": {d.code}, "description": {d.text + " " + f.marker},
		"address_string": {fmt.Sprintf("长寿路 %d 号", 1+f.n%300)}, "phone": {fmt.Sprintf("137%08d", f.n)}, "consent": {"true"}}
	// 250 client addresses, 127.0.1.1 to 127.0.1.250, in turn.
	ip := net.IPv4(127, 0, 1, byte(1+f.n/4%250))
	ctx := context.WithValue(context.Background(), sourceIP{}, ip)
	for a := 0; time.Now().Before(until); a++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.replica().url()+"/open311/v2/requests.json",
			strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", f.key)
		code, b, err := do(l.open311, req)
		l.note(f, code, err)
		if err == nil && (code == http.StatusCreated || code == http.StatusOK) {
			var v []struct {
				ID string `json:"service_request_id"`
			}
			if json.Unmarshal(b, &v) == nil && len(v) == 1 && v[0].ID != "" {
				f.ack, f.id = ackTicket, v[0].ID
				return
			}
		}
		backoff(a)
	}
}

// sid makes a Twilio-shaped id (two letters, 32 hex digits) for filing n.
func sid(prefix string, n int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("fault-suite-%s-%d", prefix, n)))
	return prefix + hex.EncodeToString(h[:16])
}

// twilio posts a webhook to a replica, signed for the public URL as
// Twilio signs it, whichever replica receives it.
func (l *load) twilio(target string, form url.Values) (int, []byte, error) {
	path := strings.TrimPrefix(target, l.publicURL)
	req, _ := http.NewRequest(http.MethodPost, l.replica().url()+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", phone.Sign(l.token, l.publicURL+path, form))
	return do(l.client, req)
}

// twiml is a parsed TwiML answer.
type twiml struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []*twiml   `xml:",any"`
}

func (n *twiml) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *twiml) walk(f func(*twiml)) {
	f(n)
	for _, c := range n.Children {
		c.walk(f)
	}
}

// said joins what the answer says or texts.
func (n *twiml) said() string {
	var b strings.Builder
	n.walk(func(x *twiml) {
		if x.XMLName.Local == "Say" || x.XMLName.Local == "Message" {
			b.WriteString(x.Text)
			b.WriteByte('\n')
		}
	})
	return b.String()
}

// next is where the call goes after this answer ("" when it hangs up).
func (n *twiml) next() string {
	var gather, record, redirect string
	n.walk(func(x *twiml) {
		switch x.XMLName.Local {
		case "Gather":
			if gather == "" {
				gather = x.attr("action")
			}
		case "Record":
			if record == "" {
				record = x.attr("action")
			}
		case "Redirect":
			if redirect == "" {
				redirect = strings.TrimSpace(x.Text)
			}
		}
	})
	switch {
	case gather != "":
		return gather
	case record != "":
		return record
	}
	return redirect
}

func parseTwiML(b []byte) (*twiml, error) {
	var n twiml
	if err := xml.Unmarshal(b, &n); err != nil || n.XMLName.Local != "Response" {
		return nil, errors.New("not TwiML")
	}
	return &n, nil
}

var (
	smsTicketNo   = regexp.MustCompile(`工单号：(\d+)`)
	voiceTicketNo = regexp.MustCompile(`工单号是：([\d ]+)。`)
)

// What the line says, in its own words (phone/prompts.go).
const (
	saidNoted      = "已记下您的来电"     // the journal kept the call
	saidCallback   = "工作人员会回电"     // another failure; the number is known
	smsKept        = "您的短信已记下"     // the journal kept the message
	smsSorryPrefix = "抱歉，系统暂时无法处理" // nothing kept: send again
)

func (l *load) fileSMS(f *filing, until time.Time) {
	d := descriptions[f.n%len(descriptions)]
	f.key = sid("SM", f.n)
	form := url.Values{"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "MessageSid": {f.key}, "SmsSid": {f.key},
		"From": {fmt.Sprintf("+86139%08d", f.n)}, "To": {"+862162000000"}, "Body": {d.text + " " + f.marker},
		"NumMedia": {"0"}, "NumSegments": {"1"}, "SmsStatus": {"received"}}
	for a := 0; time.Now().Before(until); a++ {
		code, b, err := l.twilio(l.publicURL+phone.PathSMS, form)
		l.note(f, code, err)
		if err == nil && code == http.StatusOK {
			if n, err := parseTwiML(b); err == nil {
				said := n.said()
				if m := smsTicketNo.FindStringSubmatch(said); m != nil {
					f.ack, f.id = ackTicket, m[1]
					return
				}
				if strings.Contains(said, smsKept) {
					f.ack = ackJournal
					l.record(f.channel, "kept")
					return
				}
			}
		}
		// Twilio does not send a message again; a resident whose message
		// got the apology sends it again, and so does the suite (same sid).
		backoff(a)
	}
}

// fileCall makes one call through the voice menu: Mandarin, category 4,
// committee 3, the need said aloud, nothing recorded; each step retried on
// another replica when one does not answer (Twilio's fallback URL). Then
// the call ends and its status callback comes, as from Twilio.
func (l *load) fileCall(f *filing, until time.Time) {
	d := descriptions[f.n%len(descriptions)]
	f.key = sid("CA", f.n)
	from := fmt.Sprintf("+86136%08d", f.n)
	base := url.Values{"AccountSid": {"AC0123456789abcdef0123456789abcdef"}, "CallSid": {f.key}, "From": {from},
		"To": {"+862162000000"}, "Direction": {"inbound"}, "CallStatus": {"in-progress"}}
	target := l.publicURL + phone.PathVoice
	input := url.Values{"CallStatus": {"ringing"}}
	for steps := 0; target != "" && steps < 12 && time.Now().Before(until); steps++ {
		form := url.Values{}
		for k, v := range base {
			form[k] = v
		}
		for k, v := range input {
			form[k] = v
		}
		var n *twiml
		for a := 0; n == nil && time.Now().Before(until); a++ {
			code, b, err := l.twilio(target, form)
			l.note(f, code, err)
			if err == nil && code == http.StatusOK {
				n, _ = parseTwiML(b)
			}
			if n == nil {
				backoff(a)
			}
		}
		if n == nil {
			break
		}
		said := n.said()
		if m := voiceTicketNo.FindStringSubmatch(said); m != nil {
			f.ack, f.id = ackTicket, strings.ReplaceAll(m[1], " ", "")
			break
		}
		if strings.Contains(said, saidNoted) {
			f.ack = ackJournal
			l.record(f.channel, "kept")
			break
		}
		if strings.Contains(said, saidCallback) {
			f.ack = ackPromise
			break
		}
		target = n.next()
		u, err := url.Parse(target)
		if err != nil {
			break
		}
		input = url.Values{}
		switch u.Query().Get("step") {
		case "menu":
			input.Set("Digits", "")
		case "category":
			input.Set("Digits", "4")
		case "committee":
			input.Set("Digits", "3")
		case "describe":
			input.Set("SpeechResult", d.text+" "+f.marker)
			input.Set("Confidence", "0.9")
		case "record":
			input.Set("Digits", "#")
		}
	}
	// The call is over: Twilio reports it, once (it does not retry a
	// status callback; the suite does when nothing answers at all).
	status := url.Values{}
	for k, v := range base {
		status[k] = v
	}
	status.Set("CallStatus", "completed")
	status.Set("CallDuration", "45")
	for a := 0; time.Now().Before(until); a++ {
		code, _, err := l.twilio(l.publicURL+phone.PathStatus, status)
		if err == nil && code < 500 {
			return
		}
		backoff(a)
	}
}

// staffClient is a signed-in administrator acting on tickets through the
// API of any replica.
type staffClient struct {
	replicas []*replica
	client   *http.Client
	cookies  []*http.Cookie
	csrf     string
	rr       atomic.Uint64
}

// accept accepts a ticket; a 409 (already accepted, or moved on) ends it.
func (s *staffClient) accept(id string, until time.Time) bool {
	for a := 0; time.Now().Before(until); a++ {
		r := s.replicas[int(s.rr.Add(1))%len(s.replicas)]
		req, _ := http.NewRequest(http.MethodPost, r.url()+"/api/v1/tickets/"+id+"/accept", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", s.csrf)
		req.Header.Set("Cookie", cookieHeader(s.cookies))
		code, _, err := do(s.client, req)
		if err == nil && code == http.StatusOK {
			return true
		}
		if err == nil && code < 500 && code != http.StatusTooManyRequests {
			return false
		}
		backoff(a)
	}
	return false
}
